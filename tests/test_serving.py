"""Issue #14: `learn.export_serving` -> `serve.py` in a fresh process that imports torch only (no fastai, no recfast):
the same top-N as `learn.recommend` for every covered family, unknown users and damaged or missing files as errors
that name them."""
import json, subprocess, sys, os, shutil, warnings
from pathlib import Path
import pytest
from recfast.all import *
from recfast import serve_torch

ROOT = Path(__file__).resolve().parents[1]
ARCHS = ('dot', 'mlp', 'implicit', 'autorec', 'deep', 'cnn')

@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    "Each covered arch fit for one epoch on 150 users of ML-100K, its `recommend` answers and its serving export"
    df = movielens_100k(titles=False)
    df = df[df.user<=150].reset_index(drop=True)
    d = tmp_path_factory.mktemp('serving')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dls_by = {'ratings': RatingsDataLoaders.from_df(df[['user','movie','rating']], seed=0, bs=256),
                  'implicit': InteractionsDataLoaders.from_df(df[['user','movie']], seed=0, bs=512),
                  'vectors': SparseVectorDataLoaders.from_df(df[['user','movie','rating']], by='user', seed=0, bs=32),
                  'sequence': SequenceDataLoaders.from_df(df[['user','movie','timestamp']], time_name='timestamp', max_len=20, seed=0, bs=64)}
    kind = dict(dot='ratings', mlp='ratings', implicit='implicit', autorec='vectors', deep='vectors', cnn='sequence')
    expected = {}
    for a in ARCHS:
        dls = dls_by[kind[a]]
        set_seed(0)
        learn = recfast_learner(dls, arch=a, **(dict(layers=[64,32]) if a=='deep' else {}))
        with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-2)
        learn.export_serving(d/a)
        users = [int(u) for u in dls.users.items[1:]]
        expected[a] = {'users': users, 'top10': learn.recommend(users), 'one': learn.recommend(users[3], n=3),
                       'all_items': learn.recommend(users[:5], n=5, exclude_seen=False)}
        if a=='cnn': expected[a]['history'] = learn.recommend(history=[50, 172, 133], n=5)
    (d/'expected.json').write_text(json.dumps(expected, default=int))
    return d, expected

SCRIPT = '''
import sys, json, importlib.util
d = sys.argv[1]
res = {}
for a in sys.argv[2:]:
    spec = importlib.util.spec_from_file_location('serve', f'{d}/{a}/serve.py')
    serve = importlib.util.module_from_spec(spec); spec.loader.exec_module(serve)
    rec = serve.Recommender(f'{d}/{a}')
    exp = json.load(open(f'{d}/expected.json'))[a]
    r = {'top10': rec.recommend(exp['users'], bs=64), 'one': rec.recommend(exp['users'][3], n=3),
         'all_items': rec.recommend(exp['users'][:5], n=5, exclude_seen=False)}
    if a=='cnn': r['history'] = rec.recommend_history([50, 172, 133], n=5)
    try: rec.recommend([exp['users'][0], 99999])
    except KeyError as e: r['unknown'] = str(e)
    res[a] = r
assert 'fastai' not in sys.modules and 'recfast' not in sys.modules, sorted(m for m in sys.modules if m.split('.')[0] in ('fastai','recfast','fastcore'))
print(json.dumps(res))
'''

def test_fresh_process_same_top_n(exported):
    d,expected = exported
    env = {k:v for k,v in os.environ.items() if k!='PYTHONPATH'}
    p = subprocess.run([sys.executable, '-c', SCRIPT, str(d), *ARCHS], capture_output=True, text=True, env=env, cwd=d)
    assert p.returncode==0, p.stderr[-3000:]
    got = json.loads(p.stdout.strip().splitlines()[-1])
    for a in ARCHS:
        for k in expected[a]:
            if k!='users': assert got[a][k]==expected[a][k], (a, k)
        assert "1 of 2 users are unknown to the model, e.g. 99999" in got[a]['unknown'], a

def test_export_files_and_query_kinds(exported):
    d,_ = exported
    kinds = {a: json.loads((d/a/'manifest.json').read_text())['query'] for a in ARCHS}
    assert kinds=={'dot':'user', 'mlp':'user', 'implicit':'user', 'autorec':'vector', 'deep':'vector', 'cnn':'window'}
    man = json.loads((d/'dot'/'manifest.json').read_text())
    assert man['values'] and set(man['files'])=={'scores.pt2','values.pt2','seen.pt','users.json','items.json','serve.py'}
    assert (d/'dot'/'serve.py').read_text()==Path(serve_torch.__file__).read_text()

@pytest.mark.parametrize('name', ['scores.pt2', 'seen.pt', 'users.json', 'queries.pt', 'manifest.json'])
def test_missing_or_damaged_file_named(exported, tmp_path, name):
    d,_ = exported
    for how in ('missing', 'damaged'):
        e = tmp_path/how/name
        shutil.copytree(d/'autorec', e)
        if how=='missing': (e/name).unlink()
        else: (e/name).write_bytes((e/name).read_bytes()[:-7]+b'garbage')
        with pytest.raises((FileNotFoundError, ValueError), match=name.replace('.', r'\.')): serve_torch.Recommender(e)

def test_unknown_users_popular_fallback(exported):
    d,_ = exported
    rec = serve_torch.Recommender(d/'implicit')
    with pytest.warns(UserWarning, match='1 of 2 users are unknown to the model'):
        items,vals,fb = rec.top([1, 99999], n=4, unknown='popular')
    assert fb.tolist()==[False, True] and len(items[1])==4
    pop = rec.seen['popularity'].float()
    assert vals[1].tolist()==sorted(pop[1:].tolist(), reverse=True)[:4]
    with pytest.raises(ValueError, match="unknown='maybe'"): rec.recommend(1, unknown='maybe')

def test_history_needs_a_sequence_export(exported):
    d,_ = exported
    with pytest.raises(TypeError, match="query is 'user'"): serve_torch.Recommender(d/'dot').recommend_history([50])
    with pytest.raises(KeyError, match='unknown to the model'): serve_torch.Recommender(d/'cnn').recommend_history([50, 99999])

def test_numpy_ints_accepted_like_learn_recommend(exported):
    "`n` may be any int `learn.recommend` takes (numpy's too, e.g. from a DataFrame); bools and floats are refused"
    d,expected = exported
    rec = serve_torch.Recommender(d/'dot')
    assert list(rec.recommend(expected['dot']['users'][3], n=np.int64(3)))==list(expected['dot']['one'])
    for bad in (True, 3.0):
        with pytest.raises(ValueError, match='must be an int'): rec.recommend(1, n=bad)
