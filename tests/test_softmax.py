"""The softmax-family losses ('softmax', 'sampled_softmax', 'gbce') through `loss=` of the implicit and sequence learners,
and the self-attention sequence model (`sasrec`): they train, beat popularity on real data, refuse bad arguments, and
the sampler corrections do what they say. The contract matrix (test_contract.py) covers `sasrec`'s verbs and export."""
import warnings
import pytest
from recfast.all import *

@pytest.fixture(scope='module')
def ml():
    df = movielens_100k(titles=False)
    return df[df.user<=300].reset_index(drop=True)

@pytest.fixture(scope='module')
def idls(ml):
    trn = ml.sample(frac=1., random_state=0)
    val = trn.groupby('user').head(5)
    return InteractionsDataLoaders.from_df(trn.drop(val.index)[['user','movie']], valid_df=val[['user','movie']],
                                           bs=256, seed=0)

def _mrr(model, dls):
    return float(torch.cat([mrr(s, t, e, per_user=True) for s,t,e in dls.eval_batches(model)]).nanmean())

@pytest.fixture(scope='module')
def pop_mrr(idls): return _mrr(popularity_learner(idls).model, idls)

@pytest.mark.parametrize('loss', ['softmax', 'sampled_softmax', 'gbce', 'shared sampled_softmax'])
def test_implicit_softmax_family_beats_popularity(idls, pop_mrr, loss):
    set_seed(0)
    shared = loss.startswith('shared ')  # one draw of negatives per batch
    learn = implicit_learner(idls, loss=loss.split()[-1], seed=0, wd=0.5 if loss=='softmax' else 0., metrics=[],
                             **(dict(shared_negatives=True, sampler='uniform') if shared else
                                dict(shared_negatives=False) if loss=='sampled_softmax' else {}))  # per positive
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(8, 1e-2)
    assert learn.recorder.values[-1][0] < learn.recorder.values[0][0]  # the training loss went down
    m = _mrr(learn.model, idls)
    assert m > pop_mrr*1.1, (loss, m, pop_mrr)

def test_softmax_scores_the_whole_catalogue(idls):
    learn = implicit_learner(idls, loss='softmax', metrics=[])
    assert any(isinstance(c, AllItems) for c in learn.cbs) and not any(isinstance(c, NegativeSampling) for c in learn.cbs)
    b = idls.one_batch()
    learn.model.train()
    out = learn.model(*b[:-1], 'all')
    assert out.shape==(len(b[0]), idls.n_items)
    assert torch.isfinite(learn.loss_func(out, b[-1]))

@pytest.fixture(scope='module')
def sdls(ml):
    return SequenceDataLoaders.from_df(ml[['user','movie','timestamp']], time_name='timestamp', split='last', max_len=30,
                                       bs=64, seed=0)

@pytest.mark.parametrize('arch,loss', [('sasrec','softmax')])  # LSTM + softmax: see bench/bench_next_item.py
def test_sequence_softmax_beats_popularity(sdls, arch, loss):
    res = {}
    for a,l,n in ((arch, loss, 15), ('popularity', 'bpr', 0)):
        set_seed(0)
        learn = sequence_learner(sdls, arch=a, loss=l, seed=0, metrics=[RankMetric(mrr)])
        if n:
            with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(n, 3e-3 if a=='sasrec' else 1e-2)
        res[a] = learn.validate()[1]
    assert res[arch] > res['popularity']*1.2, res

def test_sasrec_window_and_padding(sdls):
    learn = sequence_learner(sdls, arch='sasrec', loss='softmax')
    m = learn.model.eval()
    assert m.max_len==30 and m.n_factors==32  # the loaders' window, the factory's latent size
    x = sdls.one_batch()[0][:4]
    long = torch.cat([torch.randint(1, sdls.n_items, (4, 10)), x], 1)  # older items beyond the window: ignored
    test_close(m(long), m(x))
    recs = learn.recommend(history=list(sdls.items.items[1:6]), n=5)
    assert len(recs)==5

@pytest.mark.parametrize('arch,loss,shared', [('pool','sampled_softmax',False), ('pool','gbce',False), ('lstm','softmax',False),
                                              ('pool','sampled_softmax',True), ('sasrec','gbce',True)])
def test_losses_train_on_sequences(sdls, arch, loss, shared):
    "Popularity negatives with the logQ correction (sampled softmax), gBCE's beta, the full softmax: the loss goes down"
    set_seed(0)
    kw = {} if loss=='softmax' else dict(sampler='popularity', n_neg=16, shared_negatives=shared)
    learn = sequence_learner(sdls, arch=arch, loss=loss, seed=0, metrics=[], **kw)
    cb = [c for c in learn.cbs if isinstance(c, (NegativeSampling, AllItems))][0]
    if loss!='softmax': assert cb.logq==(loss=='sampled_softmax') and cb.avoid_targets and cb.sampler=='popularity'
    if loss=='gbce': assert 0 < learn.loss_func.kwargs['beta'] < 1
    with learn.no_bar(), learn.no_logging(): learn.fit(3, 1e-2)
    tr = [v[0] for v in learn.recorder.values]
    assert np.isfinite(tr).all() and tr[-1] < tr[0], tr

BAD = [  # (factory, kwargs, error, message)
    (implicit_learner, dict(loss='softmaxx'), ValueError, "Unknown loss 'softmaxx'"),
    (implicit_learner, dict(loss='gbce', n_neg=0), ValueError, '`n_neg` must be a positive int'),
    (implicit_learner, dict(loss='sampled_softmax', sampler='popular'), ValueError, "Unknown sampler 'popular'"),
    (sequence_learner, dict(arch='sasrec', sampler='reject'), ValueError, "Unknown sampler 'reject': use 'uniform' or"),
    (sequence_learner, dict(arch='lstm', loss='softmax', n_neg=8), ValueError, 'samples no negatives: drop `n_neg`'),
    (sequence_learner, dict(arch='sasrec', model_kwargs=dict(n_heads=5)), ValueError, 'n_heads'),
    (sequence_learner, dict(arch='sasre'), ValueError, "Unknown arch 'sasre'"),
    (implicit_learner, dict(loss='gbce', shared_negatives=True, sampler='reject'), ValueError,
     "Shared negatives are one draw for every user"),
]

def test_shared_negatives_mask_accidental_hits(idls):
    "With shared negatives a negative that is a row's own positive gets no score (-inf), and logQ uses the same items"
    learn = implicit_learner(idls, loss='sampled_softmax', sampler='popularity', n_neg=200, shared_negatives=True,
                             seed=0, metrics=[])
    cb = [c for c in learn.cbs if isinstance(c, NegativeSampling)][0]
    learn.xb,learn.yb = idls.one_batch()[:1],idls.one_batch()[1:]
    learn.model.train(); cb.learn = learn
    cb.before_batch()
    pos,neg = learn.xb[-1]
    assert pos.shape==(len(learn.yb[0]), 1) and neg.shape==(200,)
    learn.pred = learn.model(*learn.xb)
    cb.after_pred()
    hit = neg[None]==pos
    assert hit.any() and torch.isinf(learn.pred[:,1:][hit]).all() and torch.isfinite(learn.pred[:,1:][~hit]).all()
@pytest.mark.parametrize('factory,kw,err,msg', BAD)
def test_bad_arguments(idls, sdls, factory, kw, err, msg):
    with pytest.raises(err, match=msg): factory(idls if factory is implicit_learner else sdls, **kw)

def test_defaults_are_the_valid_winners(idls, pop_mrr):
    "`loss=None`: the full softmax (weight decay 1 for the bilinear model); sampling options keep BPR; beats BPR's default"
    learn = implicit_learner(idls, metrics=[])
    assert learn.loss_func.loss=='softmax' and learn.wd==1. and any(isinstance(c, AllItems) for c in learn.cbs)
    for kw in (dict(n_neg=3), dict(sampler='uniform'), dict(shared_negatives=True, sampler='uniform')):
        l = implicit_learner(idls, metrics=[], **kw)
        assert l.loss_func.loss=='bpr' and l.wd==0. and any(isinstance(c, NegativeSampling) for c in l.cbs), kw
    assert implicit_learner(idls, loss='bpr', metrics=[]).wd==0. and implicit_learner(idls, wd=0.1, metrics=[]).wd==0.1
    res = {}
    for loss in (None, 'bpr'):
        set_seed(0)
        l = implicit_learner(idls, loss=loss, seed=0, metrics=[])
        with l.no_bar(), l.no_logging(): l.fit_one_cycle(8, 1e-2)
        res[loss] = _mrr(l.model, idls)
    assert res[None] > res['bpr'] > pop_mrr, res
    sd = SequenceDataLoaders.from_df(movielens_100k(titles=False).query('user<=50'), 'user', 'movie', 'timestamp',
                                     max_len=10, seed=0)
    assert sequence_learner(sd).loss_func.loss=='softmax' and sequence_learner(sd, n_neg=2).loss_func.loss=='bpr'
    test_eq(default_loss(None, 20_001), 'softmax'); test_eq(default_loss(None, 100_001), 'sampled_softmax')

def test_sampled_softmax_shares_negatives_by_default(idls, sdls):
    "Issue 26: 'sampled_softmax' draws one set of negatives per batch unless told otherwise (or with sampler='reject')"
    def neg(learn): return next(c for c in learn.cbs if isinstance(c, NegativeSampling))
    assert neg(implicit_learner(idls, loss='sampled_softmax')).shared
    assert not neg(implicit_learner(idls, loss='sampled_softmax', shared_negatives=False)).shared
    assert not neg(implicit_learner(idls, loss='sampled_softmax', sampler='reject')).shared
    assert not neg(implicit_learner(idls, loss='bpr')).shared
    assert neg(sequence_learner(sdls, arch='pool', loss='sampled_softmax')).shared
    assert not neg(sequence_learner(sdls, arch='pool', loss='gbce')).shared
