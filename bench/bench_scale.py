"""Issue #6 protocols: one epoch of the dot and implicit models on synthetic power-law ratings (dense vs sparse
embedding gradients), top-N for every user streamed to CSV, and 2-process DDP against one process on ML-100K.

Usage: python bench/bench_scale.py [--size small|medium|large]   (small: 100k users x 20k items x 2.5M ratings;
large: 1M x 200k x 25M). Each variant runs in its own process so its peak memory is its own. Writes bench/results/scale.md
(scale_<size>.md for the other sizes, which skip the DDP rows)."""
import os, sys, json, time, platform, resource, subprocess, socket, tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SIZES = {'small':(100_000, 20_000, 2_500_000), 'medium':(300_000, 60_000, 7_500_000), 'large':(1_000_000, 200_000, 25_000_000)}
BS,N_FACTORS = 8192,32

def _peak_mb(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024

def variant(name, size):
    "Run one measurement in this process and return a dict"
    import torch
    torch.set_num_threads(int(os.environ.get('BENCH_THREADS', 1)))
    from fastai.basics import set_seed
    from recfast.scale import synthetic_ratings, sparse_embeddings, SparseAdam, recommend_all
    from recfast.core import FastAdam
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    t = time.perf_counter()
    df = synthetic_ratings(*SIZES[size], seed=0)
    res = dict(gen_s=time.perf_counter()-t)
    t = time.perf_counter()
    sparse = name.endswith('sparse')
    if name.startswith('dot'):
        from recfast.data.ratings import RatingsDataLoaders
        from recfast.learner.collab import dot_learner
        dls = RatingsDataLoaders.from_df(df, valid_pct=0.05, seed=0, bs=BS, device=dev)
        set_seed(0)
        learn = dot_learner(dls, n_factors=N_FACTORS, opt_func=SparseAdam if sparse else FastAdam)
        y_trn,y_val = dls.train.dataset.ts[1],dls.valid.dataset.ts[1]
        res['const_mse'] = float(((y_val-y_trn.mean())**2).mean())
    else:
        from recfast.data.interactions import InteractionsDataLoaders
        from recfast.learner.implicit import implicit_learner
        dls = InteractionsDataLoaders.from_df(df, valid_pct=0.05, seed=0, bs=BS, device=dev)
        set_seed(0)
        learn = implicit_learner(dls, loss='bpr', n_factors=N_FACTORS, seed=0, metrics=[], opt_func=SparseAdam if sparse else FastAdam)
    if sparse: sparse_embeddings(learn.model)
    res['dls_s'] = time.perf_counter()-t
    n_trn = len(dls.train.dataset)
    lr = 1e-2 if name.startswith('dot') else 1e-2
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(1, lr)   # warm-up epoch (allocations, optimizer state), not timed
        t = time.perf_counter()
        learn.fit_one_cycle(1, lr)
        res['epoch_s'] = time.perf_counter()-t
    res.update(n_train=n_trn, ratings_per_s=n_trn/res['epoch_s'], values=[float(v) for v in learn.recorder.values[-1]])
    if name=='dot-sparse':
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            out = recommend_all(learn, n=10, fname=Path(d)/'top10.csv')
            res['recommend_all_s'] = time.perf_counter()-t
            res['recommend_all_mb'] = out.stat().st_size/2**20
        res['n_users'] = dls.n_users-1
    res['peak_rss_mb'] = _peak_mb()
    if dev=='cuda': res['peak_gpu_mb'] = torch.cuda.max_memory_allocated()/2**20
    return res

def ddp_worker(out, bs, distributed):
    "3 epochs of the dot model on ML-100K; rank 0 writes the valid MSE and the time"
    import torch
    torch.set_num_threads(1)
    from fastai.basics import set_seed, mse, rank_distrib
    import contextlib, recfast.distributed
    from recfast.datasets import movielens_100k
    from recfast.data.ratings import RatingsDataLoaders
    from recfast.learner.collab import dot_learner
    dls = RatingsDataLoaders.from_df(movielens_100k(titles=False), valid_pct=0.2, seed=42, bs=bs)
    set_seed(42)
    learn = dot_learner(dls, metrics=[mse])
    ctx = learn.distrib_ctx(cpu=not torch.cuda.is_available()) if distributed else contextlib.nullcontext()
    t = time.perf_counter()
    with ctx, learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(3, 5e-3)
    el = time.perf_counter()-t
    if rank_distrib()==0: Path(out).write_text(json.dumps(dict(mse=float(learn.recorder.values[-1][-1]), s=el)))

def _run(args):
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')])}
    p = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True)
    if p.returncode: raise RuntimeError(f"{args} failed:\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    return p

def child(name, size):
    p = _run([__file__, '--variant', name, '--size', size])
    return json.loads(p.stdout.strip().splitlines()[-1])

def ddp(n):
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)/'r.json'
        if n==1: _run([__file__, '--ddp-worker', str(out), '256', '0'])
        else:
            with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
            _run(['-m', 'torch.distributed.run', '--nproc_per_node', str(n), '--master_addr', '127.0.0.1', '--master_port', str(port),
                  __file__, '--ddp-worker', str(out), str(256//n), '1'])
        return json.loads(out.read_text())

def machine():
    import torch
    cpu = f"{platform.machine()} CPU, {os.cpu_count()} cores, {os.environ.get('BENCH_THREADS', 1)} torch thread(s) per process"
    return f"{torch.cuda.get_device_name()} GPU ({cpu})" if torch.cuda.is_available() else f"{cpu}, no GPU"

def main(size):
    nu,ni,nr = SIZES[size]
    data = f"synthetic power-law (alpha 1), {nu//1000}k users x {ni//1000}k items x {nr/1e6:g}M ratings, 95/5 split"
    rows = []
    def row(what, protocol, number, baseline, fmt='{:.4f}'):
        ratio = number/baseline if baseline else float('nan')
        rows.append((what, protocol, fmt.format(number), fmt.format(baseline), f'{ratio:.2f}'))
        print(rows[-1], flush=True)
    r = {n: child(n, size) for n in ('dot-dense','dot-sparse','implicit-dense','implicit-sparse')}
    for n in r: print(n, r[n], flush=True)
    proto = f"{data}; dot model {N_FACTORS} factors, bs {BS}, 1 epoch fit_one_cycle lr 1e-2 after 1 warm-up epoch"
    d,s = r['dot-dense'],r['dot-sparse']
    row('dot: ratings/s, SparseAdam + sparse embeddings (baseline: FastAdam, dense)', proto, s['ratings_per_s'], d['ratings_per_s'], '{:,.0f}')
    row('dot: valid MSE after 2 epochs, dense (baseline: constant mean)', proto, d['values'][1], d['const_mse'])
    row('dot: valid MSE after 2 epochs, sparse (baseline: dense)', proto, s['values'][1], d['values'][1])
    row('dot: peak RSS MB, sparse (baseline: dense)', proto + '; whole process incl. data generation', s['peak_rss_mb'], d['peak_rss_mb'], '{:,.0f}')
    di,si = r['implicit-dense'],r['implicit-sparse']
    proto_i = f"{data}, every rating a positive; implicit BPR {N_FACTORS} factors, 1 negative, bs {BS}, 1 epoch after 1 warm-up"
    row('implicit: interactions/s, sparse (baseline: dense)', proto_i, si['ratings_per_s'], di['ratings_per_s'], '{:,.0f}')
    row('implicit: train BPR loss, sparse (baseline: dense)', proto_i, si['values'][0], di['values'][0])
    row('implicit: peak RSS MB, sparse (baseline: dense)', proto_i, si['peak_rss_mb'], di['peak_rss_mb'], '{:,.0f}')
    row('recommend_all: users/s, top-10 of every user to CSV (baseline: dot training ratings/s)',
        f"{data}; trained sparse dot model, seen items excluded, {s['recommend_all_mb']:.0f} MB CSV",
        s['n_users']/s['recommend_all_s'], s['ratings_per_s'], '{:,.0f}')
    row('data: seconds to generate the ratings (baseline: to build RatingsDataLoaders)', data, d['gen_s'], d['dls_s'], '{:.1f}')
    if size!='small': return _write(rows, size)
    try: import accelerate
    except ImportError:
        print("accelerate is not installed: no DDP rows (pip install accelerate)")
        return _write(rows, size)
    one,two = ddp(1),ddp(2)
    proto_d = 'ML-100K 80/20 seed 42, dot 50 factors, fit_one_cycle(3, 5e-3); 2 gloo procs x bs 128 vs 1 proc x bs 256'
    row('DDP: valid MSE, 2 processes (baseline: 1 process)', proto_d, two['mse'], one['mse'])
    row('DDP: seconds for 3 epochs, 2 processes (baseline: 1 process)', proto_d + ' (2 shared cores: no speed-up expected)', two['s'], one['s'], '{:.1f}')
    _write(rows, size)

def _write(rows, size):
    table = '\n'.join(['| what | protocol | number | baseline | ratio |', '|---|---|---|---|---|'] + ['| '+' | '.join(r)+' |' for r in rows])
    md = f"## Scale (issue 6)\n\nMachine: {machine()}; size `{size}`. Measured with `python bench/bench_scale.py --size {size}`.\n\n{table}\n"
    print(md)
    (HERE/'results').mkdir(exist_ok=True)
    (HERE/'results'/('scale.md' if size=='small' else f'scale_{size}.md')).write_text(md)

if __name__=='__main__':
    a = sys.argv[1:]
    size = a[a.index('--size')+1] if '--size' in a else 'small'
    if '--variant' in a: print(json.dumps(variant(a[a.index('--variant')+1], size)))
    elif '--ddp-worker' in a:
        i = a.index('--ddp-worker'); ddp_worker(a[i+1], int(a[i+2]), a[i+3]=='1')
    else: main(size)
