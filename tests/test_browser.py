"""The documentation site as a reader sees it: every page loaded in headless Chromium from a local http server on
127.0.0.1. Each page has the sidebar, shows no leaked markup, renders its figures and math, and logs no console error;
every local link and anchor resolves; the search box finds a public name. Screenshots of a few pages go to
`_docs_screens/` (git-ignored). Skipped, with the reason, only where no Chromium can be had
(`make install` installs Debian's `chromium` and `chromium-driver` where apt-get can run)."""
import re, os, sys, html, json, shutil, threading, functools, http.server, time
from pathlib import Path
from urllib.parse import urlsplit, unquote
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
SITE, SHOTS = Path(os.environ.get('RECFAST_DOCS_SITE', ROOT/'_docs')), ROOT/'_docs_screens'
LEAKS = ('source{target=', '{target="_blank"', 'In [', '**call**', '**init**')
EPOCH_LIST = re.compile(r"\[\d+, \d+\.\d+[^\]\n]*'\d\d:\d\d'\]")

def _chrome():
    "(chromium, chromedriver) paths, or the reason there are none"
    try: import selenium  # noqa: F401
    except ImportError: return None, "selenium is not installed (pip install -e '.[dev]')"
    b = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
    d = shutil.which('chromedriver')
    if not (b and d): return None, ("no headless Chromium here: `apt-get install chromium chromium-driver` "
                                    "(make install does it where apt-get can run)")
    return (b, d), None

@pytest.fixture(scope='module')
def site():
    import build_docs
    pages, secs = build_docs.built_site(SITE)
    return {p['page']: p for p in pages}

@pytest.fixture(scope='module')
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(SITE)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{srv.server_port}'
    srv.shutdown(); srv.server_close()

@pytest.fixture(scope='module')
def browser():
    paths, why = _chrome()
    if paths is None: pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    o = webdriver.ChromeOptions()
    o.binary_location = paths[0]
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1400,1000'):
        o.add_argument(a)
    o.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    d = webdriver.Chrome(service=Service(paths[1]), options=o)
    d.set_page_load_timeout(60)
    SHOTS.mkdir(exist_ok=True)
    yield d
    d.quit()

def _load(d, url):
    d.get(url)
    for _ in range(100):
        if d.execute_script("return document.readyState")=='complete': break
        time.sleep(.05)
    time.sleep(.3)  # KaTeX and material's scripts run after load

_ids_cache = {}
def _ids(page):
    if page not in _ids_cache:
        p = SITE/page
        _ids_cache[page] = set(re.findall(r'\bid="([^"]+)"', p.read_text())) if p.exists() else None
    return _ids_cache[page]

def test_every_page(site, server, browser):
    d = browser
    problems, n_pages = [], len(site)
    shots = {'index.html', 'benchmarks.html'}
    shots |= {next((p for p,v in site.items() if v.get('module') and v['images']>0), 'index.html')}
    shots |= {next((p for p,v in site.items() if v.get('module') and 'ratings' in v['stem']), 'index.html')}
    shots |= {next((p for p,v in site.items() if v.get('math')), 'index.html')}
    for page, facts in site.items():
        _load(d, f'{server}/{page}')
        logs = d.get_log('browser')  # what loading the page logged (reading the log empties it)
        # one round trip to the browser per page: what the checks below read
        f = d.execute_script("""const q = s => [...document.querySelectorAll(s)], ok = i => i.complete && i.naturalWidth > 0;
            const imgs = q('article img');
            return {nav: q('nav.md-nav--primary a.md-nav__link[href]').map(a => a.getAttribute('href')),
                    search: q('input.md-search__input').length, toc: q('nav.md-nav--secondary').length,
                    text: document.querySelector('article').innerText, katex: q('article .katex').length,
                    imgs: imgs.filter(ok).length, broken: imgs.filter(i => !ok(i)).map(i => i.src.slice(0, 80)),
                    clipped: q('article .rf-doc pre').filter(p => p.scrollWidth > p.clientWidth + 2).map(p => p.innerText.slice(0, 60)),
                    links: q('a[href]').map(a => a.href)}""")
        if len({h for h in f['nav'] if h.endswith('.html')}) < n_pages-1: problems.append(f"{page}: sidebar has {len(f['nav'])} links")
        if not f['search']: problems.append(f'{page}: no search box')
        if not f['toc']: problems.append(f'{page}: no table of contents')
        if not d.title.startswith(facts['title'] if page!='index.html' else 'recfast'): problems.append(f'{page}: title {d.title!r}')
        text = f['text']
        problems += [f'{page}: {bad!r} shows' for bad in LEAKS if bad in text]
        if EPOCH_LIST.search(text): problems.append(f'{page}: raw epoch list {EPOCH_LIST.search(text).group(0)!r}')
        if facts['images'] and not f['imgs']: problems.append(f'{page}: plots but shows no image')
        if f['broken']: problems.append(f"{page}: images that do not load: {f['broken']}")
        if f['clipped']: problems.append(f"{page}: signature blocks wider than their box (docments clipped): {f['clipped'][:3]}")
        if facts.get('math') and (SITE/'assets'/'katex').exists() and not f['katex']:
            problems.append(f'{page}: math not rendered')
        # local links and anchors
        for href in f['links']:
            u = urlsplit(href)
            if not href.startswith(server): continue
            target = unquote(u.path.lstrip('/')) or 'index.html'
            ids = _ids(target)
            if ids is None: problems.append(f'{page}: broken link {href}')
            elif u.fragment and unquote(u.fragment) not in ids: problems.append(f'{page}: broken anchor {href}')
        errors = [l['message'] for l in logs+d.get_log('browser') if l['level']=='SEVERE']
        if errors: problems.append(f'{page}: console errors {errors[:3]}')
        if page in shots: d.save_screenshot(str(SHOTS/page.replace('.html', '.png')))
    assert not problems, '\n'.join(problems[:40])

def test_search_finds_a_public_name(site, server, browser):
    "Type a public name in the search box: a result links to the page that documents it"
    from selenium.webdriver.common.by import By
    d = browser
    home = next(p for p,v in site.items() if 'dot_learner' in (SITE/p).read_text() and 'id="dot_learner"' in (SITE/p).read_text())
    _load(d, f'{server}/index.html')
    box = d.find_element(By.CSS_SELECTOR, 'input.md-search__input')
    box.click()
    box.send_keys('dot_learner')
    hrefs = []
    for _ in range(100):
        hrefs = d.execute_script("return [...document.querySelectorAll('.md-search-result__item a')].map(a => a.getAttribute('href'))")
        if hrefs: break
        time.sleep(.1)
    d.save_screenshot(str(SHOTS/'search.png'))
    assert hrefs, "the search box found nothing for dot_learner"
    assert any(h.split('#')[0].split('?')[0].endswith(home) for h in hrefs), (home, hrefs[:5])
    errors = [l['message'] for l in d.get_log('browser') if l['level']=='SEVERE']
    assert not errors, errors

def test_search_works_from_the_file_system(site, browser):
    "Opened as files (no server at all), the search box still answers: the index is inlined, the worker runs in an iframe"
    from selenium.webdriver.common.by import By
    d = browser
    _load(d, (SITE/'index.html').as_uri())
    box = d.find_element(By.CSS_SELECTOR, 'input.md-search__input')
    box.click(); box.send_keys('RatingsDataLoaders')
    hrefs = []
    for _ in range(100):
        hrefs = d.execute_script("return [...document.querySelectorAll('.md-search-result__item a')].map(a => a.getAttribute('href'))")
        if hrefs: break
        time.sleep(.1)
    assert hrefs, "no search results from file://"
    errors = [l['message'] for l in d.get_log('browser') if l['level']=='SEVERE']
    assert not errors, errors
