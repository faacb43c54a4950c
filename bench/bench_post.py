"""The three models of Fast Forward Labs' "PyTorch for Recommenders 101" (2018) on its scale, with recfast (issue #12).

Protocol: ML-100K, ratings min-max scaled to [0, 1] ((r-1)/4), one random 80/20 split of the rows (seed 42,
`split='random'` in every loader, so every model is scored on the same 20,000 held-out ratings). Tuning never sees
them: each model's learning rate (and epochs) is picked on `test=True` loaders (60% train / 20% valid, the same 20%
test rows held out), then the model is refit with `test=False` (80% train) and scored on the held-out 20%.
Rows: constant global mean (of the training ratings), recfast `dot` (MF), recfast `mlp`, recfast `rating_lstm`
(each held-out rating predicted from the user's training ratings before it in time). The post's figures (test RMSE
on this scale: MF 0.66, MLP 0.28, LSTM 0.43; constant 0.281) come from its own split and are not re-run here.
Writes bench/results/post.json (bench/report.py rows: the test RMSEs, and the tuning split's valid RMSEs).
Usage: python bench/bench_post.py [--quick]
"""
import os, sys, argparse, warnings
from pathlib import Path
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench import report  # (serves the datasets from ../shared/data offline)
import numpy as np, torch
from fastai.callback.schedule import *
from recfast.all import *

SEED, VALID = 42, 0.2

def data():
    r = movielens_100k(titles=False)
    return r.assign(rating=(r.rating-1)/4)[['user','movie','rating','timestamp']]

def loaders(kind, df, test):
    kw = dict(valid_pct=VALID, seed=SEED, split='random', test=test)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # cold users/items in the validation rows, counted by the loaders
        if kind=='rating_lstm': return RatingSequenceDataLoaders.from_df(df, time_name='timestamp', max_len=50, bs=64, **kw)
        return RatingsDataLoaders.from_df(df[['user','movie','rating']], bs=256, **kw)

def fit(kind, dls, lr, epochs):
    set_seed(SEED)
    kw = dict(n_factors=32) if kind=='rating_lstm' else dict(y_range=(-0.05, 1.05), **(dict(n_factors=50) if kind=='dot' else {}))
    learn = recfast_learner(dls, arch=kind, **kw)
    def go():
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, lr, wd=0.1 if kind!='rating_lstm' else 0.)
    _,t = report.timed(go)
    return float(learn.recorder.values[-1][-1]), t

def targets(dls):
    y = dls.valid.dataset.ts[-1]
    return y[~torch.isnan(y)].view(-1)

def main():
    p = argparse.ArgumentParser(); p.add_argument('--quick', action='store_true'); a = p.parse_args()
    torch.set_num_threads(1)
    df = data()
    grid = {'dot':[(5e-3, 5), (1e-2, 5)], 'mlp':[(5e-3, 5), (1e-2, 5)], 'rating_lstm':[(3e-3, 5), (1e-2, 5)]}
    if a.quick: grid = {k:[(v[0][0], 1)] for k,v in grid.items()}
    res, t_all = {}, report.Stopwatch()
    for kind,opts in grid.items():
        tune = loaders(kind, df, test=True)
        tuned = {o: fit(kind, tune, *o) for o in opts}
        scores = {o: v for o,(v,_) in tuned.items()}
        best = min(scores, key=scores.get)
        final = loaders(kind, df, test=False)
        assert len(targets(final))==len(tune.test_df)==round(VALID*len(df)), 'every model is scored on the same held-out rows'
        test_rmse, secs = fit(kind, final, *best)
        res[kind] = dict(tune=scores, tune_s={o: t for o,(_,t) in tuned.items()}, best=best, test=test_rmse, secs=secs)
        print(kind, res[kind], flush=True)
    final = loaders('dot', df, test=False)
    y_trn,y_val = final.train.dataset.ts[1].view(-1),targets(final)
    assert torch.allclose(y_val.sort()[0], targets(loaders('rating_lstm', df, test=False)).sort()[0])
    const = float(((y_val-y_trn.mean())**2).mean().sqrt())
    names = {'dot':'recfast dot (MF, 50 factors, sigmoid_range(-0.05, 1.05))', 'mlp':'recfast mlp (embedding MLP, fastai embedding sizes, layers 100-50, sigmoid_range(-0.05, 1.05))',
             'rating_lstm':'recfast rating_lstm (RatingLSTM, 32 factors, 64 hidden, max_len 50)'}
    proto = 'ML-100K, ratings (r-1)/4 in [0,1], random 80/20 rows (seed 42); lr/epochs tuned on a 60/20/20 split, test rows never seen'
    R = lambda *x, **k: report.row('post', *x, **k)
    jrows = [R('constant global mean (training ratings)', 'ML-100K', proto, 'test RMSE', const, suite='post-rmse')]
    for k,r in res.items():
        jrows.append(R(names[k], 'ML-100K', f"{proto}; fit_one_cycle({r['best'][1]}, {r['best'][0]:g}), picked from {list(r['tune'])}",
                       'test RMSE', r['test'], r['secs'], 'constant global mean', const, suite='post-rmse'))
    tdata = 'ML-100K, ratings (r-1)/4 in [0,1]; tuning split: 60% train / 20% valid (seed 42), the 20% test rows held out'
    jrows += [R(names[k], tdata, 'one fit per (lr, epochs); the lowest valid RMSE is refit on 80% and tested', 'valid RMSE', v,
                r['tune_s'][o], suite=report.own_suite('post', tdata, 'valid RMSE'), recipe=f'fit_one_cycle({o[1]}, {o[0]:g})')
              for k,r in res.items() for o,v in r['tune'].items()]
    jrows.append(R('the whole post bench', 'ML-100K', 'wall-clock seconds, 1 torch thread', time_s=t_all(),
                   suite=report.speed_suite('post', 'ML-100K')))
    if not a.quick: report.save(jrows, 'post')

if __name__=='__main__': main()
