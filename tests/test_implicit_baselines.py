"""The closed-form baselines (popularity, item-kNN, EASE, iALS) on real data: Kula's talk split of MovieLens 100K
restricted to its first 150 users, their quality order, `fit`'s contract for a model with nothing to train, and bad
input; iALS's half-step against a dense solve, its loss over the rounds, fold-in, its MRR on the whole talk split."""
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
    for a,f in (('pop','popularity_learner'), ('itemknn','itemknn_learner'), ('ease','ease_learner'),
                ('ials','ials_learner')):
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
    (lambda d: ials_learner(d, reg=0), ValueError, '`reg` must be a finite number above 0'),
    (lambda d: ials_learner(d, reg=-0.1), ValueError, '`reg` must be a finite number above 0'),
    (lambda d: ials_learner(d, reg=float('inf')), ValueError, '`reg` must be a finite number above 0'),
    (lambda d: ials_learner(d, alpha=-1.), ValueError, '`alpha` must be a finite number at least 0'),
    (lambda d: ials_learner(d, nu=-0.5), ValueError, '`nu` must be a finite number at least 0'),
    (lambda d: ials_learner(d, n_factors=0), ValueError, '`n_factors` must be a positive int'),
    (lambda d: ials_learner(d, n_factors=8.), ValueError, '`n_factors` must be a positive int'),
    (lambda d: ials_learner(d, n_iters=0), ValueError, '`n_iters` must be a positive int'),
    (lambda d: ials_learner(d, seed=-1), ValueError, '`seed` must be None or a non-negative int'),
    (lambda d: ials_learner(None), TypeError, '`ials_learner` needs InteractionsDataLoaders'),
    (lambda d: ials_step(d.seen, torch.zeros(5, 4), reg=1.), ValueError, '`Y` has 5 rows but `X` has'),
    (lambda d: ials_learner(d, n_iters=1).fold_in(pd.DataFrame({'user':[1], 'movie':[1]}), l2=-1.), ValueError,
     '`l2` must be a finite number at least 0'),
    (lambda d: ease_learner(d).fold_in(pd.DataFrame({'user':[1], 'movie':[1]})), TypeError,
     'or a model with `fold_in_users`'),
])
def test_bad_input(dls, call, err, msg):
    with pytest.raises(err, match=msg.replace('(', r'\(').replace(')', r'\)')): call(dls)

def test_unknown_ids(learns):
    m = learns['ease'].model
    with pytest.raises(IndexError, match='user index'): m.eval()(tensor([10**6]))
    with pytest.raises(KeyError, match='Unknown user id'): learns['ease'].recommend(10**6)

# ---- iALS --------------------------------------------------------------------------------------------------------
def _counts(seed=0, n_users=15, n_items=11):
    "A small users x items matrix of counts 0..3, dense and as a CSRMatrix"
    g = torch.Generator().manual_seed(seed)
    Xd = (torch.rand(n_users, n_items, generator=g)<0.3).float()*torch.randint(1, 4, (n_users, n_items), generator=g)
    return Xd, CSRMatrix.from_coo(*Xd.nonzero().T, Xd[Xd>0], shape=Xd.shape)

def _dense_step(Xd, Y, reg, alpha, nu):
    "Every row's normal equations `(YᵀC_uY + λ_u I) w = YᵀC_u p_u`, `λ_u = reg*(Σᵢ c_ui)**nu`, in float64, row by row"
    X,Y = Xd.double().numpy(),Y.double().numpy()
    C = 1+alpha*X
    return np.stack([np.linalg.solve(Y.T@(c[:,None]*Y) + reg*c.sum()**nu*np.eye(Y.shape[1]), Y.T@(c*(x>0)))
                     for x,c in zip(X, C)])

def _loss(m, Xd):
    "iALS's objective, densely: `Σ c_ui (p_ui - w_uᵀh_i)² + Σ_u λ_u|w_u|² + Σ_i λ_i|h_i|²`"
    W,H,X = m.u_weight.weight.double(),m.weight.double(),Xd.double()
    C = 1+m.alpha*X
    return float((C*((X>0).double()-W@H.T)**2).sum() + (m.reg*C.sum(1)**m.nu*(W**2).sum(1)).sum()
                 + (m.reg*C.sum(0)**m.nu*(H**2).sum(1)).sum())

@pytest.mark.parametrize('reg,alpha,nu,budget', [(0.5, 2., 0., 2**24), (0.01, 2., 1., 2**24), (3., 0., 0.5, 1),
                                                  (0.1, 10., 1., 50)])
def test_ials_step_matches_a_dense_solve(reg, alpha, nu, budget):
    "One half-step (users, then items on the transpose) against numpy's per-row solve; chunked or not, the same rows"
    Xd,X = _counts()
    H = torch.randn(X.shape[1], 4, generator=torch.Generator().manual_seed(1))
    W = ials_step(X, H, reg=reg, alpha=alpha, nu=nu, budget=budget)
    np.testing.assert_allclose(W.numpy(), _dense_step(Xd, H, reg, alpha, nu), rtol=1e-4, atol=1e-5)
    Xt = CSRMatrix.from_coo(*Xd.T.nonzero().T, Xd.T[Xd.T>0], shape=Xd.T.shape)
    np.testing.assert_allclose(ials_step(Xt, W, reg=reg, alpha=alpha, nu=nu, budget=budget).numpy(),
                               _dense_step(Xd.T, W, reg, alpha, nu), rtol=1e-4, atol=1e-5)

@pytest.mark.parametrize('nu,reg', [(0., 0.3), (1., 0.01)])
def test_ials_loss_decreases(nu, reg):
    """Each half-step minimises the loss over one side: it never rises from round to round and falls overall; the final
    user factors are the exact solve against the final item factors"""
    Xd,X = _counts(seed=2)
    models = [IALS(*X.shape, n_factors=4, reg=reg, alpha=3., nu=nu, n_iters=t, seed=0).fit(X) for t in range(1, 9)]
    losses = [_loss(m, Xd) for m in models]
    assert all(b <= a*(1+1e-6) for a,b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.98*losses[0], losses
    m = models[-1]
    np.testing.assert_allclose(m.u_weight.weight.numpy(), _dense_step(Xd, m.weight, reg, 3., nu), rtol=1e-4, atol=1e-5)

def test_ials_fold_in():
    "A training user folded in from their items gets their vector back; a new user is served at once, and refitted"
    trn,tst = movielens_split()
    small = InteractionsDataLoaders.from_df(trn[trn.user<=150], valid_df=tst[tst.user<=150], bs=1024, seed=0)  # grows
    learn = ials_learner(small, n_iters=5, seed=0)
    m = learn.model
    assert not m.u_weight.weight.requires_grad and not m.weight.requires_grad
    w7 = m.u_weight.weight[small.encode_users([7])[0]].clone()
    learn.fold_in(trn[trn.user==7][['user','movie']])
    torch.testing.assert_close(m.u_weight.weight[small.encode_users([7])[0]], w7, rtol=1e-4, atol=1e-5)
    new = pd.DataFrame({'user':[10_001]*3+[10_002], 'movie':[50, 172, 181, 1]})
    n = small.n_users
    learn.fold_in(new)
    assert learn.dls.n_users==n+2 and m.n_users==n+2 and m.u_weight.weight.shape==(n+2, m.n_factors), m
    assert not m.u_weight.weight.requires_grad
    recs = learn.recommend([10_001, 10_002], n=5)
    assert len(recs[0])==5 and not set(recs[0]) & {50, 172, 181} and 1 not in recs[1], recs
    wa = m.u_weight.weight[n].clone()
    learn.fold_in(new[new.user==10_001], l2=100.)  # a larger ridge penalty than `reg`'s shrinks the vector
    assert m.u_weight.weight[n].norm() < 0.9*wa.norm()
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit(1)  # the refit solves every user, the folded-in ones included
    assert m.u_weight.weight.shape==(n+2, m.n_factors) and m.u_weight.weight[n].norm()>0

def test_ials_refit_is_deterministic(dls):
    learn = ials_learner(dls, n_iters=3, seed=0)
    w = learn.model.weight.clone()
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit(1)
    assert torch.equal(learn.model.weight, w)
    assert not torch.equal(ials_learner(dls, n_iters=3, seed=1).model.weight, w)

def test_ials_beats_popularity_on_the_talk_split():
    "The whole talk split (943 users, ua.base -> ua.test), full catalogue, training items excluded; `ials_learner` defaults"
    trn,tst = movielens_split()
    d = InteractionsDataLoaders.from_df(trn, valid_df=tst, bs=1024, seed=0)
    m = {a: _mrr(recfast_learner(d, arch=a, seed=0)) for a in ('pop','ials')}
    assert m['pop'] > 0.05, m  # 0.054 in bench/bench_baselines.py
    assert m['ials'] > m['pop'] + 0.05, m  # 0.122 against 0.054 there

@pytest.mark.skipif(not torch.cuda.is_available(), reason='no GPU on this machine')
def test_ials_gpu_matches_cpu(dls):
    cpu = IALS.from_dls(dls).fit(dls.seen)
    gpu = IALS.from_dls(dls).to('cuda').fit(dls.seen)
    assert gpu.weight.device.type=='cuda' and gpu.u_weight.weight.device.type=='cuda'
    u = torch.arange(1, dls.n_users)
    torch.testing.assert_close(gpu.eval()(u.cuda()).cpu(), cpu.eval()(u), rtol=1e-2, atol=2e-3)
