"""Build the documentation site into `_docs/` with mkdocs-material + mkdocs-jupyter, off-line, without Quarto.

1. Every notebook of `nbs/` goes through nbdev's own processors (directives, `show_doc` for exported names, links),
   with one change: instead of executing only the cells `show_doc` needs, every cell is executed (in the notebook's
   folder, `#| slow` and `#| eval: false` cells keep their saved output), so pages show real outputs and figures.
   The public classmethods of exported classes (`from_df`, `from_dls`, ...) get a `show_doc` too, and a name gets one
   signature block. Fits show fastprogress' notebook (HTML) bars and epoch table, as in Jupyter (`notebook_progress`);
   symbols nbdev leaves out of `recfast/_modidx.py` are added in memory (`complete_modidx`).
   Notebooks run in parallel, each in a fresh process; executed notebooks are cached in `_proc/docs_cache/`, keyed
   on the notebook, the package sources and this file, so a rebuild only reruns what changed.
2. Each page is placed in the sidebar by its number's tens digit (`SECTIONS`) and titled by its `# Title` cell;
   no notebook name is written here. The landing page (`index.ipynb`) gets a generated list of every section.
3. `bench/results/*.json` becomes the Benchmarks page: one table per protocol under short headings (the named
   protocols, then the others and the speed rows grouped by bench script), and figures drawn with matplotlib.
4. mkdocs builds the site (`mkdocs.yml`, hooks in `tools/docs_hooks.py`), with KaTeX from Debian's `libjs-katex`.

`python tools/build_docs.py [--no-readme] [--no-exec] [--workers N]`. README.md comes from `nbs/index.ipynb` as saved.
Users who have Quarto can still run `nbdev-docs` (`nbs/_quarto.yml` is kept).
"""
import os, re, sys, ast, json, time, shutil, hashlib, html, importlib
from pathlib import Path
from concurrent.futures import ProcessPoolExecutor
import multiprocessing as mp

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT/'tools'
STAGE = Path(os.environ.get('RECFAST_DOCS_STAGE', ROOT/'_proc'/'docs_src'))  # mkdocs' docs_dir: the pages it renders
CACHE = ROOT/'_proc'/'docs_cache'
KATEX = Path('/usr/share/javascript/katex')  # Debian's libjs-katex

# The sidebar: a notebook's section is the tens digit of its number (`10_collab.data` -> 1); 9 is the API.
SECTIONS = {0: 'Core', 1: 'Ratings (collab)', 2: 'Implicit feedback', 3: 'Sequences', 4: 'Autoencoders',
            5: 'Recurrent attention', 6: 'CLI, tuning, saving & serving', 7: 'Scale & distributed', 8: 'More', 9: 'API'}
# Libraries whose names link to their docs when written in backticks; the first one that knows a name wins.
LINK_LIBS = ('recfast', 'fastai', 'fastcore')

# Unnumbered notebooks named `<prefix>.<name>` come first, in this order: what a reader learns from, then how-tos.
PREFIXES = {'tutorial': (-2, 'Tutorials'), 'guide': (-1, 'Guides')}
# Their order in the sidebar: the families in the order the site presents them (others after, by name).
READING_ORDER = ('ratings', 'implicit', 'sequences', 'autoencoders', 'features', 'ram',
                 'which_model', 'from_fastai', 'cli', 'serving')

def page_order(stem):
    "Sort key of a page within its section: reading order for tutorials and guides, else the notebook's name"
    name = stem.split('.', 1)[-1] if stem.split('.')[0] in PREFIXES else None
    return (READING_ORDER.index(name) if name in READING_ORDER else len(READING_ORDER), stem)

_re_num = re.compile(r'^(\d+)[a-zA-Z]?_')

def section_of(stem):
    "(order, section name) of notebook `stem`, from its prefix or its number's tens digit; `None` for the landing page"
    if stem=='index': return None
    if stem.split('.')[0] in PREFIXES: return PREFIXES[stem.split('.')[0]]
    m = _re_num.match(stem)
    if not m: return (100, SECTIONS[8])
    d = (int(m.group(1))//10) % 10
    return (d, SECTIONS.get(d, SECTIONS[8]))

def plain_title(title):
    "A notebook's `# Title` as plain text, for the sidebar, the browser tab and the search index: `Learner` -> Learner"
    return re.sub(r'`([^`]*)`', r'\1', title or '')

def page_name(nb_path):
    "The html page of a notebook, as nbdev names it (numeric prefix stripped): `01_data.ratings` -> `data.ratings.html`"
    from nbdev.config import nbpath2html
    return nbpath2html(Path(nb_path)).name

def slug(s):
    "The id mkdocs-jupyter gives a heading with text `s` (and the toc links to)"
    from mkdocs_jupyter.utils import slugify
    return slugify(s)

def title_cell(cells):
    "Index, title and one-paragraph summary of a notebook's `# Title` / `> summary` markdown cell"
    for i,c in enumerate(cells):
        if c.cell_type!='markdown': continue
        src = c.source.strip()
        m = re.match(r'^#\s+(.+?)\s*$', src.split('\n',1)[0])
        if not m: continue
        rest = src.split('\n',1)[1] if '\n' in src else ''
        quote = re.match(r'\s*((?:>.*(?:\n|$))+)', rest)
        desc = ' '.join(l.lstrip('>').strip() for l in quote.group(1).splitlines()) if quote else ''
        return i, m.group(1), desc
    return None, None, ''

# ---------------------------------------------------------------------------------------------------------------
# Links: backticked names -> local pages (recfast) or docs.fast.ai / fastcore.fast.ai

def modidx_missing():
    """Symbols of `recfast/*.py` that nbdev left out of `recfast/_modidx.py`: {module: {name: (doc, source)}}.
    nbdev (3.3, `doclinks._get_modidx`) skips every cell whose notebook path contains 'auto' (`'auto' in cell.nb`,
    meant for the `# %% auto` `__all__` cell: AnswerDotAI/nbdev issue 1430), so the autoencoder notebooks'
    symbols get no doc or source link. This is `_get_modidx` with that test made exact."""
    import ast as _ast
    from nbdev.config import get_config, nbpath2html
    from nbdev.doclinks import _iter_py_cells, patch_name
    from fastcore.foundation import L
    import recfast._modidx as mi
    cfg = get_config()
    lib, nbs_path = Path(cfg.lib_path).resolve(), Path(cfg.nbs_path).resolve()
    code_root, out = lib.parent, {}
    for py in sorted(lib.rglob('*.py')):
        if py.name.startswith('_') or '.ipynb_checkpoints' in py.parts: continue
        rel = py.relative_to(code_root).as_posix()
        mod = '.'.join(rel.rpartition('.')[0].split('/'))
        have, d = mi.d['syms'].get(mod, {}), {}
        try: cells = list(_iter_py_cells(py))
        except ValueError: continue
        for cell in cells:
            if cell.nb=='auto': continue
            loc = nbpath2html(cell.nb_path.relative_to(nbs_path)).as_posix()
            def _stor(nm):
                for n in L(nm):
                    if f'{mod}.{n}' not in have: d[f'{mod}.{n}'] = (f'{loc}#{n.lower()}', rel)
            for tree in _ast.parse(cell.code).body:
                if isinstance(tree, (_ast.FunctionDef, _ast.AsyncFunctionDef, _ast.ClassDef)): _stor(patch_name(tree))
                if isinstance(tree, _ast.ClassDef):
                    for t2 in tree.body:
                        if isinstance(t2, (_ast.FunctionDef, _ast.AsyncFunctionDef, _ast.ClassDef)): _stor(f'{tree.name}.{t2.name}')
        if d: out[mod] = d
    return out

def complete_modidx():
    "Add what `modidx_missing` finds to the loaded `recfast._modidx.d`, which nbdev's `NbdevLookup` (links, source links) reads"
    import recfast._modidx as mi
    if getattr(mi, '_completed', False): return
    for mod, d in modidx_missing().items(): mi.d['syms'].setdefault(mod, {}).update(d)
    mi._completed = True
    from nbdev.doclinks import _build_lookup_table
    _build_lookup_table.cache_clear()

_lookup = None
def lookup():
    global _lookup
    if _lookup is None:
        from nbdev.doclinks import NbdevLookup
        complete_modidx()
        _lookup = NbdevLookup(strip_libs=LINK_LIBS)
    return _lookup

def _local_url(url):
    "A recfast docs URL made relative (`data.ratings.html#<heading id>`); other URLs as they are"
    from nbdev.config import get_config
    cfg = get_config()
    host = (cfg.get('doc_host','') + '/' + cfg.get('doc_baseurl','').strip('/')).rstrip('/') + '/'
    for pre in (host, host.replace('https://','http://')):
        if url.startswith(pre):
            page,_,anchor = url[len(pre):].partition('#')
            return page + (f'#{slug(anchor)}' if anchor else '')
    return url

PAGE_MODULE = None  # the module of the page being rendered (`collab.data`), set by `render_nb`: its own names link first
VERB_CLASS = 'recfast.recommender.RecLearner'  # a bare verb (`recommend`, `evaluate`) is the Learner's method
LOADERS_CLASS = 'recfast.core.RecDataLoaders'  # then the loaders' method (`queries`, `encode_users`)
PLAIN_OK = {'patch', 'delegates', 'tensor'}

def _deprecated(module, name)->bool:
    "Whether `recfast.<module>.<name>` is a deprecated alias (its docstring says so): links go to the name it aliases"
    try: o = getattr(importlib.import_module(f'recfast.{module}'), name, None)
    except ImportError: return False
    return 'deprecat' in (getattr(o, '__doc__', None) or '').lower()  # plain lowercase words that may link to fastai/fastcore

PREFER = {'tune': 'recfast.tune.tune'}  # a bare name that several modules define: the library function, not the CLI's

def doc_url(name, module=None):
    """The docs URL of backticked `name`: a name of the page's own module first, then a method of `RecLearner` (a bare
    `recommend` is the verb, not the CLI command or `serve_torch.recommend`), then what nbdev's lookup finds, where a
    plain lowercase word found only in fastai or fastcore (`test`, `solve`) is left unlinked: it is a parameter or a word."""
    nl = lookup()
    module = module if module is not None else PAGE_MODULE
    if re.match(r'^[A-Za-z_]\w*$', name):
        import recfast._modidx as mi
        syms = mi.d['syms']
        own = syms.get(f'recfast.{module}', {}) if module else {}
        cands = [f'recfast.{module}.{name}'] if module and not _deprecated(module, name) else []
        cands.append(f'{VERB_CLASS}.{name}')
        cands += sorted((k for k in own if k.endswith(f'.{name}') and k.count('.')==module.count('.')+3),
                        key=lambda k: (len(k), k))  # a base class's method before its subclasses'
        cands.append(f'{LOADERS_CLASS}.{name}')
        for c in cands:
            if any(c in d for d in syms.values()) and (url := nl.doc(c)): return url
        if name in PREFER and (url := nl.doc(PREFER[name])): return url
    url = nl.doc(name)
    if url and re.match(r'^[a-z]+$', name) and name not in PLAIN_OK and _local_url(url)==url: return None
    return url

def linkify(md):
    "nbdev's `linkify` with local recfast links and fastai/fastcore links"
    from nbdev.doclinks import _re_backticks
    def _sub(m):
        name = m.group(1)
        url = doc_url(name)
        if url is None: return m.group(0)
        if m.group(0).endswith('()`'): name += '()'
        return f"[`{name}`]({_local_url(url)})"
    out,in_fence = [],False
    for l in md.splitlines():
        if l.lstrip().startswith('```'): in_fence = not in_fence
        elif not in_fence and not l.startswith('    '):
            # skip what is already a link target or a link text
            parts = re.split(r'(\[[^\]]*\]\([^)]*\))', l)
            l = ''.join(p if p.startswith('[') and '](' in p else _re_backticks.sub(_sub, p) for p in parts)
        out.append(l)
    return '\n'.join(out)

def relink(md):
    "Links written out to the recfast site (nbdev's `add_links` output), made local"
    return re.sub(r'\]\((https?://[^)\s]+)\)', lambda m: f']({_local_url(m.group(1))})', md)

# ---------------------------------------------------------------------------------------------------------------
# show_doc output -> a signature block

def _md_text(o):
    d = o.get('data', {}).get('text/markdown')
    return (''.join(d) if isinstance(d, list) else d) if d else None

def _top_split(s, sep=','):
    "`s` split at the `sep`s outside brackets and quotes"
    out, depth, q, cur = [], 0, None, ''
    for ch in s:
        if q:
            if ch==q: q = None
        elif ch in '\'"': q = ch
        elif ch in '([{': depth += 1
        elif ch in ')]}': depth -= 1
        elif ch==sep and depth==0: out.append(cur); cur = ''; continue
        cur += ch
    return out + [cur]

def _one_param_a_line(code):
    """A signature's parameters one a line: nbdev puts parameters without docments on the line of the next one that has
    one (`wd:float=0.1, *, lr:float=0.001, # Default learning rate`), so the comment reads as theirs"""
    out = []
    for l in code.split('\n'):
        m = re.match(r'^(    )(\S.*?)(,\s*#\s.*|,)?$', l)
        if not m or l.lstrip().startswith('#'): out.append(l); continue
        parts = [p.strip() for p in _top_split(m.group(2))]
        parts = [p for p in parts if p]
        if len(parts)<2: out.append(l); continue
        out += [f'    {p},' for p in parts[:-1]] + [f'    {parts[-1]}{m.group(3) or ","}']
    return '\n'.join(out)

def _builtin_docs():
    "The docstrings Python's own dunders carry (`Return repr(self).`): a dunder that only inherits one says nothing"
    docs = set()
    for t in (object, type, list, dict, tuple, int, str, set, Exception, type(len)):
        for k in dir(t):
            if k.startswith("__") and (d := getattr(getattr(t, k, None), "__doc__", None)) and len(d)<80: docs.add(" ".join(d.split()))
    return docs
_BUILTIN_DOCS = None

def signature_md(md):
    """nbdev's `show_doc` markdown as a boxed signature block: heading (escaped, anchor-able), source link, code with a
    parameter a line, no `NoneType` annotations (nbdev's guess from a `None` default) or `__main__.` prefixes (the
    notebook's own classes), no docstring inherited from a builtin"""
    global _BUILTIN_DOCS
    if _BUILTIN_DOCS is None: _BUILTIN_DOCS = _builtin_docs()
    md = md.strip()
    def _code(m):
        code = re.sub(r'(\w):\s*NoneType(?=\s*=\s*None\b)', r'\1', m.group(2))
        code = re.sub(r'\b__main__\.', '', code)  # a class the notebook itself defines, as the module names it
        return m.group(1) + _one_param_a_line(code) + m.group(3)
    md = re.sub(r'(```python\n)(.*?)(\n```)', _code, md, flags=re.S)
    md = '\n'.join(l for l in md.split('\n') if ' '.join(l.strip().strip('*').split()) not in _BUILTIN_DOCS or not l.strip())
    md = re.sub(r'^---\s*\n', '', md).strip()
    src = re.search(r'\[source\]\(([^)]+)\)\{[^}]*\}', md)
    md = re.sub(r'\[source\]\(([^)]+)\)\{[^}]*\}\s*\n', '', md)
    link = f'<a class="rf-source" href="{html.escape(src.group(1))}" target="_blank" rel="noopener">source</a>' if src else ''
    def _head(m):
        name = m.group(2).strip()
        esc = name.replace('\\_','_').replace('_', r'\_').replace('*', r'\*')
        return f'{m.group(1)} {esc}'
    md = re.sub(r'^(#{2,6})\s+(.+)$', _head, md, count=1, flags=re.M)
    # table cells: `**kwargs` and dunders render as bold otherwise
    lines = []
    for l in md.splitlines():
        if l.startswith('|') and not re.match(r'^\|\s*-', l):
            cells = l.split('|')
            cells = [re.sub(r'(?<!\\)(\*\*?|__)(?=\w)', lambda m: '\\'+'\\'.join(m.group(1)), c) if '**Type**' not in c and '**Default**' not in c and '**Details**' not in c else c for c in cells]
            l = '|'.join(cells)
        lines.append(l)
    md = '\n'.join(lines).strip()
    head = re.match(r'^(#{2,6} .+)\n', md)
    if head: md = md[head.end():]
    md = md.strip()
    return (head.group(1)+'\n\n' if head else '') + f'<div class="rf-doc">{link}\n\n{md.strip()}\n\n</div>'

# ---------------------------------------------------------------------------------------------------------------
# Outputs

_re_bar = re.compile(r'^\s*(\|[█\-]*\|.*\d+\.\d+%.*|[█\s]+)$')
_re_epoch = re.compile(r"^\[\d+(?:, [^,\]]+)+, '\d+:\d\d'\]$")
# a warning raised for the reader's own call (recfast's `stacklevel` points at the cell), inside recfast, or by
# fastai's `Learner` (`load_learner`'s pickle notice)
# (or a line this module already cleaned: `clean_outputs` runs at execution and again when the page is rendered)
_warn_from = r'<ipython-input-[^>]*>|\S*ipython-input-\S*|\S*/recfast/\S+\.py|\S*/fastai/learner\.py'
_re_warn = re.compile(rf'^(?:(?:{_warn_from}):\d+: )?(\w*Warning): (.*)$')

def reader_warnings(text:str)->str:
    "The warnings of `text` (stderr) that concern the reader's data or call, as `Category: message` lines"
    return ''.join(f'{m.group(1)}: {m.group(2)}\n' for l in text.splitlines() if (m:=_re_warn.match(l)))

def _epoch_table(lines, names=None):
    "Lines `[0, 0.87, 0.9, '00:02']` that `Learner.no_bar()` fits print, as an HTML table"
    rows = [ast.literal_eval(l) for l in lines]
    n = len(rows[0])
    if not names or len(names)!=n:
        names = ['epoch', 'train_loss', 'valid_loss'][:n-1] + [f'metric {i}' for i in range(1, n-3)] + ['time']
        names = names[:n-1] + ['time']
    fmt = lambda v: f'{v:.6f}' if isinstance(v, float) else html.escape(str(v))
    head = ''.join(f'<th>{html.escape(str(c))}</th>' for c in names)
    body = ''.join('<tr>'+''.join(f'<td>{fmt(v)}</td>' for v in r)+'</tr>' for r in rows)
    return f'<table class="dataframe rf-epochs"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

def _metric_names(ns, n):
    "The `metric_names` of a `Learner` in the namespace `ns` with `n` columns, if one is there"
    try: from fastai.learner import Learner
    except ImportError: return None
    for v in reversed(list(ns.values())):
        if isinstance(v, Learner):
            names = list(getattr(getattr(v, 'recorder', None), 'metric_names', None) or [])
            if len(names)==n: return names
    return None

def clean_outputs(cell, ns=None):
    "Keep only recfast's warnings of stderr, drop empty progress bars; turn `no_bar()` epoch lists into tables"
    outs = []
    for o in cell.get('outputs', []):
        if o.get('output_type')=='stream':
            text = ''.join(o['text']) if isinstance(o['text'], list) else o['text']
            if o.get('name')=='stderr':  # library noise dropped; recfast's warnings about the reader's data kept
                if (w:=reader_warnings(text)): outs.append({'output_type':'stream', 'name':'stderr', 'text':w})
                continue
            text = re.sub(r'\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])', '', text)
            lines, run, keep = text.splitlines(), [], []
            def flush():
                if run:
                    names = _metric_names(ns or {}, len(ast.literal_eval(run[0])))
                    outs_html.append(_epoch_table(run, names)); run.clear()
            outs_html = []
            chunks = []   # ('text', lines) / ('html', str)
            for l in lines:
                if _re_bar.match(l): continue  # fastprogress' text-mode bars
                if _re_epoch.match(l.strip()): run.append(l.strip()); continue
                if run:
                    flush(); chunks.append(('html', outs_html.pop()))
                chunks.append(('text', l))
            if run: flush(); chunks.append(('html', outs_html.pop()))
            buf = []
            for kind,v in chunks:
                if kind=='text': buf.append(v); continue
                if buf: outs.append({'output_type':'stream', 'name':'stdout', 'text':'\n'.join(buf)+'\n'}); buf = []
                outs.append({'output_type':'display_data', 'metadata':{}, 'data':{'text/html': v}})
            if buf: outs.append({'output_type':'stream', 'name':'stdout', 'text':'\n'.join(buf)+'\n'})
            continue
        data = o.get('data', {})
        if 'text/html' in data:
            h = ''.join(data['text/html']) if isinstance(data['text/html'], list) else data['text/html']
            h = re.sub(r'<style>.*?</style>', '', h, flags=re.S)
            h = re.sub(r'<div>\s*<progress[^>]*>.*?</div>', '', h, flags=re.S)
            h = re.sub(r'<progress[^>]*>.*?</progress>', '', h, flags=re.S).strip()
            h = re.sub(r'<div>\s*</div>', '', h).strip()  # a notebook bar's last state once it is done (`leave=False`)
            if not h and set(data)<={'text/html','text/plain','text/markdown'}: continue
            data['text/html'] = h
            if 'class="fastprogress"' in h: data.pop('text/markdown', None)  # fasthtml's fenced copy of the table
        o.pop('execution_count', None) if o.get('output_type')!='execute_result' else None
        outs.append(o)
    from fastcore.xtras import dict2obj
    cell.outputs = [dict2obj(o) if type(o) is dict else o for o in outs]

# ---------------------------------------------------------------------------------------------------------------
# Processing one notebook (in its own process)

def _classmethods(tree):
    "(class, method) of the public classmethods defined in the classes of `tree`"
    for node in tree.body if isinstance(tree, ast.Module) else []:
        if not isinstance(node, ast.ClassDef): continue
        for f in node.body:
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and not f.name.startswith('_') and \
               any(getattr(d, 'id', None)=='classmethod' for d in f.decorator_list):
                yield node.name, f.name

def notebook_progress(shell):
    """Progress bars and epoch tables in `shell` as Jupyter shows them: fastai's HTML table, not console bars.
    fastprogress picks its bars once, at import, from `fastcore.imports.IN_NOTEBOOK`, which is False here (fastcore was
    imported before the shell existed), so a fit outside `no_bar()` printed hundreds of text bars. With the notebook
    bars, each update re-displays the same `display_id`: like Jupyter, the shell keeps the last state in the first's place."""
    import fastprogress.fastprogress as fp, fastai.callback.progress as fa
    fp.master_bar, fp.progress_bar = fa.master_bar, fa.progress_bar = fp.NBMasterBar, fp.NBProgressBar
    from types import SimpleNamespace
    run_res = shell._run_res
    def _run_res(result, c):
        outs, at = [], {}
        for o in c.outputs:
            did = (o.transient or {}).get('display_id')
            if o.update:
                if did in at: outs[at[did]] = o
                continue
            if did is not None: at[did] = len(outs)
            outs.append(o)
        return run_res(result, SimpleNamespace(stdout=c.stdout, stderr=c.stderr, outputs=outs))
    shell._run_res = _run_res

def _procs(execute=True):
    from nbdev.process import Processor
    from nbdev.processors import (populate_language, add_show_docs, strip_ansi, hide_line, filter_stream_,
        rm_header_dash, clean_show_doc, rm_export, ai_magics, clean_magics, hide_, mv_exports, strip_hidden_metadata,
        _want_doc, _show_docs, _get_nm, exec_show_docs)
    from fastcore.nbio import mk_cell
    from execnb.shell import CaptureShell

    class add_classmethod_docs(Processor):
        "A `show_doc` for each public classmethod of an exported class that the notebook does not document"
        def begin(self):
            cells = self.nb.cells
            trees = [t for c in cells if c.cell_type=='code' for t in (c.parsed_() or [])]
            shown = {_get_nm(t) for t in _show_docs(trees)}
            for cell in reversed([c for c in cells if _want_doc(c)]):
                tree = cell.parsed_()
                if not tree: continue
                new = [f'{c}.{m}' for t in tree for c,m in _classmethods(ast.Module(body=[t], type_ignores=[]))
                       if f'{c}.{m}' not in shown]
                if not new: continue
                # after the class's own show_doc (which `add_show_docs` put right after the cell) if there is one
                at = cells.index(cell)+1
                while at<len(cells) and cells[at].cell_type=='code' and cells[at].source.lstrip().startswith('show_doc('): at += 1
                for i,nm in enumerate(new):
                    c = mk_cell(f'show_doc({nm})'); c.has_sd = True
                    cells.insert(at+i, c)
            for i,c in enumerate(cells): c.idx_ = i

    class dedupe_show_docs(Processor):
        """One signature block per name: nbdev adds a `show_doc` after each exported `@patch` function even when the
        notebook documents it itself (it compares `item_biases` with the shown `RecInterpretation.item_biases`);
        the notebook's own `show_doc` cell (placed by its author) wins, else the first."""
        def begin(self):
            cells = self.nb.cells
            def nm(c):
                if c.cell_type!='code': return None
                m = re.match(r'^(?:\s*#\|.*\n)*\s*show_doc\(\s*([\w.]+)\s*\)\s*$', c.source)
                return m.group(1) if m else None
            own = {nm(c) for c in cells if nm(c) and not getattr(c, 'has_sd', False)}
            seen, keep = set(), []
            for c in cells:
                n = nm(c)
                if n and ((getattr(c, 'has_sd', False) and n in own) or n in seen): continue
                if n: seen.add(n)
                keep.append(c)
            cells[:] = keep
            for i,c in enumerate(cells): c.idx_ = i

    class exec_all(Processor):
        "Execute every cell in the notebook's folder; `#| slow` and `#| eval: false` cells keep their saved output"
        def begin(self):
            self.k = CaptureShell(path=self.nb.path_.parent)
            notebook_progress(self.k)
            self.k.run_cell('from nbdev.showdoc import show_doc')
        def __call__(self, cell):
            if cell.cell_type!='code' or not cell.source: return
            d = cell.directives_
            if 'slow' in d or str(d.get('eval','')).lower()=='false' or 'nbdev_export()' in cell.source: return
            self.k.cell(cell)
            if (e := self.k.exc):
                raise RuntimeError(f"{self.nb.path_.name}, cell {cell.idx_}:\n{cell.source}\n{type(e).__name__}: {e}") from e
            clean_outputs(cell, self.k.user_ns)

    return [populate_language, add_show_docs, add_classmethod_docs, dedupe_show_docs, hide_line, rm_header_dash,
            clean_show_doc, exec_all if execute else exec_show_docs, rm_export, ai_magics, clean_magics, hide_,
            mv_exports, strip_hidden_metadata]

def finish(nb):
    "Cells mkdocs-jupyter can render: show_doc as markdown blocks, quarto options applied, links made"
    import nbformat
    cells = []
    for c in nb.cells:
        d = {k:v.strip() for k,v in re.findall(r'^\s*#\|\s*([\w-]+):?(.*)$', c.source, re.M)} if c.cell_type=='code' else {}
        if c.cell_type=='raw': continue
        if c.cell_type=='markdown':
            cells.append(nbformat.v4.new_markdown_cell(relink(linkify(c.source)))); continue
        src = '\n'.join(l for l in c.source.split('\n') if not re.match(r'^\s*#\|', l)).strip('\n')
        clean_outputs(c)
        outs = c.get('outputs', [])
        if re.match(r'^\s*show_doc\(', src):
            for o in outs:
                md = _md_text(o)
                if md: cells.append(nbformat.v4.new_markdown_cell(signature_md(relink(linkify(md)))))
            continue
        if str(d.get('include','')).lower()=='false': continue
        if str(d.get('output','')).lower()=='false': outs = []
        nc = nbformat.v4.new_code_cell(src)
        nc.outputs = [nbformat.from_dict(dict(o)) for o in outs]
        for o in nc.outputs:
            if o.get('output_type')=='execute_result': o['execution_count'] = None
            if 'metadata' in o and o['output_type']=='stream': del o['metadata']
            if o.get('output_type') in ('display_data','execute_result') and 'metadata' not in o: o['metadata'] = {}
        if str(d.get('echo','')).lower()=='false' or not src.strip(): nc.metadata['tags'] = ['remove_input']
        if not src.strip() and not nc.outputs: continue
        cells.append(nc)
        if 'slow' in d and not nc.outputs and 'remove_input' not in nc.metadata.get('tags', []):  # not run by the build
            cells.append(nbformat.v4.new_markdown_cell('<p class="rf-slow">This cell takes minutes, so the docs build does '
                                                       'not run it: run it to see its output.</p>'))
    out = nbformat.v4.new_notebook(cells=cells)
    out.metadata = {'kernelspec': {'name':'python3', 'display_name':'Python 3', 'language':'python'},
                    'language_info': {'name':'python'}}
    return out

def class_signatures():
    """Signature blocks of classes read `class Name(...)`: fastcore's `DocmentText` (which `show_doc` renders) writes
    `def` before every signature, a class's too. Applied in the worker process that renders a notebook."""
    import inspect
    from fastcore.docments import DocmentText
    if getattr(DocmentText, '_rf_class', False): return
    to_str = DocmentText.__str__
    def __str__(self):
        s = to_str(self)
        return re.sub(r'^def ', 'class ', s) if inspect.isclass(self.obj) else s
    DocmentText.__str__ = DocmentText.__repr__ = __str__
    DocmentText._rf_class = True

def process_nb(args):
    "Process and execute notebook `src` with nbdev's processors into `dst` (run in a fresh process); the page's facts"
    src, dst, execute = args
    src, dst = Path(src), Path(dst)
    os.environ['IN_TEST'] = '1'
    # this worker was spawned (a fresh interpreter), but the DataLoader workers a notebook starts are forked, as under
    # nbdev-test: spawned ones cannot unpickle the classes a notebook defines in `__main__`
    mp.set_start_method('fork', force=True)
    from fastcore.nbio import read_nb, write_nb
    from nbdev.process import NBProcessor
    t = time.time()
    complete_modidx()  # show_doc's source links and nbdev's links read it
    class_signatures()
    nb = read_nb(src); nb.path_ = src
    _, title, desc = title_cell(nb.cells)
    procs = _procs(execute)
    NBProcessor(nb=nb, procs=procs, rm_directives='quarto').process()
    for c in nb.cells:
        for k in [k for k in c if k.endswith('_')]: del c[k]
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_nb(nb, dst)
    return dict(stem=src.stem, page=page_name(src), title=title or src.stem, description=desc,
                module=_default_exp(src), seconds=round(time.time()-t, 1))

def render_nb(processed, facts, dst):
    "The processed notebook as the page mkdocs-jupyter renders: `finish`ed, titled; adds `images` and `math` to `facts`"
    import nbformat
    from fastcore.nbio import read_nb
    global PAGE_MODULE
    nb_src = ROOT/'nbs'/f"{facts['stem']}.ipynb"
    PAGE_MODULE = _default_exp(nb_src) if nb_src.exists() else None
    res = finish(read_nb(processed))
    title, desc = facts['title'], facts['description']
    facts['title'] = plain_title(title)  # the sidebar, the tab and the search index show text, not markdown
    for c in res.cells:  # the title cell, with the whole summary (nbdev's front matter keeps its first line only)
        if c.cell_type=='markdown' and re.match(r'^#\s', c.source):
            c.source = f"# {title}\n\n> {relink(linkify(desc))}" if desc else f'# {title}'; break
    nbformat.validate(res)
    nbformat.write(res, dst)
    nb_src = ROOT/'nbs'/f"{facts['stem']}.ipynb"
    if nb_src.exists(): facts['module'] = _default_exp(nb_src)
    facts['images'] = sum('image/png' in o.get('data', {}) or 'image/svg+xml' in o.get('data', {})
                          for c in res.cells if c.cell_type=='code' for o in c.outputs)
    facts['math'] = sum(bool(re.search(r'\$[^$\s][^$]*\$', c.source)) for c in res.cells if c.cell_type=='markdown')
    return facts

def _default_exp(src):
    "The module a notebook exports (`#| default_exp`), or `None`"
    nb = json.loads(Path(src).read_text())
    for c in nb['cells']:
        m = re.search(r'^\s*#\|\s*default_exp\s+(\S+)', ''.join(c['source']), re.M)
        if m: return m.group(1)
    return None

# ---------------------------------------------------------------------------------------------------------------
# Benchmarks page

# the sections of the Benchmarks page after the named protocols (`report.SUITES`): a topic per bench script, named for
# what it measures; a script not listed here shows under "More measurements", never under its file name
BENCH_GROUPS = {'ram': 'Recurrent attention (RAM)', 'scale': 'Scale, on synthetic power-law data',
                'baselines': 'Simple baselines: popularity, item-kNN, EASE', 'post': '"PyTorch for Recommenders 101"',
                'protocols': 'Sequence protocols', 'next_item': 'Next item (sequences)',
                'ddp': 'Distributed training', 'serving': 'Serving exported models', 'collab': 'Ratings (collab)',
                'explicit': 'Explicit ratings', 'implicit': 'Implicit feedback', 'autoenc': 'Autoencoders',
                'families': 'Every family against a plain PyTorch loop', 'coldstart': 'Cold start',
                'tune': 'Automatic tuning against hand-tuned recipes',
                'frontier': 'Quality against fit time', 'compile': 'Training throughput',
                'ddp_bytes': 'Training throughput', 'sampled': 'Training throughput', 'gpu': 'GPU checks',
                'batchsize': 'Batch size and quality'}
TOC_WIDTH = 60  # the page's table of contents (its `##` and `###` headings) stays readable in the sidebar

def bench_group(k):
    "The topic heading of suite `k` of the Benchmarks page: its bench script's entry of `BENCH_GROUPS`"
    return BENCH_GROUPS.get(k.removeprefix('speed: ').split(':')[0].strip(), 'More measurements')

def _untrack(s):
    "Page text without the tracker's vocabulary: `(issue #12)`, `issue #12's`, `recfast-era`"
    s = re.sub(r'\s*\((?:issue|PR)s? #?\d+\)', '', s)
    s = re.sub(r"\b(?:issue|PR)s? #?\d+(?:'s)?\s*", '', s)
    return s.replace("recfast-era ", '')

def _chunks(data):
    return [c.strip() for c in re.sub(r'\s*\([^()]*\)', '', data).split(', ') if c.strip()]

def short_labels(keys, width=TOC_WIDTH):
    """Short headings for machine-named suites `keys` of one topic (`ram: MNIST 10k test digits (...), 80/20 split seed
    42, 28x28 · valid error`): the parts of the data description that its peers (same data set) do not share, or the
    data set alone where it has no peer, then the metric (the whole description is in the text under the heading)"""
    parsed = {}
    for k in keys:
        body = k.removeprefix('speed: ')
        body = body.split(': ', 1)[1] if ': ' in body else body
        data, _, metric = body.rpartition(' · ') if ' · ' in body else (body, '', '')
        parsed[k] = (_chunks(data), metric)
    out = {}
    for k,(ch,metric) in parsed.items():
        peers = [c for c,_ in parsed.values() if c and ch and c[0]==ch[0]]
        if len(peers)>1:
            common = set(ch).intersection(*map(set, peers))
            keep = [c for c in ch if c not in common]
            if ch and ch[0] in common: keep = [ch[0].split()[0]] + keep
        else: keep = ch[:1]
        data, room = ', '.join(keep), width - (len(metric)+3 if metric and keep else 0)
        if len(data)>room: data = data[:room-1].rsplit(' ', 1)[0].rstrip(',;:') + '…'
        out[k] = ' · '.join(p for p in (data, metric) if p) or k[:width]
    return out

# benches whose quality rows are measured against a baseline that is not a row of its own (`bench_rows`)
BASELINE_ROWS = ('ram', 'coldstart', 'scale', 'post')
BASELINE_RECIPE = 'the baseline of the rows above, measured in the same run'

def _base_name(b): return re.sub(r'\s*\((?:baseline, )?same run\)\s*$', '', str(b)).strip()
def _norm(s): return _base_name(s).replace('`', '').lower()

def bench_rows(rows):
    """The report's rows, plus a row for each baseline a quality protocol's rows were measured against that is not a
    row of that protocol itself (RAM's `FC ...` networks, the cold-start bench's genre popularity): `<baseline>
    (baseline, same run)`, its figures from the rows' `baseline_value` (only where the baseline's figure is of the
    row's metric), so a headline can be checked against its baseline on the page"""
    from bench import report
    models, values = {}, {}
    for r in rows:
        models.setdefault(r['suite'], set()).add(_norm(r['model']))
        if isinstance(r.get('value'), (int, float)):
            values.setdefault((r['suite'], r.get('metric')), set()).add(r['value'])
    out, seen = list(rows), set()
    for r in rows:
        b, v, k = r.get('baseline'), r.get('baseline_value'), r['suite']
        if r['bench'] not in BASELINE_ROWS or k.startswith('speed:') or not b or not r.get('metric'): continue
        if isinstance(v, bool) or not isinstance(v, (int, float)): continue
        if r.get('ratio_of') not in (None, 'value') or r.get('baseline_metric') not in (None, r['metric']): continue
        if report.unit(b) not in (None, report.unit(r['metric'])): continue
        if _norm(b) in models[k] or (k, _norm(b), r['metric']) in seen: continue
        if v in values.get((k, r['metric']), ()): continue  # a row of the table already, under another name
        seen.add((k, _norm(b), r['metric'])); values.setdefault((k, r['metric']), set()).add(v)
        out.append({**r, 'model': f'{_base_name(b)} (baseline, same run)', 'value': v,
                    'time_s': r.get('baseline_time_s'), 'recipe': BASELINE_RECIPE,
                    'std': None, 'n': None, 'baseline': None, 'baseline_value': None, 'ratio': None, 'ratio_of': None,
                    'published': None})
    return out

def bench_sections(rows):
    """[(level, heading, suite or None)]: the named protocols, then the other suites and the speed rows, by topic (the
    bench script's `BENCH_GROUPS` entry) and, in a topic, by what tells its suites apart (`short_labels`)"""
    from bench import report
    suites = list(dict.fromkeys(report.suite_of(r) for r in rows))
    named = [k for k in report.SUITES if k in suites]
    other = sorted(k for k in suites if k not in report.SUITES and not k.startswith('speed:'))
    speed = sorted(k for k in suites if k.startswith('speed:'))
    out = [(2, 'Quality, by protocol', None)] + [(3, report.suite_title(k), k) for k in named]
    for title, ks in (('Other measurements', other), ('Speed and memory', speed)):
        if not ks: continue
        out.append((2, title, None))
        groups = {}
        for k in ks: groups.setdefault(bench_group(k), []).append(k)
        for g, gk in groups.items():
            labels = short_labels(gk)
            out.append((3, g, None))
            out += [(4, labels[k], k) for k in gk]
    return out

INTRO = """\
> Every figure the scripts in `bench/` measured: a table per protocol, each against a baseline run beside it.

- **Quality, by protocol**: each table ranks the models measured on one protocol (data, split and metric), whichever
  script measured them; mean ± std over seeds or folds, with the number of runs in brackets. Figures of different
  protocols are never comparable. Published figures are cited under their table, not re-run.
- **Other measurements**: protocols that one script measures (tuning splits, RAM, scale, serving), by topic.
- **Speed and memory**: each row against a baseline timed in the same run on the same machine. *ratio* is the row's
  figure over the baseline's, shown only where both are of the same quantity (else `-`). Absolute times are noisy on
  shared machines; ratios hold better.

The figures are those of `bench/results/*.json`; `python bench/run_all.py` reruns the scripts and rewrites them.
"""

def benchmarks_page(stage, results=ROOT/'bench'/'results'):
    """`benchmarks.md` (one ranked table per protocol, `report.render_suites`, under short headings grouped by protocol
    and topic) and its figures; `None` when there are no results"""
    sys.path.insert(0, str(ROOT))
    from bench import report
    rows = report.load_rows(results)
    if not rows: return None
    (stage/'img').mkdir(parents=True, exist_ok=True)
    figs = benchmark_figures(rows, stage/'img')
    md = ["# Benchmarks", "", INTRO]
    rows = bench_rows(rows)
    by = {}
    for r in rows: by.setdefault(report.suite_of(r), []).append(r)
    for level, head, k in bench_sections(rows):
        md += [f"{'#'*level} {report._cell(head)}", '']
        if (level, head)==(2, 'Speed and memory'):
            for f,cap in figs:
                md += ['<figure markdown="span">', f'![{cap}](img/{f})', f'<figcaption>{cap}</figcaption>', '</figure>',
                       '']
        if k is None: continue
        body = report.render_suites(by[k]).split('\n', 1)[1].lstrip('\n')  # its own `## title` is the heading above
        if k not in report.SUITES and not k.startswith('speed:'):
            body = f"**Data**: {report._cell(k.split(': ', 1)[-1])}.\n\n" + body
        elif k.startswith('speed:'):
            body = f"**Data**: {report._cell(k.removeprefix('speed: ').split(': ', 1)[-1])}.\n\n" + body
        n = body.count('\n|') - 1  # table rows (header and rule lines aside)
        if any(w in f'{k} {head}'.lower() for w in ('validation', 'tuning')) and n > 12:  # a tuning grid: folded, so the results stay readable
            body = (f'<details markdown="1"><summary>The validation grid: {n-1} settings tried</summary>\n\n'
                    f'{body}\n</details>\n')
        md.append(_untrack(body))
    (stage/'benchmarks.md').write_text('\n'.join(md)+'\n')
    return dict(stem='benchmarks', page='benchmarks.html', title='Benchmarks', images=len(figs), module=None,
                description='', seconds=0)

def _short(s, n=34):
    "Text `s` without markup or brackets, cut to `n` characters at a word"
    s = re.sub(r'\s*\(.*?\)', '', str(s or '').replace('`', '')).strip()
    return s if len(s)<=n else s[:n-1].rsplit(' ', 1)[0].rstrip(',;:') + '…'

def ratio_points(rows):
    """The points of the ratio plot: (label, ratio, topic) for each timed row against its same-run baseline, labelled
    `model vs baseline`, with what tells apart rows that would read the same (their data)"""
    from bench import report
    rat = [r for r in rows if r.get('ratio_of')=='time' and (q:=report.ratio_of(r)) is not None and q>0]
    labels = [f"{_short(r['model'])} vs {_short(r.get('baseline'), 26)}" for r in rat]
    for lab in {l for l in labels if labels.count(l)>1}:
        same = [i for i,l in enumerate(labels) if l==lab]
        tell = short_labels([rat[i]['suite'] for i in same], width=24)
        for i in same: labels[i] = f"{lab} ({tell[rat[i]['suite']]})"
    topics = [BENCH_GROUPS.get(r['bench'], 'More measurements') for r in rat]
    return sorted(zip(labels, [r['ratio'] for r in rat], topics), key=lambda p: p[1])

def benchmark_figures(rows, out):
    "PNG figures of the headline benchmarks: [(file name, caption)]"
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figs = []
    # 1. collab: fit time of each path of the fastbook protocol
    col = [r for r in rows if r['bench']=='collab' and r.get('time_s') is not None and 'against' not in r['model']]
    if col:
        seen, pts = set(), []
        for r in col:
            name = re.sub(r'\s*\(.*?\)', '', r['model'].replace('`','')).strip()
            if name in seen: continue
            seen.add(name); pts.append((name, r['time_s'], r.get('value')))
        pts.sort(key=lambda p: p[1])
        fig, ax = plt.subplots(figsize=(8, 0.5*len(pts)+1.2))
        bars = ax.barh([p[0] for p in pts], [p[1] for p in pts], color=['#3f51b5' if 'recfast' in p[0] else '#9e9e9e' for p in pts])
        for b,p in zip(bars, pts):
            lab = f" {p[1]:.1f} s" + (f", MSE {p[2]:.3f}" if isinstance(p[2], float) else '')
            ax.text(b.get_width(), b.get_y()+b.get_height()/2, lab, va='center', fontsize=9)
        ax.invert_yaxis(); ax.set_xlabel('5-epoch fit, CPU seconds (fewer is better)')
        ax.set_xlim(0, max(p[1] for p in pts)*1.35)
        ax.set_title('Fastbook collaborative filtering on ML-100K')
        fig.savefig(out/'bench_collab.png', dpi=110, bbox_inches='tight'); plt.close(fig)
        figs.append(('bench_collab.png', 'Fit time of the fastbook collab protocol, each path (ML-100K, 1 thread)'))
    # 2. time ratios against the same-run baseline: a labelled point per row, "model vs baseline", coloured by topic
    pts = ratio_points(rows)
    if pts:
        topics = sorted({p[2] for p in pts})
        colors = dict(zip(topics, plt.cm.tab10.colors))
        fig, ax = plt.subplots(figsize=(10, 0.36*len(pts)+1.6))
        ys = range(len(pts))
        for t in topics:
            sel = [(p[1], y) for y,p in zip(ys, pts) if p[2]==t]
            ax.scatter([s[0] for s in sel], [s[1] for s in sel], s=40, color=colors[t], label=t, zorder=3)
        for y,p in zip(ys, pts):
            ax.annotate(f"{p[1]:.2f}", (p[1], y), xytext=(7, 0), textcoords='offset points', va='center', fontsize=8)
        ax.axvline(1, color='k', lw=.8, ls='--')
        ax.set_xscale('log'); ax.set_yticks(list(ys)); ax.set_yticklabels([p[0] for p in pts], fontsize=8)
        ax.set_ylim(-0.7, len(pts)-0.3); ax.grid(axis='y', lw=.3, alpha=.5)
        lo, hi = min(p[1] for p in pts), max(p[1] for p in pts)
        ax.set_xlim(lo/1.4, hi*1.8)
        ax.set_xlabel("time over the same-run baseline's (log scale; left of the dashed line: faster)")
        ax.set_title('Each timed row against its baseline (row time / baseline time)')
        ax.legend(fontsize=8, loc='upper left', bbox_to_anchor=(1.01, 1), frameon=False)
        fig.savefig(out/'bench_ratios.png', dpi=110, bbox_inches='tight'); plt.close(fig)
        figs.append(('bench_ratios.png', 'Time of each timed row over that of the baseline measured in the same run'))
    return figs

# ---------------------------------------------------------------------------------------------------------------
# The site

def _hash(*paths):
    h = hashlib.sha256()
    for p in paths: h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]

PROC_VERSION = 4  # bump when `_procs` or `process_nb` change what they write (the cache keys on it)

def stage_notebooks(nbs, workers=None, execute=True, prune=True):
    "Process (and execute) every notebook, reusing cached results, and render them into `STAGE`; the pages' facts"
    import nbdev
    src_hash = _hash(*sorted((ROOT/'recfast').rglob('*.py')))
    CACHE.mkdir(parents=True, exist_ok=True)
    jobs, done = [], []
    for nb in nbs:
        key = f"{nb.stem}.{_hash(nb)}.{src_hash}.{PROC_VERSION}{'x' if execute else 'n'}{nbdev.__version__}"
        cached, meta = CACHE/f'{key}.ipynb', CACHE/f'{key}.json'
        xc = CACHE/f"{key.replace('n'+nbdev.__version__, 'x'+nbdev.__version__)}.ipynb"
        if not execute and xc.exists() and xc.with_suffix('.json').exists(): cached, meta = xc, xc.with_suffix('.json')
        if cached.exists() and meta.exists(): done.append((cached, json.loads(meta.read_text())))
        else: jobs.append((nb, cached, meta))
    if jobs:
        n = workers or min(2, os.cpu_count() or 1, len(jobs))
        jobs.sort(key=lambda j: -j[0].stat().st_size)  # the longest first, so the workers finish together
        ctx = mp.get_context('spawn')
        # like nbdev-test: a few worker processes, each running notebooks one after the other in fresh shells; one
        # torch thread per worker when there are several (they share the cores)
        env = {k: os.environ.get(k) for k in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS')}
        if n>1: os.environ.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
        try:
            with ProcessPoolExecutor(n, mp_context=ctx) as ex:
                futs = {ex.submit(process_nb, (str(nb), str(cached), execute)): (nb, cached, meta) for nb,cached,meta in jobs}
                from concurrent.futures import as_completed
                for f in as_completed(futs):
                    nb, cached, meta = futs[f]
                    try: r = f.result()
                    except BaseException:
                        ex.shutdown(wait=False, cancel_futures=True); raise
                    print(f"  {nb.name}: {r['seconds']}s", flush=True)
                    meta.write_text(json.dumps(r)); done.append((cached, r))
        finally:
            for k,v in env.items():
                if v is None: os.environ.pop(k, None)
                else: os.environ[k] = v
    if execute and prune:  # drop stale entries (a build without execution, or of some pages, only adds to the cache)
        keep = {c.name for c,_ in done} | {c.with_suffix('.json').name for c,_ in done}
        for p in CACHE.iterdir():
            if p.name not in keep and 'n'+nbdev.__version__ not in p.name: p.unlink()
    return [render_nb(c, r, STAGE/(Path(r['page']).stem+'.ipynb')) for c,r in done]

def nav_of(pages):
    "mkdocs nav: Home, a section per tens digit (pages in notebook order), Benchmarks, then the API section"
    groups = {}
    for p in pages:
        if p['stem'] in ('index', 'benchmarks'): continue
        groups.setdefault(section_of(p['stem']), []).append(p)
    nav = [{'Home': 'index.ipynb'}] if any(p['stem']=='index' for p in pages) else []
    api = None
    for (order,name),ps in sorted(groups.items()):
        entry = {name: [{p['title']: Path(p['page']).stem+'.ipynb'} for p in sorted(ps, key=lambda p: page_order(p['stem']))]}
        if order==9: api = entry
        else: nav.append(entry)
    # a section of its own: a lone page after the last section would show as one of its pages
    if any(p['stem']=='benchmarks' for p in pages): nav.append({'Benchmarks': [{'Benchmarks': 'benchmarks.md'}]})
    if api: nav.append(api)
    return nav

def landing_sections(nav, heading=True):
    "Markdown for the landing page: every section of the site and its pages"
    lines = (['## The documentation', ''] if heading else []) + ['| section | pages |', '|---|---|']
    for e in nav:
        (name, v), = e.items()
        if name=='Home': continue
        if isinstance(v, str): lines.append(f'| [{name}]({Path(v).stem}.html) | {html.escape(name)} |'); continue
        first = Path(next(iter(v[0].values()))).stem
        pages = ' &middot; '.join(f'[{t}]({Path(f).stem}.html)' for d in v for t,f in d.items())
        lines.append(f'| [{name}]({first}.html) | {pages} |')
    return '\n'.join(lines)

def add_landing_sections(nav):
    "The landing page points to every section: a table after its `## Documentation` cell (or at its end)"
    import nbformat
    p = STAGE/'index.ipynb'
    if not p.exists(): return
    nb = nbformat.read(p, as_version=4)
    at = next((i+1 for i,c in enumerate(nb.cells) if c.cell_type=='markdown' and re.match(r'^##\s+Documentation', c.source)), None)
    if at is None: nb.cells.append(nbformat.v4.new_markdown_cell(landing_sections(nav)))
    else: nb.cells.insert(at, nbformat.v4.new_markdown_cell(landing_sections(nav, heading=False)))
    nbformat.write(nb, p)

def copy_assets():
    a = STAGE/'assets'
    shutil.copytree(TOOLS/'docs_assets', a, dirs_exist_ok=True)
    if (KATEX/'katex.min.js').exists():
        k = a/'katex'; k.mkdir(exist_ok=True)
        for f in ('katex.min.js', 'katex.min.css'): shutil.copy(KATEX/f, k/f)
        shutil.copy(KATEX/'contrib'/'auto-render.js', k/'auto-render.js')
        shutil.copytree((KATEX/'fonts').resolve(), k/'fonts', dirs_exist_ok=True,
                        ignore=lambda d,fs: [f for f in fs if not f.endswith('.woff2')])
        return True
    print("warning: Debian's libjs-katex is not installed (apt-get install libjs-katex): math shows as TeX source")
    return False

def build(out='_docs', readme=True, execute=True, workers=None, quiet=True, only=None):
    "Build the site into `out`; returns the list of pages' facts (stem, page, title, module, images, ...)"
    t0 = time.time()
    os.chdir(ROOT)
    os.environ.setdefault('MPLBACKEND', 'Agg')
    os.environ['PYTHONPATH'] = os.pathsep.join([str(ROOT)] + [p for p in os.environ.get('PYTHONPATH','').split(os.pathsep) if p])
    from nbdev.config import get_config
    from nbdev.doclinks import nbglob
    cfg = get_config()
    nbs = sorted(Path(p) for p in nbglob(cfg.nbs_path))
    if only: nbs = [p for p in nbs if any(p.match(o) for o in only.split(','))]
    if STAGE.exists(): shutil.rmtree(STAGE)
    STAGE.mkdir(parents=True)
    pages = stage_notebooks(nbs, workers=workers, execute=execute, prune=not only)
    # figures the notebooks' markdown shows (`![...](images/x.png)`), saved beside them by the bench scripts
    if (cfg.nbs_path/'images').is_dir(): shutil.copytree(cfg.nbs_path/'images', STAGE/'images')
    t1 = time.time()
    b = benchmarks_page(STAGE)
    if b: pages.append(b)
    pages.sort(key=lambda p: (p['stem']!='index', p['stem']))
    nav = nav_of(pages)
    add_landing_sections(nav)
    math = copy_assets()
    if not only: (ROOT/'_proc'/'docs_pages.json').write_text(json.dumps(pages, indent=1))
    key = site_key(out) if execute and not only else None  # computed before the build: the build writes no source
    from mkdocs.config import load_config
    from mkdocs.commands.build import build as mk_build
    import logging
    if quiet: logging.getLogger('mkdocs').setLevel(logging.WARNING)
    extra_js = ['assets/katex/katex.min.js', 'assets/katex/auto-render.js', 'assets/recfast.js'] if math else ['assets/recfast.js']
    extra_css = (['assets/katex/katex.min.css'] if math else []) + ['assets/recfast.css']
    mcfg = load_config(str(ROOT/'mkdocs.yml'), nav=nav, docs_dir=str(STAGE), site_dir=str(Path(out).resolve()),
                       extra_javascript=extra_js, extra_css=extra_css)
    mk_build(mcfg)
    if not only: (ROOT/'_proc'/'docs_site.json').write_text(json.dumps(dict(key=key, pages=pages)))  # the full site's stamp
    if readme and (cfg.nbs_path/'index.ipynb').exists(): write_readme(cfg.nbs_path/'index.ipynb')
    print(f"built {len(pages)} pages into {out}/ in {time.time()-t0:.0f}s (notebooks {t1-t0:.0f}s)")
    return pages

# ---------------------------------------------------------------------------------------------------------------
# README.md from the saved index notebook

def write_readme(index_nb, dst=ROOT/'README.md'):
    "README.md: the landing notebook as saved (its outputs too), without hidden cells or directives"
    import nbformat
    from nbconvert import MarkdownExporter
    nb = nbformat.read(index_nb, as_version=4)
    cells = []
    for c in nb.cells:
        if c.cell_type=='code':
            lines = c.source.split('\n')
            dirs = [l for l in lines if re.match(r'^\s*#\|', l)]
            if any(re.search(r'\b(hide|include:\s*false)\b', l) for l in dirs): continue
            c.source = '\n'.join(l for l in lines if l not in dirs).strip('\n')
            outs = []
            for o in c.get('outputs', []):
                if o.get('output_type')=='stream' and o.get('name')=='stderr': continue
                o.pop('metadata', None) if o.get('output_type')=='stream' else None
                if 'text/html' in o.get('data', {}):
                    h = ''.join(o['data']['text/html']) if isinstance(o['data']['text/html'], list) else o['data']['text/html']
                    h = re.sub(r'<style>.*?</style>', '', h, flags=re.S)
                    h = re.sub(r'<div>\s*<progress[^>]*>.*?</div>', '', h, flags=re.S).strip()
                    if not h: continue
                    o['data']['text/html'] = h
                outs.append(o)
            c.outputs = outs
        c.metadata = {}
        cells.append(c)
    nb.cells = cells
    nb.metadata = {'kernelspec': {'name':'python3','display_name':'python3','language':'python'}, 'language_info': {'name':'python'}}
    md,_ = MarkdownExporter().from_notebook_node(nb)
    Path(dst).write_text(md)

def site_key(out):
    "A hash of everything the site is built from (notebooks, package, this builder, its assets, bench results, config)"
    files = [p for d in ('nbs', 'recfast', 'tools', 'bench/results') for p in sorted((ROOT/d).rglob('*'))
             if p.is_file() and '__pycache__' not in p.parts and not p.name.startswith('.')]
    return _hash(*files, ROOT/'mkdocs.yml', ROOT/'pyproject.toml') + ':' + str(Path(out).resolve())

_built = {}
def built_site(out=ROOT/'_docs'):
    """The site, built once (the docs and browser tests share it): (pages' facts, seconds the build took).
    A site already built from the same sources (`make test` builds it first, executing every notebook) is reused."""
    out, stamp = Path(out), ROOT/'_proc'/'docs_site.json'
    if out not in _built:
        import fcntl
        (ROOT/'_proc').mkdir(exist_ok=True)
        with open(ROOT/'_proc'/'docs_site.lock', 'w') as lock:  # pytest-xdist workers build it once, one at a time
            fcntl.flock(lock, fcntl.LOCK_EX)
            _built[out] = _site(out, stamp)
    return _built[out]

def _site(out, stamp):
    "The site's (pages, build seconds): reused when its stamp matches the sources, else built"
    key = site_key(out)
    old = json.loads(stamp.read_text()) if stamp.exists() else {}
    if old.get('key')==key and (out/'index.html').exists(): return old['pages'], 0.
    cwd, t = os.getcwd(), time.time()
    try: pages = build(out=str(out), readme=False)
    finally: os.chdir(cwd)
    print(f"\ndocs site built in {time.time()-t:.0f}s", file=sys.stderr)
    return pages, time.time()-t

if __name__=='__main__':
    # run through the importable module, so worker processes find `process_nb` as `build_docs.process_nb` (IPython
    # replaces `__main__` in a worker once it has run a notebook)
    sys.path.insert(0, str(TOOLS))
    import build_docs
    a = sys.argv[1:]
    opt = lambda k, d=None: a[a.index(k)+1] if k in a else d
    build_docs.build(out=opt('--out', '_docs'), readme='--no-readme' not in a, execute='--no-exec' not in a,
                     workers=int(opt('--workers', 0)) or None, only=opt('--only'))
