"""`export_safe` / `load_learner_safe` (issue #30) against the hostile review of round 7a (issue #27): tampered recipes
can't name code outside recfast and fastai, arguments and settings that can't be written are said, and loaders passed
to train on are checked against the model's."""
import json, re, shutil, warnings
import pytest
from recfast.all import *
from recfast.fast import keeps_recipe

@pytest.fixture(scope='module')
def R():
    r = movielens_100k()[['user','movie','rating','timestamp']]
    return r[r.user<=60].reset_index(drop=True)

def _q(f, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return f(*a, **k)

@pytest.fixture(scope='module')
def dls(R): return _q(RatingsDataLoaders.from_df, R[['user','movie','rating']], seed=0, bs=256)

@pytest.fixture(scope='module')
def folder(dls, tmp_path_factory):
    l = dot_learner(dls, n_factors=8)
    with l.no_bar(), l.no_logging(): l.fit(1, 1e-2)
    return l.export_safe(tmp_path_factory.mktemp('safe')/'dot')

def _edited(folder, tmp_path, f):
    d = tmp_path/'edited'
    shutil.copytree(folder, d, dirs_exist_ok=True)
    j = json.loads((d/'recipe.json').read_text()); f(j)
    (d/'recipe.json').write_text(json.dumps(j))
    return d

def test_tampered_recipes_refused(folder, dls, tmp_path):
    kw = lambda **k: (lambda j: j['kwargs'].update(k))
    cases = [(kw(loss_func={'$fn': 'fastai.basics:os.system'}), "'fastai.basics:os.system': not a function or class"),
             (kw(cbs=[{'$fn': 'fastai.basics:threading.Thread'}]), "'fastai.basics:threading.Thread': not a function"),
             (kw(loss_func={'$fn': 'recfast.core:subprocess.getoutput'}), "'recfast.core:subprocess.getoutput'"),
             (kw(loss_func={'$fn': 'fastai.nosuchmod:x'}), "'fastai.nosuchmod:x': not a function or class"),
             (kw(loss_func={'$fn': 'fastai.learner:load_learner'}), "'fastai.learner:load_learner': not a function"),
             (kw(loss_func={'$fn': 'recfast.core:nothing'}), "'recfast.core:nothing'"),
             (lambda j: j.update(factory='recfast.collab.learner:mlp_learner'), "arguments don't fit"),
             (kw(bogus=3), "arguments don't fit recfast.collab.learner:dot_learner"),
             (lambda j: j.update(model='SomethingElse'), "says the model is a 'SomethingElse'"),
             (lambda j: j['dls'].update(cls='recfast.core:TensorDL'), 'not recfast loaders'),
             (lambda j: j['dls']['meta'].update(seen={'$obj': 'recfast.core:FeatureTable', 'state': {}, 'id': 'x'}),
              "'recfast.core:FeatureTable': not a function or class")]
    for f,msg in cases:
        with pytest.raises((ValueError, TypeError), match=re.escape(msg)): _q(load_learner_safe, _edited(folder, tmp_path, f))
    with pytest.raises(ValueError, match='`cpu` must be True or False'): load_learner_safe(folder, cpu='no')
    with pytest.raises(TypeError, match='`path` must be a folder name'): load_learner_safe(None)
    with pytest.raises(ValueError, match='`path` is empty'): load_learner_safe('')

def test_foreign_weights_named(folder, dls, tmp_path):
    other = implicit_learner(_q(InteractionsDataLoaders.from_df, dls.train.dataset and
                                movielens_100k()[['user','movie']].head(300), seed=0))
    o = other.export_safe(tmp_path/'other')
    d = tmp_path/'mixed'; shutil.copytree(folder, d)
    (d/'model.safetensors').write_bytes((o/'model.safetensors').read_bytes())
    j = json.loads((d/'recipe.json').read_text()); j['sha256'] = json.loads((o/'recipe.json').read_text())['sha256']
    (d/'recipe.json').write_text(json.dumps(j))
    with pytest.raises(ValueError, match="model.safetensors doesn.t fit this DotProductBias"): load_learner_safe(d)

def test_export_says_what_it_leaves_out(dls, tmp_path):
    l = dot_learner(dls, n_factors=8, loss_func=lambda p,t: ((p.squeeze()-t.squeeze())**2).mean())
    with pytest.warns(UserWarning, match=r"1 setting\(s\) .* left out \(loss_func\)"): d = l.export_safe(tmp_path/'a')
    with pytest.warns(UserWarning, match="exported without loss_func"): load_learner_safe(d)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        load_learner_safe(d, loss_func=MSELossFlat())  # given again: nothing to say
    l = dot_learner(dls, n_factors=8)
    l.loss_func = L1LossFlat(); l.metrics = [mae]
    with pytest.warns(UserWarning, match=r"left out \(loss_func, metrics\)"): l.export_safe(tmp_path/'b')
    l.recipe = 'junk'
    with pytest.raises(TypeError, match='learn.recipe must be'): l.export_safe(tmp_path/'c')
    with pytest.raises(TypeError, match='`path` must be a folder name'): dot_learner(dls).export_safe(None)
    (tmp_path/'e'/'recipe.json').mkdir(parents=True)
    with pytest.raises(ValueError, match='recipe.json is a folder'): dot_learner(dls).export_safe(tmp_path/'e')
    assert not (tmp_path/'e'/'model.safetensors').exists()

def test_factories_outside_the_registry(dls, tmp_path):
    @keeps_recipe
    def mine_learner(dls, *extra, **kwargs): return dot_learner(dls, **kwargs)
    with pytest.raises(ValueError, match="defined in `__main__`|is not a registered learner factory"):
        mine_learner(dls).export_safe(tmp_path/'m')
    assert mine_learner(dls, 1, 2, n_factors=4).recipe['args'] == [1, 2]

def test_loaders_checked_against_the_model(R, folder, dls, tmp_path):
    other = _q(RatingsDataLoaders.from_df, R[['user','movie','rating']], seed=1, bs=256)  # same ids, another split
    with pytest.warns(UserWarning, match=r"other training rows than the model's \(\d+ new, \d+ not in these\)"):
        load_learner_safe(folder, dls=other)
    s = R[['user','movie','timestamp']]
    sd = _q(SequenceDataLoaders.from_df, s, time_name='timestamp', max_len=20, seed=0)
    l = sequence_learner(sd, arch='lstm')
    d = l.export_safe(tmp_path/'lstm')
    sd5 = _q(SequenceDataLoaders.from_df, s, time_name='timestamp', max_len=5, seed=0)
    with pytest.warns(UserWarning, match=r"differ from the model's loaders in max_len \(5; the model's 20\)"):
        load_learner_safe(d, dls=sd5)
    path = untar_data(URLs.ML_100k)
    u = pd.read_csv(path/'u.user', sep='|', names=['user','age','gender','occupation','zip'])
    u = u[u.user<=60][['user','age','gender']]
    h = dot_learner(_q(RatingsDataLoaders.from_df, R[['user','movie','rating']], user_features=u, seed=0))
    hd = h.export_safe(tmp_path/'hyb')
    with pytest.raises(ValueError, match='trained with `user_features`, these `dls` have none'):
        load_learner_safe(hd, dls=dls)
