"""Issue #14 on real ML-100K side data: bad feature frames fail before training with the column named; the hybrid of each
family answers the recommender contract (fit, pairs, recommend, recommend_all, similar items, export -> load_learner in a
fresh process, cold start there too); the hybrid ranks cold films above random; fold-in beats the mean user."""
import json, os, re, subprocess, sys, warnings
from pathlib import Path
import pytest
from recfast.all import *

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(scope='module')
def ml():
    "Ratings of users <= 150, their user features and the films' features (year filled, decade as a category)"
    r = movielens_100k(titles=False)
    r = r[r.user<=150].reset_index(drop=True)[['user','movie','rating']]
    u = movielens_users()[['user','age','gender','occupation']]
    i = movielens_items()[['movie','year','genres']]
    i = i.fillna({'year': i.year.median()}).assign(decade=lambda d: (d.year//10*10).astype(int).astype(str))
    return r, u[u.user.isin(r.user)].reset_index(drop=True), i

def _items(ml): return ml[2][ml[2].movie.isin(ml[0].movie)].reset_index(drop=True)

BAD = [  # (what to do to the item frame, error type, message)
    (lambda i: i.rename(columns={'movie':'film'}), ValueError, "Column 'movie' (`item_features`) is not in the DataFrame"),
    (lambda i: i.assign(year=i.year.where(i.index!=3)), ValueError, "Column 'year' has 1 missing or infinite values, first at row 3"),
    (lambda i: i.assign(decade=i.decade.where(i.index!=5)), ValueError, "Column 'decade' of item_features has 1 missing values, first at row 5"),
    (lambda i: i.assign(genres=[g if k else 'Drama' for k,g in enumerate(i.genres)]), ValueError, "Column 'genres' of item_features mixes lists of labels and single values: row 0"),
    (lambda i: i.assign(released=pd.Timestamp('1995-01-01')), ValueError, "Column 'released' of item_features has dtype datetime64"),
    (lambda i: pd.concat([i, i[:2]], ignore_index=True), ValueError, "Column 'movie' of item_features repeats 2 ids"),
    (lambda i: i[i.movie!=1], ValueError, "Column 'movie' of item_features has no row for 1 of the"),
    (lambda i: i.assign(movie=i.movie.astype(str)), ValueError, "Column 'movie' of item_features holds str ids and the ratings int ids"),
    (lambda i: i.assign(movie=i.movie.where(i.index!=2)), ValueError, "Column 'movie' has 1 missing ids, first at row 2"),
    (lambda i: i[['movie']], ValueError, "item_features has no feature column besides the id column 'movie'"),
    (lambda i: i.values, TypeError, "`item_features` must be a pandas DataFrame, not ndarray"),
]

@pytest.mark.parametrize('k', range(len(BAD)))
def test_bad_item_features_name_the_column(ml, k):
    f,exc,msg = BAD[k]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with pytest.raises(exc) as e: RatingsDataLoaders.from_df(ml[0], seed=0, item_features=f(_items(ml)))
    assert msg in str(e.value), str(e.value)

def test_bad_user_features(ml):
    with pytest.raises(ValueError, match="Column 'age' has 1 missing"):
        InteractionsDataLoaders.from_df(ml[0][['user','movie']], seed=0, user_features=ml[1].assign(age=ml[1].age.where(ml[1].index!=0)))

def _fit(dls, arch, epochs=2, **kw):
    set_seed(0)
    learn = recfast_learner(dls, arch=arch, **kw)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, 5e-3)
    return learn

@pytest.fixture(scope='module')
def hybrids(ml):
    r,u,i = ml
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        rd = RatingsDataLoaders.from_df(r, seed=0, bs=256, user_features=u, item_features=_items(ml))
        idl = InteractionsDataLoaders.from_df(r[['user','movie']], seed=0, bs=512, item_features=_items(ml))
    return {'dot': _fit(rd, 'dot', 1, n_factors=16), 'mlp': _fit(rd, 'mlp', 1, layers=[32]), 'implicit': _fit(idl, 'implicit', 1, n_factors=16, seed=0)}

def test_hybrid_contract(ml, hybrids, tmp_path):
    "Each family's hybrid through the verbs, then export -> load_learner in a fresh process that also cold-starts a new film"
    new = ml[2][~ml[2].movie.isin(ml[0].movie)][:3]
    pairs = pd.DataFrame({'user':[1,2,3], 'movie':[1,2,3]})
    want = {}
    for a,learn in hybrids.items():
        assert type(learn.model).__name__.startswith('Hybrid'), type(learn.model)
        dls = learn.dls
        s = learn.predict_pairs(pairs)
        full = learn.score_items(dls.encode_users(pairs.user)).cpu()
        np.testing.assert_allclose(s, full[torch.arange(3), dls.encode_items(pairs.movie)].numpy(), rtol=1e-4, atol=1e-5)
        recs = learn.recommend(1, n=5)
        seen = set(dls.decode_items(torch.where(dls.exclude_mask(dls.encode_users([1]))[0])[0]))
        assert len(recs)==5 and not seen & set(recs)
        all_ = learn.recommend_all(n=5, users=[1])
        assert list(all_.movie)==recs
        assert len(learn.similar_items(1, n=4))==4
        cold = learn.predict_pairs(pd.DataFrame({'user':[1]*3, 'movie':list(new.movie)}), item_features=new)
        assert np.isfinite(cold).all() and learn.dls is dls
        learn.export(tmp_path/f'{a}.pkl')
        want[a] = dict(scores=s.tolist(), recs=[str(x) for x in recs], cold=cold.tolist())
    new.to_pickle(tmp_path/'new.pkl')
    script = f'''
import json, warnings, pandas as pd
import recfast
from fastai.learner import load_learner
new = pd.read_pickle({str(tmp_path/'new.pkl')!r})
pairs = pd.DataFrame({{'user':[1,2,3], 'movie':[1,2,3]}})
res = {{}}
for a in {list(hybrids)!r}:
    learn = load_learner({str(tmp_path)!r}+f'/{{a}}.pkl')
    res[a] = dict(scores=learn.predict_pairs(pairs).tolist(), recs=[str(x) for x in learn.recommend(1, n=5)],
                  cold=learn.predict_pairs(pd.DataFrame({{'user':[1]*3, 'movie':list(new.movie)}}), item_features=new).tolist())
print(json.dumps(res))
'''
    p = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=600,
                       env={**os.environ, 'PYTHONPATH': str(ROOT), 'MPLBACKEND': 'Agg'})
    assert p.returncode==0, p.stderr[-3000:]
    got = json.loads(p.stdout.strip().splitlines()[-1])
    for a in hybrids:
        np.testing.assert_allclose(got[a]['scores'], want[a]['scores'], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got[a]['cold'], want[a]['cold'], rtol=1e-5, atol=1e-6)
        assert got[a]['recs']==want[a]['recs']

def test_new_user_from_features(hybrids):
    learn = hybrids['dot']
    me = pd.DataFrame({'user':[10_001, 10_002], 'age':[25, 60], 'gender':['F','M'], 'occupation':['student','retired']})
    recs = learn.recommend([10_001, 10_002], n=5, user_features=me)
    assert len(recs)==2 and all(len(r)==5 for r in recs)
    with pytest.raises(ValueError, match="Column 'occupation' of user_features has a value the model never saw: 'astronaut'"):
        learn.recommend(10_001, user_features=me.assign(occupation='astronaut'))
    with pytest.raises(KeyError, match='Unknown user id 10001'): learn.recommend(10_001)   # the block is over

def test_hybrid_beats_random_on_cold_films(ml):
    "20% of the films held out of training; per user, their held-out films ranked among all held-out films"
    r,_,items = ml
    films = np.sort(r.movie.unique())
    cold = set(films[torch.randperm(len(films), generator=torch.Generator().manual_seed(0))[:len(films)//5].numpy()])
    warm_r,cold_r = r[~r.movie.isin(cold)],r[r.movie.isin(cold)]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dls = InteractionsDataLoaders.from_df(warm_r[['user','movie']], seed=0, bs=512, item_features=items[items.movie.isin(warm_r.movie)])
    learn = _fit(dls, 'implicit', n_factors=32, seed=0)
    ci = items[items.movie.isin(cold)]
    us = sorted(set(cold_r.user) & set(warm_r.user))
    with learn.added_features(item_features=ci):
        s = learn.score_items(learn.dls.encode_users(us))[:, learn.dls.encode_items(ci.movie)].cpu()
    t = torch.zeros_like(s, dtype=torch.bool)
    t[torch.from_numpy(pd.Index(us).get_indexer(cold_r.user)), torch.from_numpy(pd.Index(ci.movie).get_indexer(cold_r.movie))] = True
    ok = t.any(1) & ~t.all(1)
    s,t = s[ok],t[ok]
    def auc(s):  # fraction of (held-out positive, other) pairs in the right order, per user
        return ((s[:,:,None] > s[:,None,:]).float()*t[:,:,None]*(~t)[:,None,:]).sum((1,2))/(t.sum(1)*(~t).sum(1))
    a,ra = auc(s).mean().item(),auc(torch.rand(s.shape, generator=torch.Generator().manual_seed(0))).mean().item()
    assert a > ra+0.05 and a > 0.58, (a, ra)

@pytest.mark.parametrize('arch', ['dot', 'implicit'])
def test_fold_in_beats_the_mean_user(ml, arch):
    "Five users left out of training: fold-in from half their ratings, scored on the other half"
    r = ml[0]
    out = r.user.isin([3, 17, 42, 77, 120])
    half = r[out].groupby('user').cumcount()%2==0
    fold,test = r[out][half.to_numpy()],r[out][~half.to_numpy()]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dls = (RatingsDataLoaders.from_df(r[~out], seed=0, bs=256) if arch=='dot' else
               InteractionsDataLoaders.from_df(r[~out][['user','movie']], seed=0, bs=512))
    learn = _fit(dls, arch, n_factors=16, **({'seed':0, 'epochs':10} if arch=='implicit' else {}))  # 2 BPR epochs: barely past popularity
    test = test[test.movie.isin(dls.items.items[1:])]
    m = learn.model
    n_users = dls.n_users
    mean_u,mean_b = m.u_weight.weight[1:].mean(0).detach(),m.u_bias.weight[1:].mean(0).detach()
    learn.fold_in(fold, l2=1.)
    assert learn.dls.n_users==n_users+5 and m.u_weight.weight.shape[0]==n_users+5
    assert not set(learn.recommend(42, n=10)) & set(fold[fold.user==42].movie)   # folded-in ratings count as seen
    idx,it = learn.dls.encode_users(test.user),learn.dls.encode_items(test.movie)
    def quality():
        "minus the MSE of the held-out ratings (dot), the mean percentile of the held-out items among all items (implicit)"
        if arch=='dot': return -float(((learn.predict_pairs(test) - test.rating.to_numpy())**2).mean())
        full = learn.score_items(idx).cpu()
        return (full < full[torch.arange(len(idx)), it][:,None]).float().mean().item()
    q_fold = quality()
    with torch.no_grad(): m.u_weight.weight[idx] = mean_u.to(m.u_weight.weight); m.u_bias.weight[idx] = mean_b.to(m.u_bias.weight)
    q_mean = quality()
    assert q_fold > q_mean + (0.03 if arch=='dot' else 0.02), (q_fold, q_mean)

# --- the DataBlock path: RatingsBlock(user_features=, item_features=) -----------------------------------------
def _block_dls(ml, items=None, users=None):
    r,u,i = ml
    blk = RatingsBlock('user', 'movie', user_features=u if users is None else users, item_features=_items(ml) if items is None else items)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # feature rows of validation-only ids: counted in a warning
        return DataBlock(blocks=(blk, RegressionBlock()), get_y=ColReader('rating'), splitter=RandomSplitter(seed=0)).dataloaders(r, bs=256)

@pytest.mark.parametrize('factory', ['dot_learner'])  # the MLP hybrid shares the path (its model is checked by the from_df tests)
def test_datablock_path_trains_the_hybrid(ml, factory):
    "The DataBlock path with features: the factory builds the hybrid and it learns (valid MSE below the mean rating's, same split)"
    bdls = _block_dls(ml)
    assert has_features(bdls) and bdls.item_features.kinds=={'year':'cont', 'genres':'multi', 'decade':'cat'}
    set_seed(0)
    learn = globals()[factory](bdls, y_range=(0,5.5))
    assert type(learn.model).__name__==('HybridDotProductBias' if factory=='dot_learner' else 'HybridEmbeddingMLP')
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(3, 1e-2)
    mse,y = learn.recorder.values[-1][1],bdls.valid.dataset.ts[1].float()
    assert mse < 0.95*float(((y-bdls.train.dataset.ts[1].float().mean())**2).mean()), mse
    feats = [m for m in learn.model.modules() if isinstance(m, HybridEmbedding) and m.feats is not None]
    assert {m.side for m in feats}=={'user','item'}

@pytest.mark.parametrize('k', [1, 2, 6])
def test_datablock_bad_features_name_the_column(ml, k):
    "The same checks as from_df, raised by `dataloaders` before any training"
    f,exc,msg = BAD[k]
    with pytest.raises(exc, match=re.escape(msg)): _block_dls(ml, items=f(_items(ml)))

def test_fold_in_same_rules_as_from_df():
    "fold_in resolves repeated (user, item) rows like from_df (their mean, with a warning) and refuses ratings outside y_range"
    r = pd.DataFrame({'user': np.repeat(np.arange(1, 7), 5), 'item': np.tile(np.arange(1, 6), 6), 'rating': np.arange(30)%5+1.})
    learn = dot_learner(RatingsDataLoaders.from_df(r, valid_pct=0., seed=0), n_factors=4)
    dup = pd.DataFrame({'user': [100]*3, 'item': [1, 1, 2], 'rating': [1., 5., 3.]})
    with pytest.warns(UserWarning, match=r"1 \(user, item\) pairs appear more than once, e.g. user=100, item=1"): learn.fold_in(dup)
    learn.fold_in(pd.DataFrame({'user': [101]*2, 'item': [1, 2], 'rating': [3., 3.]}))  # the mean of the repeated pair
    u = learn.dls.encode_users([100, 101])
    assert torch.allclose(learn.model.u_weight.weight[u[0]], learn.model.u_weight.weight[u[1]], atol=1e-5)
    n = learn.dls.n_users
    with pytest.raises(ValueError, match=re.escape("2 ratings are outside y_range=(0, 5.5), e.g. 50.0 by user=102 for item=1")):
        learn.fold_in(pd.DataFrame({'user': [102]*2, 'item': [1, 2], 'rating': [50., 70.]}))
    assert learn.dls.n_users==n  # refused before anything changed

# --- threads: one learner scored from several threads at once ---------------------------------------------------
def _state(learn):
    "What scoring must leave as it found it: vocabularies, the model's sizes and feature tables"
    m = learn.model
    tabs = [(t.warm.shape, tuple(getattr(t.feats, k).shape for k in t.feats.keys))
            for t in m.modules() if isinstance(t, HybridEmbedding) and t.feats is not None]
    return (learn.dls.n_users, learn.dls.n_items, len(learn.dls.classes['user']), m.training, tabs)

def test_threads_score_like_one_thread(ml, hybrids):
    "8 threads x 80 calls through every verb (new users' features included) give the one-thread answers, no change"
    from concurrent.futures import ThreadPoolExecutor
    learn = hybrids['dot']
    new = pd.DataFrame({'user':[20_001+k for k in range(4)], 'age':[20, 30, 40, 50], 'gender':list('FMFM'),
                        'occupation':['student','artist','doctor','retired']})
    pairs = pd.DataFrame({'user':[1,2,3,4], 'movie':[1,2,3,4]})
    calls = [lambda k=k: learn.recommend(20_001+k, n=5, user_features=new[k:k+1]) for k in range(4)]
    calls += [lambda: learn.recommend([1,2,3], n=5), lambda: learn.predict_pairs(pairs).tolist(),
              lambda: learn.predict_pairs(pd.DataFrame({'user':[20_003], 'movie':[50]}), user_features=new).tolist(),
              lambda: learn.similar_items(50, n=5).movie.tolist(), lambda: learn.recommend_all(n=3, users=[5,6]).values.tolist()]
    before = _state(learn)
    want = [c() for c in calls]
    with ThreadPoolExecutor(8) as ex: got = list(ex.map(lambda k: calls[k%len(calls)](), range(80)))
    bad = [k for k,g in enumerate(got) if g!=want[k%len(calls)]]
    assert not bad, f"{len(bad)} of 80 threaded answers differ, first call {bad[0]%len(calls)}"
    assert _state(learn)==before, (_state(learn), before)
    with pytest.raises(KeyError, match='Unknown user id 20001'): learn.recommend(20_001)  # no phantom user left

def test_fold_in_leaves_other_learners_alone(ml):
    "Two learners on one DataLoaders: folding a user into one gives it its own loaders; the other is unchanged"
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dls = RatingsDataLoaders.from_df(ml[0], seed=0, bs=256)
    a,b = dot_learner(dls, n_factors=8),dot_learner(dls, n_factors=8)
    n = dls.n_users
    a.fold_in(pd.DataFrame({'user':[9300]*3, 'movie':[1,50,100], 'rating':[5,4,3]}))
    assert a.dls.n_users==n+1 and b.dls.n_users==n and dls.n_users==n
    assert len(b.recommend_all(n=2))==2*(n-1)
    with pytest.raises(KeyError, match='9300'): b.recommend(9300)

def test_fold_in_and_evaluate_name_bad_frames(ml, hybrids):
    "A string id into an int-id model, a NaN rating or a missing column: refused, naming the column"
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn = dot_learner(RatingsDataLoaders.from_df(ml[0], seed=0, bs=256), n_factors=8)
    with pytest.raises(ValueError, match="Column 'user' holds str ids and the model int ids"):
        learn.fold_in(pd.DataFrame({'user':['new'], 'movie':[1], 'rating':[4]}))
    with pytest.raises(ValueError, match="Column 'rating' has 1 missing or infinite values"):
        learn.evaluate(pd.DataFrame({'user':[1, 2], 'movie':[1, 2], 'rating':[4, np.nan]}))
    with pytest.raises(ValueError, match="Column 'movie' .* is not in the DataFrame"):
        learn.evaluate(pd.DataFrame({'user':[1], 'film':[1]}))

def test_fold_in_keeps_the_loaders_threshold(ml):
    "Implicit loaders built with `threshold=4` fold in only the rows rated 4 or more, and say how many they drop"
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn = implicit_learner(InteractionsDataLoaders.from_df(ml[0], threshold=4, seed=0), n_factors=8, seed=0)
    assert learn.dls.threshold==('rating', 4)
    with pytest.warns(UserWarning, match='threshold=4: dropped 2 of 4 fold-in rows'):
        learn.fold_in(pd.DataFrame({'user':[9200]*4, 'movie':[1, 50, 100, 181], 'rating':[1, 1, 5, 5]}))
    assert int(learn.dls.seen.row_lengths()[-1])==2
