"""Run every benchmark script in bench/ (each measures its own baseline in the same run and saves its figures as
report rows in bench/results/<name>.json), then render the rows: bench/results/REPORT.md, one ranked table per protocol
(`report.render_suites`), which the docs site shows as its Benchmarks page, and bench/results/<name>.md, the rows of each
file (`report.render_file`).

Usage: python bench/run_all.py [name ...] [--jobs N] [--report-only]   (e.g. `collab implicit`; a group of `GROUPS`
such as `evaluation`, issue #12's whole bench; `--jobs 2` runs scripts side by side on 2 cores, each script taking the
cores it uses (`SLOTS`); `--report-only` reruns nothing and renders the Markdown from the JSON files there are)."""
import subprocess, sys, os, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from bench import report

# issue #12's evaluation bench: every model and baseline on its protocols, and AutoRec trained long (the issue's schedule)
GROUPS = {'evaluation': ['baselines', 'explicit', 'protocols', 'post', 'autoenc --robust --long 100 --long-lr 1e-3']}
SLOTS = {'explicit': 2}  # cores a script keeps busy (bench_explicit runs 2 worker processes); 1 for the others
# rough minutes; the most core-minutes start first
COST = {'explicit': 8, 'baselines': 9, 'protocols': 12, 'post': 3, 'autoenc': 5, 'recbole': 30, 'batchsize': 20}

def run(names=(), jobs=1, here=HERE):
    "Run the bench scripts (all, or those named: a script, or a group of `GROUPS`), each in its own process, `jobs` cores busy at a time"
    known = sorted(s.stem.removeprefix('bench_') for s in here.glob('bench_*.py'))
    cmds = [c.split() for c in dict.fromkeys(c for n in names for c in GROUPS.get(n, [n]))] if names else [[k] for k in known]  # once each
    if jobs<1: raise ValueError(f"jobs={jobs}: run at least one script at a time")
    missing = [c[0] for c in cmds if c[0] not in known]
    if missing: raise ValueError(f"no bench script for {missing}: use script names ({', '.join(known)}) or groups ({', '.join(GROUPS)})")
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'MPLBACKEND': 'Agg'}
    start,running,failed = report.Stopwatch(),[],[]
    slots = lambda c: min(jobs, SLOTS.get(c[0], 1))
    cmds.sort(key=lambda c: -COST.get(c[0], 1)*slots(c))
    try:
        while cmds or running:
            while cmds:  # start the first waiting script that fits in the free cores
                free = jobs-sum(slots(c) for _,c,_ in running)
                c = next((c for c in cmds if slots(c)<=free), None)
                if c is None: break
                cmds.remove(c)
                print(f"== {' '.join(c)}", flush=True)
                running.append((subprocess.Popen([sys.executable, str(here/f'bench_{c[0]}.py'), *c[1:]], cwd=ROOT, env=env), c, report.Stopwatch()))
            time.sleep(1)
            for p,c,t in [r for r in running if r[0].poll() is not None]:
                running.remove((p,c,t))
                print(f"== {' '.join(c)}: exit {p.returncode} in {t():.0f}s", flush=True)
                if p.returncode: failed.append(c)
    finally:  # an interrupted run stops its scripts too
        for p,_,_ in running: p.terminate()
    print(f"== all done in {start():.0f}s wall ({jobs} at a time){'; failed: '+str(failed) if failed else ''}", flush=True)
    return failed

def write_report(results=report.RESULTS):
    "REPORT.md: every row of every bench/results/*.json, one section and one ranked table per protocol; and <name>.md per file"
    rows = report.load_rows(results)
    machines = sorted({r['machine'] for r in rows})
    md = ("# Benchmarks\n\n"
          "Every benchmark of recfast, written by `python bench/run_all.py` from the rows each `bench/bench_*.py` script saves "
          "in `bench/results/<name>.json` (each file's rows are rendered beside it as `<name>.md`). "
          "**One section per protocol** (data + split + metric): its table ranks every model measured on that protocol, "
          "whichever script measured it, with mean ± std over seeds or folds (the number of runs in brackets) where the "
          "script gives them, and the seconds its time column names (fit or serving). "
          "Figures of different protocols are never in one table and never comparable. "
          "Published figures are cited under their protocol's table, not re-run and not ranked. Speed and memory rows come "
          "last, one table per bench and data, each against the baseline measured **in the same run, on the same machine** "
          "(*ratio* is the row's figure over the baseline's, for the quantity in brackets). Absolute times are noisy on "
          "shared machines; ratios hold better.\n\n"
          f"Machines: {'; '.join(machines)}.\n\n" + report.render_suites(rows) + '\n')
    (Path(results)/'REPORT.md').write_text(md)
    report.write_files(results)
    print(f"wrote {Path(results)/'REPORT.md'} ({len(rows)} rows)")

if __name__=='__main__':
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('names', nargs='*'); p.add_argument('--jobs', type=int, default=1); p.add_argument('--report-only', action='store_true')
    a = p.parse_args()
    failed = [] if a.report_only else run(a.names, a.jobs)
    write_report()
    sys.exit(1 if failed else 0)
