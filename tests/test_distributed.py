"Distributed training: 2 gloo CPU processes (fastai `distrib_ctx` on DDP) match one process on ML-100K."
import os, sys, json, socket, subprocess, tempfile, contextlib
from pathlib import Path
os.environ.setdefault('FASTAI_HOME', '/tmp/fh')
import pytest
pytest.importorskip('accelerate', reason="fastai's distributed training needs Hugging Face `accelerate`")
import torch
from fastai.basics import *

ROOT = Path(__file__).resolve().parents[1]

def _train(arch, bs, distributed):
    "Train `arch` on ML-100K (same data, seed and schedule in every process); return the valid metrics on rank 0"
    from recfast.core import recfast_learner
    from recfast.datasets import movielens_100k, movielens_split
    import recfast.distributed, recfast.learner.collab, recfast.learner.implicit
    torch.set_num_threads(1)
    set_seed(42)  # the loaders' shuffling generators are drawn from the global state when they are built
    if arch=='dot':
        from recfast.data.ratings import RatingsDataLoaders
        dls = RatingsDataLoaders.from_df(movielens_100k(titles=False), valid_pct=0.2, seed=42, bs=bs, device='cpu')
        set_seed(42)
        learn = recfast_learner(dls, arch='dot', metrics=[mse])
        epochs,lr = 3,5e-3
    else:
        from recfast.data.interactions import InteractionsDataLoaders
        trn,tst = movielens_split()
        dls = InteractionsDataLoaders.from_df(trn, valid_df=tst, bs=bs, device='cpu')
        set_seed(0)
        learn = recfast_learner(dls, arch='implicit', loss='bpr', seed=0)
        epochs,lr = 2,1e-2
    ctx = learn.distrib_ctx(cpu=True) if distributed else contextlib.nullcontext()
    with ctx, learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, lr)
    during = [float(v) for v in learn.recorder.values[-1]]  # gathered from the ranks while training
    return dict(during=during, after=[float(v) for v in learn.validate()])  # whole valid set, this process

def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _launch(arch, bs, n=2):
    "Run `_train` in `n` gloo processes with `torch.distributed.run`, return rank 0's and rank 1's results"
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]), 'OMP_NUM_THREADS': '1'}
        cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(n), '--master_addr', '127.0.0.1',
               '--master_port', str(_free_port()), __file__, '--worker', arch, str(bs), d]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert p.returncode==0, p.stdout[-3000:]+p.stderr[-5000:]
        return [json.loads((Path(d)/f'{r}.json').read_text()) for r in range(n)]

@pytest.fixture(scope='module')
def dot_runs():
    return _train('dot', 256, False),_launch('dot', 128)

def test_dot_ddp_matches_single_process(dot_runs):
    "2 ranks x bs 128 reach the valid MSE of 1 process x bs 256 (3 epochs of `fit_one_cycle`)"
    single,(r0,r1) = dot_runs
    mse_1 = single['after'][0]
    assert mse_1 < 0.9, mse_1  # it learned (a constant predictor scores about 1.27)
    assert abs(r0['after'][0]-mse_1) < 0.02, (r0, single)
    test_close(r0['after'], r1['after'], eps=1e-6)  # DDP kept the replicas identical

def test_ddp_metrics_gathered(dot_runs):
    "The metric `Recorder` shows under DDP is the whole valid set's (gathered, padding dropped), not one rank's"
    _,(r0,r1) = dot_runs
    test_close(r0['during'][-1], r0['after'][-1], eps=1e-5)
    test_close(r0['during'], r1['during'], eps=1e-6)

def test_implicit_ddp_learns():
    "Negative sampling per rank: 2 ranks x bs 512 of BPR reach the MRR of 1 process x bs 1024"
    single = _train('implicit', 1024, False)
    r0,r1 = _launch('implicit', 512)
    assert abs(r0['during'][-1]-single['during'][-1]) < 0.015, (r0, single)
    assert r0['during'][-1] > 0.045, r0  # 2 epochs; an untrained model scores about 0.005
    test_close(r0['during'], r1['during'], eps=1e-6)

if __name__=='__main__' and '--worker' in sys.argv:
    arch,bs,out = sys.argv[sys.argv.index('--worker')+1:][:3]
    res = _train(arch, int(bs), True)
    Path(out, f"{os.environ['RANK']}.json").write_text(json.dumps(res))
