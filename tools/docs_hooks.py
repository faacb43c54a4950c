"""mkdocs hooks of the documentation site (see mkdocs.yml): notebook pages off-line and clean.

nbconvert's lab template loads MathJax and Mermaid from a CDN; the site renders math with the KaTeX it bundles
(`assets/katex`, from Debian's libjs-katex), so those scripts go. The `source` links of signature blocks and links to
other sites open in a new tab."""
import re

_CDN_MATHJAX = re.compile(r'<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->', re.S)
_CDN_SCRIPT = re.compile(r'<script\b[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>', re.S)
_MERMAID = re.compile(r'<script\b[^>]*>(?:(?!</script>).)*?mermaid(?:(?!</script>).)*?</script>', re.S)

def on_page_content(html, page, config, files):
    html = _CDN_MATHJAX.sub('', html)
    html = _MERMAID.sub('', html)
    html = _CDN_SCRIPT.sub('', html)
    html = on_page_content_boxes(html)
    # external links (docs.fast.ai, GitHub) in a new tab, like nbdev's `source` links
    html = re.sub(r'<a href="(https?://[^"]+)"(?![^>]*target=)', r'<a href="\1" target="_blank" rel="noopener"', html)
    return html

_DOC_HEAD = re.compile(r'(<h([2-6]) id="[^"]*"[^>]*>(?:(?!</h\2>).)*</h\2>)\s*(<div class="rf-doc">)', re.S)

def on_page_content_boxes(html):
    "Signature blocks: the heading (kept outside in the markdown so the toc lists it) moves into its box"
    return _DOC_HEAD.sub(r'\3\1', html)
