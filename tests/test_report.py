"""The benchmark report (bench/report.py, bench/run_all.py): every row names its protocol (`suite`), one section and one
ranked table per protocol, and bench/results/REPORT.md and <name>.md are the renderings of the saved rows."""
import re, sys, json
import pytest
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import report

def _row(model, value, **kw):
    kw = {'bench':'b', 'data':'ML-100K u1..u5', 'protocol':'p', 'metric':'test RMSE', **kw}
    b,d,m = kw.pop('bench'),kw.pop('data'),kw.pop('metric')
    kw.setdefault('suite', report.own_suite(b, d, m) if m else report.speed_suite(b, d))
    return report.row(b, model, d, kw.pop('protocol'), m, value, machine_kind='m', date='d', **kw)

def _tables(md):
    "{section title: [table lines]} of a rendered report"
    out, title = {}, None
    for l in md.splitlines():
        if l.startswith('## '): title = l[3:]; out[title] = []
        elif l.startswith('|') and title: out[title].append(l)
    return out

def test_row_fields_and_suite_required(tmp_path):
    "A row names its protocol: `row` and `save` refuse one without a `suite`; optional fields are written only when given"
    r = _row('x', 0.9)
    assert r['suite']=='b: ML-100K u1..u5 · test RMSE' and not {'std', 'n', 'recipe', 'published', 'series'} & set(r)
    assert report.spread(r) == (None, None) and report.spread(_row('y', 0.9, std=0.01, n=5)) == (0.01, 5)
    with pytest.raises(TypeError, match='suite'): report.row('b', 'm', 'd', 'p', 'test RMSE', 0.9)
    with pytest.raises(ValueError, match='suite'): report.row('b', 'm', 'd', 'p', 'test RMSE', 0.9, suite='')
    legacy = {k:v for k,v in r.items() if k!='suite'}
    with pytest.raises(ValueError, match="without a `suite`.*'x'"): report.save([r, legacy], tmp_path/'x.json')
    with pytest.raises(ValueError, match='names no `suite`'): report.suite_of(legacy)
    report.save([r], tmp_path/'x.json')
    assert report.load_rows(tmp_path) == [r]

def test_timing_helper():
    "One timing helper: wall-clock and CPU seconds of this process"
    import time
    sw = report.Stopwatch()
    time.sleep(0.05)
    assert 0.05 <= sw() < 5 and 0 <= sw.cpu() < sw()
    r,t = report.timed(sum, [1, 2]); assert r==3 and 0 <= t < 1
    _,c = report.timed(time.sleep, 0.05, cpu=True); assert 0 <= c < 0.05  # sleeping costs no CPU

def test_one_ranked_table_per_protocol():
    rows = [_row('worse', 0.95, suite='explicit-u1u5', std=0.01, n=5), _row('better', 0.90, suite='explicit-u1u5', std=0.02, n=5),
            _row('mrr model', 0.12, data='ML-100K ua.base/ua.test', metric='test MRR', suite='talk-mrr'),
            _row('stronger mrr', 0.2, data='ML-100K ua.base/ua.test', metric='test MRR', bench='c', suite='talk-mrr'),
            _row('fast', None, time_s=1.0, metric=None, baseline='slow', baseline_time_s=2.0)]
    t = _tables(report.render_suites(rows))
    assert len(t) == 3, list(t)
    ex = next(v for k,v in t.items() if 'u1-u5' in k)
    assert len(ex) == 4 and '| 1 | better |' in ex[2] and '0.9 ± 0.02 (5)' in ex[2] and '| 2 | worse |' in ex[3]
    talk = next(v for k,v in t.items() if 'talk' in k)  # MRR: larger is better; rows of two scripts in one table
    assert '| 1 | stronger mrr | c |' in talk[2] and '| 2 | mrr model | b |' in talk[3]
    speed = next(v for k,v in t.items() if k.startswith('Speed'))
    assert '0.5' in speed[2]
    assert report.lower_is_better('test RMSE') and not report.lower_is_better('test MRR') and not report.lower_is_better('ratings/s')

def test_protocols_never_share_a_table():
    "Rows of no `SUITES` protocol (`own_suite`) get a section of their own per (bench, data, metric)"
    rows = [_row('a', 0.1, bench='x', data='d1', metric='m'), _row('b', 0.2, bench='x', data='d2', metric='m'),
            _row('c', 0.3, bench='x', data='d1', metric='other')]
    assert len({report.suite_of(r) for r in rows}) == 3
    assert len(_tables(report.render_suites(rows))) == 3

def test_saved_report_is_by_protocol():
    "REPORT.md is `run_all.write_report` of the saved rows: every table holds one protocol, every model of the explicit bench is ranked"
    rows = report.load_rows()
    assert all(r.get('suite') for r in rows), "every saved row names its protocol"
    md = (ROOT/'bench'/'results'/'REPORT.md').read_text()
    assert report.render_suites(rows) in md, "REPORT.md is stale: run `python bench/run_all.py --report-only`"
    t = _tables(md)
    assert len(t) == len({report.suite_of(r) for r in rows})
    ex = next(v for k,v in t.items() if 'u1-u5' in k)
    models = {r['model'] for r in rows if r.get('suite')=='explicit-u1u5'}
    assert models and len(ex)-2 == len(models), (len(ex), models)
    ranks = [int(l.split('|')[1]) for l in ex[2:]]
    assert ranks == list(range(1, len(ranks)+1))

def test_saved_markdown_is_the_rows():
    "Every bench/results/<name>.md is `render_file` of <name>.json, and no Markdown there is written by hand"
    res = ROOT/'bench'/'results'
    for p in sorted(res.glob('*.json')):
        md = p.with_suffix('.md')
        assert md.exists() and md.read_text()==report.render_file(p.stem, json.loads(p.read_text())), \
            f"{md.name} is stale: run `python bench/run_all.py --report-only`"
    mds,jsons = {p.stem for p in res.glob('*.md')},{p.stem for p in res.glob('*.json')}
    assert mds == jsons | {'REPORT'}, f"Markdown without rows: {mds-jsons-{'REPORT'}}"

def test_render_file_shows_every_figure():
    "The rendering of a file's rows: one table per protocol, each row's figure, spread and series"
    rows = [_row('a', 0.91, suite='explicit-u1u5', std=0.01, n=5, recipe='wd=0.1',
                 series={'valid RMSE per epoch': [1.1, 0.95, 0.91]}),
            _row('fast', None, metric=None, time_s=2.0, baseline='slow', baseline_time_s=4.0)]
    md = report.render_file('x', rows)
    t = _tables(md)
    assert list(t) == [report.SUITES['explicit-u1u5']['title'], 'Speed and memory: b: ML-100K u1..u5'], list(t)
    q,sp = t.values()
    assert 'test RMSE 0.91 ± 0.01 (5)' in q[2] and 'wd=0.1' in q[2] and '0.5 (time)' in sp[2]
    assert '- a, valid RMSE per epoch: [1.1, 0.95, 0.91]' in md


def test_no_bench_script_writes_markdown_or_imports_the_tests():
    "The scripts write rows only (through `report.save`), time with `report`'s helpers and import nothing from tests/"
    for p in sorted((ROOT/'bench').glob('bench_*.py')):
        # a torch-only child process (`CHILD`, bench_serving.py) keeps its own clock
        src = re.sub(r"CHILD = '''.*?'''", '', p.read_text(), flags=re.S)
        assert 'tests.conftest' not in src and 'from tests' not in src, p.name
        assert not re.search(r"\.md['\"]|report\.publish|write_text", src), f"{p.name} writes Markdown"
        assert not re.search(r'time\.(perf_counter|process_time|time)\(', src), f"{p.name} times with its own clock"

def test_run_all_schedules_scripts_on_the_cores(tmp_path):
    "`run_all.run(jobs=2)`: one-core scripts side by side, a 2-core script (`SLOTS`) alone, failures returned; groups name real scripts"
    from bench import run_all
    for name,code in (('a', 0), ('b', 0), ('explicit', 0), ('bad', 3)):
        (tmp_path/f'bench_{name}.py').write_text(
            f"import sys, time, pathlib\np = pathlib.Path({str(tmp_path)!r})\n(p/'{name}.start').write_text(str(time.time()))\n"
            f"time.sleep(0.6)\n(p/'{name}.end').write_text(str(time.time()))\nsys.exit({code})\n")
    failed = run_all.run(['a', 'b', 'explicit', 'bad'], jobs=2, here=tmp_path)
    assert failed == [['bad']]
    t = {n:(float((tmp_path/f'{n}.start').read_text()), float((tmp_path/f'{n}.end').read_text())) for n in ('a','b','explicit','bad')}
    overlap = lambda x,y: t[x][0] < t[y][1] and t[y][0] < t[x][1]
    assert overlap('a', 'b') or overlap('a', 'bad') or overlap('b', 'bad'), t
    assert not any(overlap('explicit', n) for n in ('a', 'b', 'bad')), t
    for group in run_all.GROUPS.values():
        for cmd in group: assert (ROOT/'bench'/f"bench_{cmd.split()[0]}.py").exists(), cmd
    with pytest.raises(ValueError, match='jobs=0'): run_all.run(['a'], jobs=0, here=tmp_path)
    with pytest.raises(ValueError, match="no bench script for \\['nope'\\]"): run_all.run(['a', 'nope'], here=tmp_path)

def test_paired_test_counts_the_discordant_examples():
    "The exact McNemar test: only the examples one model gets wrong and the other right count"
    t = report.paired_test([1,1,1,0,1,0], [0,0,0,0,1,1])
    assert (t['only_model'], t['only_base']) == (3, 1)
    assert t['p'] == pytest.approx(2*(1+4)/16) # two-sided binomial tail of 1 of 4 at one half: 0.625
    assert report.paired_test([0]*8, [1]*8)['p'] == pytest.approx(2*0.5**8) # 8 to 0: significant at 1%
    assert report.paired_test([1,0], [1,0])['p'] == 1. # no discordant pair: nothing to tell them apart
    with pytest.raises(AssertionError, match='same examples'): report.paired_test([1], [1,0])
