"""Distributed training: every recfast learner trained by `examples/train_ddp.py` in 2 gloo CPU processes (fastai
`distrib_ctx` on DDP) matches one process at twice the batch size, and every recfast loader shards its epoch."""
import os, sys, json, socket, subprocess, tempfile
from pathlib import Path
import pytest
pytest.importorskip('accelerate', reason="fastai's distributed training needs Hugging Face `accelerate`")
import torch
from fastai.basics import *
from fastai.distributed import DistributedDL, DistributedTrainer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT/'examples'/'train_ddp.py'
N_IMAGES = 3000  # the RAM trains on the first 3,000 MNIST test digits (80/20 split)

# arch: (metric, the figure both runs must reach, how far the 2-process figure may be from the 1-process one). The
# tolerances cover the spread over seeds: e.g. the LSTM's MRR ranged 0.071-0.080 over 4 seeds in one process.
ARCHS = {
    'dot':      ('valid_loss',  lambda v: v<0.9,   0.02),  # MSE; a constant predictor scores about 1.27
    'mlp':      ('valid_loss',  lambda v: v<0.95,  0.03),
    'implicit': ('mrr',         lambda v: v>0.045, 0.015), # BPR, 2 epochs; an untrained model scores about 0.005
    'lstm':     ('mrr',         lambda v: v>0.06,  0.025), # popularity scores 0.042 on this split
    'deep':     ('masked_rmse', lambda v: v<1.0,   0.03),  # dense refeeding; the item means score 1.015
    'ram':      ('error_rate',  lambda v: v<0.5,   0.08),  # 10 classes: chance is 0.9
}

def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _env(): return {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]),
                    'OMP_NUM_THREADS': '1', 'PYTHONWARNINGS': 'ignore'}

def _run(args, n=1):
    "Run a python script in one process, or in `n` gloo processes with `torch.distributed.run`"
    launch = [] if n==1 else ['-m', 'torch.distributed.run', '--nproc_per_node', str(n), '--master_addr', '127.0.0.1',
                              '--master_port', str(_free_port())]
    p = subprocess.run([sys.executable, *launch, *map(str, args)], env=_env(), capture_output=True, text=True, timeout=1200)
    assert p.returncode==0, p.stdout[-3000:]+p.stderr[-5000:]
    return p

@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    "Every arch of the example script in one process (global batch) and in 2 gloo processes (half the batch each)"
    d = tmp_path_factory.mktemp('ddp')
    args = [EXAMPLE, '--arch', ','.join(ARCHS), '--n-images', N_IMAGES]
    _run(args+['--out', d/'one'])
    _run(args+['--out', d/'two'], n=2)
    single = json.loads((d/'one'/'rank0.json').read_text())
    return single,[json.loads((d/'two'/f'rank{r}.json').read_text()) for r in (0,1)]

def _metric(res, arch, name, key='during'):
    i = res[arch]['names'].index(name)
    return res[arch][key][i] if key=='during' else res[arch][key][i-1]  # `after` has no train_loss

@pytest.mark.parametrize('arch', ARCHS)
def test_ddp_matches_single_process(runs, arch):
    "2 ranks x bs reach the quality of 1 process x 2*bs (same data, seed, epochs and schedule)"
    single,(r0,_) = runs
    name,ok,tol = ARCHS[arch]
    one,two = _metric(single, arch, name),_metric(r0, arch, name)
    assert ok(one) and ok(two), (arch, name, one, two)
    assert abs(two-one) < tol, (arch, name, two, one)

@pytest.mark.parametrize('arch', ARCHS)
def test_ddp_replicas_identical(runs, arch):
    "DDP all-reduced every gradient, refeeding's extra steps included: the ranks end with the same weights"
    _,(r0,r1) = runs
    assert r0[arch]['state']==r1[arch]['state'], arch
    test_close(r0[arch]['after'][-1], r1[arch]['after'][-1], eps=1e-6)

@pytest.mark.parametrize('arch', ARCHS)
def test_ddp_metrics_gathered(runs, arch):
    "The metric `Recorder` shows under DDP is the whole valid set's (gathered, padding dropped), not one rank's"
    _,(r0,r1) = runs
    name = ARCHS[arch][0]
    if name=='valid_loss': name = r0[arch]['names'][-1]
    test_close(_metric(r0, arch, name), _metric(r0, arch, name, 'after'), eps=1e-5)
    test_close(r0[arch]['during'], r1[arch]['during'], eps=1e-6)

# ---- sharding: each rank's part of an epoch, for the loaders of every learner

KINDS = ('ratings','interactions','sequences','vectors','glimpses','block')

def _loaders(kind):
    "The `DataLoaders` of `kind`, as each learner gets them (small where that is enough)"
    from recfast.all import (movielens_100k, movielens_split, RatingsDataLoaders, InteractionsDataLoaders, SequenceDataLoaders,
                             SparseVectorDataLoaders, MNISTGlimpseDataLoaders, mnist_digits, SequenceBlock)
    df = movielens_100k(titles=False)
    if kind=='ratings': return RatingsDataLoaders.from_df(df, seed=42, bs=256)
    if kind=='interactions':
        trn,tst = movielens_split()
        return InteractionsDataLoaders.from_df(trn, valid_df=tst, bs=1000)
    if kind=='sequences': return SequenceDataLoaders.from_df(df, 'user', 'movie', 'timestamp', max_len=50, seed=0, bs=64)
    if kind=='vectors': return SparseVectorDataLoaders.from_df(df[['user','movie','rating']], by='item', seed=42, bs=64, device='cpu')
    if kind=='glimpses':
        x,y = mnist_digits()
        return MNISTGlimpseDataLoaders.from_tensors(x[:1001], y[:1001], variant='translated', bs=64)
    seqs = df.sort_values('timestamp').groupby('user').movie.apply(list).reset_index()
    vocab = CategoryMap(df.movie, add_na=True)
    db = DataBlock(blocks=(SequenceBlock(vocab, max_len=20, shift=True), SequenceBlock(vocab, max_len=20)), get_x=ColReader('movie'),
                   get_y=ColReader('movie'), splitter=RandomSplitter(seed=0))
    return db.dataloaders(seqs, bs=16, num_workers=0)

def _shard(dl, rank, world_size):
    "`rank`'s sample indices and batches of one epoch of `dl` under DDP, wrapped as `RecDistributedTrainer._wrap_dl` does"
    from recfast.distributed import DistributedTensorDL, FixedDistributedDL
    from recfast.core import TensorDL
    seen,create = [],dl.create_batches
    def record(samps):
        seen.append([int(i) for i in samps])
        return create(torch.tensor(seen[-1]) if isinstance(dl, TensorDL) else seen[-1])
    dl.create_batches = record
    try:
        wdl = DistributedTensorDL(dl, rank=rank, world_size=world_size) if isinstance(dl, TensorDL) \
              else FixedDistributedDL(dl, rank=rank, world_size=world_size)
        batches = list(wdl)
    finally: del dl.create_batches
    return seen[0],batches,len(wdl)

def _check_shards(shards, n):
    "Disjoint shards of equal size that together cover the `n` samples (only the padding of the last one repeats)"
    k = -(-n//len(shards))
    assert all(len(s)==k for s in shards), ([len(s) for s in shards], n)
    flat = sum(shards, [])
    assert set(flat)==set(range(n)), n
    assert len(flat)-len(set(flat))==k*len(shards)-n  # the repeats are the padding, nothing else
    assert all(len(set(a)&set(b))<=k*len(shards)-n for i,a in enumerate(shards) for b in shards[i+1:])

@pytest.mark.parametrize('kind', KINDS)
def test_every_loader_shards_its_epoch(kind):
    "Each rank gets its own slice of the epoch's (shuffled) order, batched from it; together they cover the epoch"
    dls = _loaders(kind)
    for dl in (dls.train, dls.valid):
        state = dl.rng.getstate()
        res = []
        for rank in (0,1):
            dl.rng.setstate(state)  # the ranks build the same loaders; under DDP rank 0's order is broadcast
            res.append(_shard(dl, rank, 2))
        shards = [s for s,_,_ in res]
        _check_shards(shards, len(dl.dataset))
        for idxs,batches,n_batches in res:
            ys = torch.cat([b[-1] for b in batches])
            full = len(idxs)//dl.bs*dl.bs if dl.drop_last else len(idxs)
            test_eq(len(ys), full)
            test_eq(len(batches), n_batches)
            if kind=='block': continue  # fastai's items: the targets are checked by the shard indices above
            targ = dl.dataset[torch.tensor(idxs[:full])][-1]
            test_eq(ys.cpu(), targ.cpu())
        if dl is dls.train: test_ne(shards[0], list(range(len(shards[0]))))  # shuffled

def test_trainer_wraps_loaders_fastai_unpatched():
    """`to_distributed` adds `RecDistributedTrainer`, which wraps a `TensorDL` in a `DistributedTensorDL` and any other
    loader in a `FixedDistributedDL`; fastai's own `DistributedDL` and `DistributedTrainer` are left as fastai ships them"""
    from recfast.all import RatingsDataLoaders, dot_learner, movielens_100k, TensorDL
    from recfast.distributed import RecDistributedTrainer, DistributedTensorDL, FixedDistributedDL
    for cls,names in ((DistributedDL, ('_broadcast','__len__','get_idxs','__iter__')), (DistributedTrainer, ('_wrap_dl','before_fit'))):
        for n in names:
            f = cls.__dict__.get(n)
            assert f is None or f.__module__=='fastai.distributed', f"fastai's {cls.__name__}.{n} is patched by {f.__module__}"
    df = movielens_100k(titles=False).iloc[:2000]
    learn = dot_learner(RatingsDataLoaders.from_df(df, seed=0, bs=64))
    learn.to_distributed()
    try:
        tr = learn.distributed_trainer
        assert type(tr) is RecDistributedTrainer and isinstance(tr, DistributedTrainer)
        learn.model.device = torch.device('cpu')  # what DDP's wrapper has (read for non-tensor loaders)
        assert isinstance(learn.dls.train, TensorDL) and type(tr._wrap_dl(learn.dls.train)) is DistributedTensorDL
        block = DataLoader(list(range(10)), bs=4)
        assert type(tr._wrap_dl(block)) is FixedDistributedDL
        w = FixedDistributedDL(block, rank=0, world_size=2)
        assert tr._wrap_dl(w) is w
    finally: learn.remove_cb(learn.distributed_trainer)

def test_shards_across_processes(tmp_path):
    "In 2 gloo processes whose loaders shuffle differently, rank 0's order is broadcast: the shards are disjoint and cover"
    _run([__file__, '--shard-worker', tmp_path], n=2)
    ranks = [json.loads((tmp_path/f'{r}.json').read_text()) for r in (0,1)]
    for kind in KINDS:
        _check_shards([r[kind]['idxs'] for r in ranks], ranks[0][kind]['n'])

if __name__=='__main__' and '--shard-worker' in sys.argv:
    out = Path(sys.argv[sys.argv.index('--shard-worker')+1])
    torch.set_num_threads(1)
    torch.distributed.init_process_group('gloo')
    rank = torch.distributed.get_rank()
    res = {}
    for kind in KINDS:
        set_seed(rank)  # a different shuffling generator in each process: only the broadcast makes the shards line up
        dl = _loaders(kind).train
        idxs,_,_ = _shard(dl, rank, 2)
        res[kind] = dict(idxs=idxs, n=len(dl.dataset))
    (out/f'{rank}.json').write_text(json.dumps(res))
    torch.distributed.destroy_process_group()
