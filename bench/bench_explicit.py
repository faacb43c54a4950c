"""Issue #12: explicit ratings on ML-100K's five official folds u1..u5 (`u{k}.base` / `u{k}.test`), test RMSE.

Rows (all in one run, one torch thread): the global mean, a user+item bias baseline (damped means, Koren 2010), recfast
`dot` with the fastbook recipe (`dot_learner` as it was) and with the recipe tuned on valid, recfast `mlp`, recfast
`autorec` (I-AutoRec), and, when `scikit-surprise` is installed (`pip install -e '.[bench]'`), its BaselineOnly, SVD and
SVD++ with their defaults as same-run peers. Published u1 figures (GC-MC 0.910, GLocal-K 0.889) are cited beside them.

Tuning never sees a test fold: `python bench/bench_explicit.py --tune` carves a random 10% valid split out of u1.base
(seed 0) and searches `dot`, `mlp` and `autorec` on it with recfast's own `tune` (Optuna; issue #30), one study per
model with a budget of `BENCH_TUNE_BUDGET` seconds (600; about 30 minutes in all on 2 cores), each starting from its
hand recipe (`HAND`); then (`--confirm` alone redoes it) the hand recipe and the study's best are refitted with seeds
0-2, and the study's best replaces the hand recipe only where its mean beats it by more than either's spread over the
seeds (`chosen`; seed 0 is the seed the study's best was picked on, which favours it). Studies:
bench/results/explicit_tuning/ (JSON and PNG), every finished trial a row of explicit_tuning.json (pruned trials are
in the studies only).
The chosen recipes are applied unchanged to all five folds. The plain run re-measures them and the old defaults on
the valid split, so the report shows the tuning evidence from the same run.
Cost of the plain run: a few minutes on 2 free cores (the row "the whole explicit bench" holds the committed run's
wall-clock seconds).
Writes bench/results/explicit.json (bench/report.py rows; `--tune`: explicit_tuning.json).
Usage: python bench/bench_explicit.py [--quick] [--tune] [--confirm]
"""
import os, sys, json, argparse, warnings
from functools import partial
from pathlib import Path
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench import report  # (serves the datasets from ../shared/data offline)
import numpy as np, pandas as pd, torch
from fastai.callback.schedule import *
from fastai.torch_core import set_seed
from recfast.datasets import movielens_split
from recfast.collab.data import RatingsDataLoaders
from recfast.collab.learner import dot_learner, mlp_learner
from recfast.autoencoder.data import SparseVectorDataLoaders
from recfast.autoencoder.learner import autoencoder_learner

SEED, FOLDS = 42, ('u1', 'u2', 'u3', 'u4', 'u5')
PUBLISHED = 'published u1: GC-MC 0.910 (Berg et al. 2017), GLocal-K 0.889 (Han et al. 2021)'
PROTOCOL = ("ML-100K official folds u1..u5: train on u{k}.base, test RMSE on u{k}.test (20,000 ratings each); "
            "mean ± std over the 5 folds; recipes tuned on a random 10% of u1.base only")

# recipe: keyword arguments of the learner factory + the schedule (epochs, lr) + bs
FASTBOOK = dict(n_factors=50, wd=0.1, y_range=(0, 5.5), bs=64, epochs=5, lr=5e-3)
RECIPES = {  # `dot_tuned`, `mlp` and `autorec`: the hand recipes (`HAND`) unless `--tune`'s study beat them (`chosen`)
    'dot_fastbook': FASTBOOK,
    # the hand grid's valid-best (37 recipes in four rounds before `tune` existed), by a margin near the split's noise
    'dot_tuned': dict(n_factors=50, wd=0.15, y_range=(0, 5.5), bs=64, epochs=5, lr=5e-3),
    # the hand grid's valid-best (against bs 64, fit_one_cycle(5, 5e-3))
    'mlp': dict(wd=0.1, y_range=(0, 5.5), bs=256, epochs=5, lr=1e-2),
    # the hand grid's valid-best of its third round: the denoising default (noise 0.25) trained 20 epochs (against the
    # old no-noise 8-epoch recipe)
    'autorec': dict(wd=1e-3, bs=64, epochs=20, lr=3e-3, noise=0.25),
}

def data(fold):
    "(train, test) frames of fold `fold` (columns user, movie, rating), as `movielens_split` loads them"
    return tuple(d[['user', 'movie', 'rating']] for d in movielens_split(split=fold))

def valid_split(seed=0, pct=0.1):
    "The tuning split: a random `pct` of u1.base rows held out (never a test fold)"
    trn,_ = data('u1')
    val = trn.sample(frac=pct, random_state=seed)
    return trn.drop(val.index), val

def rmse(pred, y): return float(((pred-y)**2).mean()**0.5)

def fit_mean(trn, tst, **_): return np.full(len(tst), trn.rating.mean())

def fit_bias(trn, tst, lam_i=25., lam_u=10., **_):
    "User + item bias baseline: damped item means, then damped user means of the residuals (Koren 2010, section 2.1)"
    mu = trn.rating.mean()
    bi = trn.rating.sub(mu).groupby(trn.movie).agg(['sum', 'count'])
    bi = bi['sum']/(bi['count']+lam_i)
    res = trn.rating-mu-trn.movie.map(bi)
    bu = res.groupby(trn.user).agg(['sum', 'count'])
    bu = bu['sum']/(bu['count']+lam_u)
    return (mu + tst.movie.map(bi).fillna(0) + tst.user.map(bu).fillna(0)).clip(1, 5).to_numpy()

def _fit(learn, epochs, lr):
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit_one_cycle(epochs, lr)
    return learn

def fit_collab(trn, tst, arch='dot', bs=64, epochs=5, lr=5e-3, seed=SEED, **kw):
    "recfast `dot_learner` / `mlp_learner` trained on `trn`, predicting `tst`"
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # test users/items never rated in training: counted by the loaders' warning
        dls = RatingsDataLoaders.from_df(trn, valid_df=tst, bs=bs, seed=seed)
    set_seed(seed)
    learn = _fit((dot_learner if arch=='dot' else mlp_learner)(dls, metrics=[], **kw), epochs, lr)
    return learn.predict_pairs(tst)

def fit_autorec(trn, tst, bs=64, epochs=8, lr=3e-3, seed=SEED, **kw):
    "recfast I-AutoRec (`autoencoder_learner`, one vector per item) trained on `trn`, predicting `tst`"
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dls = SparseVectorDataLoaders.from_df(trn, by='item', valid_df=tst, bs=bs, seed=seed, device='cpu')
    set_seed(seed)
    learn = _fit(autoencoder_learner(dls, metrics=[], **kw), epochs, lr)
    return learn.predict_pairs(tst)

def surprise_algo(name):
    import surprise
    return {'BaselineOnly': lambda: surprise.BaselineOnly(verbose=False),
            'SVD': lambda: surprise.SVD(random_state=0),
            'SVD++': lambda: surprise.SVDpp(random_state=0, cache_ratings=True)}[name]()

def fit_surprise(trn, tst, algo='SVD', **_):
    "A `scikit-surprise` algorithm with its defaults (a same-run peer, not a copy)"
    import surprise
    ts = surprise.Dataset.load_from_df(trn[['user', 'movie', 'rating']], surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    a = surprise_algo(algo); a.fit(ts)
    return np.array([a.predict(u, i).est for u,i in zip(tst.user, tst.movie)])

def run(fit, trn, tst, **kw):
    "(test RMSE, seconds) of one fit"
    p,t = report.timed(fit, trn, tst, **kw)
    return rmse(p, tst.rating.to_numpy()), t

FITS = {'global mean': (fit_mean, {}), 'user + item bias (damped means)': (fit_bias, {}),
        'dot_fastbook': (fit_collab, dict(arch='dot')), 'dot_tuned': (fit_collab, dict(arch='dot')),
        'mlp': (fit_collab, dict(arch='mlp')), 'autorec': (fit_autorec, {}),
        'surprise BaselineOnly': (fit_surprise, dict(algo='BaselineOnly')), 'surprise SVD': (fit_surprise, dict(algo='SVD')),
        'surprise SVD++': (fit_surprise, dict(algo='SVD++'))}

def job(args):
    "One (model, fold, recipe) fit in a pool worker: (model, fold, recipe, test RMSE, wall s, CPU s)"
    name,fold,recipe = args
    torch.set_num_threads(1)
    fit,kw = FITS[name]
    trn,tst = valid_split() if fold=='valid' else data(fold)
    sw = report.Stopwatch()
    r,t = run(fit, trn, tst, **kw, **recipe)
    return name, fold, recipe, r, t, sw.cpu()

def pool_map(jobs, procs):
    "`job` over `jobs` in `procs` worker processes (slowest first, so the pool ends together)"
    import multiprocessing as mp
    order = sorted(range(len(jobs)), key=lambda k: -COST.get(jobs[k][0], 1))
    out = [None]*len(jobs)
    with mp.get_context('spawn').Pool(procs) as p:
        for k,r in p.imap_unordered(_job_at, [(k, jobs[k]) for k in order]):
            out[k] = r
            print(f"{r[0]} {r[1]}: RMSE {r[3]:.4f}, {r[5]:.1f} CPU s, {r[2]}", flush=True)
    return out

def _job_at(a): return a[0], job(a[1])

COST = {'surprise SVD++': 10, 'mlp': 5, 'dot_fastbook': 4, 'dot_tuned': 3, 'autorec': 2}  # rough relative fit times

# `--tune`: recfast's own `tune` (Optuna) on the valid split, one study per searched model, its first trial the hand
# recipe (`HAND`: chosen by a hand grid of 37 recipes in four rounds before `tune` existed; git history has it). The
# factories' arguments `tune` does not search (the batch size, `y_range`, AutoRec's noise) stay the hand recipe's.
BUDGET = float(os.environ.get('BENCH_TUNE_BUDGET', 600))  # seconds per study, one torch thread
STUDIES = report.RESULTS/'explicit_tuning'
SEARCHED = {'dot_tuned': 'dot', 'mlp': 'mlp', 'autorec': 'autorec'}
FIXED = {'dot': ('y_range',), 'mlp': ('y_range',), 'autorec': ('noise',)}  # factory arguments kept, not searched

def start(name):
    "The hand recipe of `name` as the parameters of its arch's search space (the study's first trial)"
    mlp = dict(layers='100,50', embed_p=0.) if name=='mlp' else {}  # `mlp_learner`'s defaults, named as its space does
    return {**mlp, **{k: HAND[name][k] for k in ('n_factors', 'wd', 'lr', 'epochs') if k in HAND[name]}}

def valid_loaders(name, seed=0):
    "The valid split's loaders for `name` at its recipe's batch size"
    trn,val = valid_split()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        if name=='autorec': return SparseVectorDataLoaders.from_df(trn, by='item', valid_df=val, bs=HAND[name]['bs'],
                                                                   seed=seed, device='cpu')
        return RatingsDataLoaders.from_df(trn, valid_df=val, bs=HAND[name]['bs'], seed=seed)

def search(name):
    "Job: `tune` `name`'s arch on the valid split, its first trial the hand recipe; `(name, tune's recipe)`"
    from recfast.tune import tune, search_space
    torch.set_num_threads(1)
    arch = SEARCHED[name]
    rec,_ = tune(valid_loaders(name), arch=arch, n_trials=10_000, timeout=BUDGET, seed=0, path=STUDIES,
                 space=report.with_starts(search_space(arch), start(name)),
                 show=False, **{k: HAND[name][k] for k in FIXED[arch]})
    return name, rec

def best_of(name):
    "The best trial of `name`'s study as a recipe (`None` without a study)"
    s = report.study(STUDIES/f'study_{SEARCHED[name]}.json')
    if s is None: return None
    r = s['recipe']
    kw = {k: v for k,v in r['kwargs'].items() if k not in FIXED[SEARCHED[name]]}  # (JSON made tuples lists)
    return {**HAND[name], **kw, 'epochs': r['epochs'], 'lr': r['lr']}

def seeds3(job):
    "Job: valid RMSE of `(name, recipe)` with seeds 0, 1 and 2"
    name,r = job
    torch.set_num_threads(1)
    fit = fit_autorec if name=='autorec' else partial(fit_collab, arch=SEARCHED[name])
    return name, r, [run(fit, *valid_split(), **{**r, 'seed': s})[0] for s in (0, 1, 2)]

SEEDS3 = 'valid RMSE, seeds 0-2'  # the hand recipe and the study's best, each refitted with three seeds

def chosen(name):
    """The study's best recipe where, refitted with seeds 0-2, its mean valid RMSE beats the hand recipe's by more than
    either's spread over the seeds (a study's best is picked among many trials on one seed: optimistic), else the hand
    recipe"""
    conf = {r['recipe']: r for r in report.saved('explicit_tuning') if r['metric']==SEEDS3 and r['model']==label(name)}
    return report.study_or_hand(HAND[name], best_of(name), conf, partial(recipe_text, name), name)

def label(name): return GRID_NAMES.get(name, NAMES[name])

def confirm(procs, rows):
    "The hand recipes and the studies' best with seeds 0-2 (`procs` at a time): `rows` with theirs added"
    import multiprocessing as mp
    bests = {n: best_of(n) for n in SEARCHED}
    jobs = [(n, HAND[n]) for n in SEARCHED] + [(n, b) for n,b in bests.items() if b not in (None, HAND[n])]
    with mp.get_context('spawn').Pool(procs) as p: out = p.map(seeds3, jobs)
    rows = [r for r in rows if r['metric']!=SEEDS3] + [
        report.row('explicit', label(n), TUNE_DATA, f'{TUNE_PROTO}; seeds 0-2 (mean, std)', SEEDS3, float(np.mean(v)),
                   std=float(np.std(v, ddof=1)), n=3, recipe=recipe_text(n, r),
                   suite='explicit-u1-valid') for n,r,v in out]
    report.save(rows, 'explicit_tuning')
    for n,c in ((n, chosen(n)) for n in SEARCHED):
        print(f"{n}: {'the hand recipe' if c is HAND[n] else 'the study'}: {recipe_text(n, c)}", flush=True)

def tune_all(procs):
    "One study per searched model (`procs` at a time), every finished trial a row of explicit_tuning.json; `confirm`"
    import multiprocessing as mp
    from recfast.tune import plot_study
    with mp.get_context('spawn').Pool(procs) as p: out = p.map(search, list(SEARCHED))
    rows = []
    for name,rec in out:
        s = report.study(rec['study'])
        plot_study(rec['study'], Path(rec['study']).with_suffix('.png'))
        rows += [report.row('explicit', label(name), TUNE_DATA, f"{TUNE_PROTO}; `tune`, {BUDGET/60:.0f}-minute "
                            f"budget, trial {t['number']}{' (the recipe before the search)' if t['number']==0 else ''}",
                            'valid RMSE', t['value'], t['seconds'], suite='explicit-u1-valid',
                            recipe=', '.join(f'{k} {v}' for k,v in t['params'].items()))
                 for t in s['trials'] if t['state']=='COMPLETE']
    confirm(procs, rows)

TUNE_DATA,TUNE_PROTO = 'ML-100K u1.base, random 10% held out (seed 0)','tuning split: 90% of u1.base train, 10% valid'
GRID_NAMES = {'dot_tuned': 'recfast `dot` (`dot_learner`)'}  # a study's `dot` trials: not the fastbook or chosen one

NAMES = {'global mean': 'global mean (training ratings)',
         'user + item bias (damped means)': 'user + item bias baseline (damped means, Koren 2010)',
         'dot_fastbook': 'recfast `dot` (`dot_learner`), fastbook recipe',
         'dot_tuned': 'recfast `dot` (`dot_learner`), recipe tuned on valid',
         'mlp': 'recfast `mlp` (`mlp_learner`, layers [100, 50])',
         'autorec': 'recfast `autorec` (I-AutoRec, `autoencoder_learner`, 500 sigmoid units)',
         'surprise BaselineOnly': 'scikit-surprise BaselineOnly (defaults)', 'surprise SVD': 'scikit-surprise SVD (defaults)',
         'surprise SVD++': 'scikit-surprise SVD++ (defaults)'}
RECFAST = ('dot_fastbook', 'dot_tuned', 'mlp', 'autorec')

def recipe_text(name, r=None):
    r = RECIPES.get(name) if r is None else r
    if r is None: return {'global mean': 'mean of the training ratings', 'user + item bias (damped means)': 'item damping 25, user damping 10',
                          }.get(name, ('library defaults, random_state 0' + (', cache_ratings=True (same model, faster)' if '++' in name else '')) if 'SVD' in name else 'library defaults (ALS)')
    sched = f"fit_one_cycle({r['epochs']}, {r['lr']:g}), bs {r['bs']}"
    kw = ', '.join(f"{k}={v}" for k,v in r.items() if k not in ('epochs', 'lr', 'bs'))
    return f"{kw}; {sched}"

HAND = {n: dict(RECIPES[n]) for n in SEARCHED}  # the recipes before `tune`: each study's first trial
RECIPES.update({n: chosen(n) for n in SEARCHED})  # the studies' best, where they beat them beyond the seeds' spread

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--quick', action='store_true', help='u1 only, no SVD++: a smoke test (writes nothing)')
    p.add_argument('--tune', action='store_true', help="search `dot`, `mlp` and `autorec` with recfast's `tune` on the "
                   'valid split, each from its recipe (BENCH_TUNE_BUDGET seconds each, 600 by default)')
    p.add_argument('--confirm', action='store_true', help="refit the hand recipes and the saved studies' best with "
                   'seeds 0-2 (what `--tune` ends with)')
    p.add_argument('--procs', type=int, default=2, help='worker processes (one torch thread each)')
    a = p.parse_args()
    torch.set_num_threads(1)
    t_all = report.Stopwatch()
    if a.tune: return tune_all(a.procs)
    if a.confirm: return confirm(a.procs, report.saved('explicit_tuning'))
    try: import surprise; peers = ['surprise BaselineOnly', 'surprise SVD', 'surprise SVD++']
    except ImportError as e: surprise, peers = None, []; print(f'scikit-surprise not importable ({e}): its rows are skipped', flush=True)
    if a.quick: peers = [q for q in peers if q!='surprise SVD++']
    models = ['global mean', 'user + item bias (damped means)', *RECFAST, *peers]
    folds = FOLDS[:1] if a.quick else FOLDS
    jobs = [(m, f, RECIPES.get(m, {})) for m in models for f in folds]
    jobs += [(m, 'valid', RECIPES.get(m, {})) for m in ('user + item bias (damped means)', *RECFAST)]
    res = pool_map(jobs, a.procs)
    test = {m: {f: (r, c) for n,f,_,r,t,c in res if n==m and f!='valid'} for m in models}
    valid = {n: (r, c) for n,f,_,r,t,c in res if f=='valid'}
    stats = {m: dict(folds=[test[m][f][0] for f in folds], secs=float(np.mean([test[m][f][1] for f in folds]))) for m in models}
    for s in stats.values(): s.update(mean=float(np.mean(s['folds'])), std=float(np.std(s['folds'], ddof=1)) if len(folds)>1 else None)
    ranked = sorted(models, key=lambda m: stats[m]['mean'])
    best = min(RECFAST, key=lambda m: stats[m]['mean'])
    dot = min(('dot_fastbook', 'dot_tuned'), key=lambda m: stats[m]['mean'])
    bias = stats['user + item bias (damped means)']
    print(f"best recfast model's mean RMSE: {NAMES[best]} {stats[best]['mean']:.4f} (issue #12's bar: <= 0.89); "
          f"`dot` alone: {stats[dot]['mean']:.4f} (bar: <= 0.905)")
    if a.quick: return
    R = lambda *x, **k: report.row('explicit', *x, **k)
    data_txt = 'ML-100K u1..u5 (u{k}.base / u{k}.test)'
    rows = []
    for m in ranked:
        s = stats[m]
        base = () if m=='user + item bias (damped means)' else ('user + item bias baseline', bias['mean'])
        rows.append(R(NAMES[m], data_txt, PROTOCOL, 'test RMSE', s['mean'], s['secs'], *base, suite='explicit-u1u5',
                      std=s['std'], n=len(folds), recipe=recipe_text(m), published=PUBLISHED))
        rows += [R(NAMES[m], data_txt, PROTOCOL, f'{f} test RMSE', v, s['secs'], *base[:1], *(() if not base else (b,)),
                   suite='explicit-u1u5', recipe=recipe_text(m)) for f,v,b in zip(folds, s['folds'], bias['folds'])]
    for m,(v,c) in valid.items():
        rows.append(R(NAMES[m], TUNE_DATA, TUNE_PROTO, 'valid RMSE', v, c, suite='explicit-u1-valid', recipe=recipe_text(m)))
    rows.append(R('the whole explicit bench', data_txt, f'wall-clock seconds, {a.procs} worker processes, one torch thread each',
                  time_s=t_all(), suite=report.speed_suite('explicit', data_txt)))
    report.save(rows, 'explicit')

if __name__=='__main__': main()
