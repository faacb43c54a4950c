"""Issue #26: the sampled softmax's training throughput on a large catalogue against the BPR loss's.

Synthetic power-law interactions (`synthetic_ratings`, 100k users x 20k items x 2.5M rows, 95/5 split), `implicit_learner`
with 32 factors, bs 8192, one torch thread: one epoch of BPR (one uniform negative per positive), of the sampled
softmax with the logQ correction (64 popularity negatives per positive, the loss's default), and of the sampled softmax
with shared negatives (one draw of 64 per batch), alternated `--repeats` times after a warm-up epoch each, best epoch
kept. Writes bench/results/sampled.json. Usage: python bench/bench_sampled.py [--repeats 2] [--quick]"""
import sys, warnings, argparse
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import report
import torch
from recfast.all import *
from fastai.callback.training import ShortEpochCallback

p = argparse.ArgumentParser(); p.add_argument('--repeats', type=int, default=2); p.add_argument('--quick', action='store_true')
args = p.parse_args()
torch.set_num_threads(1); warnings.simplefilter('ignore')
size = (10_000, 2_000, 250_000) if args.quick else (100_000, 20_000, 2_500_000)
df = synthetic_ratings(*size, seed=0)
dls = InteractionsDataLoaders.from_df(df, valid_pct=0.05, seed=0, bs=8192)
n = len(dls.train.dataset)
CASES = {'BPR, one uniform negative': dict(loss='bpr', sampler='uniform'),
         'sampled softmax + logQ, 64 popularity negatives per positive': dict(loss='sampled_softmax', sampler='popularity',
                                                                                      shared_negatives=False),
         'sampled softmax + logQ, 64 popularity negatives shared by the batch': dict(loss='sampled_softmax',
                                                                                   sampler='popularity', shared_negatives=True)}
learners = {k: implicit_learner(dls, n_factors=32, metrics=[], seed=0, lr=1e-2, **kw) for k,kw in CASES.items()}
def epoch(learn):
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-2)
for k,l in learners.items():  # warm-up; the per-positive draws (tens of times slower) on a tenth of an epoch
    with l.no_bar(), l.no_logging(): l.fit(1, 1e-2, cbs=[ShortEpochCallback(0.1)] if 'per positive' in k else [])
times = {k: [] for k in CASES}
for _ in range(args.repeats):
    for k,l in learners.items(): times[k].append(report.timed(epoch, l)[1])
best = {k: min(v) for k,v in times.items()}
bpr = next(iter(CASES))
data = f'synthetic_ratings {size[0]//1000}k users x {size[1]//1000}k items x {size[2]/1e6:g}M interactions, 95/5'
proto = 'one epoch (train + valid loss), bs 8192, 32 factors, one thread, best of the alternated repeats'
rows = []
for k,t in best.items():
    print(f'{k}: {n/t:,.0f} interactions/s ({t:.1f} s), {best[bpr]/t:.2f}x BPR', flush=True)
    rows.append(report.row('sampled', f'implicit_learner, {k}', data, proto, 'train interactions/s', n/t, t,
                           *(() if k==bpr else ('implicit_learner, BPR (same run)', n/best[bpr], best[bpr])),
                           ratio_of='value', suite=report.speed_suite('sampled', data)))
if not args.quick: report.save(rows, 'sampled')
