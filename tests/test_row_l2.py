"Issue 29: `l2=` (`RowL2`, L2 on the embedding rows each example uses) for the implicit and sequence factories too."
import warnings
import pytest
from fastai.basics import *
from fastai.callback.progress import *
from fastai.callback.schedule import *
from recfast.all import *
for _n in [n for n in globals() if n.startswith('test')]: del globals()[_n]  # star-imported fastcore helpers

@pytest.fixture(scope='module')
def ml():
    torch.set_num_threads(1)
    d = movielens_100k(titles=False)
    return d[d.user<=200]

def _fit(factory, dls, **kw):
    set_seed(0); learn = factory(dls, seed=0, **kw)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(3, 1e-2)
    return learn

def _norm(learn, name): return float(getattr(learn.model, name).weight.detach().norm())

@pytest.mark.parametrize('family', ['implicit', 'sequence'])
def test_l2_shrinks_the_rows_it_regularises(ml, family, tmp_path):
    "The penalty reaches the loss: the rows looked up shrink against the same fit without it; export keeps it"
    if family=='implicit':
        dls = InteractionsDataLoaders.from_df(ml, user_name='user', item_name='movie', bs=256, seed=0)
        factory,emb = partial(implicit_learner, loss='bpr', wd=0.),'u_weight'
    else:
        dls = SequenceDataLoaders.from_df(ml, time_name='timestamp', max_len=20, bs=32, seed=0)
        factory,emb = partial(sequence_learner, arch='lstm', wd=0.),'i_weight'
    plain,reg = _fit(factory, dls),_fit(factory, dls, l2=0.05)
    assert [type(c) for c in reg.cbs if isinstance(c, RowL2)]==[RowL2] \
        and not any(isinstance(c, RowL2) for c in plain.cbs)
    assert _norm(reg, emb) < 0.9*_norm(plain, emb), (_norm(reg, emb), _norm(plain, emb))
    assert reg.recipe['kwargs']['l2']==0.05
    reg.export_safe(tmp_path/'m')  # the recipe rebuilds the callback, with no pickle
    back = load_learner_safe(tmp_path/'m')
    assert [c.l2 for c in back.cbs if isinstance(c, RowL2)]==[0.05]
    a,b = reg.model.state_dict(),back.model.state_dict()
    assert a.keys()==b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)

@pytest.mark.parametrize('bad,err', [(-0.1, '`l2` must be a finite number >= 0'),
                                     (float('inf'), '`l2` must be a finite'), ('0.1', '`l2` must be a finite number')])
def test_l2_refused_before_training(ml, bad, err):
    dls = InteractionsDataLoaders.from_df(ml, user_name='user', item_name='movie', bs=256, seed=0)
    sd = SequenceDataLoaders.from_df(ml, time_name='timestamp', max_len=20, bs=32, seed=0)
    with pytest.raises(ValueError, match=err): implicit_learner(dls, loss='bpr', l2=bad)
    with pytest.raises(ValueError, match=err): sequence_learner(sd, l2=bad)
    with pytest.raises(ValueError, match='`cbs` holds one too'):
        implicit_learner(dls, 'bpr', l2=0.1, cbs=[RowL2(0.1)])
    with pytest.raises(ValueError, match='`cbs` holds one too'): sequence_learner(sd, l2=0.1, cbs=RowL2(0.1))

def test_l2_refused_where_it_cannot_work(ml):
    "Not silent: the full softmax reads the item table whole, popularity looks no row up, shared negatives follow bs"
    dls = InteractionsDataLoaders.from_df(ml, user_name='user', item_name='movie', bs=256, seed=0)
    sd = SequenceDataLoaders.from_df(ml, time_name='timestamp', max_len=20, bs=32, seed=0)
    with pytest.raises(ValueError, match=r"loss='softmax' reads every item row whole.*regularise with `wd=`"):
        implicit_learner(dls, l2=0.1)  # the default loss
    with pytest.raises(ValueError, match='pass shared_negatives=False'):
        implicit_learner(dls, 'sampled_softmax', l2=0.1)
    with pytest.raises(ValueError, match='pass shared_negatives=False'):
        sequence_learner(sd, 'lstm', 'gbce', shared_negatives=True, l2=0.1)
    with pytest.raises(ValueError, match="arch='popularity' looks no row up"):
        sequence_learner(sd, 'popularity', l2=0.1)
    learn = implicit_learner(dls, 'sampled_softmax', shared_negatives=False, l2=0.1)
    assert any(isinstance(c, RowL2) for c in learn.cbs)
    assert any(isinstance(c, RowL2) for c in sequence_learner(sd, 'lstm', l2=0.1).cbs)  # its softmax: the window's rows
