// Render TeX ($...$, $$...$$) with the bundled KaTeX, on the first load and on every instant-navigation page.
function recfastMath() {
  if (typeof renderMathInElement === 'undefined') return;
  document.querySelectorAll('.md-content').forEach(el => renderMathInElement(el, {
    delimiters: [{left: '$$', right: '$$', display: true}, {left: '\\[', right: '\\]', display: true},
                 {left: '$', right: '$', display: false}, {left: '\\(', right: '\\)', display: false}],
    ignoredTags: ['script', 'noscript', 'style', 'textarea', 'pre', 'code'],
    throwOnError: false,
  }));
}
if (typeof document$ !== 'undefined') document$.subscribe(recfastMath);
else document.addEventListener('DOMContentLoaded', recfastMath);
