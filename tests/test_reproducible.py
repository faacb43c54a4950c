"""Seeds and exact resume, for every family (dot and MLP ratings, implicit, sequence, autoencoder, RAM) on CPU:
- the same `seed` in two fresh processes gives bit-identical training losses, whichever of `from_df(seed=...)` and
  `set_seed` comes first and whatever ran before in the process; different seeds give different losses;
- a checkpoint taken after an epoch (`SaveModelCallback(every_epoch=True, with_opt=True)`) and resumed with
  `fit_one_cycle(..., start_epoch=1)` in a learner built afresh gives the losses, recorded history and weights of the
  uninterrupted run.
Both run in two fresh processes at once (`python tests/test_reproducible.py SEEDS ORDERS` trains every family and prints
the losses as JSON), which is most of this file's cost: importing torch and fastai."""
import json, os, random, subprocess, sys, tempfile, warnings
from pathlib import Path
import numpy as np, pytest, torch
from fastai.basics import set_seed, Callback
from fastai.callback.tracker import SaveModelCallback
from recfast.datasets import movielens_100k
from recfast.collab.data import RatingsDataLoaders
from recfast.collab.learner import dot_learner, mlp_learner
from recfast.implicit.data import InteractionsDataLoaders
from recfast.implicit.learner import implicit_learner
from recfast.sequence.data import SequenceDataLoaders
from recfast.sequence.learner import sequence_learner
from recfast.autoencoder.data import SparseVectorDataLoaders
from recfast.autoencoder.learner import autoencoder_learner
from recfast.ram.data import MNISTGlimpseDataLoaders, mnist_digits
from recfast.ram.learner import ram_learner

ROOT = Path(__file__).resolve().parents[1]

def _data():
    df = movielens_100k(titles=False)
    x,y = mnist_digits()
    return df[df.user<=30].reset_index(drop=True), x[:256], y[:256]

FAMILIES = {  # `(loaders from the data and a seed, learner from the loaders and the seed)`, small enough for a few batches
    'dot': (lambda d,s: RatingsDataLoaders.from_df(d[0][['user','movie','rating']], seed=s, bs=256), lambda dls,s: dot_learner(dls, n_factors=8)),
    'mlp': (lambda d,s: RatingsDataLoaders.from_df(d[0][['user','movie','rating']], seed=s, bs=256), lambda dls,s: mlp_learner(dls, layers=[16], ps=[0.2])),
    'implicit': (lambda d,s: InteractionsDataLoaders.from_df(d[0][['user','movie']], seed=s, bs=256),
                 lambda dls,s: implicit_learner(dls, n_factors=8, seed=s)),
    'sequence': (lambda d,s: SequenceDataLoaders.from_df(d[0][['user','movie','timestamp']], time_name='timestamp', max_len=10, seed=s, bs=32),
                 lambda dls,s: sequence_learner(dls, arch='lstm', n_factors=8, seed=s)),
    'autoencoder': (lambda d,s: SparseVectorDataLoaders.from_df(d[0][['user','movie','rating']], seed=s, bs=4, device='cpu'),
                    lambda dls,s: autoencoder_learner(dls, arch='deep', layers=[16,8])),
    'ram': (lambda d,s: MNISTGlimpseDataLoaders.from_tensors(d[1], d[2], variant='translated', seed=s, bs=32),
            lambda dls,s: ram_learner(dls, n_hidden=16)),
}

class RawLosses(Callback):
    "Record every training batch's loss"
    order = 100
    def before_fit(self): self.losses = getattr(self, 'losses', [])
    def after_batch(self):
        if self.training: self.losses.append(self.learn.loss.item())

def _scramble():
    "Move every global generator of the process somewhere unpredictable"
    random.seed(); np.random.seed(None); torch.seed()

def _build(fam, data, seed, order=0):
    "The loaders and learner of `fam`, seeded with `seed`: `from_df` then `set_seed` (order 0) or the other way round"
    mk_dls,mk_learn = FAMILIES[fam]
    _scramble()
    if order==0: dls = mk_dls(data, seed); set_seed(seed)
    else: set_seed(seed); dls = mk_dls(data, seed)
    learn = mk_learn(dls, seed)
    learn.add_cb(RawLosses())
    return learn

def _hex(xs): return [float(v).hex() for v in xs]

def run(fam, data, seed, order, path, resume:bool):
    "Two epochs of `fam`, checkpointed: training and last validation losses (hex, to compare bits); the 2nd again resumed if `resume`"
    learn = _build(fam, data, seed, order)
    learn.path = path
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(2, 1e-3, cbs=SaveModelCallback(every_epoch=True, with_opt=True))
    res = dict(losses=_hex(learn.raw_losses.losses+[learn.recorder.values[-1][0]]))
    if resume:
        again = _build(fam, data, seed, 1-order)
        again.path = path
        again.load('model_0')
        _scramble()  # a new process's generators are anywhere
        with again.no_bar(), again.no_logging(): again.fit_one_cycle(2, 1e-3, start_epoch=1)
        n = len(again.raw_losses.losses)
        res.update(resumed=_hex(again.raw_losses.losses), uninterrupted=_hex(learn.raw_losses.losses[-n:]),
                   values=again.recorder.values==learn.recorder.values,
                   weights=[k for (k,a),b in zip(learn.model.state_dict().items(), again.model.state_dict().values()) if not torch.equal(a, b)])
    return res

if __name__=='__main__':
    warnings.simplefilter('ignore')
    torch.set_num_threads(1)
    data = _data()
    seeds,orders = [[int(v) for v in a.split(',')] for a in sys.argv[1:3]]
    with tempfile.TemporaryDirectory() as d:
        print(json.dumps({f'{s}:{f}': run(f, data, s, o, Path(d)/f, resume=k==0) for k,(s,o) in enumerate(zip(seeds, orders)) for f in FAMILIES}))
    sys.exit(0)

@pytest.fixture(scope='module')
def runs():
    "Two fresh processes, in parallel: seeds 1 then 2, and seeds 2 then 1, with `set_seed` after and before `from_df`; each resumes its first"
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'MPLBACKEND': 'Agg'}
    ps = [subprocess.Popen([sys.executable, __file__, seeds, orders], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
          for seeds,orders in (('1,2', '0,1'), ('2,1', '0,1'))]
    outs = [p.communicate(timeout=900) for p in ps]
    for p,(out,err) in zip(ps, outs): assert p.returncode==0, err[-3000:]
    return [json.loads(out.strip().splitlines()[-1]) for out,_ in outs]

@pytest.mark.parametrize('fam', list(FAMILIES))
def test_same_seed_same_losses_in_fresh_processes(runs, fam):
    a,b = runs
    for s in (1, 2): assert a[f'{s}:{fam}']['losses']==b[f'{s}:{fam}']['losses'], f"{fam}: seed {s} gives different losses in two processes"
    assert len(a[f'1:{fam}']['losses'])>4
    assert a[f'1:{fam}']['losses']!=a[f'2:{fam}']['losses'], f"{fam}: seeds 1 and 2 give the same losses"

@pytest.mark.parametrize('fam', list(FAMILIES))
def test_resume_equals_uninterrupted(runs, fam):
    "The second epoch resumed from the first one's checkpoint (`with_opt=True`) repeats the uninterrupted run bit for bit"
    for r in (runs[0][f'1:{fam}'], runs[1][f'2:{fam}']):
        assert r['resumed'] and r['resumed']==r['uninterrupted'], fam
        assert r['values'], f"{fam}: the recorder's history differs"
        assert not r['weights'], f"{fam}: weights {r['weights']} differ"
