"""Issue #6 protocols: one epoch of the dot and implicit models on synthetic power-law ratings (dense vs sparse
embedding gradients), and top-N for every user streamed to CSV. (DDP against one process: bench_ddp.py.)

Usage: python bench/bench_scale.py [--size small|medium|large] [--warmup-batches N] [--rec-users N]
(small: 100k users x 20k items x 2.5M ratings; large: 1M x 200k x 25M). The warm-up is a whole epoch unless
`--warmup-batches` shortens it; `recommend_all` ranks every user unless `--rec-users` times the first N only (the
large size defaults to 200 warm-up batches and 20,000 users). Each variant runs in its own process so its peak memory is
its own. Writes bench/results/scale.json (scale_<size>.json for the other sizes) as bench/report.py rows."""
import os, sys, json, resource, subprocess, tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from bench import report
SIZES = {'small':(100_000, 20_000, 2_500_000), 'medium':(300_000, 60_000, 7_500_000), 'large':(1_000_000, 200_000, 25_000_000)}
BS,N_FACTORS = 8192,32

def _peak_mb(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024

def variant(name, size, warmup_batches=None, rec_users=None):
    "Run one measurement in this process and return a dict"
    import torch
    torch.set_num_threads(int(os.environ.get('BENCH_THREADS', 1)))
    from fastai.basics import set_seed
    from recfast.datasets import synthetic_ratings
    from recfast.fast import sparse_embeddings, SparseAdam, FastAdam
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    df,gen_s = report.timed(synthetic_ratings, *SIZES[size], seed=0)
    res = dict(gen_s=gen_s)
    t = report.Stopwatch()
    sparse = name.endswith('sparse')
    if name.startswith('dot'):
        from recfast.collab.data import RatingsDataLoaders
        from recfast.collab.learner import dot_learner
        dls = RatingsDataLoaders.from_df(df, valid_pct=0.05, seed=0, bs=BS, device=dev)
        set_seed(0)
        learn = dot_learner(dls, n_factors=N_FACTORS, opt_func=SparseAdam if sparse else FastAdam)
        y_trn,y_val = dls.train.dataset.ts[1],dls.valid.dataset.ts[1]
        res['const_mse'] = float(((y_val-y_trn.mean())**2).mean())
    else:
        from recfast.implicit.data import InteractionsDataLoaders
        from recfast.implicit.learner import implicit_learner
        dls = InteractionsDataLoaders.from_df(df, valid_pct=0.05, seed=0, bs=BS, device=dev)
        set_seed(0)
        learn = implicit_learner(dls, loss='bpr', n_factors=N_FACTORS, seed=0, metrics=[], sampler='uniform', opt_func=SparseAdam if sparse else FastAdam)
    if sparse: sparse_embeddings(learn.model)
    res['dls_s'] = t()
    n_trn = len(dls.train.dataset)
    lr = 1e-2 if name.startswith('dot') else 1e-2
    with learn.no_bar(), learn.no_logging():
        # warm-up (allocations, optimizer state), not timed: an epoch, or its first `warmup_batches` batches
        from fastai.callback.training import ShortEpochCallback
        short = [] if warmup_batches is None else [ShortEpochCallback(pct=warmup_batches/len(dls.train), short_valid=True)]
        learn.fit_one_cycle(1, lr, cbs=short)
        _,res['epoch_s'] = report.timed(learn.fit_one_cycle, 1, lr)
    res.update(n_train=n_trn, ratings_per_s=n_trn/res['epoch_s'], values=[float(v) for v in learn.recorder.values[-1]])
    if name=='dot-sparse':
        with tempfile.TemporaryDirectory() as d:
            users = None if rec_users is None else dls.classes[dls.user_name][1:rec_users+1]
            out,res['recommend_all_s'] = report.timed(learn.recommend_all, n=10, fname=Path(d)/'top10.csv', users=users)
            res['recommend_all_mb'] = out.stat().st_size/2**20
        res['n_users'] = dls.n_users-1 if rec_users is None else min(rec_users, dls.n_users-1)
    res['peak_rss_mb'] = _peak_mb()
    if dev=='cuda': res['peak_gpu_mb'] = torch.cuda.max_memory_allocated()/2**20
    return res

# glibc malloc keeps the freed multi-MB blocks of each dense-gradient step in a fragmenting heap: at the large size
# the dense implicit model grew past 23 GB in one epoch. A fixed mmap threshold gives them back (flat 2.6 GB).
MALLOC = {'MALLOC_MMAP_THRESHOLD_': '4194304'}

def _run(args):
    env = {**MALLOC, **os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')])}
    p = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True)
    if p.returncode: raise RuntimeError(f"{args} failed:\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    return p

def child(name, size, warmup_batches=None, rec_users=None):
    opts = [] if warmup_batches is None else ['--warmup-batches', str(warmup_batches)]
    if rec_users is not None: opts += ['--rec-users', str(rec_users)]
    p = _run([__file__, '--variant', name, '--size', size, *opts])
    return json.loads(p.stdout.strip().splitlines()[-1])

def main(size, warmup_batches=None, rec_users=None):
    nu,ni,nr = SIZES[size]
    data = f"synthetic power-law (alpha 1), {nu//1000}k users x {ni//1000}k items x {nr/1e6:g}M ratings, 95/5 split"
    warm = 'a warm-up epoch' if warmup_batches is None else f'{warmup_batches} warm-up batches'
    jrows = []
    def row(protocol, number, baseline, model=None, metric=None, base_name=None, time_row=False, jproto=None, times=(None,None),
            rdata=data, quality=False, base_metric=None):
        "A row of figure `number` against `baseline`: in a table of its own per data and metric if `quality`, else a speed row"
        proto = jproto or protocol.removeprefix(rdata).lstrip('; ,')
        suite = report.own_suite('scale', rdata, metric) if quality else report.speed_suite('scale', rdata)
        jrows.append(report.row('scale', model, rdata, proto, None if time_row else metric, None if time_row else number,
                                number if time_row else times[0], base_name, None if time_row else baseline, baseline if time_row else times[1],
                                suite=suite, ratio_of='time' if time_row else 'value', baseline_metric=base_metric))
        print(jrows[-1], flush=True)
    r = {}
    for n in ('dot-dense','dot-sparse','implicit-dense','implicit-sparse'):
        r[n] = child(n, size, warmup_batches, rec_users)
        print(n, r[n], flush=True)
    malloc = '' if os.environ.get('MALLOC_MMAP_THRESHOLD_') else f", glibc MALLOC_MMAP_THRESHOLD_={MALLOC['MALLOC_MMAP_THRESHOLD_']}"
    proto = f"{data}; dot model {N_FACTORS} factors, bs {BS}, 1 epoch fit_one_cycle lr 1e-2 after {warm}{malloc}"
    d,s = r['dot-dense'],r['dot-sparse']
    sp,dn = 'recfast `dot_learner` + `sparse_embeddings` + `SparseAdam`','recfast `dot_learner`, dense (FastAdam)'
    after = 'after 2 epochs' if warmup_batches is None else f'after {warmup_batches} batches + 1 epoch'
    row(proto, s['ratings_per_s'], d['ratings_per_s'], sp, 'ratings/s', 'FastAdam, dense', jproto=proto.removeprefix(data+'; ')+'; time: the timed epoch', times=(s['epoch_s'],d['epoch_s']))
    row(proto, d['values'][1], d['const_mse'], model=dn, metric=f'valid MSE {after}', base_name='constant mean', quality=True)
    row(proto, s['values'][1], d['values'][1], model=sp, metric=f'valid MSE {after}', base_name='dense (FastAdam)', quality=True)
    row(proto + '; whole process incl. data generation', s['peak_rss_mb'], d['peak_rss_mb'], sp, 'peak RSS MB', 'dense (FastAdam)')
    di,si = r['implicit-dense'],r['implicit-sparse']
    idata = f'{data}, every rating a positive'
    proto_i = f"{idata}; implicit BPR {N_FACTORS} factors, 1 negative, bs {BS}, 1 epoch after {warm}{malloc}"
    spi = 'recfast `implicit_learner`, BPR + sparse embeddings + `SparseAdam`'
    row(proto_i, si['ratings_per_s'], di['ratings_per_s'], spi, 'interactions/s', 'dense (FastAdam)',
        jproto=proto_i.removeprefix(idata).lstrip('; ')+'; time: the timed epoch', times=(si['epoch_s'],di['epoch_s']), rdata=idata)
    row(proto_i, si['values'][0], di['values'][0], model=spi, metric='train BPR loss', base_name='dense (FastAdam)', rdata=idata,
        quality=True)
    row(proto_i, si['peak_rss_mb'], di['peak_rss_mb'], spi, 'peak RSS MB', 'dense (FastAdam)', rdata=idata)
    who = 'every user' if rec_users is None else f'the first {s["n_users"]:,} users'
    row(f"{data}; top-10 of {who} to CSV; trained sparse dot model, seen items excluded, {s['recommend_all_mb']:.0f} MB CSV",
        s['n_users']/s['recommend_all_s'], s['ratings_per_s'], 'recfast `recommend_all`', 'users/s', 'dot training ratings/s',
        times=(s['recommend_all_s'],None), base_metric='ratings/s')
    row(data, d['gen_s'], d['dls_s'], '`synthetic_ratings`', base_name='RatingsDataLoaders.from_df', time_row=True,
        jproto='seconds to generate the ratings (seed 0); baseline: seconds to build `RatingsDataLoaders` from them')
    report.save(jrows, 'scale' if size=='small' else f'scale_{size}')

if __name__=='__main__':
    a = sys.argv[1:]
    size = a[a.index('--size')+1] if '--size' in a else 'small'
    opt = lambda k, default=None: int(a[a.index(k)+1]) if k in a else default
    big = size=='large'
    warmup,rec = opt('--warmup-batches', 200 if big else None),opt('--rec-users', 20_000 if big else None)
    if '--variant' in a: print(json.dumps(variant(a[a.index('--variant')+1], size, warmup, rec)))
    else: main(size, warmup, rec)
