"""bench/gpu.sh, the prepared GPU check (issue 29), on its CPU path: the steps run in order, each under its own timeout,
a step killed by its timeout does not stop the next ones, and the summary names every step's status and the device."""
import os, sys, json, subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_gpu_script_cpu_path(tmp_path):
    out = tmp_path/'gpu'
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'MPLBACKEND': 'Agg', 'PYTHON': sys.executable, 'OUT': str(out),
           'DEVICE': 'cpu', 'QUICK': '1', 'STEPS': 'facts,contract,fp16,summary', 'ARCHS': 'dot,ram',
           'TIMEOUT_FP16': '1'}  # fp16 is killed by its timeout: the summary still comes
    p = subprocess.run(['bash', str(ROOT/'bench'/'gpu.sh')], capture_output=True, text=True, env=env, timeout=300,
                       cwd=tmp_path)
    log = p.stdout[-4000:] + p.stderr[-2000:]
    assert p.returncode==1, log  # a step failed
    files = sorted(f.name for f in out.iterdir())
    assert set(files)=={'SUMMARY.md', 'contract.json', 'device.txt', 'gpu.log'} | ({'fp16.json'} & set(files)), files
    assert len(files)<=8  # the device runner brings 8 files back
    assert 'device asked for: cpu' in (out/'device.txt').read_text()
    rows = json.loads((out/'contract.json').read_text())
    assert [r['arch'] for r in rows]==['dot', 'ram'], rows
    for r in rows:  # every verb passed, and the row names its protocol and the device
        assert r['value']==r['baseline_value']>=4 and all(v.startswith('ok') for v in r['verbs'].values()), r
        assert r['suite'] and 'on CPU' in r['data'] and r['bench']=='gpu'
    assert {'fit', 'on device', 'predict_pairs', 'recommend', 'recommend_all', 'similar_items', 'export/load',
            'export_serving'} <= set(rows[0]['verbs'])
    summary = (out/'SUMMARY.md').read_text()
    steps = {l.split(' | ')[0].strip('| '): l for l in summary.splitlines() if l.startswith('| ')}
    assert '| ok |' in steps['facts'] and '| ok |' in steps['contract'], summary
    assert 'TIMEOUT' in steps['fp16'], summary
    assert 'families' not in steps and '2/2 archs pass every verb' in summary
    assert '== steps' in p.stdout and 'TIMEOUT' in p.stdout
