"""Issue #30: `tune` with a fixed wall-clock budget (10 minutes by default, one thread) against the hand-tuned recipes,
in the same run. Both searches read a validation split only; the test figures come after, from the chosen recipes.

- implicit, Kula's talk protocol: `tune(arch='implicit')` on ua.base with 10 random ratings per user held out (the
  split `bench_baselines.py` tunes on), then test MRR / NDCG@10 / R@20 on ua.test (full catalogue, training items
  excluded) over 3 seeds, against the hand-tuned softmax recipe and the BPR recipe of `bench_baselines.py`.
- dot, explicit: `tune(arch='dot')` on u1.base with a random 10% held out (the split `bench_explicit.py` tunes on),
  then test RMSE on u1..u5 against the hand-tuned `dot_tuned` and the fastbook recipe.

Writes bench/results/tune.json (bench/report.py rows) and the studies (bench/results/tune/). `BENCH_TUNE_BUDGET`
sets the budget in seconds; `BENCH_QUICK=1` runs a 60-second budget and one seed (a smoke test)."""
import os, sys, json, warnings
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import report
from fastai.basics import *
from recfast.all import *

warnings.filterwarnings('ignore')
torch.set_num_threads(int(os.environ.get('BENCH_THREADS', 1)))
QUICK = bool(int(os.environ.get('BENCH_QUICK', 0)))
BUDGET = float(os.environ.get('BENCH_TUNE_BUDGET', 60 if QUICK else 600))
SEEDS = (0,) if QUICK else (0, 1, 2)
OUT = Path(__file__).parent/'results'/'tune'
rows = []

# ---- implicit on the talk protocol
trn,tst = movielens_split()
val = trn.groupby('user').sample(n=10, random_state=0)
vdls = InteractionsDataLoaders.from_df(trn.drop(val.index), valid_df=val, bs=1024, seed=0)
FUNCS = {'MRR':mrr, 'NDCG@10':partial(ndcg_at_k, k=10), 'R@20':partial(recall_at_k, k=20)}
TALK = "ML-100K ua.base -> ua.test, every rating a positive; full catalogue, training items excluded; mean of 3 seeds"
HAND = {'softmax (hand-tuned: wd 1, fit_one_cycle(20, 2e-2))': dict(kwargs=dict(loss='softmax', wd=1.), epochs=20, lr=2e-2),
        'bpr (bench recipe: fit(10, 1e-2))': dict(kwargs=dict(loss='bpr'), epochs=10, lr=1e-2, plain=True)}

def scores(model, d):
    vals = {n:[] for n in FUNCS}
    for s,t,e in d.eval_batches(model):
        for n,f in FUNCS.items(): vals[n].append(f(s, t, e, per_user=True))
    return {n:float(torch.cat(v).nanmean()) for n,v in vals.items()}

def implicit_test(rec, seed):
    "Test metrics of `rec` (kwargs, epochs, lr) trained on all of ua.base with `seed`, and its fit seconds"
    dls = InteractionsDataLoaders.from_df(trn, valid_df=tst, bs=1024, seed=seed)
    set_seed(seed)
    learn = implicit_learner(dls, metrics=[], seed=seed, **rec['kwargs'])
    def go():
        with learn.no_bar(), learn.no_logging():
            (learn.fit if rec.get('plain') else learn.fit_one_cycle)(rec['epochs'], rec['lr'])
    _,t = report.timed(go)
    return scores(learn.model, dls), t

(best,_),tuned_s = report.timed(tune, vdls, arch='implicit', n_trials=10_000, timeout=BUDGET, seed=0, path=OUT)
print('implicit tuned:', best, flush=True)
res = {'tune': [implicit_test(best, s) for s in SEEDS]}
for name,rec in HAND.items(): res[name] = [implicit_test(rec, s) for s in SEEDS]
mean = lambda rs, m: float(np.mean([r[0][m] for r in rs]))
std = lambda rs, m: float(np.std([r[0][m] for r in rs]))
base = next(iter(HAND))
suite = report.own_suite('tune', TALK, 'test MRR')
recipe = lambda r: f"{', '.join(f'{k} {v:.3g}' if isinstance(v, float) else f'{k} {v}' for k,v in r['kwargs'].items())}, " \
                   f"fit_one_cycle({r['epochs']}, {r['lr']:.3g})"
for m in FUNCS:
    rows.append(report.row('tune', f"implicit, tune's recipe ({BUDGET/60:.0f}-minute budget: {best['trials']} trials "
                           f"in {tuned_s:.0f} s)",
                           TALK, f'test {m}, 3 seeds', f'test {m}', mean(res['tune'], m),
                           float(np.mean([r[1] for r in res['tune']])), f'implicit, {base}', mean(res[base], m),
                           float(np.mean([r[1] for r in res[base]])), suite=suite, ratio_of='value',
                           std=std(res['tune'], m), n=len(SEEDS), recipe=recipe(best)))
    for name in HAND: rows.append(report.row('tune', f'implicit, {name}', TALK, f'test {m}, 3 seeds', f'test {m}',
                                             mean(res[name], m), float(np.mean([r[1] for r in res[name]])),
                                             suite=suite, std=std(res[name], m), n=len(SEEDS)))
    print(rows[-len(HAND)-1:], flush=True)

# ---- dot on u1..u5
EXPL = "ML-100K u1..u5: train u{k}.base, test RMSE on u{k}.test; mean ± std over the 5 folds; tuned on 10% of u1.base"
u1,_ = movielens_split(split='u1')
u1 = u1[['user','movie','rating']]
v1 = u1.sample(frac=0.1, random_state=0)
ddls = RatingsDataLoaders.from_df(u1.drop(v1.index), valid_df=v1, bs=64, seed=0)
(dbest,_),dtuned_s = report.timed(tune, ddls, arch='dot', n_trials=10_000, timeout=BUDGET, seed=0, path=OUT,
                                  y_range=(0, 5.5))
print('dot tuned:', dbest, flush=True)
DHAND = {'dot_tuned (hand-tuned: wd 0.15, fit_one_cycle(5, 5e-3))': dict(kwargs=dict(n_factors=50, wd=0.15), epochs=5, lr=5e-3),
         'fastbook (wd 0.1, fit_one_cycle(5, 5e-3))': dict(kwargs=dict(n_factors=50, wd=0.1), epochs=5, lr=5e-3)}

def dot_test(rec, fold):
    trn_,tst_ = (d[['user','movie','rating']] for d in movielens_split(split=fold))
    dls = RatingsDataLoaders.from_df(trn_, valid_df=tst_, bs=64, seed=42)
    set_seed(42)
    learn = dot_learner(dls, metrics=[], **{'y_range': (0, 5.5), **rec['kwargs']})
    def go():
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(rec['epochs'], rec['lr'])
    _,t = report.timed(go)
    return float(((learn.predict_pairs(tst_)-tst_.rating.to_numpy())**2).mean()**0.5), t

folds = ('u1',) if QUICK else ('u1','u2','u3','u4','u5')
dres = {'tune': [dot_test(dbest, f) for f in folds]}
for name,rec in DHAND.items(): dres[name] = [dot_test(rec, f) for f in folds]
dsuite = report.own_suite('tune', EXPL, 'test RMSE')
dbase = next(iter(DHAND))
rm = lambda rs: float(np.mean([r[0] for r in rs]))
rows.append(report.row('tune', f"dot, tune's recipe ({BUDGET/60:.0f}-minute budget: {dbest['trials']} trials in "
                       f"{dtuned_s:.0f} s)", EXPL,
                       'test RMSE, 5 folds', 'test RMSE', rm(dres['tune']), float(np.mean([r[1] for r in dres['tune']])),
                       f'dot, {dbase}', rm(dres[dbase]), float(np.mean([r[1] for r in dres[dbase]])), suite=dsuite,
                       ratio_of='value', std=float(np.std([r[0] for r in dres['tune']])), n=len(folds),
                       recipe=recipe(dbest)))
for name in DHAND: rows.append(report.row('tune', f'dot, {name}', EXPL, 'test RMSE, 5 folds', 'test RMSE', rm(dres[name]),
                                          float(np.mean([r[1] for r in dres[name]])), suite=dsuite,
                                          std=float(np.std([r[0] for r in dres[name]])), n=len(folds)))
print(rows[-3:], flush=True)
# the fold-to-fold differences of the tuned recipe against the hand-tuned one (paired: the same folds)
print('dot paired diffs (tune - hand):', [a[0]-b[0] for a,b in zip(dres['tune'], dres[dbase])])
report.save(rows, 'tune')
for a in ('implicit', 'dot'): plot_study(OUT/f'study_{a}.json', OUT/f'study_{a}.png')
