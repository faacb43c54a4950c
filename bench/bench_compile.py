"""Issue #29: the opt-in `learn.compile()` (`torch.compile` of the model, in place) against the same learner eager.

One torch thread. For each model the compiled learner's first epoch (which compiles) is timed once, then a compiled
and an eager epoch alternate `REPEATS` times, best of each kept. Models: `dot_learner` on ML-100K at bs 1024 (the
batch-size-free recipe of bench_frontier) and `implicit_learner`'s default full softmax (ua.base, bs 1024).
Writes bench/results/compile.json. Usage: python bench/bench_compile.py [--repeats N]"""
import sys, warnings, argparse
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import report
import torch
from recfast.all import *

p = argparse.ArgumentParser(); p.add_argument('--repeats', type=int, default=3); args = p.parse_args()
torch.set_num_threads(1)
warnings.simplefilter('ignore')

def epoch(learn):
    with learn.no_bar(), learn.no_logging(): learn.fit(1, learn.lr)

def compare(make):
    "(first compiled epoch, best compiled epoch, best eager epoch) of two learners from `make()`"
    comp,eager = make().compile(dynamic=False),make()
    _,first = report.timed(epoch, comp); epoch(comp); epoch(eager)  # the compilation, then warm-ups
    a,b = [],[]
    for _ in range(args.repeats): a.append(report.timed(epoch, comp)[1]); b.append(report.timed(epoch, eager)[1])
    return first,min(a),min(b)

ml = movielens_100k(titles=False)
rdls = RatingsDataLoaders.from_df(ml[['user','movie','rating']], seed=42, bs=1024)
trn,tst = movielens_split()
idls = InteractionsDataLoaders.from_df(trn[['user','movie']], valid_df=tst[['user','movie']], bs=1024, seed=0)
CASES = {'dot_learner (DotProductBias), l2 0.05': ('ML-100K ratings, 80/20', rdls,
                                                   lambda: dot_learner(rdls, wd=0., l2=0.05, metrics=[], lr=1e-2)),
         'implicit_learner, full softmax (the default)': ('ML-100K ua.base/ua.test', idls,
                                                          lambda: implicit_learner(idls, metrics=[], seed=0, lr=2e-2))}
rows = []
for model,(data,dls,make) in CASES.items():
    set_seed(0)
    first,c,e = compare(make)
    print(f'{model}: compiled epoch {c:.3f} s, eager {e:.3f} s ({c/e:.2f}x); first compiled epoch {first:.1f} s',
          flush=True)
    proto = 'one epoch: train + valid loss, bs 1024, one thread; best of the alternated repeats'
    rows.append(report.row('compile', f'{model}, learn.compile()', data, proto, time_s=c,
                           baseline='the same learner, eager', baseline_time_s=e, ratio_of='time',
                           suite=report.speed_suite('compile', data)))
    rows.append(report.row('compile', f'{model}, learn.compile(): first epoch', data,
                           'the first epoch, which compiles (the epoch above is the eager baseline)', time_s=first,
                           suite=report.speed_suite('compile', data)))
report.save(rows, 'compile')
