"""Explicit ratings, fastbook protocol: recfast vs fastai's `collab_learner` vs a plain PyTorch loop, same split, one run.

ML-100K joined with titles (item = title), random 20% valid (same permutation for all paths), bs=64,
fit_one_cycle(5, 5e-3, wd=0.1), 50 factors. Writes the figures as report rows in bench/results/collab.json (see
bench/report.py): fit CPU seconds (ratios use them), and the wall-clock fit and data (loader building) seconds beside them.
fastai's own path runs twice: in a fresh process that never imports recfast (stock fastai, the baseline), and in
this process with the `collab_learner` given recfast's fast path by `recfast.fast.to_fast` (recfast does not patch
fastai: importing it leaves fastai's classes as they are).
Usage: python bench/bench_collab.py [--epochs 5] [--seed 42] [--skip-fastai]
"""
import os, sys, json, warnings, subprocess
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import report  # (serves the datasets from ../shared/data offline)
from fastcore.script import call_parse
import torch
import torch.nn.functional as F
import fastai

def _ratings():
    "The fastbook's frame: ML-100K ratings joined with titles (what `recfast.datasets.movielens_100k` returns)"
    import pandas as pd
    from fastai.data.external import untar_data, URLs
    path = untar_data(URLs.ML_100k)
    df = pd.read_csv(path/'u.data', sep='\t', header=None, names=['user','movie','rating','timestamp'])
    movies = pd.read_csv(path/'u.item', sep='|', encoding='latin-1', usecols=(0,1), names=('movie','title'), header=None)
    return df.merge(movies, on='movie', how='left')[['user','title','rating']]

def fastai_path(epochs, seed, lr, wd, fast=False):
    "fastai's `CollabDataLoaders` + `collab_learner` (given `to_fast`'s fast path if `fast`) after a warm-up fit on 5,000 rows: valid MSE and times"
    from fastai.collab import CollabDataLoaders, collab_learner
    from fastai.torch_core import set_seed
    conv = lambda learn: learn
    if fast:
        from recfast.fast import to_fast
        conv = to_fast
    ratings = _ratings()
    def fit(learn, n):
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(n, lr, wd=wd)
    fit(conv(collab_learner(CollabDataLoaders.from_df(ratings.iloc[:5000], item_name='title', bs=64, seed=seed), n_factors=50, y_range=(0,5.5))), 1)
    # CPU seconds of this process (robust on a shared machine with 1 torch thread), and wall seconds
    fdls, t_fdata = report.timed(CollabDataLoaders.from_df, ratings, item_name='title', bs=64, seed=seed, cpu=True)
    set_seed(seed); flearn = conv(collab_learner(fdls, n_factors=50, y_range=(0,5.5)))
    sw = report.Stopwatch(); fit(flearn, epochs); t_ffit,w_ffit = sw.cpu(),sw()
    return dict(mse=float(flearn.recorder.values[-1][1]), fit=t_ffit, wall=w_ffit, data=t_fdata)

def stock_fastai(epochs, seed, lr, wd, threads, reps):
    "`fastai_path` in a fresh process that imports fastai only: stock fastai"
    cmd = [sys.executable, __file__, '--fastai-only', '--epochs', str(epochs), '--seed', str(seed), '--lr', str(lr),
           '--wd', str(wd), '--threads', str(threads), '--reps', str(reps)]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, 'PYTHONWARNINGS':'ignore'})
    if r.returncode: raise RuntimeError(r.stderr[-3000:])
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert not res.pop('recfast_imported'), 'the stock fastai run imported recfast'
    return res

def _mse(model, x, y, bs=4096):
    model.eval()
    with torch.no_grad(): return float(sum(F.mse_loss(model(a), b, reduction='sum') for a,b in zip(x.split(bs), y.split(bs)))/len(x))

def plain_loop(dls, epochs, lr, wd, n_factors=50, y_range=(0,5.5)):
    "The same model in a hand-written loop: fused AdamW (fastai's Adam defaults), OneCycleLR, vectorized batches"
    from recfast.collab.models import DotProductBias
    xt,yt = dls.train.dataset.ts; xv,yv = dls.valid.dataset.ts
    model = DotProductBias(dls.n_users, dls.n_items, n_factors, y_range)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.95,0.99), eps=1e-5, weight_decay=wd, fused=True)
    bs,n = dls.train.bs,len(xt); nb = (n+bs-1)//bs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs*nb, pct_start=0.25, div_factor=25.,
                                                final_div_factor=1e5, base_momentum=0.85, max_momentum=0.95)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n)
        for i in range(nb):
            idx = perm[i*bs:(i+1)*bs]
            loss = F.mse_loss(model(xt[idx]), yt[idx])
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        mse = _mse(model, xv, yv)
    return mse

@call_parse
def main(epochs:int=5, seed:int=42, lr:float=5e-3, wd:float=0.1, skip_fastai:bool=False, threads:int=1,
         reps:int=2, # time every path this many times (interleaved) and keep the fastest
         fastai_only:bool=False, # internal: run `fastai_path` only and print it as JSON
         out:str='bench/results/collab.json'):
    torch.set_num_threads(threads)
    if fastai_only:
        warnings.simplefilter('ignore')
        res = min((fastai_path(epochs, seed, lr, wd) for _ in range(reps)), key=lambda r: r['fit'])
        return print(json.dumps({**res, 'recfast_imported': any(m.split('.')[0]=='recfast' for m in sys.modules)}))
    from fastai.torch_core import set_seed
    from recfast.datasets import movielens_100k
    from recfast.collab.data import RatingsDataLoaders
    from recfast.collab.learner import dot_learner, mlp_learner
    ratings = movielens_100k()[['user','title','rating']]
    # recfast (duplicates kept so every path trains on the same 100,000 rows and the same permutation)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dls, t_data = report.timed(RatingsDataLoaders.from_df, ratings, seed=seed, bs=64, duplicates='keep', cpu=True)
    def fit(learn, n=epochs):
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(n, lr, wd=wd)
        return learn
    # warm every path up on a small slice first: the first fit of a process pays one-off costs (lazy imports,
    # kernel selection, allocator growth) of several seconds that would otherwise land on whichever path runs first
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        wdls = RatingsDataLoaders.from_df(ratings.iloc[:5000], seed=seed, bs=64, duplicates='keep')
    fit(dot_learner(wdls), 1); fit(mlp_learner(wdls), 1); plain_loop(wdls, 1, lr, wd)
    def run_dot():
        set_seed(seed); sw = report.Stopwatch(); learn = fit(dot_learner(dls, n_factors=50))
        return dict(mse=float(learn.recorder.values[-1][1]), fit=sw.cpu(), wall=sw(), data=t_data)
    def run_plain():
        set_seed(seed); sw = report.Stopwatch(); mse = plain_loop(dls, epochs, lr, wd)
        return dict(mse=mse, fit=sw.cpu(), wall=sw())
    rfs,pls = [],[]
    for _ in range(reps):  # interleaved, so a busy spell of the machine does not land on one path only
        rfs.append(run_dot()); print('recfast', rfs[-1], flush=True)
        pls.append(run_plain()); print('plain', pls[-1], flush=True)
    best = lambda rs: min(rs, key=lambda r: r['fit'])
    rf,pl = best(rfs),best(pls)
    set_seed(seed); sw = report.Stopwatch(); learn_nn = fit(mlp_learner(dls, layers=[100,50]))
    nn_res = dict(mse=float(learn_nn.recorder.values[-1][1]), fit=sw.cpu(), wall=sw())
    print('recfast mlp', nn_res, flush=True)
    if not skip_fastai:
        fa = stock_fastai(epochs, seed, lr, wd, threads, reps)  # the baseline: fastai as its users have it
        print('fastai (stock, own process)', fa, flush=True)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            fp = best([fastai_path(epochs, seed, lr, wd, fast=True) for _ in range(reps)])
        print('fastai + to_fast', fp, flush=True)
    t_pl = pl['fit']
    data = f"ML-100K ({len(ratings):,} ratings, item = title), 80/20 random split seed {seed}, the same for every path"
    proto = (f"fit_one_cycle({epochs}, {lr}), wd {wd}, bs 64, 50 factors; fit time in CPU seconds, {threads} torch thread(s), "
             f"after a warm-up fit of every path, fastest of {reps} interleaved runs")
    R = lambda model, r, *base, **kw: report.row('collab', model, data, proto, 'valid MSE', r['mse'], r['fit'], *base,
                                                 suite='fastbook-mse', **kw)
    fa_base = () if skip_fastai else ('stock fastai `collab_learner` (own process)', fa['mse'], fa['fit'])
    rows = [] if skip_fastai else [
        R('fastai `CollabDataLoaders` + `collab_learner` (stock fastai, own process)', fa, 'plain PyTorch loop, same model', pl['mse'], t_pl, ratio_of='time'),
        R("fastai `collab_learner` given recfast's fast path (`to_fast`)", fp, *fa_base, ratio_of='time')]
    rows += [R('plain PyTorch loop, same model (fused AdamW + OneCycleLR)', pl, *fa_base, ratio_of='time'),
             R('recfast `dot_learner`', rf, *fa_base, ratio_of='time'),
             R('recfast `dot_learner` against the plain loop', rf, 'plain PyTorch loop, same model', pl['mse'], t_pl, ratio_of='time'),
             R('recfast `mlp_learner` (layers [100, 50])', nn_res)]
    paths = ([] if skip_fastai else [('fastai `CollabDataLoaders` + `collab_learner` (stock fastai, own process)', fa),
                                      ("fastai `collab_learner` given recfast's fast path (`to_fast`)", fp)])
    paths += [('plain PyTorch loop, same model (fused AdamW + OneCycleLR)', pl), ('recfast `dot_learner`', rf),
              ('recfast `mlp_learner` (layers [100, 50])', nn_res)]
    sproto = f'the fits above: wall-clock seconds, and CPU seconds to build the loaders; {threads} torch thread(s)'
    rows += [report.row('collab', m, data, sproto, metric, r[k], suite=report.speed_suite('collab', data))
             for m,r in paths for k,metric in (('wall', 'wall-clock fit (s)'), ('data', 'data (CPU s)')) if k in r]
    report.save(rows, out)
