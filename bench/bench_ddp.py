"""Issue #6: every recfast learner data-parallel (fastai `learn.distrib_ctx()`, PyTorch DDP) against one process at
twice the batch size, with `examples/train_ddp.py` (ML-100K; the RAM on 3,000 MNIST digits).

With 2 or more GPUs the processes are one per GPU (NCCL); otherwise 2 CPU processes (gloo). Each arch's quality
(valid metric) and fit time are compared with one process of the same global batch size, in the same run. Writes
bench/results/ddp.json (bench/report.py rows). Usage: python bench/bench_ddp.py [--archs dot,mlp,...]"""
import os, sys, json, socket, subprocess, tempfile
from pathlib import Path
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from bench import report

ARCHS = 'dot,mlp,implicit,lstm,deep,ram'
METRIC = {'dot':'valid_loss', 'mlp':'valid_loss', 'implicit':'mrr', 'lstm':'mrr', 'deep':'masked_rmse', 'ram':'error_rate'}
LABEL = {'valid_loss':'valid MSE', 'mrr':'test MRR', 'masked_rmse':'valid RMSE', 'error_rate':'valid error'}
DATA = {'ratings':'ML-100K ratings, 80/20 random split seed 42', 'interactions':'ML-100K ua.base/ua.test, every rating a positive',
        'sequences':'ML-100K user sequences (max_len 100), 20% users held out seed 0',
        'vectors':'ML-100K item rating vectors, 90/10 random split seed 42', 'mnist':'MNIST, first 3,000 test digits, 80/20 split seed 42'}
SUITE = {'ratings':'fastbook-mse', 'interactions':'talk-mrr', 'sequences':'sequence-mrr', 'vectors':'autoenc-90-10',
         'mnist':report.own_suite('ddp', DATA['mnist'], LABEL['error_rate'])}  # the protocol each data's rows are ranked in
N_IMAGES = 3000

def launch(n, out, archs, env):
    "examples/train_ddp.py in one process (`n=1`) or `n` processes; the rank-0 results"
    cmd = [sys.executable]
    if n>1:
        with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
        cmd += ['-m', 'torch.distributed.run', '--nproc_per_node', str(n), '--master_addr', '127.0.0.1', '--master_port', str(port)]
    cmd += [str(ROOT/'examples'/'train_ddp.py'), '--arch', archs, '--n-images', str(N_IMAGES), '--out', str(out)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode: raise RuntimeError(f"{cmd} failed:\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    return json.loads((Path(out)/'rank0.json').read_text())

def main(archs=ARCHS):
    import torch
    n_gpu = torch.cuda.device_count()
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]), 'OMP_NUM_THREADS': '1',
           'PYTHONWARNINGS': 'ignore'}
    n = n_gpu if n_gpu>=2 else 2
    if n_gpu<2: env['CUDA_VISIBLE_DEVICES'] = ''  # 2 CPU processes (one GPU cannot hold 2 NCCL ranks)
    with tempfile.TemporaryDirectory() as d:
        one,many = launch(1, Path(d)/'one', archs, env),launch(n, Path(d)/'many', archs, env)
    kind = f'{n} GPU processes (NCCL)' if n_gpu>=2 else f'{n} CPU processes (gloo)'
    mach = report.machine() + (' (not used: DDP needs 2 GPUs)' if n_gpu==1 else '')
    sys.path.insert(0, str(ROOT/'examples'))
    from train_ddp import RECIPES
    rows = []
    for a in archs.split(','):
        data,epochs,lr,bs,kw = RECIPES[a]
        m = METRIC[a]
        v1,vn = (r[a]['during'][r[a]['names'].index(m)] for r in (one,many))
        what = DATA[data]
        proto = f"`examples/train_ddp.py --arch {a}`: fit_one_cycle({epochs}, {lr}), global bs {bs}"
        rows.append(report.row('ddp', f'recfast `{a}` learner, {kind} x bs {bs//n}', what, proto, LABEL[m], vn, many[a]['seconds'],
                               f'1 process x bs {bs}', v1, one[a]['seconds'], suite=SUITE[data], ratio_of='value', machine_kind=mach))
        print(rows[-1], flush=True)
    report.save(rows, 'ddp')

if __name__=='__main__':
    a = sys.argv[1:]
    main(a[a.index('--archs')+1] if '--archs' in a else ARCHS)
