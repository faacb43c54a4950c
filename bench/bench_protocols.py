"""Issue #12: the talk's sequence protocol, reproduced — ML-100K, each user's last item held out (leave-last-out), the
next item ranked against 200 sampled negatives (the talk's figures: popularity 0.12, pooling 0.14, LSTM 0.11) and,
separately, against the whole catalogue. The same trained models score both; the two protocols are two tables.
Writes bench/results/protocols.md and .json. `--quick`: 1 epoch, 1 seed (a smoke run)."""
import os, sys, time, warnings, argparse
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np, torch
from recfast.all import *
from bench import report

p = argparse.ArgumentParser(); p.add_argument('--quick', action='store_true'); p.add_argument('--epochs', type=int, default=10)
p.add_argument('--seeds', type=int, default=3); p.add_argument('--n-negatives', type=int, default=200)
args = p.parse_args()
torch.set_num_threads(int(os.environ.get('BENCH_THREADS', 1))); warnings.simplefilter('ignore')
EPOCHS,SEEDS,NNEG = (1,1,args.n_negatives) if args.quick else (args.epochs,args.seeds,args.n_negatives)
LR,BS,MAX_LEN,NF = 1e-2,64,200,32

ml = movielens_100k(titles=False)[['user','movie','timestamp']]
DATA = 'ML-100K, each user\'s last item (by time) held out: 943 targets'
def metrics(): return [RankMetric(mrr, name='mrr_full'), RankMetric(mrr, n_negatives=NNEG, name='mrr_sampled')]

def run(arch, seed):
    "Train `arch` (adaptive hinge, the bench_implicit recipe) and return (full MRR, sampled MRR, fit seconds)"
    set_seed(seed)
    dls = SequenceDataLoaders.from_df(ml, time_name='timestamp', split='last', max_len=MAX_LEN, bs=BS, seed=seed)
    learn = sequence_learner(dls, arch=arch, loss='adaptive_hinge', n_factors=NF, seed=seed, metrics=metrics())
    t = time.process_time()
    if arch!='popularity':
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(EPOCHS, LR)
    fit = time.process_time()-t
    _,full,sampled = learn.validate()
    return full,sampled,fit

res = {}
for arch in ('popularity','pool','cnn','lstm'):
    runs = [run(arch, s) for s in range(1 if arch=='popularity' else SEEDS)]
    res[arch] = np.array(runs); print(arch, res[arch].mean(0), flush=True)

talk = dict(popularity=0.12, pool=0.14, lstm=0.11)
recipe = lambda a: ('training counts' if a=='popularity' else
                    f'{NF} factors, adaptive hinge (5 negatives), bs {BS}, max_len {MAX_LEN}, fit_one_cycle({EPOCHS}, {LR})')
rows, lines = [], ['# The talk\'s sequence protocol (issue #12)', '',
    f'{DATA}; models trained on everything before it (the same recipe as `bench_implicit.py`, not tuned here). '
    f'Mean ± std over {SEEDS} seeds (popularity: deterministic). Nothing excluded from the ranking, as in the calibration '
    f'test (`tests/test_protocols.py`). Fit: CPU seconds, 1 thread.', '',
    f'| model | MRR, {NNEG} sampled negatives | talk (sampled) | MRR, full catalogue | fit (s) |', '|---|---|---|---|---|']
pop = res['popularity'].mean(0)
for a,r in res.items():
    m,s = r.mean(0),(r.std(0, ddof=1) if len(r)>1 else np.zeros(3))
    lines.append(f"| {a} | {m[1]:.4f} ± {s[1]:.4f} | {talk.get(a, '-')} | {m[0]:.4f} ± {s[0]:.4f} | {m[2]:.1f} |")
    kw = dict(time_s=float(m[2]), baseline='popularity (same run)', recipe=recipe(a), n=len(r))
    rows.append(report.row('protocols', f'recfast sequence_learner({a!r})' if a!='popularity' else 'popularity', DATA,
        f'leave-last-out; target ranked 1 + the {NNEG} sampled negatives scoring strictly higher (uniform, with replacement, nothing excluded)',
        metric=f'MRR vs {NNEG} sampled negatives', value=float(m[1]), std=float(s[1]) if len(r)>1 else None,
        baseline_value=float(pop[1]), suite='sampled-mrr', published="the talk (Kula): popularity 0.12, pooling 0.14, LSTM 0.11", **kw))
    rows.append(report.row('protocols', f'recfast sequence_learner({a!r})' if a!='popularity' else 'popularity', DATA,
        'leave-last-out; target ranked against the whole catalogue (nothing excluded)',
        metric='MRR, full catalogue', value=float(m[0]), std=float(s[0]) if len(r)>1 else None,
        baseline_value=float(pop[0]), **kw))
lines += ['', 'The two MRR columns are two protocols: never compare a sampled figure with a full-catalogue one.']
if not args.quick: report.publish('protocols', '\n'.join(lines)+'\n', rows)
else: print('\n'.join(lines))
