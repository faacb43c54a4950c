"""The closed-form baselines (popularity, item-kNN, EASE) on real data: Kula's talk split of MovieLens 100K restricted
to its first 150 users, their quality order, `fit`'s contract for a model with nothing to train, and bad input."""
import warnings
import pytest
from recfast.all import *

@pytest.fixture(scope='module')
def dls():
    trn,tst = movielens_split()
    return InteractionsDataLoaders.from_df(trn[trn.user<=150], valid_df=tst[tst.user<=150], bs=1024, seed=0)

@pytest.fixture(scope='module')
def learns(dls):
    return {a: recfast_learner(dls, arch=a, seed=0) for a in ('pop','itemknn','ease')}

def _mrr(learn):
    with learn.no_bar(): return learn.validate()[1]

def test_registered():
    for a,f in (('pop','popularity_learner'), ('itemknn','itemknn_learner'), ('ease','ease_learner')):
        assert a in known_archs() and arch_info(a)['factory'].__name__==f
        assert arch_info(a)['dls'] is InteractionsDataLoaders
    assert arch_info('popularity')['dls'] is SequenceDataLoaders  # the sequence arch keeps its name

def test_quality_order(learns):
    "Test MRR (full catalogue, training items excluded) of the fitted factories: EASE > item-kNN > popularity, with margins"
    m = {a:_mrr(l) for a,l in learns.items()}
    assert m['pop'] > 0.04, m  # about 0.053 on these users
    assert m['ease'] > m['pop'] + 0.03, m  # about 0.102
    assert m['itemknn'] > m['pop'] + 0.015 and m['ease'] > m['itemknn'], m  # item-kNN about 0.081
    # `evaluate` over the same held-out frame agrees with the metric callback
    trn,tst = movielens_split()
    ev = learns['ease'].evaluate(tst[tst.user<=150])
    assert abs(ev['mrr'] - m['ease']) < 1e-5 and ev['precision@10'] > 0.15, ev

def test_fit_is_closed_form(dls):
    "`fit` solves once per fit (not on `validate`), records one finite row, warns when asked for more epochs"
    learn = ease_learner(dls, lam=300., seed=0)
    w = learn.model.weight.clone()
    learn.model.weight.data.zero_()
    _mrr(learn)  # validate sends before_fit/after_fit: it must not refit
    assert (learn.model.weight==0).all()
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter('always')
        learn.fit(3, 1e-2)
    assert torch.equal(learn.model.weight, w)
    assert len(learn.recorder.values)==1 and np.isfinite(learn.recorder.values[0]).all(), learn.recorder.values
    assert sum('fitted in closed form' in str(o.message) for o in ws)==1
    assert not any('shadowing' in str(o.message) for o in ws), [str(o.message) for o in ws]
    assert not learn.model.weight.requires_grad

@pytest.mark.skipif(not torch.cuda.is_available(), reason='no GPU on this machine')
def test_gpu_matches_cpu(dls):
    cpu = EASE.from_dls(dls).fit(dls.seen)
    gpu = EASE.from_dls(dls).to('cuda').fit(dls.seen)
    assert gpu.weight.device.type=='cuda'
    torch.testing.assert_close(gpu.weight.cpu(), cpu.weight, rtol=1e-3, atol=1e-5)

@pytest.mark.parametrize('call,err,msg', [
    (lambda d: ease_learner(d, lam=0), ValueError, '`lam` must be a finite number above 0'),
    (lambda d: ease_learner(d, lam=float('nan')), ValueError, '`lam` must be a finite number'),
    (lambda d: itemknn_learner(d, k=0), ValueError, '`k` must be a positive int'),
    (lambda d: itemknn_learner(d, k=2.5), ValueError, '`k` must be a positive int'),
    (lambda d: popularity_learner(d, loss='warp'), ValueError, "Unknown loss 'warp'"),
    (lambda d: ease_learner(d, seed=-1), ValueError, '`seed` must be None or a non-negative int'),
    (lambda d: popularity_learner(None), TypeError, '`popularity_learner` needs InteractionsDataLoaders'),
    (lambda d: closed_form_learner(d, EASE(3, 4)), ValueError, 'but the model knows 3 x 4'),
    (lambda d: EASE.from_dls(d).fit(d.seen.densify(torch.arange(3))), TypeError, 'as a CSRMatrix'),
])
def test_bad_input(dls, call, err, msg):
    with pytest.raises(err, match=msg.replace('(', r'\(').replace(')', r'\)')): call(dls)

def test_unknown_ids(learns):
    m = learns['ease'].model
    with pytest.raises(IndexError, match='user index'): m.eval()(tensor([10**6]))
    with pytest.raises(KeyError, match='Unknown user id'): learns['ease'].recommend(10**6)
