"""Issue #4 benchmark: autoencoders for collaborative filtering.

Runs, in one go and on the same machine:
1. I-AutoRec on MovieLens 100K, 90/10 random split (seed 42): valid RMSE on the held-out ratings, against the
   global-mean and item-mean baselines of the same split.
2. The deep SELU autoencoder on the same split and seed, without and with dense refeeding.
With `--robust` (issue #12) only: I-AutoRec trained long (LONG epochs) with the previous defaults (coupled L2 1e-3, no
noise) and the current regularised defaults (the same + masking noise 0.25, Strub & Mary 2015), against 8 epochs, which
also measures the masking noise against no noise; written to bench/results/autoenc_robust.json.
3. Speed and peak memory of the sparse path against a naive dense pivot of the rating matrix, at ML-100K size and at
   a synthetic 100k users x 20k items x 5M ratings (the dense pivot is not run there: its size is computed).
Each speed/memory measurement runs in its own child process so its peak RSS is its own.

    PYTHONPATH=. FASTAI_HOME=... python bench/bench_autoenc.py [--quick]

Writes the figures as report rows to bench/results/autoenc.json (bench/report.py). The per-epoch valid RMSE of the
deep autoencoder is in the docs notebook.
"""
import argparse, json, os, resource, subprocess, sys, warnings
from pathlib import Path
warnings.simplefilter('ignore')

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench import report

def _rss_mb(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024  # peak RSS so far, MB (Linux: KB)


# --- children: one measurement each, printing one JSON line --------------------------------------------------------

def child(kind, epochs):
    import numpy as np, pandas as pd, torch
    from fastai.basics import Learner, set_seed
    from fastai.callback.training import ShortEpochCallback
    import fastai.callback.progress
    from recfast.autoencoder.data import SparseVectorDataLoaders
    from recfast.autoencoder.learner import autoencoder_learner
    from recfast.autoencoder.models import AutoRec
    from recfast.autoencoder.training import MaskedMSELoss, MaskedRMSE
    from recfast.core import TensorDL, Tensors
    from recfast.fast import FastAdam
    from recfast.datasets import movielens_100k
    from functools import partial
    torch.set_num_threads(1)
    if kind.endswith('ml100k'):
        df = movielens_100k(titles=False)
        by,bs = 'item',64
    else:
        rng = np.random.default_rng(0)
        n_users,n_items,n = 100_000,20_000,5_000_000
        codes = np.unique(rng.integers(0, n_users*n_items, int(n*1.01)))[:n]
        rng.shuffle(codes)
        df = pd.DataFrame({'user': codes//n_items, 'item': codes%n_items, 'rating': rng.integers(1, 6, n).astype(np.float32)})
        del codes
        by,bs = 'user',64
    base = _rss_mb()
    t0 = report.Stopwatch()
    if kind.startswith('sparse'):
        dls = SparseVectorDataLoaders.from_df(df, by=by, seed=42, bs=bs)
        m = dls.matrix
        data_bytes = sum(t.numel()*t.element_size() for t in (m.indptr, m.indices, m.values))
        data_bytes += sum(t.numel()*t.element_size() for t in (dls.valid.dataset.targ.indptr, dls.valid.dataset.targ.indices, dls.valid.dataset.targ.values))
        learn = autoencoder_learner(dls, noise=0.)  # the dense pivot's model and loss: the data paths compared on the same work
    else:  # naive: pivot the split to two dense tables (train ratings, held-out ratings), index rows of the tables
        r,c = (df.columns[1],df.columns[0]) if by=='item' else (df.columns[0],df.columns[1])
        perm = np.random.default_rng(42).permutation(len(df)); nv = int(round(0.1*len(df)))
        trn,val = df.iloc[perm[nv:]],df.iloc[perm[:nv]]
        rows,cols = sorted(df[r].unique()),sorted(df[c].unique())
        piv = lambda d: torch.tensor(d.pivot(index=r, columns=c, values='rating').reindex(index=rows, columns=cols).fillna(0).to_numpy(np.float32))
        T,V = piv(trn),piv(val)
        data_bytes = (T.numel()+V.numel())*4
        has_t,has_v = (T!=0).any(1),(V!=0).any(1)
        from fastai.data.core import DataLoaders
        dls = DataLoaders(TensorDL(Tensors(T[has_t], T[has_t]), bs=bs, shuffle=True), TensorDL(Tensors(T[has_v], V[has_v]), bs=bs))
        lo,hi = float(df.rating.min()),float(df.rating.max())
        learn = Learner(dls, AutoRec(T.shape[1], 500, y_range=(lo,hi)), loss_func=MaskedMSELoss(),
                        opt_func=partial(FastAdam, decouple_wd=False), wd=1e-3, metrics=[MaskedRMSE((lo,hi))])
    build_s = t0()
    n_batches = len(dls.train)
    def one_epoch():
        for _ in dls.train: pass
    _,data_epoch_s = report.timed(one_epoch)
    cbs = []
    if kind.endswith('synth'):
        k = 40
        cbs = [ShortEpochCallback(pct=k/n_batches, short_valid=True)]
    set_seed(42)
    def go():
        with learn.no_bar(), learn.no_logging(): learn.fit(epochs, 1e-3, cbs=cbs)
    _,dt = report.timed(go)
    if kind.endswith('synth'):
        done = int(k)+1  # ShortEpochCallback stops once iter/n_iter >= pct (after the k-th batch)
        epoch_s = dt/epochs/done*n_batches
        rmse = None
    else:
        epoch_s,rmse = dt/epochs,learn.recorder.values[-1][-1]
    print(json.dumps(dict(kind=kind, build_s=build_s, data_epoch_s=data_epoch_s, epoch_s=epoch_s, peak_mb=_rss_mb(), base_mb=base, data_mb=data_bytes/2**20,
                          n_batches=n_batches, rmse=rmse)))

def run_child(kind, epochs):
    out = subprocess.run([sys.executable, __file__, '--child', kind, '--epochs', str(epochs)], capture_output=True, text=True,
                         env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
    if out.returncode: raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- quality in-process ------------------------------------------------------------------------------------------------

def quality(quick, robust_only=False, long=None, long_lr=None):
    import torch
    from fastai.basics import set_seed
    import fastai.callback.schedule, fastai.callback.progress
    from recfast.autoencoder.data import SparseVectorDataLoaders
    from recfast.autoencoder.learner import autoencoder_learner
    from recfast.autoencoder.training import RefeedCallback
    from recfast.datasets import movielens_100k
    torch.set_num_threads(1)
    df = movielens_100k(titles=False)
    dls = SparseVectorDataLoaders.from_df(df, by='item', seed=42, bs=64)
    m = dls.matrix
    gm = m.values.mean()
    sums = torch.zeros(len(m)).index_add_(0, m.coo()[0], m.values)
    im = torch.where(m.row_lengths()>0, sums/m.row_lengths().clamp(min=1), gm)
    vr,_,vv = dls.valid.dataset.targ.coo()
    base = dict(glob=float(((gm-vv)**2).mean().sqrt()), item=float(((im[vr]-vv)**2).mean().sqrt()))
    res = {}
    def fit(name, n, lr, **kw):
        d = SparseVectorDataLoaders.from_df(df, by='item', seed=42, bs=64)  # same split and shuffling for every run
        set_seed(42)
        learn = autoencoder_learner(d, **kw)
        def go():
            with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(n, lr)
        _,t = report.timed(go)
        cb = learn.cbs.filter(lambda c: isinstance(c, RefeedCallback))
        res[name] = dict(rmse=learn.recorder.values[-1][-1], best=min(v[-1] for v in learn.recorder.values), epoch_s=t/n, refeed_loss=cb[0].refeed_loss if cb else None, n=n, lr=lr, kw=kw)
    fit('autorec', 8, 3e-3)
    long = 5 if quick else LONG if long is None else long
    long_lr = LONG_LR if long_lr is None else long_lr
    if robust_only:
        fit('autorec_old', 8, 3e-3, **OLD_AUTOREC)
        fit('autorec_old_long', long, long_lr, **OLD_AUTOREC)
        fit('autorec_long', long, long_lr)
        return base,res
    ep = 3 if quick else 15
    fit('deep', ep, 1e-3, arch='deep')
    fit('deep_refeed', ep, 1e-3, arch='deep', refeed=1)
    return base,res


def robust_report(base, res, quick, t_all):
    "The I-AutoRec rows of issue #12 alone: `autoenc_robust.json`"
    ar,ol,nl,o8 = res['autorec'],res['autorec_old_long'],res['autorec_long'],res['autorec_old']
    split = 'ML-100K, 90/10 random split seed 42'
    R = lambda *a, **k: report.row('autoenc', *a, suite='autoenc-90-10', **k)
    jrows = [R('I-AutoRec, current defaults (masking noise 0.25)', split, 'fit_one_cycle(8, 3e-3), bs 64', 'valid RMSE', ar['rmse'], None, 'previous defaults (no noise), same schedule', o8['rmse']),
             R('I-AutoRec, current defaults (masking noise 0.25), trained long', split, f"fit_one_cycle({nl['n']}, {nl['lr']:g}), bs 64; best epoch's RMSE {nl['best']:.4f}", 'valid RMSE', nl['rmse'], None,
               'same defaults, fit_one_cycle(8, 3e-3)', ar['rmse']),
             R('I-AutoRec, previous defaults (Adam + L2 1e-3, no noise), trained long', split, f"fit_one_cycle({ol['n']}, {ol['lr']:g}), bs 64; best epoch's RMSE {ol['best']:.4f}", 'valid RMSE', ol['rmse'], None,
               'same defaults, fit_one_cycle(8, 3e-3)', o8['rmse']),
             R('I-AutoRec, masking noise (Strub & Mary 2015) vs none, trained long', split, f"fit_one_cycle({nl['n']}, {nl['lr']:g}), bs 64", 'valid RMSE', nl['rmse'], None,
               'no noise (previous defaults), same schedule', ol['rmse'])]
    jrows.append(report.row('autoenc', 'the whole autoencoder bench, --robust', split, 'wall-clock seconds, 1 torch thread', time_s=t_all(),
                            suite=report.speed_suite('autoenc', split)))
    print(jrows)
    if not quick: report.save(jrows, 'autoenc_robust')

LONG,LONG_LR = 20,3e-3  # the long schedule of the robustness rows (`--long 100 --long-lr 1e-3`: the fit_one_cycle(100, 1e-3))
OLD_AUTOREC = dict(noise=0.)  # AutoRec's defaults before issue #12: Adam + coupled L2 1e-3, no masking noise
NEW_AUTOREC = 'Adam + L2 1e-3, masking noise 0.25, alpha = beta = 1'  # the current defaults

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--child'); p.add_argument('--epochs', type=int, default=3); p.add_argument('--quick', action='store_true')
    p.add_argument('--robust', action='store_true', help='only the I-AutoRec rows of issue #12 (defaults, long training, noise), '
                   'written to bench/results/autoenc_robust.{md,json}')
    p.add_argument('--long', type=int, default=LONG); p.add_argument('--long-lr', type=float, default=LONG_LR)
    a = p.parse_args()
    if a.child: return child(a.child, a.epochs)
    t_all = report.Stopwatch()
    base,res = quality(a.quick, a.robust, a.long, a.long_lr)
    if a.robust: return robust_report(base, res, a.quick, t_all)
    sp,dn = run_child('sparse_ml100k', 1 if a.quick else 3),run_child('dense_ml100k', 1 if a.quick else 3)
    syn = run_child('sparse_synth', 1)
    dense_synth_gb = 2*100_000*20_000*4/1e9  # train + held-out pivots, float32
    ar,d0,d1 = res['autorec'],res['deep'],res['deep_refeed']
    def R(model, data, protocol, metric=None, *a, **k):
        "A row: the valid RMSEs in the 90/10 protocol, every other figure (time, memory, a loss) a speed row of its data"
        suite = 'autoenc-90-10' if metric and 'RMSE' in metric else report.speed_suite('autoenc', data)
        return report.row('autoenc', model, data, protocol, metric, *a, suite=suite, **k)
    split,ml,syn_data = 'ML-100K, 90/10 random split seed 42','ML-100K item vectors','synthetic 100k users x 20k items x 5M ratings, by=user'
    dense_mb = dense_synth_gb*1e9/2**20
    jrows = [
        R('I-AutoRec (500 sigmoid units, sigmoid_range(1,5))', split, f'{NEW_AUTOREC}, fit_one_cycle(8, 3e-3), bs 64', 'valid RMSE', ar['rmse'], None,
          f"item mean (global mean {base['glob']:.4f})", base['item']),
        R('deep autoencoder 944-512-512-1024-512-512-944, SELU, dropout 0.8', split, f"AdamW wd 1e-3, fit_one_cycle({d0['n']}, 1e-3), bs 64",
          'valid RMSE', d0['rmse'], None, 'item mean', base['item']),
        R('deep autoencoder + `RefeedCallback(n_refeed=1)`', split, 'same model, split, seed and schedule', 'valid RMSE', d1['rmse'], None,
          'no refeeding', d0['rmse']),
        R('deep autoencoder + dense refeeding', ml, 'epoch time, bs 64, 1 thread', None, None, d1['epoch_s'], 'no refeeding', None, d0['epoch_s']),
        R('I-AutoRec, sparse rating vectors', ml, 'epoch time, bs 64, fit(3), 1 thread, no masking noise (same model and loss as the pivot)', None, None, sp['epoch_s'], 'dense pivot', None, dn['epoch_s']),
        R('sparse rating vectors, data path only', ml, 'one epoch of batches, bs 64, no model', None, None, sp['data_epoch_s'], 'dense pivot', None, dn['data_epoch_s']),
        R('sparse rating vectors', 'ML-100K: train + held-out matrices', 'data held in memory', 'data in memory (MB)', sp['data_mb'], None, 'dense pivot', dn['data_mb']),
        R('I-AutoRec, sparse rating vectors', 'ML-100K', f"peak RSS of its own child process, building + training (RSS after imports and the ratings frame: {sp['base_mb']:.0f})",
          'peak RSS (MB)', sp['peak_mb'], None, 'dense pivot', dn['peak_mb']),
        R('sparse rating vectors', syn_data, 'data held in memory', 'data in memory (MB)', syn['data_mb'], None,
          f'dense pivots, 2 x {dense_mb/2:.0f} MB (computed, not run)', dense_mb),
        R('AutoRec 20k-500-20k, sparse rating vectors', syn_data,
          f"building the loaders + 40 training batches (bs 64); RSS after imports and the 5M-row frame: {syn['base_mb']:.0f} MB", 'peak RSS (MB)', syn['peak_mb'], None,
          f"dense pivot: at least {syn['base_mb']:.0f} + {dense_synth_gb*1e3:.0f} (computed, not run)", syn['base_mb']+dense_synth_gb*1e3),
        R('SparseVectorDataLoaders.from_df', syn_data, 'building the loaders: checks, vocabularies, seeded split, CSR', None, None, syn['build_s']),
        R('sparse rating vectors, data path only', syn_data, f"{syn['n_batches']} batches of 64 densified 20k-item vectors, no model", None, None,
          syn['data_epoch_s'], 'dense pivot: not run'),
        R('AutoRec 20k-500-20k, sparse rating vectors', syn_data, f"epoch time: {syn['n_batches']} batches of 64 users, extrapolated from 40 timed batches",
          None, None, syn['epoch_s'], 'dense pivot: not run (needs 16 GB)'),
    ]
    jrows += [R('I-AutoRec (500 sigmoid units, sigmoid_range(1,5))', split, f'{NEW_AUTOREC}, fit_one_cycle(8, 3e-3), bs 64', 'best-epoch valid RMSE', ar['best']),
              R('deep autoencoder 944-512-512-1024-512-512-944, SELU, dropout 0.8', split, f"AdamW wd 1e-3, fit_one_cycle({d0['n']}, 1e-3), bs 64", 'best-epoch valid RMSE', d0['best']),
              R('deep autoencoder + `RefeedCallback(n_refeed=1)`', split, 'same model, split, seed and schedule', 'best-epoch valid RMSE', d1['best']),
              R('deep autoencoder + `RefeedCallback(n_refeed=1)`', ml, 'mean loss of the refeed steps (one extra optimizer step per batch on (f(x), f(x))), last epoch',
                'refeed-step loss', d1['refeed_loss']),
              R('the whole autoencoder bench', 'ML-100K', 'wall-clock seconds, 1 torch thread', time_s=t_all())]
    print(jrows)
    if not a.quick: report.save(jrows, 'autoenc')

if __name__=='__main__': main()
