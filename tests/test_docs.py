"The documentation site renders offline: one page per notebook, and every public name of the package appears in it."
import importlib, re, sys, os, html
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))

@pytest.fixture(scope='module')
def site():
    import build_docs
    cwd = os.getcwd()
    try: pages = build_docs.build(out=str(ROOT/'_docs'), readme=False)
    finally: os.chdir(cwd)
    return pages

def _modules():
    for p in sorted((ROOT/'recfast').rglob('*.py')):
        rel = p.relative_to(ROOT).with_suffix('')
        if p.name in ('__init__.py', '_modidx.py', 'all.py'): continue
        yield '.'.join(rel.parts)

def test_every_notebook_has_a_page(site):
    stems = {s for s,_,_ in site}
    for nb in (ROOT/'nbs').glob('*.ipynb'):
        assert nb.stem in stems, f"{nb.name} was not rendered"
        page = ROOT/'_docs'/('index.html' if nb.stem=='index' else f'{nb.stem}.html')
        assert page.stat().st_size > 5_000, page

def test_every_public_name_is_documented(site):
    text = html.unescape(' '.join((ROOT/'_docs'/n).read_text() for _,n,_ in site))
    missing = []
    for m in _modules():
        mod = importlib.import_module(m)
        for name in getattr(mod, '__all__', []):
            if not re.search(rf'\b{re.escape(name)}\b', text): missing.append(f'{m}.{name}')
    assert not missing, f"not in the docs site: {missing}"

def test_doc_cells_with_imports_only_import():
    "nbdev runs every cell that imports while rendering docs: such cells must hold nothing but imports"
    import ast, nbformat
    bad = []
    for nb in sorted((ROOT/'nbs').glob('*.ipynb')):
        for i,c in enumerate(nbformat.read(nb, as_version=4).cells):
            if c.cell_type!='code' or 'nbdev_export()' in c.source or re.search(r'^#\|\s*(export|exporti|exports|eval:\s*false)', c.source, re.M): continue
            try: tree = ast.parse('\n'.join(l for l in c.source.split('\n') if not l.lstrip().startswith(('%','!'))))
            except SyntaxError: continue
            if any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree)) and \
               not all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body):
                bad.append(f'{nb.name} cell {i}')
    assert not bad, f"cells mixing imports with other code (move the imports to the top cell): {bad}"

def test_benchmarks_page(site):
    "The site shows bench/results/REPORT.md as one table with a row of every bench script, linked from every page"
    sys.path.insert(0, str(ROOT))
    from bench.report import COLUMNS
    assert ('benchmarks', 'benchmarks.html', 'Benchmarks') in site
    page = html.unescape((ROOT/'_docs'/'benchmarks.html').read_text())
    heads = [h.strip() for h in re.findall(r'<th(?:\s[^>]*)?>(.*?)</th>', page, re.S)]
    assert heads==list(COLUMNS), heads
    cells = [c.strip() for c in re.findall(r'<td[^>]*>(.*?)</td>', page, re.S)]
    for script in (ROOT/'bench').glob('bench_*.py'):
        name = script.stem.removeprefix('bench_')
        assert name in cells[::len(COLUMNS)], f"no row of {script.name} in the benchmarks page (run it, then bench/run_all.py --report-only)"
    assert "href='benchmarks.html'" in (ROOT/'_docs'/'index.html').read_text()
