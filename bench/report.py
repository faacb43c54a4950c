"""One home for the benchmark rows: every bench script saves its figures as `bench/results/<name>.json` (a list of
`row`s, each naming its protocol, `suite`), and `run_all.py` renders them: `bench/results/REPORT.md`, one ranked table
per protocol, and `bench/results/<name>.md`, the rows of one file. Nothing else writes a figure."""
import os, re, sys, ast, json, math, time, platform, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'tools'))
from offline_data import serve_shared_data
serve_shared_data()

class Stopwatch:
    "Seconds since it started: wall-clock (`sw()`, `perf_counter`) and CPU seconds of this process (`sw.cpu()`)"
    def __init__(self): self.wall0,self.cpu0 = time.perf_counter(),time.process_time()
    def __call__(self): return time.perf_counter()-self.wall0
    def cpu(self): return time.process_time()-self.cpu0

def timed(f, *args, cpu=False, **kwargs):
    "`f(*args, **kwargs)` and the seconds it took: wall-clock, or CPU seconds of this process if `cpu`"
    sw = Stopwatch(); r = f(*args, **kwargs)
    return r, (sw.cpu() if cpu else sw())

def fit_seconds(learn, epochs, lr, plain=False)->float:
    "Wall-clock seconds of `learn.fit_one_cycle(epochs, lr)` (`learn.fit` if `plain`), bars and logging off"
    def go():
        with learn.no_bar(), learn.no_logging(): (learn.fit if plain else learn.fit_one_cycle)(epochs, lr)
    return timed(go)[1]

RESULTS = Path(os.environ.get('BENCH_RESULTS') or Path(__file__).resolve().parent/'results')  # env: elsewhere
COLUMNS = ('bench', 'model', 'data', 'protocol', 'measured', 'time (s)', 'baseline (same run)', 'ratio', 'machine')

def machine():
    "The machine kind the figures were measured on: CPU architecture and cores, and the GPU when there is one"
    import torch
    gpu = f"{torch.cuda.get_device_name()} GPU" if torch.cuda.is_available() else 'no GPU'
    return f"{platform.machine()} {os.cpu_count()}-core CPU, {gpu}"

def row(bench, model, data, protocol,
        metric=None, value=None, # what was measured (quality, throughput, memory) and its figure
        time_s=None, # seconds the measured run took (the protocol says which: fit, epoch, ...)
        baseline=None, baseline_value=None, baseline_time_s=None, # the baseline measured in the same run
        *,
        baseline_metric=None, # what `baseline_value` measures, when it is not `metric`: then there is no ratio
        suite:str, # the protocol (data + split + metric) it is ranked in: a key of `SUITES`, `speed_suite`, `own_suite`
        ratio_of=None, # 'time' or 'value': which figure `ratio` compares; the one both rows have if `None`
        ratio=None, # this row's figure over the baseline's; computed from them if `None`
        machine_kind=None, date=None,
        std=None, n=None, # `value` is a mean over `n` seeds/folds with standard deviation `std`
        recipe=None, # the model's settings (hyper-parameters, schedule), when `protocol` does not say them
        published=None, # published figures of this protocol, cited beside the table (not re-run)
        series=None): # figures per epoch (or per step) behind `value`: `{label: [figure, ...]}`
    "A report row: what was measured, on what, how (`suite`), against which baseline of the same run, on which machine"
    if not suite or not isinstance(suite, str): raise ValueError(f"row {model!r}: pass `suite`, its protocol")
    if ratio_of is None: ratio_of = 'value' if value is not None and baseline_value is not None else 'time'
    a,b = (value,baseline_value) if ratio_of=='value' else (time_s,baseline_time_s)
    if ratio is None and isinstance(a, (int,float)) and isinstance(b, (int,float)) and b: ratio = a/b
    if ratio_of=='value' and baseline_metric is not None and baseline_metric!=metric: ratio = None  # other units
    r = dict(bench=bench, model=model, data=data, protocol=protocol, metric=metric, value=value, time_s=time_s,
             baseline=baseline, baseline_value=baseline_value, baseline_time_s=baseline_time_s,
             ratio=ratio, ratio_of=ratio_of if ratio is not None else None,
             machine=machine_kind or machine(), date=date or datetime.date.today().isoformat(), suite=suite)
    extra = dict(std=std, n=n, recipe=recipe, published=published, series=series,  # written only when given
                 baseline_metric=baseline_metric)
    return {**r, **{k:v for k,v in extra.items() if v is not None}}

def speed_suite(bench, data):
    "The suite of a speed or memory row: one table per bench and data"
    return f"speed: {bench}: {data}"

def own_suite(bench, data, metric):
    "The suite of a quality figure no `SUITES` protocol describes: its own table per bench, data and metric"
    return f"{bench}: {data} · {metric}"

def batch_metrics(batches, funcs:dict)->dict:
    """`{name: mean over users}` of each `funcs` metric `f(scores, targets, exclude, per_user=True)` over `batches` of
    `(scores, targets, exclude)` (a loader's `eval_batches(model)`, or `next_item_metrics`' windows), no gradients"""
    import torch
    vals = {n:[] for n in funcs}
    with torch.no_grad():
        for s,t,e in batches:
            for n,f in funcs.items(): vals[n].append(f(s, t, e, per_user=True))
    return {n:float(torch.cat(v).nanmean()) for n,v in vals.items()}

def eval_metrics(model, dls, funcs:dict)->dict:
    "`batch_metrics` of `model` on the held-out items of `dls` (full catalogue, each user's training items excluded)"
    return batch_metrics(dls.eval_batches(model), funcs)

def next_item_metrics(model, dls, full, funcs:dict, bs:int=256)->dict:
    """`batch_metrics` on the validation windows of sequence loaders `dls`, every training item of the user excluded
    (the exclusions of `full`: the same split with `exclude_preceding` and windows long enough to hold every history),
    `bs` windows at a time"""
    import torch
    (x,targ,_),(_,targ2,ex) = dls.eval_set(),full.eval_set()
    assert torch.equal(targ.indices, targ2.indices)  # the same held-out items, in the same order
    model.eval()
    rows = (torch.arange(i, min(i+bs, len(x))) for i in range(0, len(x), bs))
    return batch_metrics(((model.score_items(x[r]), targ.densify(r).bool(), ex.densify(r).bool()) for r in rows), funcs)

def with_starts(space, *starts):
    "`space` (a `tune` search space) with `starts` (hand-tuned recipes) as its first trials"
    def f(trial, dls): return space(trial, dls)
    f.starts = list(starts)
    return f

def beyond_spread(new, old)->bool:
    """Whether 3-seed row `new` beats row `old` by more than either's std over the seeds, in its metric's direction: a
    study's best, picked among many one-seed trials, replaces a hand recipe only so"""
    d = (old['value']-new['value'])*(1 if lower_is_better(new['metric']) else -1)
    return d > max(new['std'], old['std'])

def study_or_hand(hand, best, conf:dict, text, name:str=''):
    """`best` (a study's recipe, or `None`) where its 3-seed row beats `hand`'s `beyond_spread`, else `hand`; `conf`:
    `{recipe text: 3-seed row}`, `text`: a recipe's text. Says so when a study's best or the hand recipe has no row"""
    h,t = conf.get(text(hand)),conf.get(text(best)) if best else None
    if best and not (h and t): print(f"{name}: the hand recipe or its study's best has no 3-seed row (not confirmed): "
                                     "the hand recipe", flush=True)
    return best if h and t and beyond_spread(t, h) else hand

def study(path):
    "A `tune` study saved at `path` (`save_study`'s JSON), `None` if there is none"
    return json.loads(Path(path).read_text()) if Path(path).exists() else None

def trials(path)->list:
    "The finished trials of the `tune` study at `path`, each with its parameters as a recipe text (`text`)"
    fmt = lambda v: f'{v:.3g}' if isinstance(v, float) else str(v)
    return [{**t, 'text': ', '.join(f'{k} {fmt(v)}' for k,v in t['params'].items())} for t in study(path)['trials']
            if t['state']=='COMPLETE']

def budget(path)->str:
    "The budget the `tune` study at `path` ran with, as text (its file records `timeout`, in seconds)"
    r = study(path)['recipe']
    if 'timeout' not in r: return 'budget not recorded'
    return 'no time limit' if r['timeout'] is None else f"{r['timeout']/60:.0f}-minute budget"

def first_trial(t, clip:dict)->str:
    "A note on trial `t` if it is trial 0: the hand recipe, or (`clip`: its values moved into the space's bounds) near it"
    c = ', '.join(f'{k} {v:g}' for k,v in clip.items())
    return f' (the hand recipe{", clipped to the space: " + c if c else ""})' if t['number']==0 else ''

def saved(name)->list:
    "The rows saved as `bench/results/<name>.json` (`[]` if none yet): a resumed search's, or those a partial run keeps"
    f = RESULTS/f'{name}.json'
    return json.loads(f.read_text()) if f.exists() else []

def save(rows, name):
    "Write `rows` to `bench/results/<name>.json` (or `name`, a `.json` path); every row names its `suite`"
    missing = [r.get('model') for r in rows if not r.get('suite')]
    if missing: raise ValueError(f"rows without a `suite` (the protocol they are ranked in): {missing}")
    fname = Path(name) if str(name).endswith('.json') else RESULTS/f'{name}.json'
    fname.parent.mkdir(parents=True, exist_ok=True)
    fname.write_text(json.dumps(rows, indent=1, default=float)+'\n')  # numpy / torch scalars as floats
    print(f"wrote {len(rows)} rows to {fname}; `python bench/run_all.py --report-only` renders them")
    return fname

def paired_test(wrong, base_wrong)->dict:
    "Exact McNemar test of two classifiers on the same examples (bool masks of their errors): the examples only one gets wrong, and the two-sided p-value"
    import numpy as np
    from scipy.stats import binomtest
    a,b = np.asarray(wrong, dtype=bool),np.asarray(base_wrong, dtype=bool)
    assert a.shape==b.shape, f"paired_test needs the same examples: {len(a)} and {len(b)} predictions"
    only_model,only_base = int((a&~b).sum()),int((b&~a).sum()) # only_base: the baseline's errors the model gets right
    n = only_base+only_model
    return dict(only_model=only_model, only_base=only_base, p=binomtest(only_model, n).pvalue if n else 1.)

def _num(v):
    if v is None: return '-'
    if isinstance(v, str): return v
    if isinstance(v, bool) or not math.isfinite(v): return str(v)
    a = abs(v)
    if a>=1000: return f'{v:,.0f}'
    if a>=10: return f'{v:.1f}'.removesuffix('.0')
    if a>=1e-3: return f'{v:.4f}'.rstrip('0').rstrip('.')
    return f'{v:.3g}'

def _secs(v): return '-' if v is None else f'{v:,.0f}' if v>=100 else f'{v:.3g}'

def _ratio(r):
    s = f'{r:.3g}'
    return f'{r:.2f}' if 'e' not in s and '.' not in s and abs(r)<100 else s

def _cell(s): return '-' if s in (None, '') else str(s).replace('|', '\\|').replace('\n', ' ')

_UNIT = re.compile(r'(\w+/s)\b|\b(MB|GB|px|ms)\b|\((s)\)')

def unit(s):
    "The unit a metric or baseline name states (`ratings/s`, `MB`, `px`, `(s)`: seconds), or `None`"
    m = _UNIT.search(str(s or ''))
    return next(g for g in m.groups() if g) if m else None

def ratio_of(r):
    """Row `r`'s ratio to its baseline, or `None` where the two figures are not of one quantity: a ratio of times, or
    of values of one metric (`baseline_metric`, or the unit the baseline's name states, e.g. `dot training ratings/s`
    against `users/s`, is another metric's: no ratio)"""
    if r.get('ratio') is None: return None
    if r.get('ratio_of')=='time': return r['ratio']
    bm = r.get('baseline_metric')
    if bm is not None and bm!=r.get('metric'): return None
    bu = unit(r.get('baseline'))
    return None if bu is not None and bu!=unit(r.get('metric')) else r['ratio']

def render_row(r):
    "One markdown table line for report row `r`"
    measured = f"{r['metric']} {_num(r['value'])}" if r.get('metric') else '-'
    base = '-'
    if r.get('baseline'):
        figs = [_num(r['baseline_value']) if r.get('baseline_value') is not None else None,
                f"{_secs(r['baseline_time_s'])} s" if r.get('baseline_time_s') is not None else None]
        figs = [f for f in figs if f]
        base = r['baseline'] + (f": {', '.join(figs)}" if figs else '')
    q = ratio_of(r)
    ratio = '-' if q is None else f"{_ratio(q)} ({'time' if r['ratio_of']=='time' else r['metric']})"
    cells = (r['bench'], r['model'], r['data'], r['protocol'], measured, _secs(r.get('time_s')), base, ratio,
             f"{r['machine']}, {r['date']}")
    return '| ' + ' | '.join(_cell(c) for c in cells) + ' |'

def load_rows(results=RESULTS):
    "Every row of every `bench/results/*.json`, by file name"
    return [r for p in sorted(Path(results).glob('*.json')) for r in json.loads(p.read_text())]

def render(rows):
    "The report: one markdown table of every row"
    head = ['| ' + ' | '.join(COLUMNS) + ' |', '|' + '---|'*len(COLUMNS)]
    return '\n'.join(head + [render_row(r) for r in rows])

GROUP_COLUMNS = ('model', 'data', 'measured', 'time (s)', 'baseline (same run)', 'ratio')

def _cells(r):
    "The cells of row `r` as `render_row` writes them, by column name"
    return dict(zip(COLUMNS, [c.strip() for c in render_row(r).strip('|').split(' | ')]))

def render_by_protocol(rows):
    "The report for the docs: a section per bench script, and in it one table per protocol (first-seen order)"
    out, benches = [], {}
    for r in rows: benches.setdefault(r['bench'], []).append(r)
    for bench, brows in benches.items():
        machines = sorted({f"{r['machine']}, {r['date']}" for r in brows})
        out += [f'## {bench}', '', f"`bench/bench_{bench}.py` &middot; {len(brows)} rows &middot; measured on {'; '.join(machines)}", '']
        protos = {}
        for r in brows: protos.setdefault(r['protocol'], []).append(r)
        for proto, prows in protos.items():
            cells = [_cells(r) for r in prows]
            datas = {c['data'] for c in cells}
            cols = [c for c in GROUP_COLUMNS if not (c=='data' and len(datas)==1)]
            head = f"**Protocol**: {_cell(proto)}" + (f" &middot; **data**: {_cell(prows[0]['data'])}" if len(datas)==1 else '')
            out += [head, '{: .rf-protocol }', '', '| ' + ' | '.join(cols) + ' |', '|' + '---|'*len(cols)]
            out += ['| ' + ' | '.join(c[k] for k in cols) + ' |' for c in cells]
            out.append('')
    return '\n'.join(out)

# ---- the report by protocol: one section and one ranked table per protocol (data + split + metric) ---------------

# Each protocol: its title, what it is (data, split, metric) and the published figures cited beside it (never re-run,
# never ranked). A row names its protocol (`suite`): one of these, or a table of its own (`own_suite`, `speed_suite`).
SUITES = {
    'talk-mrr': dict(title="Implicit feedback: talk protocol, full-catalogue MRR",
        what="ML-100K ua.base / ua.test, every rating a positive; MRR over the full catalogue with each user's training items "
             "excluded (recfast's `mrr`); hyper-parameters chosen on a valid split of ua.base",
        published="the talk's own figures: pointwise 0.06, BPR 0.08, adaptive hinge 0.11 (Kula, 'Hybrid and neural recommenders')"),
    'explicit-u1u5': dict(title='Explicit ratings: ML-100K u1-u5 folds, test RMSE',
        what="ML-100K's five official folds: train on u{k}.base, RMSE on u{k}.test; mean ± std over the 5 folds; tuning on a "
             "random 10% of u1.base only",
        published='u1 only: GC-MC 0.910 (Berg et al. 2017), GLocal-K 0.889 (Han et al. 2021)'),
    'explicit-u1-valid': dict(title='Explicit ratings: u1.base tuning split, valid RMSE',
        what='ML-100K u1.base only: a random 10% of its rows (seed 0) held out as the valid split on which recipes are chosen; '
             'u1.test never seen'),
    'fastbook-mse': dict(title='Explicit ratings: fastbook 80/20 split, valid MSE',
        what='ML-100K ratings (item = title in `bench_collab.py`, movie id in `bench_ddp.py`), a random 20% of the rows held out (seed 42), MSE on them',
        published="fastbook chapter 8's dot product model: valid MSE about 0.82 (same protocol, its own seed)"),
    'post-rmse': dict(title='"PyTorch for Recommenders 101": scaled test RMSE',
        what='ML-100K, ratings min-max scaled to [0, 1] by (r-1)/4, random 80/20 split of the rows (seed 42), test RMSE',
        published="the post's own split: MF 0.66, MLP 0.28, LSTM 0.43; a constant global mean scores 0.281"),
    'autoenc-90-10': dict(title='Autoencoders: 90/10 random split, valid RMSE',
        what='ML-100K, a random 10% of the ratings held out (seed 42), RMSE on them from item (or user) rating vectors',
        published='I-AutoRec (Sedhain et al. 2015) reports 0.831 on ML-1M with a 90/10 split; it gives no ML-100K figure'),
    'synthetic-sequences': dict(title='Sequences: synthetic Markov sequences, MRR',
        what='`synthetic_sequences(10, 1000)`, 100 items: next-item MRR on held-out sequences',
        published="the talk: LSTM >= 0.77, pooling 0.13, popularity 0.07"),
    'sequence-mrr': dict(title='Sequences: ML-100K, 20% of users held out, MRR',
        what="ML-100K user sequences, 20% of the users held out; each held-out step's next item ranked against the catalogue",
        published="the talk's sampled figures (popularity 0.12, pooling 0.14, LSTM 0.11) used 200 sampled negatives: not comparable"),
    'sequence-last': dict(title='Sequences: ML-100K leave-last-out, MRR',
        what="ML-100K, each user's last item (by time) held out, ranked against the whole catalogue (nothing excluded)",
        published="the talk's figures for this split used 200 sampled negatives (see the sampled-negatives table): not comparable"),
    'sampled-mrr': dict(title='Sequences: MRR against sampled negatives',
        what='each target ranked against n sampled negatives instead of the catalogue; only comparable with itself'),
    'coldstart-auc': dict(title='Cold start: held-out films, AUC and Recall@10',
        what='ML-100K, all ratings positive; 20% of the films held out of training; each user ranks the held-out films from features'),
    'coldstart-warm': dict(title='Cold start: warm films, MRR and Recall@10',
        what='ML-100K warm films: 20% of the warm rows held out, the warm catalogue ranked, training items excluded'),
}

LOWER_IS_BETTER = ('rmse', 'mse', 'error', 'loss', 'latency', 'rss', 'memory', 'mb', 'distance', '(s)')

def lower_is_better(metric):
    "Whether a smaller figure of `metric` is better (errors, losses, latencies, memory); else larger is"
    m = str(metric or '').lower()
    return not m.endswith('/s') and any(k in m for k in LOWER_IS_BETTER)

def suite_of(r):
    "The protocol `r` is ranked in: the `suite` its script gave it"
    if not r.get('suite'): raise ValueError(f"row {r.get('model')!r} of bench {r.get('bench')!r} names no `suite`")
    return r['suite']

def spread(r):
    "(std, n) of row `r`: `value` is a mean over `n` runs with standard deviation `std`"
    return r.get('std'), r.get('n')

def suite_title(k):
    "The section title of suite `k`"
    if k in SUITES: return SUITES[k]['title']
    return f"Speed and memory: {k.removeprefix('speed: ')}" if k.startswith('speed:') else k

def recipe_text(s):
    "A row's `recipe` as text: a dict (or a dict's repr, `{'wd': 0.1, 'bs': 64}`) as `wd=0.1, bs=64`; other text as is"
    d = s
    if isinstance(s, str) and s.lstrip().startswith('{'):
        try: d = ast.literal_eval(s)
        except (ValueError, SyntaxError): return s
    return ', '.join(f'{k}={v!r}' for k,v in d.items()) if isinstance(d, dict) else s

# what a quality row's `time_s` measures, by bench script: the fit, unless named here
TIME_LABELS = {'serving': 'served (s)'}

def time_label(rows):
    "The heading of the time column of `rows`: what their `time_s` measures (`TIME_LABELS`), `time (s)` if they differ"
    labels = {TIME_LABELS.get(r['bench'], 'fit (s)') for r in rows}
    return labels.pop() if len(labels)==1 else 'time (s)'

def _pm(v, std=None, n=None):
    return _num(v) + (f" ± {_num(std)}" if std is not None else '') + (f" ({n})" if n else '')

def _quality_table(rows, suite):
    """One ranked table: a line per model, a column per metric (the first metric ranks; no rank where all its figures
    are equal), mean ± std (runs), and the seconds `time_s` measures (`time_label`)"""
    metrics = list(dict.fromkeys(r['metric'] for r in rows))
    models = {}
    for r in rows:
        key = (r['bench'], r['model'], r.get('recipe') or r['protocol'])
        m = models.setdefault(key, dict(r=r, vals={}))
        m['vals'].setdefault(r['metric'], r)
    def figure(m):
        v = (m['vals'].get(metrics[0]) or {}).get('value')
        if not isinstance(v, (int, float)) or isinstance(v, bool): return (True, 0)  # no figure to rank by: last
        return (False, v if lower_is_better(metrics[0]) else -v)
    ranked = sorted(models.values(), key=figure)
    ranks = len({(m['vals'].get(metrics[0]) or {}).get('value') for m in ranked}) > 1  # else nothing to rank
    cols = ['rank']*ranks + ['model', 'bench', 'settings', *metrics, time_label(rows)]
    out = ['| ' + ' | '.join(cols) + ' |', '|' + '---|'*len(cols)]
    for k,m in enumerate(ranked, 1):
        r = m['r']
        vals = [_pm(m['vals'][x]['value'], *spread(m['vals'][x])) if x in m['vals'] else '-' for x in metrics]
        cells = [k]*ranks + [r['model'], r['bench'], recipe_text(r.get('recipe')) or r['protocol'], *vals,
                             _secs(r.get('time_s'))]
        out.append('| ' + ' | '.join(_cell(c) for c in cells) + ' |')
    return out

def _speed_table(rows):
    cols = ('model', 'protocol', 'measured', 'time (s)', 'baseline (same run)', 'ratio')
    out = ['| ' + ' | '.join(cols) + ' |', '|' + '---|'*len(cols)]
    return out + ['| ' + ' | '.join(_cells(r)[c] for c in cols) + ' |' for r in rows]

def _dedupe(rows):
    "Rows that repeat a model's figure for another baseline (same model prefix, value, time) are shown once"
    seen, out = set(), []
    for r in rows:
        k = (r['bench'], r.get('metric'), r.get('value'), r.get('time_s'), r.get('recipe') or r['protocol'])
        if r.get('value') is not None and k in seen: continue
        seen.add(k); out.append(r)
    return out

def render_suites(rows, level='##'):
    "The report by protocol: a section per protocol (`SUITES` first, then the rest, speed last), each with one table"
    groups = {}
    for r in rows: groups.setdefault(suite_of(r), []).append(r)
    order = [k for k in SUITES if k in groups] + sorted(k for k in groups if k not in SUITES and not k.startswith('speed:'))
    order += sorted(k for k in groups if k.startswith('speed:'))
    out = []
    for k in order:
        g, s = groups[k], SUITES.get(k, {})
        machines = sorted({f"{r['machine']}, {r['date']}" for r in g})
        benches = sorted({r['bench'] for r in g})
        title = suite_title(k)
        out += [f'{level} {_cell(title)}', '']
        if s.get('what'): out += [f"**Protocol**: {s['what']}.", '']
        elif not k.startswith('speed:'): out += [f"**Protocol**: {_cell(g[0]['data'])}; metric {_cell(g[0].get('metric'))}.", '']
        out += [f"Rows from {', '.join(f'`bench/bench_{b}.py`' for b in benches)}; measured on {'; '.join(machines)}.", '']
        out += _speed_table(g) if k.startswith('speed:') else _quality_table(_dedupe(g), k)
        pub = [s['published']] if s.get('published') else list(dict.fromkeys(r['published'] for r in g if r.get('published')))
        if pub: out += ['', f"Published figures, cited and not re-run (other splits or code; not ranked): {'; '.join(pub)}."]
        out.append('')
    return '\n'.join(out)


def _series(v): return '[' + ', '.join(_num(x) for x in v) + ']'

def render_file(name, rows):
    "`bench/results/<name>.md`: the rows of `<name>.json`, one table per protocol, then the per-epoch series rows carry"
    benches,machines = dict.fromkeys(r['bench'] for r in rows),sorted({f"{r['machine']}, {r['date']}" for r in rows})
    out = [f'# Benchmark results: {name}', '',
           f"The {len(rows)} rows of `bench/results/{name}.json`, measured by "
           f"{', '.join(f'`bench/bench_{b}.py`' for b in benches)} on {'; '.join(machines)}. "
           "Rendered from those rows by `python bench/run_all.py --report-only` (do not edit: "
           "the script writes the rows; `REPORT.md` ranks them with every other script's).", '']
    groups = {}
    for r in rows: groups.setdefault(suite_of(r), []).append(r)
    for k,g in groups.items():
        out += [f"## {_cell(suite_title(k))}", '']
        same = {c: g[0].get(c) for c in ('data', 'protocol') if len({r.get(c) for r in g})==1}
        out += [f"**{c}**: {_cell(v)}" + ('  ' if c=='data' and 'protocol' in same else '') for c,v in same.items()]
        if same: out.append('')
        cols = ['model', *[c for c in ('data', 'protocol') if c not in same], 'settings', 'measured', 'time (s)',
                'baseline (same run)', 'ratio']
        if not any(r.get('recipe') for r in g): cols.remove('settings')
        out += ['| ' + ' | '.join(cols) + ' |', '|' + '---|'*len(cols)]
        for r in g:
            c = _cells(r)
            c['settings'] = recipe_text(r.get('recipe'))
            if r.get('metric'): c['measured'] = f"{r['metric']} {_pm(r['value'], *spread(r))}"
            out.append('| ' + ' | '.join(_cell(c[x]) for x in cols) + ' |')
        out += [f"- {_cell(r['model'])}, {k}: {_series(v)}" for r in g for k,v in (r.get('series') or {}).items()]
        out.append('')
    return '\n'.join(out)

def write_files(results=RESULTS):
    "Render every `<name>.json` of `results` as `<name>.md` beside it"
    for p in sorted(Path(results).glob('*.json')):
        p.with_suffix('.md').write_text(render_file(p.stem, json.loads(p.read_text())))
