"""The documentation site (`make docs`, tools/build_docs.py): one page per notebook in a sidebar grouped by family, every
public name documented on the page of its own module, local links that resolve, nothing loaded from the network, and a
Benchmarks page with one table per protocol. The site is built once per test session (shared with test_browser.py)."""
import importlib, importlib.util, re, sys, os, html, json, ast
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
SITE = Path(os.environ.get('RECFAST_DOCS_SITE', ROOT/'_docs'))

@pytest.fixture(scope='module')
def site():
    import build_docs
    pages, secs = build_docs.built_site(SITE)
    print(f"docs build: {secs:.0f}s")
    return pages

def _notebooks():
    return sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith('_'))

def _page_html(page): return (SITE/page).read_text()

def _text(page):
    "The visible text of a page's article (tags stripped, entities decoded)"
    h = _page_html(page)
    m = re.search(r'<article[^>]*>(.*)</article>', h, re.S)
    h = m.group(1) if m else h
    h = re.sub(r'<(script|style)\b.*?</\1>', '', h, flags=re.S)
    return html.unescape(re.sub(r'<[^>]+>', '', h))

def _ids(page): return set(re.findall(r'\bid="([^"]+)"', _page_html(page)))

def _modules():
    for p in sorted((ROOT/'recfast').rglob('*.py')):
        rel = p.relative_to(ROOT).with_suffix('')
        if p.name in ('__init__.py', '_modidx.py', 'all.py'): continue
        yield '.'.join(rel.parts)

def test_every_notebook_has_a_page(site):
    import build_docs
    by_stem = {p['stem']: p for p in site}
    index = _page_html('index.html')
    for nb in _notebooks():
        assert nb.stem in by_stem, f"{nb.name} was not rendered"
        p = by_stem[nb.stem]
        assert p['page']==build_docs.page_name(nb)
        page = SITE/p['page']
        assert page.exists() and page.stat().st_size > 5_000, page
        _,title,_ = build_docs.title_cell(__import__('nbformat').read(nb, as_version=4).cells)
        shown = html.unescape(re.search(r'<title>(.*?)</title>', page.read_text(), re.S).group(1)).strip()
        title = build_docs.plain_title(title)  # no markdown in the tab, the sidebar or the search index
        assert '`' not in shown and shown==(f'{title} - recfast' if nb.stem!='index' else 'recfast'), (nb.name, title, shown)
        assert f'href="{p["page"]}"' in index, f"{p['page']} is not in the sidebar"

def test_sidebar_sections_from_numbers():
    "Sections come from the tens digit of a notebook's number, for today's names and for the family runs"
    import build_docs
    def nav(stems):
        pages = [dict(stem=s, page=f'{s}.html', title=s) for s in stems]
        return [(k, [next(iter(d)) for d in v] if isinstance(v, list) else v) for e in build_docs.nav_of(pages) for k,v in e.items()]
    renamed = ['index', '00_core', '01_fastpath', '02_learner', '03_losses', '04_metrics', '05_datasets', '10_collab.data',
               '11_collab.models', '12_collab.learner', '13_collab.interpret', '20_implicit.data', '21_implicit.models',
               '30_sequence.data', '40_autoencoder.data', '41_autoencoder.models', '50_ram.data', '51_ram.models',
               '60_cli', '70_distributed', '71_scale', '99_all', 'benchmarks']
    got = dict(nav(renamed))
    assert list(got)==['Home', 'Core', 'Ratings (collab)', 'Implicit feedback', 'Sequences', 'Autoencoders',
                       'Recurrent attention', 'CLI, tuning, saving & serving', 'Scale & distributed', 'Benchmarks', 'API']
    assert got['Benchmarks']==['Benchmarks']  # a section of its own, not a page trailing the Scale section
    assert got['Ratings (collab)']==['10_collab.data', '11_collab.models', '12_collab.learner', '13_collab.interpret']
    assert got['API']==['99_all'] and got['Core'][0]=='00_core'
    today = dict(nav([p.stem for p in _notebooks()] + ['benchmarks']))
    assert sum(len(v) for k,v in today.items() if isinstance(v, list) and k!='Benchmarks') == len(_notebooks())-1

def test_every_public_name_is_documented_on_its_modules_page(site):
    "Each name in a module's `__all__` is on the page of the notebook that exports that module, not just anywhere"
    import build_docs
    page_of = {f"recfast.{p['module']}": p['page'] for p in site if p.get('module')}
    missing, no_sig = [], []
    for m in _modules():
        assert m in page_of, f"no page for module {m}"
        text, ids = _text(page_of[m]), _ids(page_of[m])
        mod = importlib.import_module(m)
        for name in getattr(mod, '__all__', []):
            if not re.search(rf'\b{re.escape(name)}\b', text): missing.append(f'{m}.{name} ({page_of[m]})')
            o = getattr(mod, name)
            # public classmethods (constructors such as `from_df`, `from_dls`) get a signature block
            if isinstance(o, type) and o.__module__==m:
                for k,v in vars(o).items():
                    if isinstance(v, classmethod) and not k.startswith('_') and build_docs.slug(f'{name}.{k}') not in ids:
                        no_sig.append(f'{name}.{k} ({page_of[m]})')
    assert not missing, f"not on their module's page: {missing}"
    assert not no_sig, f"classmethods without a signature block: {no_sig}"

def test_signature_blocks_and_no_leaked_markup(site):
    for p in site:
        h = _page_html(p['page'])
        text = _text(p['page'])
        for bad in ('source{target=', '{target="_blank"', 'In [', '**call**', 'THIS FILE WAS AUTOGENERATED'):
            assert bad not in text, f"{p['page']}: {bad!r} shows"
        assert not re.search(r"\[\d+, \d+\.\d+.*'\d\d:\d\d'\]", text), f"{p['page']}: a raw epoch list shows"
        assert not re.search(r'<strong>\w+</strong>\(', h), f"{p['page']}: a dunder renders bold"
    core = next(p for p in site if p.get('module')=='collab.data')
    h = _page_html(core['page'])
    assert h.count('class="rf-doc"') >= 3 and 'class="rf-source"' in h and 'href="https://github.com/' in h

def _local_links(page):
    h = _page_html(page)
    for href in re.findall(r'<a\b[^>]*\bhref="([^"]+)"', h):
        href = html.unescape(href)
        if re.match(r'^(https?:|mailto:|javascript:|data:)', href): continue
        yield href

def test_local_links_and_anchors_resolve(site):
    broken = []
    ids = {}
    for p in sorted(SITE.glob('*.html')):
        if p.name=='404.html': continue
        for href in _local_links(p.name):
            path,_,anchor = href.partition('#')
            target = (SITE/path).resolve() if path else p
            if path and not target.exists(): broken.append(f'{p.name} -> {href}'); continue
            if anchor and target.suffix=='.html':
                if target not in ids: ids[target] = set(re.findall(r'\bid="([^"]+)"', target.read_text()))
                if anchor not in ids[target]: broken.append(f'{p.name} -> {href}')
        for src in re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', p.read_text()):
            if not re.match(r'^(https?:|data:)', src) and not (SITE/html.unescape(src)).exists(): broken.append(f'{p.name} -> image {src}')
    assert not broken, f"broken local links: {sorted(set(broken))[:30]}"

def test_links_to_fastai_docs(site):
    "fastai names in backticks link to docs.fast.ai; recfast names to the local page, never to the recfast site"
    h = ' '.join(_page_html(p['page']) for p in site)
    assert 'href="https://docs.fast.ai/learner.html#learner"' in h
    assert 'recfast.github.io' not in h

def test_offline(site):
    "Nothing is loaded from the network: no CDN scripts, styles or fonts"
    for p in SITE.glob('*.html'):
        h = p.read_text()
        ext = re.findall(r'<(?:script|img|iframe)\b[^>]*\bsrc="(https?://[^"]+)"', h) + \
              re.findall(r'<link\b[^>]*\bhref="(https?://[^"]+)"', h)
        assert not ext, f"{p.name} loads {ext}"

def test_math_bundled(site):
    "KaTeX, from Debian's libjs-katex, is bundled into the site (skipped only where that package could not be installed)"
    if not Path('/usr/share/javascript/katex/katex.min.js').exists():
        pytest.skip("Debian's libjs-katex is not installed here (make install runs apt-get where it can): math shows as TeX")
    assert (SITE/'assets'/'katex'/'katex.min.js').exists(), "KaTeX is installed but not bundled into the site"

def test_landing_page(site):
    "The landing page links every section, and its speed claim is the one in bench/results/collab.json"
    import build_docs
    h = _page_html('index.html')
    for e in build_docs.nav_of(site):
        (name, v), = e.items()
        if name=='Home': continue
        first = Path(v if isinstance(v, str) else next(iter(v[0].values()))).stem+'.html'
        assert re.search(rf'<a href="{re.escape(first)}">{re.escape(html.escape(name))}</a>', h), f"no link to {name}"
    rows = json.loads((ROOT/'bench'/'results'/'collab.json').read_text())
    stock = next(r for r in rows if 'stock fastai' in r['model'])
    dot = next(r for r in rows if r['model']=='recfast `dot_learner`')
    claim = f"{stock['time_s']/dot['time_s']:.1f}x faster than"
    text = lambda s: re.sub(r'\s+', ' ', re.sub(r'<[^>]+>', ' ', s))
    assert claim in text(h), f"the landing page (generated from bench/results) does not say {claim!r}"
    assert claim in text((ROOT/'README.md').read_text()), f"README.md does not say {claim!r}"

def test_doc_cells_with_imports_only_import():
    "nbdev runs every cell that imports while rendering docs: such cells must hold nothing but imports"
    import nbformat
    bad = []
    for nb in _notebooks():
        for i,c in enumerate(nbformat.read(nb, as_version=4).cells):
            if c.cell_type!='code' or 'nbdev_export()' in c.source or re.search(r'^#\|\s*(export|exporti|exports|eval:\s*false)', c.source, re.M): continue
            try: tree = ast.parse('\n'.join(l for l in c.source.split('\n') if not l.lstrip().startswith(('%','!'))))
            except SyntaxError: continue
            if any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree)) and \
               not all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body):
                bad.append(f'{nb.name} cell {i}')
    assert not bad, f"cells mixing imports with other code (move the imports to the top cell): {bad}"

def test_benchmarks_page(site):
    "A section per protocol, each with one ranked table, every bench script's rows shown, and figures"
    sys.path.insert(0, str(ROOT))
    from bench import report
    import build_docs
    assert any(p['page']=='benchmarks.html' for p in site)
    h = _page_html('benchmarks.html')
    rows = report.load_rows()
    groups = {report.suite_of(r) for r in rows}
    art = re.search(r'<article.*?</article>', h, re.S).group(0)
    assert art.count('<table') == len(groups), f"{art.count('<table')} tables for {len(groups)} protocols"
    assert len(re.findall(r'<h[2-4]\b', art)) >= len(groups)
    for k,s in report.SUITES.items():
        if k in groups: assert report._cell(s['title']).split(' (')[0].replace('`','') in re.sub('<[^>]+>', '', art), k
    for script in sorted((ROOT/'bench').glob('bench_*.py')):
        name = script.stem.removeprefix('bench_')
        if name=='gpu': continue  # needs a CUDA device: `bench/gpu.sh` writes its rows to bench/results/gpu
        assert f'bench/bench_{name}.py' in art, f"no rows of {script.name} in the benchmarks page (run it, then bench/run_all.py --report-only)"
    by = {}
    for r in build_docs.bench_rows(rows): by.setdefault(report.suite_of(r), []).append(r)
    lines = sum(len(g) if k.startswith('speed:') else len({(r['bench'], r['model'], r.get('recipe') or r['protocol']) for r in report._dedupe(g)})
                for k,g in by.items())
    assert art.count('<tr>') - art.count('<table') == lines, (art.count('<tr>') - art.count('<table'), lines)  # a line per model
    imgs = re.findall(r'<img\b[^>]*src="([^"]+\.png)"', h)
    assert len(imgs) >= 2 and all((SITE/i).exists() for i in imgs), imgs
    assert 'href="benchmarks.html"' in _page_html('index.html')

def test_search_index_is_text(site):
    "The search index holds what a reader reads: no copy-button notices, no markup leaks"
    docs = json.loads((SITE/'search'/'search_index.json').read_text())['docs']
    assert len(docs) > 100
    for bad in ('Copied!', 'source{target=', 'In [ ]'):
        hits = [d['location'] for d in docs if bad in d['text']]
        assert not hits, f"{bad!r} in the search index: {hits[:5]}"
    assert any('dot_learner' in d['title'] or 'dot_learner' in d['text'] for d in docs)

def _toc(page):
    "The entries of a page's table of contents (its `##` and `###` headings), as text"
    h = _page_html(page)
    toc = re.search(r'<nav class="md-nav md-nav--secondary".*?</nav>\s*</div>', h, re.S).group(0)
    return [html.unescape(re.sub(r'<[^>]+>', '', t)).strip() for t in re.findall(r'<span class="md-ellipsis">(.*?)</span>', toc, re.S)]

def _article(page):
    return re.search(r'<article[^>]*>(.*)</article>', _page_html(page), re.S).group(1)

def test_benchmarks_page_reads(site):
    """Its table of contents is short readable headings (the machine-named protocols are grouped under them, their
    descriptions in the text), named for what they measure, never for a bench script; a short intro; RAM's and the
    cold-start tables hold the baseline their headline is measured against (FC networks, genre popularity); the
    tracker's vocabulary stays out, and the ratio plot's points are labelled (a row each: it is tall)"""
    from PIL import Image
    entries = _toc('benchmarks.html')
    assert 12 <= len(entries) <= 40, (len(entries), entries)
    assert max(map(len, entries)) <= 60, [e for e in entries if len(e) > 60]
    scripts = {p.stem.removeprefix('bench_') for p in (ROOT/'bench').glob('bench_*.py')}
    named = [e for e in entries if e.lower() in scripts or re.search(r'bench_|\.py\b| · ', e)
             or e.split(':')[0].strip().lower() in scripts]
    assert not named, f"headings named for a script or a machine key: {named}"
    art = _article('benchmarks.html')
    intro = html.unescape(re.sub(r'<[^>]+>', '', art[:art.index('<h2')]))
    assert len(intro.split()) <= 200, f"the intro runs to {len(intro.split())} words"
    text = _text('benchmarks.html')
    for fc in ('FC 784-256-256-10 (baseline, same run)', 'FC 3600-256-256-10 (baseline, same run)'): assert fc in text, fc
    cold = re.search(r'id="cold-start-held-out-films.*?</table>', art, re.S).group(0)
    assert 'genre popularity (baseline, same run)' in html.unescape(re.sub(r'<[^>]+>', '', cold)), "no genre popularity row"
    assert 'recfast-era' not in text
    img = Image.open(SITE/'img'/'bench_ratios.png')
    assert img.size[1] > img.size[0]*0.45, img.size

def test_benchmarks_ratios_share_a_quantity(site):
    """A ratio is shown only where the row's figure and its baseline's are of one quantity: `recommend_all`'s users/s
    against the training's ratings/s shows '-', in the report and on the page; the ratio plot labels every point"""
    sys.path.insert(0, str(ROOT))
    from bench import report
    import build_docs
    r = report.row('scale', 'recfast `recommend_all`', 'd', 'p', 'users/s', 500., None, 'dot training ratings/s', 1e5,
                   suite='speed: scale: d', machine_kind='m', date='d')
    assert r['ratio'] is not None and report.ratio_of(r) is None and report._cells(r)['ratio']=='-'
    assert report.row('b', 'm', 'd', 'p', 'users/s', 5., None, 'b', 1., suite='s', baseline_metric='ratings/s',
                      machine_kind='m', date='d')['ratio'] is None
    assert report.ratio_of({**r, 'baseline': 'learn.recommend', 'metric': 'users/s'}) == r['ratio']
    rows = [x for x in report.load_rows() if 'recommend_all' in x['model'] and x.get('metric')=='users/s']
    assert rows and all(report.ratio_of(x) is None for x in rows)
    trs = [[html.unescape(re.sub(r'<[^>]+>', '', c)).strip() for c in re.findall(r'<td>(.*?)</td>', t, re.S)]
           for t in re.findall(r'<tr>(.*?)</tr>', _article('benchmarks.html'), re.S)]
    shown = [t for t in trs if t and 'recommend_all' in t[0] and any(c.startswith('users/s') for c in t)]
    assert len(shown)==len(rows) and all(t[-1]=='-' for t in shown), shown
    pts = build_docs.ratio_points(report.load_rows())
    labels = [p[0] for p in pts]
    assert pts and len(set(labels))==len(labels) and all(' vs ' in l for l in labels), labels

def _blocks(page):
    "(heading, code text, block html) of each signature block of a page"
    for b in re.findall(r'<div class="rf-doc">(.*?)</div>\s*</div>\s*</div>', _page_html(page), re.S):
        head = re.search(r'<h[2-6][^>]*>(.*?)</h[2-6]>', b, re.S)
        code = re.search(r'<pre[^>]*>(.*?)</pre>', b, re.S)
        yield (html.unescape(re.sub(r'<[^>]+>', '', head.group(1))).replace('¶', '').strip() if head else '',
               html.unescape(re.sub(r'<[^>]+>', '', code.group(1))) if code else '', b)

def test_class_signatures_read_class(site):
    "A class's signature block reads `class Name(...)`, a function's `def name(...)` (nbdev writes `def` for both)"
    wrong, n = [], 0
    for p in site:
        if not p.get('module'): continue
        mod = importlib.import_module(f"recfast.{p['module']}")
        for head, code, _ in _blocks(p['page']):
            m = re.match(r'\s*(class|def)\s+(\w+)\(', code)
            if not m or '.' in head: continue
            o = getattr(mod, m.group(2), None)
            if isinstance(o, type): n += 1
            if isinstance(o, type) != (m.group(1)=='class'): wrong.append(f"{p['page']}: {m.group(1)} {m.group(2)}")
    assert not wrong, wrong
    assert n >= 30, f"only {n} class signature blocks"

def test_dunder_blocks_have_docstrings(site):
    "A dunder (`__repr__`, `__iter__`, ...) with a signature block says what it does"
    bad = [f"{p['page']}: {head}" for p in site for head, code, b in _blocks(p['page'])
           if re.search(r'\.__\w+__$', head) and not re.search(r'</pre>.*?<p>.*?\w', b, re.S)]
    assert not bad, bad

def test_delegated_parameters_documented(site):
    "`autoencoder_learner` takes its parts' options through `@delegates`: each is documented in its signature block"
    from recfast.autoencoder.learner import autoencoder_learner
    from fastcore.docments import docments
    assert not [k for k,v in docments(autoencoder_learner).items() if not v and k!='return']
    code = next(code for head, code, _ in _blocks('autoencoder.learner.html') if head=='autoencoder_learner')
    params = [l for l in code.splitlines() if re.match(r'^    \**\w+[:=,]', l)]
    assert len(params) > 25 and all(' # ' in l for l in params), [l for l in params if ' # ' not in l]
    for k in ('alpha', 'anneal_cap', 'layers', 'dropout', 'tied'): assert any(l.strip().startswith(k) for l in params), k

def test_rmse_metric_name(site):
    "The ratings learners' metric is `rmse` in epoch tables, not fastai's `_rmse`"
    from recfast.collab.learner import rmse
    assert rmse.name == 'rmse'
    heads = [th for p in site for t in _epoch_tables(p['page']) for th in re.findall(r'<th>(.*?)</th>', t)]
    assert '_rmse' not in heads and 'rmse' in heads

def test_sequence_tutorial_shows_different_lists(site):
    """The sequences tutorial's recommendations after three different histories share no film, two users with
    different histories get different lists, and the prose says what to notice"""
    art = _article('tutorial.sequences.html')
    table = next(t for t in re.findall(r'<table.*?</table>', art, re.S) if 'after Disney' in t)
    cols = list(zip(*[[html.unescape(re.sub(r'<[^>]+>', '', c)).strip() for c in re.findall(r'<td>(.*?)</td>', r, re.S)]
                      for r in re.findall(r'<tr>(.*?)</tr>', table, re.S) if '<td>' in r]))
    assert len(cols)==3 and all(len(c)==5 for c in cols), cols
    assert all(not set(a) & set(b) for i,a in enumerate(cols) for b in cols[i+1:]), cols
    recs = re.findall(r'is recommended: (\[.*?\])', _text('tutorial.sequences.html'))
    assert len(recs)==2 and recs[0]!=recs[1], recs
    text = _text('tutorial.sequences.html')
    assert 'Two things to notice' in text and 'What to notice' in text

def test_item_factors_links_to_the_model_protocol(site):
    "The collab guide's `item_factors` (a model's, beside `DotProductBias`) links to the model protocol's method"
    links = re.findall(r'<a href="([^"]*)"[^>]*><code>([\w.]*item_factors)</code></a>', _page_html('guide.from_fastai.html'))
    assert links and all(h=='recommender.html#recmodelitem_factors' for h,_ in links), links
    assert 'recmodelitem_factors' in _ids('recommender.html')

def test_no_module_reads_bench_results(tmp_path):
    """Exported code never reads `bench/results` (a wheel has no bench/), and every recfast module imports with the
    working directory outside the repository, as after `pip install`"""
    import subprocess
    mods = sorted(['recfast', *_modules(), 'recfast.all'])
    for m in mods:
        src = Path(importlib.util.find_spec(m).origin).read_text()
        assert 'bench/results' not in src and "'bench'" not in src, f"{m} reads bench results"
    code = f"import importlib\nfor m in {mods!r}: importlib.import_module(m)\nprint('ok', len({mods!r}))"
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'MPLBACKEND': 'Agg'}
    r = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode==0 and r.stdout.startswith('ok'), r.stderr[-3000:]

NO_RESULTS = 'No bench/results/*.json here'

def test_notebooks_without_bench_results(tmp_path, capsys, monkeypatch):
    """The notebook cells that read `bench/results/*.json` find the repository from the working directory or any
    folder above it and, outside a clone (after `pip install`), say so plainly instead of failing"""
    import nbformat, pandas as pd
    cells = [(nb.name, c.source) for nb in _notebooks() for c in nbformat.read(nb, as_version=4).cells
             if c.cell_type=='code' and 'bench/results' in c.source]
    assert len(cells) >= 6, cells
    monkeypatch.chdir(tmp_path)
    for name, src in cells:
        assert "'../bench/results'" not in src and '__file__' not in src, f"{name}: a fixed path to bench/results"
        ns = dict(Path=Path, pd=pd, json=json, display=print, Markdown=str)
        try: exec(compile(src, name, 'exec'), ns)
        except SystemExit as e: assert NO_RESULTS in str(e), (name, e); continue
        assert ns['results'] is None and NO_RESULTS in capsys.readouterr().out, name
    monkeypatch.chdir(ROOT/'nbs')
    ns = dict(Path=Path, pd=pd, json=json, display=lambda *a: None, Markdown=str)
    exec(next(s for n,s in cells if n=='tutorial.ram.ipynb'), ns)
    assert ns['results'] == ROOT/'bench'/'results'

TRACKER = re.compile(r"(?<![\w&/#])#\d+\b|\b(?:issue|PR)s? #?\d+\b|recfast-era", re.I)

def test_no_tracker_references(site):
    "Page text speaks to a reader, not to the project's tracker: no `#15`, `issue 12`, `recfast-era`"
    hits = {p['page']: sorted(set(m.group(0) for m in TRACKER.finditer(_text(p['page'])))) for p in site}
    hits = {k: v for k,v in hits.items() if v}
    assert not hits, hits

TEXT_BAR = re.compile(r'\|[█\-]{10,}\|\s*\d+\.\d+%|\d+\.\d+% \[\d+/\d+ \d\d:\d\d<')

def _outputs(page):
    "The text of a page's cell outputs (`<pre>` in output areas)"
    h = _page_html(page)
    outs = re.findall(r'<div class="[^"]*\bjp-OutputArea-output\b[^"]*"[^>]*>(.*?)</div>', h, re.S)
    return [html.unescape(re.sub(r'<[^>]+>', '', o)) for o in outs]

def test_no_text_progress_bars(site):
    "A fit shows fastai's HTML epoch table, as in Jupyter: no page prints fastprogress' console bars"
    bad = {}
    for p in site:
        n = sum(len(TEXT_BAR.findall(o)) for o in _outputs(p['page']))
        if n: bad[p['page']] = n
    assert not bad, f"text progress bars (lines per page): {bad}"

def _epoch_tables(page):
    "fastai's HTML epoch tables on a page (fastprogress' own, or the build's for `no_bar()` fits)"
    return [t for t in re.findall(r'<table class="[^"]*(?:fastprogress|rf-epochs)[^"]*">(.*?)</table>', _page_html(page), re.S)
            if '<th>epoch</th>' in t and '<th>train_loss</th>' in t]

def test_epoch_tables_are_html(site):
    "The landing page's first fit (outside `no_bar()`) shows fastai's HTML table"
    assert _epoch_tables('index.html'), "no HTML epoch table on the landing page"

def _sig_ids(page):
    "Heading ids of the signature blocks of a page that have a source link"
    h = _page_html(page)
    return set(re.findall(r'<div class="rf-doc">\s*<h[2-6] id="([^"]+)"[^>]*>.*?</h[2-6]>\s*<a class="rf-source" href="https://github\.com/', h, re.S))

def test_every_public_name_has_a_source_link(site):
    "Each class and function a module exports has a signature block with a link to its source (nbdev's index skips none)"
    import build_docs
    page_of = {f"recfast.{p['module']}": p['page'] for p in site if p.get('module')}
    missing = []
    for m in _modules():
        ids = _sig_ids(page_of[m])
        mod = importlib.import_module(m)
        for name in getattr(mod, '__all__', []):
            o = getattr(mod, name)
            if not (callable(o) and getattr(o, '__module__', None)==m): continue
            sl = build_docs.slug(name)  # `_1` where a prose heading of that name comes first
            if not any(i==sl or re.fullmatch(rf'{re.escape(sl)}_\d+', i) for i in ids): missing.append(f'{m}.{name}')
    assert not missing, f"public names without a signature block and source link: {missing}"

# parameters a recfast name takes from a fastai or torch base and cannot document itself
NO_DOCMENT = {'recfast.sequence.data.TensorSequence': {'x'}}  # `TensorBase.__new__`'s

def test_parameters_have_docments():
    """Every named parameter of a public function, class (its `__init__`) or method of recfast has a docment, a
    delegated one included (`**kwargs` passed on to another library are one documented `**kwargs`)"""
    import inspect
    from fastcore.docments import docments
    def own(f):
        try: ps = inspect.signature(f).parameters.values()
        except (TypeError, ValueError): return []
        return [p.name for p in ps if p.name not in ('self', 'cls') and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    missing = []
    for m in _modules():
        mod = importlib.import_module(m)
        for name in getattr(mod, '__all__', []):
            o = getattr(mod, name)
            if getattr(o, '__module__', None)!=m or not (inspect.isfunction(o) or inspect.isclass(o)): continue
            fs = [(f'{m}.{name}', o)]
            if inspect.isclass(o):
                for k in vars(o):
                    f = getattr(o, k, None); f = getattr(f, '__func__', f)
                    if not k.startswith('_') and inspect.isfunction(f): fs.append((f'{m}.{name}.{k}', f))
            for qn, f in fs:
                d = docments(f)
                missing += [f'{qn}: {k}' for k in own(f) if not d.get(k) and k not in NO_DOCMENT.get(qn, ())]
    assert not missing, f"{len(missing)} parameters without a docment: {missing}"

CORE_VERBS = ('recommend', 'evaluate', 'recommend_all', 'similar_items')

def test_core_verbs_link_to_reclearner(site):
    """A backticked `recommend` (`evaluate`, `recommend_all`, `similar_items`) links to `RecLearner`'s method on the
    recommender page, not to the CLI command, `scale`'s or `serve_torch`'s function of that name: except on the page of
    the module that defines that function, where it is that function"""
    import build_docs
    wrong, n = [], 0
    for p in site:
        own = importlib.import_module(f"recfast.{p['module']}") if p.get('module') else None
        for href, name in re.findall(r'<a href="([^"]*)"[^>]*><code>(\w+)(?:\(\))?</code></a>', _page_html(p['page'])):
            if name not in CORE_VERBS: continue
            n += 1
            if href==f"recommender.html#{build_docs.slug(f'RecLearner.{name}')}": continue
            if own and getattr(getattr(own, name, None), '__module__', None)==own.__name__ and href.startswith(p['page']+'#'): continue
            wrong.append(f"{p['page']}: {name} -> {href}")
    assert not wrong, wrong
    assert n >= 10, f"only {n} links to the core verbs"

def test_tutorial_pages_have_figures_and_epoch_tables(site):
    "There are tutorials (`nbs/tutorial.*.ipynb`), and each shows at least one figure and fastai's HTML epoch table"
    tuts = [p for p in site if p['stem'].startswith('tutorial.')]
    assert tuts, "no tutorial page (nbs/tutorial.<name>.ipynb)"
    bad = []
    for p in tuts:
        art = re.search(r'<article[^>]*>(.*)</article>', _page_html(p['page']), re.S).group(1)
        if not re.search(r'<img\b', art): bad.append(f"{p['page']}: no figure")
        if not _epoch_tables(p['page']): bad.append(f"{p['page']}: no HTML epoch table")
    assert not bad, bad

def test_signature_blocks_read_well(site):
    """Signature blocks: no `NoneType` annotation (nbdev's guess from a `None` default), no docstring inherited from
    Python's builtins (`Return repr(self).`), a parameter a line (nbdev's `wd, *, lr, # lr's docment` reads as wd's),
    and each name documented once per page (nbdev adds a second block for a `@patch` the notebook documents itself)"""
    import build_docs
    bad = []
    builtin = {d for d in build_docs._builtin_docs()}
    for p in site:
        h = _page_html(p['page'])
        blocks = re.findall(r'<div class="rf-doc">(.*?)</div>\s*</div>\s*</div>', h, re.S)
        heads = [html.unescape(re.sub(r'<[^>]+>', '', m)).replace('¶', '').strip()
                 for m in re.findall(r'<div class="rf-doc">\s*<h[2-6][^>]*>(.*?)</h[2-6]>', h, re.S)]
        dup = sorted({x for x in heads if heads.count(x) > 1})
        if dup: bad.append(f"{p['page']}: documented twice: {dup}")
        for b in blocks:
            t = html.unescape(re.sub(r'<[^>]+>', '', b))
            if 'NoneType' in t: bad.append(f"{p['page']}: NoneType in {t.strip()[:60]!r}")
            if '__main__.' in t: bad.append(f"{p['page']}: __main__. in {t.strip()[:60]!r}")
            if any(' '.join(l.split()) in builtin for l in t.splitlines() if l.strip()): bad.append(f"{p['page']}: builtin docstring in {t.strip()[:60]!r}")
            for l in t.splitlines():
                if re.match(r'^    [^#(]*\w[^#]*,\s*\*,', l): bad.append(f"{p['page']}: two parameters on a line: {l.strip()!r}")
    assert not bad, bad[:20]

def test_bare_tune_links_to_the_library_function():
    "A bare `tune` in prose is the library's `recfast.tune.tune`; on the CLI page, the CLI's own subcommand"
    import build_docs
    assert build_docs.doc_url('tune').endswith('/tune.html#tune'), build_docs.doc_url('tune')
    assert build_docs.doc_url('tune', 'cli').endswith('/cli.html#tune')
    assert build_docs.doc_url('recommend').endswith('#reclearner.recommend')

