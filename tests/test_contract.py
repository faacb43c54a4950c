"""The one recommender contract, for every registered architecture on small real data: fit, score pairs, recommend,
stream `recommend_all`, similar items, export -> `load_learner` in a fresh process that imports only `recfast`,
`export_serving` -> the same top-N from `serve.py` in a fresh process that imports only torch, and a DDP shard check of
its loaders. Registering an architecture adds it here; a new kind of `DataLoaders` needs a builder
in `BUILDERS`, or the matrix fails. Also: importing recfast changes no attribute of fastai."""
import json, math, subprocess, sys, os, warnings
from pathlib import Path
import pytest
from recfast.all import *

ROOT = Path(__file__).resolve().parents[1]

def _env(): return {**os.environ, 'PYTHONPATH': str(ROOT), 'MPLBACKEND': 'Agg'}

@pytest.fixture(scope='module')
def ml():
    df = movielens_100k(titles=False)
    return df[df.user<=150].reset_index(drop=True)

BUILDERS = {
    RatingsDataLoaders: lambda df: RatingsDataLoaders.from_df(df[['user','movie','rating']], seed=0, bs=256),
    InteractionsDataLoaders: lambda df: InteractionsDataLoaders.from_df(df[['user','movie']], seed=0, bs=512),
    SequenceDataLoaders: lambda df: SequenceDataLoaders.from_df(df[['user','movie','timestamp']], time_name='timestamp',
                                                               max_len=20, seed=0, bs=64),
    RatingSequenceDataLoaders: lambda df: RatingSequenceDataLoaders.from_df(df[['user','movie','rating','timestamp']], time_name='timestamp',
                                                                           max_len=20, seed=0, bs=64),
    SparseVectorDataLoaders: lambda df: SparseVectorDataLoaders.from_df(df[['user','movie','rating']], by='user', seed=0, bs=32),
    MNISTGlimpseDataLoaders: lambda df: MNISTGlimpseDataLoaders.from_tensors(*[t[:400] for t in mnist_digits()], seed=0, bs=32),
}

ARCHS = known_archs()
REC_ARCHS = [a for a in ARCHS if issubclass(arch_info(a)['dls'], RecDataLoaders)]

def test_every_arch_has_a_builder():
    missing = [(a, arch_info(a)['dls'].__name__) for a in ARCHS if arch_info(a)['dls'] not in BUILDERS]
    assert not missing, f"registered archs whose DataLoaders have no builder in BUILDERS: {missing}"
    assert {'dot','mlp','implicit','lstm','pool','cnn','popularity','autorec','deep','ram','rating_lstm'} <= set(ARCHS)

@pytest.fixture(scope='module')
def trained(ml, tmp_path_factory):
    "Every arch fit for one epoch, its answers to the contract's verbs, and its export"
    d = tmp_path_factory.mktemp('contract')
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dls_by = {cls: b(ml) for cls,b in BUILDERS.items()}
    for a in ARCHS:
        dls = dls_by[arch_info(a)['dls']]
        set_seed(0)
        kw = dict(layers=[64,32]) if a in ('deep',) else {}
        learn = recfast_learner(dls, arch=a, **kw)
        with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
        res = dict(learn=learn, dls=dls, losses=learn.recorder.values[-1])
        if a in REC_ARCHS:
            users = list(dls.users.items[1:4])
            items = list(dls.items.items[1:4])
            res['pairs'] = pd.DataFrame({dls.user_name: users, dls.item_name: items})
            res['scores'] = learn.predict_pairs(res['pairs'])
            res['recs'] = learn.recommend(users, n=5)
            res['all'] = learn.recommend_all(n=3, fname=d/f'{a}.csv', users=users)
            res['similar'] = learn.similar_items(items[0], n=4)
            learn.export_serving(d/f'{a}.serving')
        else: res['preds'] = learn.get_preds(dl=dls.valid)[0]
        learn.export(d/f'{a}.pkl')
        learn.export_safe(d/f'{a}.safe')
        out[a] = res
    return d, out

@pytest.fixture(scope='module')
def reloaded(trained):
    "The exported learners loaded in a fresh process that imports `recfast` only, and their answers"
    d,out = trained
    for a,r in out.items():
        if 'pairs' in r: r['pairs'].to_pickle(d/f'{a}.pairs.pkl')
    script = f'''
import sys, json, pickle, warnings
warnings.filterwarnings('error', message='.*(is deprecated: its code moved|moved to .recfast)', category=DeprecationWarning)
import recfast, pandas as pd, torch
from fastai.learner import load_learner
res = {{}}
for a in {ARCHS!r}:
    learn = load_learner({str(d)!r}+f'/{{a}}.pkl')
    if a in {REC_ARCHS!r}:
        pairs = pd.read_pickle({str(d)!r}+f'/{{a}}.pairs.pkl')
        users = list(pairs.iloc[:,0])
        res[a] = dict(scores=learn.predict_pairs(pairs).tolist(), recs=[[str(i) for i in r] for r in learn.recommend(users, n=5)])
    else: res[a] = dict(kind=type(learn).__name__)
res['_modules'] = sorted(m for m in sys.modules if m.startswith('recfast'))
print(json.dumps(res))
'''
    p = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, env=_env(), timeout=900)
    assert p.returncode==0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])

@pytest.fixture(scope='module')
def safe_reloaded(trained):
    """Each `export_safe` folder loaded in a fresh process where pickle raises: alone (scores, recommendations), then
    on loaders rebuilt from the same data, trained one more epoch"""
    d,out = trained
    pairs = {a: r['pairs'].to_dict(orient='list') for a,r in out.items() if 'pairs' in r}
    script = f'''
import sys, json, pickle, warnings
def refused(*a, **k): raise RuntimeError('pickle was used')
class Refused:
    def __init__(self, *a, **k): refused()
pickle.load = pickle.loads = refused; pickle.Unpickler = Refused
import pandas as pd, torch
from recfast.all import *
from tests.test_contract import BUILDERS
warnings.simplefilter('ignore')
df = movielens_100k(titles=False)
df = df[df.user<=150].reset_index(drop=True)
res,pairs = {{}},json.loads({json.dumps(json.dumps(pairs, default=int))})
for a in {ARCHS!r}:
    learn = load_learner_safe({str(d)!r}+f'/{{a}}.safe')
    r = res[a] = {{}}
    if a in pairs:
        p = pd.DataFrame(pairs[a])
        r.update(scores=learn.predict_pairs(p).tolist(), recs=[[str(i) for i in x] for x in learn.recommend(list(p.iloc[:,0]), n=5)])
    dls = BUILDERS[arch_info(a)['dls']](df)
    again = load_learner_safe({str(d)!r}+f'/{{a}}.safe', dls=dls)
    if a not in pairs: r['preds'] = again.get_preds(dl=dls.valid)[0].tolist()
    w0 = [p.detach().clone() for p in again.model.parameters()]
    with again.no_bar(), again.no_logging(): again.fit(1, 1e-3)
    r['loss'] = float(again.recorder.values[-1][0]) if again.recorder.values else float('nan')
    r['moved'] = any(not torch.equal(a_, b_) for a_,b_ in zip(w0, again.model.parameters()))
print(json.dumps(res))
'''
    p = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, env=_env(), timeout=900, cwd=ROOT)
    assert p.returncode==0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])

@pytest.fixture(scope='module')
def served(trained):
    "The top-5 of each recommender's serving export, from `serve.py` in a fresh process that imports torch only"
    d,out = trained
    users = {a: [json.loads(json.dumps(u, default=int)) for u in r['pairs'].iloc[:,0]] for a,r in out.items() if 'pairs' in r}
    script = f'''
import sys, json, importlib.util
res = {{}}
for a,users in {users!r}.items():
    spec = importlib.util.spec_from_file_location('serve_'+a, {str(d)!r}+f'/{{a}}.serving/serve.py')
    serve = importlib.util.module_from_spec(spec); spec.loader.exec_module(serve)
    res[a] = [[str(i) for i in r] for r in serve.Recommender({str(d)!r}+f'/{{a}}.serving').recommend(users, n=5)]
res['_modules'] = sorted(m for m in sys.modules if m.split('.')[0] in ('fastai','fastcore','recfast'))
print(json.dumps(res))
'''
    p = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, env=_env(), timeout=900)
    assert p.returncode==0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])

@pytest.mark.parametrize('arch', ARCHS)
def test_fit_one_epoch(trained, arch):
    learn = trained[1][arch]['learn']
    assert isinstance(learn, RecLearner if arch in REC_ARCHS else FastLearner), type(learn)
    assert np.isfinite(trained[1][arch]['losses'][0]), trained[1][arch]['losses']

@pytest.mark.parametrize('arch', REC_ARCHS)
def test_score_pairs(trained, arch):
    r = trained[1][arch]
    s = r['scores']
    assert s.shape==(3,) and np.isfinite(s).all()
    # the pair scores are the catalogue scores of those items
    dls = r['dls']
    full = r['learn'].score_items(dls.encode_users(r['pairs'].iloc[:,0])).cpu()
    np.testing.assert_allclose(s, full[torch.arange(3), dls.encode_items(r['pairs'].iloc[:,1])].numpy(), rtol=1e-4, atol=1e-5)

@pytest.mark.parametrize('arch', REC_ARCHS)
def test_recommend(trained, arch):
    r = trained[1][arch]
    dls,learn = r['dls'],r['learn']
    for u,recs in zip(r['pairs'].iloc[:,0], r['recs']):
        assert len(recs)==5 and len(set(recs))==5
        known = set(dls.decode_items(torch.where(dls.exclude_mask(dls.encode_users([u]))[0])[0]))
        assert not known & set(recs), f"{arch} recommends items user {u} already has"
        assert learn.recommend(u, n=5)==recs

@pytest.mark.parametrize('arch', REC_ARCHS)
def test_recommend_all(trained, arch):
    d,out = trained
    r = out[arch]
    df = pd.read_csv(r['all'])
    dls = r['dls']
    assert len(df)==9 and df.groupby(dls.user_name).size().tolist()==[3,3,3]
    for u,g in df.groupby(dls.user_name, sort=False):
        assert [str(i) for i in g[dls.item_name]]==[str(i) for i in r['learn'].recommend(u, n=3)]
        assert g.score.is_monotonic_decreasing

@pytest.mark.parametrize('arch', REC_ARCHS)
def test_similar_items(trained, arch):
    r = trained[1][arch]
    sim = r['similar']
    assert len(sim)==4 and sim.similarity.is_monotonic_decreasing and (sim.similarity<=1+1e-5).all()
    assert r['pairs'].iloc[0,1] not in set(sim.iloc[:,0])

@pytest.mark.parametrize('arch', ARCHS)
def test_export_load_fresh_process(trained, reloaded, arch):
    r = trained[1][arch]
    got = reloaded[arch]
    if arch in REC_ARCHS:
        np.testing.assert_allclose(got['scores'], r['scores'], rtol=1e-5, atol=1e-6)
        assert got['recs']==[[str(i) for i in x] for x in r['recs']]
    else: assert got['kind']=='FastLearner'
    assert 'recfast.all' not in reloaded['_modules']

@pytest.mark.parametrize('arch', ARCHS)
def test_export_safe_fresh_process(trained, safe_reloaded, arch):
    "`export_safe` -> `load_learner_safe` with pickle refused: the same answers, and training goes on from the weights"
    r,got = trained[1][arch],safe_reloaded[arch]
    if arch in REC_ARCHS:
        np.testing.assert_allclose(got['scores'], r['scores'], rtol=1e-5, atol=1e-6)
        assert got['recs']==[[str(i) for i in x] for x in r['recs']]
    else: np.testing.assert_allclose(got['preds'], r['preds'].tolist(), rtol=1e-4, atol=1e-5)
    assert math.isfinite(got['loss'])
    if arch not in ('pop','popularity','itemknn','ease','ials'): assert got['moved']  # the closed forms fit no weights

@pytest.mark.parametrize('arch', REC_ARCHS)
def test_serving_fresh_process(trained, served, arch):
    "Every recommender serves: `serve.py` without fastai gives `learn.recommend`'s top-N"
    assert served['_modules']==[], served['_modules']
    assert served[arch]==[[str(i) for i in x] for x in trained[1][arch]['recs']]

@pytest.mark.parametrize('arch', ARCHS)
def test_ddp_shards(trained, arch):
    "Each of 2 ranks gets a disjoint half of the training epoch, together all of it"
    from recfast.distributed import DistributedTensorDL
    import copy, random
    dl = trained[1][arch]['dls'].train
    def shard(r): # every rank builds the same loader with the same seed, as in a DDP script
        d = copy.copy(dl); d.rng = random.Random(0)
        return DistributedTensorDL(d, rank=r, world_size=2).get_idxs()
    idx = [shard(r) for r in (0,1)]
    n = len(dl.dataset)
    assert abs(len(idx[0])-len(idx[1]))<=0 and len(idx[0])+len(idx[1])>=n
    assert set(torch.cat(idx).tolist())==set(range(n))

def test_non_recommenders_get_a_fast_learner(trained):
    learn = trained[1]['ram']['learn']
    assert type(learn) is FastLearner and not hasattr(learn, 'recommend')

def test_models_without_the_protocol_are_refused_when_built(trained):
    dls = trained[1]['dot']['dls']
    with pytest.raises(TypeError, match='item_factors'): RecLearner(dls, nn.Linear(2, 2), loss_func=MSELossFlat())

def test_fastai_untouched_by_import():
    "In a fresh process, every attribute of every fastai module and class is the same object before and after `from recfast.all import *`"
    mods = subprocess.run([sys.executable, '-c', 'import sys; from recfast.all import *; print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in ("fastai","fastcore"))))'],
                          capture_output=True, text=True, env=_env(), timeout=300)
    assert mods.returncode==0, mods.stderr[-2000:]
    script = f'''
import importlib, inspect, sys
mods = {mods.stdout.split()!r}
for m in mods: importlib.import_module(m)
def snap():
    s = {{}}
    for m in mods:
        mod = sys.modules[m]
        for k,v in list(vars(mod).items()):
            s[(m,k)] = id(v)
            if inspect.isclass(v) and v.__module__==m:
                for ck,cv in list(vars(v).items()): s[(m,k,ck)] = id(cv)
    from fastcore.basics import defaults
    for k,v in vars(defaults).items(): s[('defaults',k)] = (id(v), repr(v))
    return s
before = snap()
from recfast.all import *
after = snap()
changed = sorted(str(k) for k in set(before)|set(after) if before.get(k)!=after.get(k))
print(len(before), changed)
'''
    p = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, env=_env(), timeout=300)
    assert p.returncode==0, p.stderr[-2000:]
    n,changed = p.stdout.strip().split(' ', 1)
    assert int(n) > 10_000, n
    assert changed=='[]', f"recfast changed fastai: {changed}"

def test_recommend_can_leave_validation_items_in(trained):
    "`exclude_seen=True` leaves out training and validation items; 'train' only the training ones, for top-N evaluation"
    r = trained[1]['dot']
    dls,learn = r['dls'],r['learn']
    users = torch.arange(1, dls.n_users)
    tr,va = dls.exclude_mask(users, valid=False),dls.exclude_mask(users)
    u = int(users[(va & ~tr).sum(1).argmax()])  # the user with the most validation items
    uid = dls.users.items[u]
    n = dls.n_items - 1 - int(tr[u-1].sum())
    every = set(learn.recommend(uid, n=n, exclude_seen='train'))
    valid = set(dls.decode_items(torch.where(va[u-1] & ~tr[u-1])[0]))
    assert valid and valid <= every and not every & set(dls.decode_items(torch.where(tr[u-1])[0]))
    assert not valid & set(learn.recommend(uid, n=n-len(valid)))
    with pytest.raises(ValueError, match="exclude_seen='valid'"): learn.recommend(uid, exclude_seen='valid')

@pytest.mark.parametrize('arch', REC_ARCHS)
def test_fastai_verbs(trained, arch):
    "fastai's `show_results`, `predict` and `test_dl` answer on every recommender, or name the verbs to use"
    r = trained[1][arch]
    dls,learn = r['dls'],r['learn']
    if arch=='rating_lstm':
        with pytest.raises(TypeError, match='`show_results` shows held-out items'): learn.show_results(show=False)
    else:
        df = learn.show_results(max_n=3, n=4, show=False)
        assert len(df)==3 and all(len(t)==4 for t in df['top 4']), df
        assert (df.hits==[len(set(h)&set(t)) for h,t in zip(df['held out'], df['top 4'])]).all()
    row = r['pairs'].iloc[0]
    assert learn.predict(row)==pytest.approx(float(r['scores'][0]), rel=1e-5, abs=1e-6)
    with pytest.raises(TypeError, match='predict_pairs'): dls.test_dl(r['pairs'])
