"""Train recfast learners data-parallel with fastai's `learn.distrib_ctx()` (PyTorch DDP through Hugging Face `accelerate`).

    python examples/train_ddp.py --arch dot                                   # one process
    torchrun --nproc_per_node 2 examples/train_ddp.py --arch dot              # 2 CPU processes (gloo)
    torchrun --nproc_per_node 4 examples/train_ddp.py --arch lstm             # 4 GPUs, one process each (NCCL)
    accelerate launch --multi_gpu --num_processes 4 examples/train_ddp.py --arch deep

The same script runs in all four ways: without a launcher `distrib_ctx` does nothing. `--bs` is the global batch
size: each of the N processes takes `bs // N` samples per step, so every launch takes the same optimizer steps.
`--arch` may list several learners (`dot,mlp,lstm,deep,ram`), trained one after the other in the same launch.
Rank 0 prints the validation metrics; `--out DIR` also writes every rank's metrics to `DIR/rank<r>.json`.
"""
import json, hashlib, time
from pathlib import Path
from fastcore.script import call_parse
from recfast.all import *

def ratings(): return movielens_100k(titles=False)

# arch: (data, epochs, lr, global batch size, learner kwargs), each on MovieLens 100K (the RAM on MNIST digits)
RECIPES = {
    'dot':      ('ratings',      3, 5e-3, 256,  {}),
    'mlp':      ('ratings',      3, 5e-3, 256,  {}),
    'implicit': ('interactions', 2, 1e-2, 1024, dict(loss='bpr', seed=0, sampler='uniform')),  # the sampler of bench/results/ddp.md
    'pool':     ('sequences',   10, 1e-2, 32,   dict(loss='adaptive_hinge', seed=0)),
    'lstm':     ('sequences',   10, 1e-2, 32,   dict(loss='adaptive_hinge', seed=0)),
    'cnn':      ('sequences',   10, 1e-2, 32,   dict(loss='adaptive_hinge', seed=0)),
    'autorec':  ('vectors',      4, 3e-3, 64,   {}),
    'deep':     ('vectors',      4, 1e-3, 64,   dict(refeed=1)),
    'ram':      ('mnist',        5, 3e-3, 64,   dict(n_glimpses=4, core='lstm', std=0.1, reward='correct', rollouts=1, loc_lr_mult=1, loss_func=CrossEntropyLossFlat())),  # the recipe of bench/results/ddp.md
}

def build_dls(data, bs, n_images=None):
    "This process's `DataLoaders` for `data` with batches of `bs` (every rank builds the same ones, same seeds)"
    dev = default_device()  # the GPU if there is one; under DDP each process's loaders move to its own GPU
    if data=='ratings': return RatingsDataLoaders.from_df(ratings(), valid_pct=0.2, seed=42, bs=bs, device=dev)
    if data=='interactions':
        trn,tst = movielens_split()
        return InteractionsDataLoaders.from_df(trn, valid_df=tst, bs=bs, device=dev)
    if data=='sequences':
        return SequenceDataLoaders.from_df(ratings()[['user','movie','timestamp']], 'user', 'movie', 'timestamp',
                                           max_len=100, seed=0, bs=bs, exclude_preceding=True, device=dev)
    if data=='vectors': return SparseVectorDataLoaders.from_df(ratings()[['user','movie','rating']], by='item', seed=42, bs=bs, device=dev)
    if data=='mnist':
        x,y = mnist_digits()
        n = ifnone(n_images, len(x))
        return MNISTGlimpseDataLoaders.from_tensors(x[:n], y[:n], bs=bs, seed=42, device=dev)
    raise ValueError(f"Unknown data {data!r}")

def train(arch:str, # a name of `RECIPES`
          bs:int=None, # global batch size (the recipe's if `None`), split over the processes
          epochs:int=None, lr:float=None, n_images:int=None, seed:int=42):
    "Build and fit `arch` inside `distrib_ctx`; returns the `Learner` and the seconds `fit` took"
    data,ep,lr0,bs0,kw = RECIPES[arch]
    world = max(num_distrib(), 1)
    bs = ifnone(bs, bs0)
    if bs%world: raise ValueError(f"--bs {bs} does not split over {world} processes: use a multiple of {world}")
    set_seed(seed)  # the loaders' shuffling generators are drawn from the global state when they are built
    dls = build_dls(data, bs//world, n_images)
    set_seed(seed)
    learn = recfast_learner(dls, arch=arch, **kw)
    start = time.perf_counter()
    # `cpu=True` makes `accelerate` use gloo; `sync_bn` turns BatchNorm (mlp) into SyncBatchNorm on GPUs
    with learn.distrib_ctx(cpu=not torch.cuda.is_available()), learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(ifnone(epochs, ep), ifnone(lr, lr0))
    return learn, time.perf_counter()-start

@call_parse
def main(arch:str='dot', # one or several (comma-separated) of: dot, mlp, implicit, pool, lstm, cnn, autorec, deep, ram
         bs:int=None, # global batch size, split over the processes (default: each arch's)
         epochs:int=None, # epochs of `fit_one_cycle` (default: each arch's)
         lr:float=None, # maximum learning rate (default: each arch's)
         n_images:int=None, # ram: train and validate on the first `n_images` MNIST digits only
         seed:int=42, # seed of the weights and the shuffling (the splits have their own, fixed)
         threads:int=1, # torch threads per process
         out:str=None): # folder for `rank<r>.json` with each arch's metrics
    "Train each of `arch` on every process of the launch; rank 0 prints the validation metrics"
    torch.set_num_threads(threads)
    res = {}
    for a in arch.split(','):
        learn,secs = train(a, bs, epochs, lr, n_images, seed)
        names = learn.recorder.metric_names[1:-1]  # train_loss, valid_loss, metrics (not epoch, time)
        during = [float(v) for v in learn.recorder.values[-1]]  # gathered from every rank while training
        with learn.no_bar(): after = [float(v) for v in learn.validate()]  # this process's weights, the whole valid set
        res[a] = dict(names=list(names), during=during, after=after, seconds=secs,
                      state=hashlib.sha1(b''.join(t.detach().cpu().numpy().tobytes() for t in learn.model.state_dict().values())).hexdigest())
        if rank_distrib()==0: print(f"{a}: {dict(zip(names, during))} in {secs:.1f}s on {max(num_distrib(),1)} process(es)", flush=True)
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        Path(out, f'rank{rank_distrib()}.json').write_text(json.dumps(res))
