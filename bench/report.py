"""One home for the benchmark rows: every bench script saves its figures as `bench/results/<name>.json` (a list of
`row`s), and `run_all.py` renders all of them as one table in `bench/results/REPORT.md`."""
import os, json, math, platform, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent/'results'
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
        ratio_of=None, # 'time' or 'value': which figure `ratio` compares; the one both rows have if `None`
        ratio=None, # this row's figure over the baseline's; computed from them if `None`
        machine_kind=None, date=None):
    "A report row: what was measured, on what, how, against which baseline of the same run, on which machine"
    if ratio_of is None: ratio_of = 'value' if value is not None and baseline_value is not None else 'time'
    a,b = (value,baseline_value) if ratio_of=='value' else (time_s,baseline_time_s)
    if ratio is None and isinstance(a, (int,float)) and isinstance(b, (int,float)) and b: ratio = a/b
    return dict(bench=bench, model=model, data=data, protocol=protocol, metric=metric, value=value, time_s=time_s,
                baseline=baseline, baseline_value=baseline_value, baseline_time_s=baseline_time_s,
                ratio=ratio, ratio_of=ratio_of if ratio is not None else None,
                machine=machine_kind or machine(), date=date or datetime.date.today().isoformat())

def publish(name, text, rows=None):
    "Print a bench's markdown `text`, write it as `bench/results/<name>.md`, and its report `rows` as `<name>.json`"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS/f'{name}.md').write_text(text)
    if rows is not None: save(rows, name)

def save(rows, fname):
    "Write `rows` to `fname`, a `.json` path or a name (`bench/results/<name>.json`)"
    fname = Path(fname) if str(fname).endswith('.json') else RESULTS/f'{fname}.json'
    fname.parent.mkdir(parents=True, exist_ok=True)
    fname.write_text(json.dumps(rows, indent=1)+'\n')
    return fname

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

def render_row(r):
    "One markdown table line for report row `r`"
    measured = f"{r['metric']} {_num(r['value'])}" if r.get('metric') else '-'
    base = '-'
    if r.get('baseline'):
        figs = [_num(r['baseline_value']) if r.get('baseline_value') is not None else None,
                f"{_secs(r['baseline_time_s'])} s" if r.get('baseline_time_s') is not None else None]
        figs = [f for f in figs if f]
        base = r['baseline'] + (f": {', '.join(figs)}" if figs else '')
    ratio = '-' if r.get('ratio') is None else f"{_ratio(r['ratio'])} ({'time' if r['ratio_of']=='time' else r['metric']})"
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
