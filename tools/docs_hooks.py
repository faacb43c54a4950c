"""mkdocs hooks of the documentation site (see mkdocs.yml): notebook pages off-line and clean.

- nbconvert's lab template loads MathJax and Mermaid from a CDN; the site renders math with the KaTeX it bundles
  (`assets/katex`, from Debian's libjs-katex), so those scripts go.
- Signature blocks: the heading (markdown, so it has an id) moves into its box.
- Heading ids are made unique and the page's table of contents is built from the final headings (mkdocs-jupyter's
  own drops headings written in backticks).
- A link to an anchor that the target page lacks (a private name nbdev linked) keeps its page and loses the anchor.
- Links to other sites open in a new tab.
- The copy buttons' hidden "Copied!" notices stay out of the search index.
- nbconvert's template puts the same 590 kB of JupyterLab CSS in every page: it goes to one stylesheet
  (`assets/notebook-<hash>.css`) that the browser loads once, so a page weighs what its content weighs."""
import re, hashlib, html as _html
from pathlib import Path

_CDN_MATHJAX = re.compile(r'<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->', re.S)
_CDN_SCRIPT = re.compile(r'<script\b[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>', re.S)
_MERMAID = re.compile(r'<script\b[^>]*>(?:(?!</script>).)*?mermaid(?:(?!</script>).)*?</script>', re.S)
_DOC_HEAD = re.compile(r'(<h([2-6]) id="[^"]*"[^>]*>(?:(?!</h\2>).)*</h\2>)\s*(<div class="rf-doc">)', re.S)
_HEAD = re.compile(r'<h([1-6]) id="([^"]*)"([^>]*)>(.*?)</h\1>', re.S)
_NB_STYLE = re.compile(r'<style type="text/css">(.*?)</style>', re.S)
_ids, _css = {}, {}

def _external_css(html, page):
    "The template's `<style>` blocks of a notebook page as a link to one shared stylesheet (written `on_post_build`)"
    blocks = _NB_STYLE.findall(html)
    if sum(map(len, blocks)) < 20_000: return html
    css = '\n'.join(blocks)
    name = f"assets/notebook-{hashlib.sha1(css.encode()).hexdigest()[:10]}.css"
    _css[name] = css
    link = f'<link rel="stylesheet" href="{"../"*page.url.count("/")}{name}">'
    first = iter([link])
    return _NB_STYLE.sub(lambda m: next(first, ''), html)

def _boxes(html):
    return _DOC_HEAD.sub(r'\3\1', html)

def _unique_ids(html):
    "Repeated heading ids get `_1`, `_2`, ... (as Python-Markdown's toc does); returns html and the headings"
    seen, heads = {}, []
    def sub(m):
        level, hid, attrs, inner = m.groups()
        new = hid
        if hid in seen: seen[hid] += 1; new = f'{hid}_{seen[hid]}'
        else: seen[hid] = 0
        inner = inner.replace(f'href="#{hid}"', f'href="#{new}"')
        text = _html.unescape(re.sub(r'<[^>]+>', '', inner)).replace('¶', '').strip()
        heads.append((int(level), new, text))
        return f'<h{level} id="{new}"{attrs}>{inner}</h{level}>'
    return _HEAD.sub(sub, html), heads

def _toc(heads, depth=3):
    from mkdocs.structure.toc import get_toc
    tokens, stack = [], []
    for level, hid, text in heads:
        if level < 2 or level > depth or not hid: continue
        tok = dict(level=level, id=hid, name=_html.escape(text), children=[])
        while stack and stack[-1]['level'] >= level: stack.pop()
        (stack[-1]['children'] if stack else tokens).append(tok)
        stack.append(tok)
    return get_toc(tokens)

def on_page_content(html, page, config, files):
    html = _CDN_MATHJAX.sub('', html)
    html = _MERMAID.sub('', html)
    html = _CDN_SCRIPT.sub('', html)
    if page.file.src_uri.endswith('.ipynb'): html = _external_css(html, page)
    html = _boxes(html)
    html = re.sub(r'<span class="notice"(?=[^>]*\bhidden)', '<span class="notice" data-search-exclude', html)
    # nbconvert's heading anchors styled (and left out of the search index) like mkdocs' own permalinks
    html = html.replace('class="anchor-link"', 'class="headerlink"')
    html, heads = _unique_ids(html)
    if page.file.src_uri.endswith('.ipynb'): page.toc = _toc(heads)
    html = re.sub(r'<a href="(https?://[^"]+)"(?![^>]*target=)', r'<a href="\1" target="_blank" rel="noopener"', html)
    _ids[page.file.dest_uri] = set(re.findall(r'\bid="([^"]+)"', html))
    return html

def on_post_build(config):
    "Anchors that their page lacks are dropped from local links (the page itself still resolves)"
    site = Path(config.site_dir)
    for name, css in _css.items(): (site/name).parent.mkdir(parents=True, exist_ok=True); (site/name).write_text(css)
    for dest, ids in _ids.items():
        p = site/dest
        if not p.exists(): continue
        h = p.read_text()
        allids = ids | set(re.findall(r'\bid="([^"]+)"', h))
        def fix(m):
            page, anchor = m.group(1), m.group(2)
            target = _ids.get(page, None) if page else allids
            if target is None or anchor in target: return m.group(0)
            return f'href="{page or dest}"'
        h2 = re.sub(r'href="([\w.\-]*\.html|)#([^"]+)"', fix, h)
        if h2 != h: p.write_text(h2)
