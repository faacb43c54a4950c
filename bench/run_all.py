"""Run every benchmark script in bench/ (each measures its own baseline in the same run and saves its figures as
report rows in bench/results/<name>.json), then write all the rows in bench/results/REPORT.md, one ranked table per protocol (`report.render_suites`), which
the docs site shows as its Benchmarks page.

Usage: python bench/run_all.py [name ...] [--report-only]   (e.g. `collab implicit`; `--report-only` reruns nothing and
rebuilds REPORT.md from the JSON files there are)."""
import subprocess, sys, time, os
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from bench import report

def run(names=()):
    "Run the bench scripts (all, or those named), each in its own process"
    scripts = sorted(HERE.glob('bench_*.py'))
    if names: scripts = [s for s in scripts if s.stem.removeprefix('bench_') in names]
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'MPLBACKEND': 'Agg'}
    for s in scripts:
        t = time.time()
        print(f'== {s.name}', flush=True)
        r = subprocess.run([sys.executable, str(s)], cwd=ROOT, env=env)
        print(f'== {s.name}: exit {r.returncode} in {time.time()-t:.0f}s', flush=True)

def write_report(results=report.RESULTS):
    "REPORT.md: every row of every bench/results/*.json, one section and one ranked table per protocol"
    rows = report.load_rows(results)
    machines = sorted({r['machine'] for r in rows})
    md = ("# Benchmarks\n\n"
          "Every benchmark of recfast, written by `python bench/run_all.py` from the rows each `bench/bench_*.py` script saves "
          "in `bench/results/<name>.json` (the scripts' own tables, with their notes, are the `.md` files beside them). "
          "**One section per protocol** (data + split + metric): its table ranks every model measured on that protocol, "
          "whichever script measured it, with mean ± std over seeds or folds (the number of runs in brackets) where the "
          "script gives them, and fit seconds. Figures of different protocols are never in one table and never comparable. "
          "Published figures are cited under their protocol's table, not re-run and not ranked. Speed and memory rows come "
          "last, one table per bench and data, each against the baseline measured **in the same run, on the same machine** "
          "(*ratio* is the row's figure over the baseline's, for the quantity in brackets). Absolute times are noisy on "
          "shared machines; ratios hold better.\n\n"
          f"Machines: {'; '.join(machines)}.\n\n" + report.render_suites(rows) + '\n')
    (Path(results)/'REPORT.md').write_text(md)
    print(f"wrote {Path(results)/'REPORT.md'} ({len(rows)} rows)")

if __name__=='__main__':
    args = sys.argv[1:]
    if '--report-only' not in args: run([a for a in args if not a.startswith('--')])
    write_report()
