"""The benchmark report (bench/report.py, bench/run_all.py): one section and one ranked table per protocol, rows written
before the protocol fields existed still read, and bench/results/REPORT.md is the rendering of the saved rows."""
import re, sys, json
import pytest
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import report

def _row(model, value, **kw):
    kw = {'bench':'b', 'data':'ML-100K u1..u5', 'protocol':'p', 'metric':'test RMSE', **kw}
    return report.row(kw.pop('bench'), model, kw.pop('data'), kw.pop('protocol'), kw.pop('metric'), value,
                      machine_kind='m', date='d', **kw)

def _tables(md):
    "{section title: [table lines]} of a rendered report"
    out, title = {}, None
    for l in md.splitlines():
        if l.startswith('## '): title = l[3:]; out[title] = []
        elif l.startswith('|') and title: out[title].append(l)
    return out

def test_row_fields_default_and_legacy_rows_read():
    r = _row('x', 0.9)
    assert not {'suite', 'std', 'n', 'recipe', 'published'} & set(r), "new fields are written only when given"
    assert report.spread(r) == (None, None)
    legacy = dict(r, protocol='k=5; mean ± std 0.1180 ± 0.0009 over 3 seeds; P@10 0.25')
    assert report.spread(legacy) == (0.0009, 3)
    assert report.spread(_row('y', 0.9, std=0.01, n=5)) == (0.01, 5)

def test_one_ranked_table_per_protocol():
    rows = [_row('worse', 0.95, suite='explicit-u1u5', std=0.01, n=5), _row('better', 0.90, suite='explicit-u1u5', std=0.02, n=5),
            _row('mrr model', 0.12, data='ML-100K ua.base/ua.test', metric='test MRR'),
            _row('stronger mrr', 0.2, data='ML-100K ua.base/ua.test', metric='test MRR', bench='c'),
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
    "Rows no protocol claims get a section of their own per (bench, data, metric)"
    rows = [_row('a', 0.1, bench='x', data='d1', metric='m'), _row('b', 0.2, bench='x', data='d2', metric='m'),
            _row('c', 0.3, bench='x', data='d1', metric='other')]
    assert len({report.suite_of(r) for r in rows}) == 3
    assert len(_tables(report.render_suites(rows))) == 3

def test_saved_report_is_by_protocol():
    "REPORT.md is `run_all.write_report` of the saved rows: every table holds one protocol, every model of the explicit bench is ranked"
    rows = report.load_rows()
    md = (ROOT/'bench'/'results'/'REPORT.md').read_text()
    assert report.render_suites(rows) in md, "REPORT.md is stale: run `python bench/run_all.py --report-only`"
    t = _tables(md)
    assert len(t) == len({report.suite_of(r) for r in rows})
    ex = next(v for k,v in t.items() if 'u1-u5' in k)
    models = {r['model'] for r in rows if r.get('suite')=='explicit-u1u5'}
    assert models and len(ex)-2 == len(models), (len(ex), models)
    ranks = [int(l.split('|')[1]) for l in ex[2:]]
    assert ranks == list(range(1, len(ranks)+1))

def test_sampled_metrics_are_their_own_protocol():
    "A figure against n sampled negatives is never ranked with full-catalogue figures of the same split"
    full = _row('a', 0.1, data='ML-100K ua.base/ua.test', metric='test MRR', protocol='rejection sampling of negatives in training')
    samp = _row('b', 0.3, data='ML-100K ua.base/ua.test', metric='test MRR', protocol='MRR against 200 sampled negatives')
    assert report.suite_of(full)=='talk-mrr' and report.suite_of(samp)=='sampled-mrr'

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
