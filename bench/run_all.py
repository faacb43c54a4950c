"""Run every benchmark script in bench/ (each measures its own baseline in the same run) and collect their
markdown tables into bench/results/REPORT.md. Usage: python bench/run_all.py [name ...] (e.g. collab implicit)."""
import subprocess, sys, time, platform, os
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

def _gpu():
    "The GPU the benchmarks ran on (they use it when there is one), or nothing"
    import torch
    return f"{torch.cuda.get_device_name()} GPU, " if torch.cuda.is_available() else "no GPU, "

def main(names):
    scripts = sorted(HERE.glob('bench_*.py'))
    if names: scripts = [s for s in scripts if s.stem.removeprefix('bench_') in names]
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'MPLBACKEND': 'Agg'}
    for s in scripts:
        t = time.time()
        print(f'== {s.name}', flush=True)
        r = subprocess.run([sys.executable, str(s)], cwd=ROOT, env=env)
        print(f'== {s.name}: exit {r.returncode} in {time.time()-t:.0f}s', flush=True)
    parts = [f"# recfast benchmark report\n\nMachine: {_gpu()}{platform.machine()}, {os.cpu_count()} CPU cores, "
             f"Python {platform.python_version()}. Each table's baseline was measured in the same run as its figures.\n"]
    parts += [p.read_text() for p in sorted((HERE/'results').glob('*.md')) if p.name!='REPORT.md']
    (HERE/'results'/'REPORT.md').write_text('\n\n'.join(parts))
    print(f"wrote {HERE/'results'/'REPORT.md'}")

if __name__=='__main__': main(sys.argv[1:])
