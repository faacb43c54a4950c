"""Issue #4 benchmark: autoencoders for collaborative filtering.

Runs, in one go and on the same machine:
1. I-AutoRec on MovieLens 100K, 90/10 random split (seed 42): valid RMSE on the held-out ratings, against the
   global-mean and item-mean baselines of the same split.
2. The deep SELU autoencoder on the same split and seed, without and with dense refeeding.
With `--robust` (issue #12) only: I-AutoRec trained long (LONG epochs) with the previous defaults (coupled L2 1e-3, no
noise) and the current regularised defaults (the same + masking noise 0.25, Strub & Mary 2015), against 8 epochs, which
also measures the masking noise against no noise; written to bench/results/autoenc_robust.{md,json}.
3. Speed and peak memory of the sparse path against a naive dense pivot of the rating matrix, at ML-100K size and at
   a synthetic 100k users x 20k items x 5M ratings (the dense pivot is not run there: its size is computed).
Each speed/memory measurement runs in its own child process so its peak RSS is its own.

    PYTHONPATH=. FASTAI_HOME=... python bench/bench_autoenc.py [--quick]

Prints a markdown table and writes it to bench/results/autoenc.md, and the same figures as report rows to
bench/results/autoenc.json (bench/report.py).
"""
import argparse, json, os, platform, resource, subprocess, sys, time, warnings
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
    t0 = time.perf_counter()
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
    build_s = time.perf_counter()-t0
    n_batches = len(dls.train)
    t0 = time.perf_counter()
    for _ in dls.train: pass
    data_epoch_s = time.perf_counter()-t0
    cbs = []
    if kind.endswith('synth'):
        k = 40
        cbs = [ShortEpochCallback(pct=k/n_batches, short_valid=True)]
    set_seed(42)
    t0 = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fit(epochs, 1e-3, cbs=cbs)
    dt = time.perf_counter()-t0
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
        t0 = time.perf_counter()
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(n, lr)
        cb = learn.cbs.filter(lambda c: isinstance(c, RefeedCallback))
        res[name] = dict(rmse=learn.recorder.values[-1][-1], best=min(v[-1] for v in learn.recorder.values),
                         epoch_s=(time.perf_counter()-t0)/n, refeed_loss=cb[0].refeed_loss if cb else None, n=n, lr=lr, kw=kw)
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
    "The I-AutoRec rows of issue #12 alone: `autoenc_robust.md` and `.json`"
    ar,ol,nl,o8 = res['autorec'],res['autorec_old_long'],res['autorec_long'],res['autorec_old']
    f = lambda x: f'{x:.4f}'
    split = 'ML-100K, 90/10 random split seed 42'
    rows = [('I-AutoRec, current defaults, 8 epochs', f'{NEW_AUTOREC}; fit_one_cycle(8, 3e-3)', f(ar['rmse']), f"previous defaults (no noise) {f(o8['rmse'])}", f(ar['rmse']/o8['rmse'])),
            (f"I-AutoRec, current defaults, {nl['n']} epochs", f"{NEW_AUTOREC}; fit_one_cycle({nl['n']}, {nl['lr']:g}); best epoch's RMSE {f(nl['best'])}", f(nl['rmse']),
             f"same defaults, 8 epochs {f(ar['rmse'])}", f(nl['rmse']/ar['rmse'])),
            (f"I-AutoRec, previous defaults, {ol['n']} epochs", f"Adam + L2 1e-3, no noise; fit_one_cycle({ol['n']}, {ol['lr']:g}); best epoch's RMSE {f(ol['best'])}", f(ol['rmse']),
             f"same defaults, 8 epochs {f(o8['rmse'])}", f(ol['rmse']/o8['rmse'])),
            (f"I-AutoRec, masking noise vs none, {nl['n']} epochs", f"{NEW_AUTOREC} vs noise=0; fit_one_cycle({nl['n']}, {nl['lr']:g})", f(nl['rmse']),
             f"no noise {f(ol['rmse'])}", f(nl['rmse']/ol['rmse']))]
    R = lambda *a, **k: report.row('autoenc', *a, **k)
    jrows = [R('I-AutoRec, current defaults (masking noise 0.25)', split, 'fit_one_cycle(8, 3e-3), bs 64', 'valid RMSE', ar['rmse'], None, 'previous defaults (no noise), same schedule', o8['rmse']),
             R('I-AutoRec, current defaults (masking noise 0.25), trained long', split, f"fit_one_cycle({nl['n']}, {nl['lr']:g}), bs 64; best epoch's RMSE {nl['best']:.4f}", 'valid RMSE', nl['rmse'], None,
               'same defaults, fit_one_cycle(8, 3e-3)', ar['rmse']),
             R('I-AutoRec, previous defaults (Adam + L2 1e-3, no noise), trained long', split, f"fit_one_cycle({ol['n']}, {ol['lr']:g}), bs 64; best epoch's RMSE {ol['best']:.4f}", 'valid RMSE', ol['rmse'], None,
               'same defaults, fit_one_cycle(8, 3e-3)', o8['rmse']),
             R('I-AutoRec, masking noise (Strub & Mary 2015) vs none, trained long', split, f"fit_one_cycle({nl['n']}, {nl['lr']:g}), bs 64", 'valid RMSE', nl['rmse'], None,
               'no noise (previous defaults), same schedule', ol['rmse'])]
    md = ['# Autoencoder benchmark: AutoRec robustness and masking noise (issue #12)', '',
          f"`python bench/bench_autoenc.py --robust`. Machine: {platform.machine()} {os.cpu_count()}-core CPU shared with other jobs; torch threads: 1. "
          f"Total run {time.perf_counter()-t_all:.0f} s. {'QUICK MODE. ' if quick else ''}I-AutoRec by item, 500 sigmoid units, sigmoid_range(1, 5), "
          f"bs 64, same split, seed and shuffling for every row; valid RMSE over the 10,000 held-out ratings (item mean {base['item']:.4f}, "
          f"global mean {base['glob']:.4f}). The defaults were chosen on a tuning split carved from the training ratings (see the "
          f"autoencoder.learner page), not on this validation split.", '',
          '| what | protocol | number | baseline | ratio |', '|---|---|---|---|---|']
    md += [f"| {' | '.join(r)} |" for r in rows]
    txt = '\n'.join(md)+'\n'
    print(txt)
    if not quick:
        (HERE/'results'/'autoenc_robust.md').write_text(txt)
        report.save(jrows, 'autoenc_robust')

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
    t_all = time.perf_counter()
    base,res = quality(a.quick, a.robust, a.long, a.long_lr)
    if a.robust: return robust_report(base, res, a.quick, t_all)
    sp,dn = run_child('sparse_ml100k', 1 if a.quick else 3),run_child('dense_ml100k', 1 if a.quick else 3)
    syn = run_child('sparse_synth', 1)
    dense_synth_gb = 2*100_000*20_000*4/1e9  # train + held-out pivots, float32
    f = lambda x, d=3: '-' if x is None else f'{x:.{d}f}'
    ar,d0,d1 = res['autorec'],res['deep'],res['deep_refeed']
    rows = [
        ('I-AutoRec valid RMSE', f'ML-100K, 90/10 random split seed 42, 500 sigmoid units, sigmoid_range(1,5), {NEW_AUTOREC}, fit_one_cycle(8, 3e-3)',
         f(ar['rmse'],4), f"item mean {f(base['item'],4)} / global mean {f(base['glob'],4)}", f(ar['rmse']/base['item'])),
        ('Deep AE valid RMSE, no refeeding', f"same split; 944-512-512-1024-512-512-944 SELU, dropout 0.8, AdamW wd 1e-3, fit_one_cycle({d0['n']}, 1e-3)",
         f(d0['rmse'],4), f"item mean {f(base['item'],4)}", f(d0['rmse']/base['item'])),
        ('Deep AE valid RMSE, dense refeeding x1', 'same model, split, seed and schedule + RefeedCallback(n_refeed=1)',
         f(d1['rmse'],4), f"no refeeding {f(d0['rmse'],4)}", f(d1['rmse']/d0['rmse'])),
        ('Deep AE epoch time (s), refeeding vs not', 'ML-100K item vectors, bs 64, 1 thread', f(d1['epoch_s'],2), f(d0['epoch_s'],2), f(d1['epoch_s']/d0['epoch_s'],2)),
        ('I-AutoRec epoch time (s), sparse vs dense pivot', 'ML-100K item vectors, bs 64, fit(3), 1 thread, no masking noise (the same model and loss on both paths)', f(sp['epoch_s'],3), f"dense pivot {f(dn['epoch_s'],3)}", f(sp['epoch_s']/dn['epoch_s'],2)),
        ('Data path only: one epoch of batches (s), sparse vs dense pivot', 'ML-100K item vectors, bs 64, no model', f(sp['data_epoch_s'],3), f"dense pivot {f(dn['data_epoch_s'],3)}", f(sp['data_epoch_s']/dn['data_epoch_s'],2)),
        ('Data held in memory (MB), sparse vs dense pivot', 'ML-100K: train + held-out matrices', f(sp['data_mb'],2), f"dense pivot {f(dn['data_mb'],2)}", f(sp['data_mb']/dn['data_mb'],2)),
        ('Peak RSS of the process (MB)', f"ML-100K, building + training, own child process (RSS after imports and the ratings frame: {f(sp['base_mb'],0)})", f(sp['peak_mb'],0), f"dense pivot {f(dn['peak_mb'],0)}", f(sp['peak_mb']/dn['peak_mb'],2)),
        ('Data held in memory (MB), synthetic', '100k users x 20k items x 5M ratings, by=user', f(syn['data_mb'],0), f"dense pivots {dense_synth_gb*1e3:.0f} (2 x 8000: train + held-out; computed, not run)", f(syn['data_mb']/(dense_synth_gb*1e9/2**20),4)),
        ('Peak RSS of the process (MB), synthetic', f"building the loaders + 40 training batches (bs 64, 20k-500-20k AutoRec); RSS after imports and the 5M-row frame: {f(syn['base_mb'],0)}", f(syn['peak_mb'],0), f"dense pivot: >= {f(syn['base_mb'],0)} + {dense_synth_gb*1e3:.0f} (computed, not run)", f(syn['peak_mb']/(syn['base_mb']+dense_synth_gb*1e3),3)),
        ('Building the loaders (s), synthetic', '5M ratings: checks, vocabularies, seeded split, CSR', f(syn['build_s'],1), '-', '-'),
        ('Data path only: one epoch of batches (s), synthetic', f"{syn['n_batches']} batches of 64 densified 20k-item vectors, no model", f(syn['data_epoch_s'],1), 'dense pivot: not run', '-'),
        ('Epoch time (s), synthetic, sparse', f"{syn['n_batches']} batches of 64 users, extrapolated from 40 timed batches", f(syn['epoch_s'],0), 'dense pivot: not run (needs 16 GB)', '-'),
    ]
    R = lambda *a, **k: report.row('autoenc', *a, **k)
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
    note = (f"Dense refeeding (one extra optimizer step per batch on (f(x), f(x)), every entry observed) changed the deep "
            f"autoencoder's valid RMSE from {f(d0['rmse'],4)} to {f(d1['rmse'],4)} (best epoch {f(d0['best'],4)} -> {f(d1['best'],4)}) at "
            f"{f(d1['epoch_s']/d0['epoch_s'],2)}x the epoch time; mean refeed-step loss in the last epoch {f(d1['refeed_loss'],4)}.")
    md = [f"# Autoencoder benchmark (issue #4)", '',
          f"Machine: {platform.machine()} {os.cpu_count()}-core CPU, shared with other jobs during the run (times are noisy; "
          f"compare ratios within this run). torch threads: 1. Total run {time.perf_counter()-t_all:.0f} s. "
          f"{'QUICK MODE (fewer epochs). ' if a.quick else ''}", '',
          '| what | protocol | number | baseline | ratio |', '|---|---|---|---|---|']
    md += [f"| {' | '.join(r)} |" for r in rows]
    md += ['', note, '', f"Deep AE per-epoch valid RMSE is in the docs notebook; I-AutoRec best epoch {f(ar['best'],4)}."]
    txt = '\n'.join(md)+'\n'
    print(txt)
    if not a.quick:
        (HERE/'results').mkdir(exist_ok=True)
        (HERE/'results'/'autoenc.md').write_text(txt)
        report.save(jrows, 'autoenc')

if __name__=='__main__': main()
