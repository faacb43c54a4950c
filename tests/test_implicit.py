"Implicit feedback: ML-100K quality, ranking metrics, bad input, export round trip."
import re, warnings, tempfile
import pytest
from fastai.basics import *
from fastai.callback.progress import *
from fastai.callback.schedule import *
from recfast.core import *
from recfast.registry import *
from recfast.datasets import movielens_split
from recfast.recommender import *
from recfast.losses import *
from recfast.implicit.data import *
from recfast.implicit.models import *
from recfast.metrics.ranking import *
from recfast.implicit.learner import *
for _n in [n for n in globals() if n.startswith('test')]: del globals()[_n]  # star-imported fastcore helpers pytest would collect

@pytest.fixture(scope='module')
def data():
    torch.set_num_threads(1)
    trn,tst = movielens_split()
    return trn,tst,InteractionsDataLoaders.from_df(trn, valid_df=tst, bs=1024)

def _pop_mrr(dls):
    counts = torch.bincount(dls.train.dataset.ts[1], minlength=dls.n_items).float()
    class Pop(Module):
        def __init__(self): self.w = nn.Parameter(torch.zeros(1))
        def forward(self, u, items=None): return counts.expand(len(u), -1)+self.w
        def score_items(self, u): return self(u)  # the scoring protocol `eval_batches` uses
    return np.nanmean(torch.cat([mrr(s, t, e, per_user=True) for s,t,e in dls.eval_batches(Pop())]).numpy())

@pytest.fixture(scope='module')
def bpr_learner(data):
    set_seed(0)
    learn = implicit_learner(data[2], loss='bpr', seed=0)
    with learn.no_bar(), learn.no_logging(): learn.fit(4, 1e-2)
    return learn

def test_bpr_beats_popularity(data, bpr_learner):
    "BPR on ua.base/ua.test reaches the talk's 0.08 range quickly and beats popularity"
    got = bpr_learner.recorder.values[-1][-1]
    pop = _pop_mrr(data[2])
    assert got + 0.005 > 0.08, got
    assert got > 1.3*pop, (got, pop)

@pytest.mark.parametrize('sampler', [None, 'uniform', 'popularity'])
def test_samplers_learn(data, sampler):
    "The default sampler rejects training positives (chosen on valid); 'uniform' and 'popularity' train too"
    set_seed(0)
    learn = implicit_learner(data[2], loss='bpr', seed=0, **({} if sampler is None else dict(sampler=sampler)))
    neg = first(cb for cb in learn.cbs if isinstance(cb, NegativeSampling))
    assert neg.sampler == ifnone(sampler, 'reject')
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-2)
    assert learn.recorder.values[-1][-1] > 0.03, learn.recorder.values

def test_adaptive_hinge_learns(data):
    set_seed(0)
    learn = implicit_learner(data[2], loss='adaptive_hinge', seed=0)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(3, 3e-3)
    assert learn.recorder.values[-1][-1] > 0.07

def test_metrics_match_valid_metric(data, bpr_learner):
    "The fastai metric and the standalone function agree, and the other metrics are sane"
    dls = data[2]
    out = {f.__name__: np.nanmean(torch.cat([f(s, t, e, per_user=True) for s,t,e in dls.eval_batches(bpr_learner.model)]).numpy())
           for f in (mrr, precision_at_k, recall_at_k, ndcg_at_k, auc)}
    assert abs(out['mrr'] - bpr_learner.recorder.values[-1][-1]) < 1e-5
    assert 0.5 < out['auc'] < 1 and 0 < out['precision_at_k'] < 1 and 0 < out['ndcg_at_k'] < 1
    assert abs(out['recall_at_k'] - out['precision_at_k']) < 1e-6  # 10 test items per user and k=10

def test_recommend_excludes_seen_and_export(data, bpr_learner):
    trn,tst,dls = data
    recs = bpr_learner.recommend(42, n=20)
    assert isinstance(bpr_learner, RecLearner)
    # exclude_seen leaves out the user's training and validation items
    assert len(recs) == 20 and not set(recs) & set(trn[trn.user==42].movie) and not set(recs) & set(tst[tst.user==42].movie)
    assert set(bpr_learner.recommend(42, n=20, exclude_seen=False)) & set(trn[trn.user==42].movie)  # a trained model ranks them high
    assert all(isinstance(r, (int, np.integer)) for r in recs)
    with tempfile.TemporaryDirectory() as d:
        bpr_learner.export(Path(d)/'imp.pkl')
        learn2 = load_learner(Path(d)/'imp.pkl')
    assert learn2.recommend(42, n=20) == recs
    df = tst.head(5)
    p = bpr_learner.predict_pairs(df)
    np.testing.assert_allclose(learn2.predict_pairs(df), p, rtol=1e-5)
    # pair scores are the full-catalogue scores of those items
    s = bpr_learner.score_items(dls.encode_users(df.user))
    np.testing.assert_allclose(s[torch.arange(len(df)), dls.encode_items(df.movie)].cpu().numpy(), p, rtol=1e-5, atol=1e-6)

def test_bad_input(data, bpr_learner):
    trn,tst,dls = data
    with pytest.raises(KeyError, match='Unknown user id 5000'): bpr_learner.recommend(5000)
    with pytest.raises(ValueError, match='`n`=1683 is larger than the 1682 items'): bpr_learner.recommend(1, n=1683)
    with pytest.raises(ValueError, match='positive int'): bpr_learner.recommend(1, n=0)
    with pytest.raises(KeyError, match='Unknown movie id 99999'):
        bpr_learner.predict_pairs(pd.DataFrame({'user':[1], 'movie':[99999]}))
    bpr_learner.model.eval()  # models check ids in evaluation mode (in training they come from the loaders)
    with pytest.raises(IndexError, match='user index -1 is out of range'): bpr_learner.model(tensor([-1]))
    with pytest.raises(IndexError, match='item index 1683 is out of range'): bpr_learner.model(tensor([1]), tensor([1683]))
    with pytest.raises(ValueError, match="Column 'usr' \\(`user_name`\\) is not in the DataFrame"): InteractionsDataLoaders.from_df(trn, user_name='usr')
    with pytest.raises(TypeError, match="unexpected keyword argument 'valid_pc'"): InteractionsDataLoaders.from_df(trn, valid_pc=0.1)
    bad = trn.head(10).copy(); bad.loc[bad.index[3], 'movie'] = None
    with pytest.raises(ValueError, match=f"Column 'movie' has 1 missing ids, first at row {bad.index[3]}\\b"): InteractionsDataLoaders.from_df(bad)
    with pytest.raises(ValueError, match='`k`=2000 is larger than the 1683 items in the catalogue'): precision_at_k(torch.zeros(2, 1683), tensor([1, 2]), k=2000)
    with pytest.raises(ValueError, match='Unknown loss'): implicit_learner(dls, loss='warp')
    with pytest.raises(ValueError, match='Unknown sampler'): implicit_learner(dls, sampler='hard')
    with pytest.raises(ValueError, match='Unknown arch'): recfast_learner(dls, arch='nope')
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        d4 = InteractionsDataLoaders.from_df(trn, valid_df=tst, threshold=4)
    assert any('dropped' in str(x.message) for x in w)
    assert len(d4.train.dataset) == (trn.rating>=4).sum()

def test_mrr_full_catalogue_batched():
    """All 943 users against all 1683 items in one batched call: random scores give the expected MRR, and the batched
    per-user values are the ones of each row ranked alone (timing is reported by the bench, not asserted)"""
    g = torch.Generator().manual_seed(0)
    s = torch.randn(943, 1683, generator=g); t = torch.rand(943, 1683, generator=g)<0.006
    v = mrr(s, t, torch.zeros_like(t))
    expected = float((1/torch.arange(1, 1684).double()).sum()/1683)  # E[1/rank] of a uniformly placed target: H(m)/m
    assert abs(v - expected) < 0.0015, (v, expected)
    per = mrr(s, t, torch.zeros_like(t), per_user=True)
    for i in (0, 5, 942):
        if t[i].any(): assert per[i].item() == pytest.approx(mrr(s[i:i+1], t[i:i+1]), abs=1e-6)
        else: assert per[i].isnan()
    assert mrr(s, s.argmax(1)) == pytest.approx(1.0)  # each row's top-scored item as its only target: rank 1

def test_reject_sampler_says_when_it_gives_up():
    "A user who has every item has no negative: the 'reject' sampler says so once, at the end of the fit, with counts"
    trn = pd.DataFrame({'user': [1]*6 + [2, 2, 3, 3, 4], 'item': list(range(1, 7)) + [1, 2, 3, 4, 5]})
    val = pd.DataFrame({'user': [2, 3, 4], 'item': [6, 6, 6]})
    dls = InteractionsDataLoaders.from_df(trn, valid_df=val, seed=0, bs=4)
    learn = implicit_learner(dls, loss='bpr', seed=0, sampler='reject', n_factors=4)
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter('always')
        with learn.no_bar(), learn.no_logging(): learn.fit(2, 1e-2)
    msgs = [str(w.message) for w in ws if "sampler='reject'" in str(w.message)]
    assert len(msgs)==1 and re.search(r"\d+ negatives stayed training positives .* for 1 users", msgs[0]), msgs
