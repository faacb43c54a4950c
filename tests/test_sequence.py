"Sequences: synthetic sanity check, ML-100K pooling vs popularity, causality, bad input, export."
import tempfile
import pytest
from fastai.basics import *
from fastai.callback.progress import *
from fastai.callback.schedule import *
from recfast.core import *
from recfast.datasets import movielens_100k
from recfast.recommender import *
from recfast.metrics.ranking import *
from recfast.sequence.data import *
from recfast.sequence.models import *
from recfast.sequence.learner import *
for _n in [n for n in globals() if n.startswith('test')]: del globals()[_n]  # star-imported fastcore helpers pytest would collect

def _fit(dls, arch, n, lr, **kw):
    set_seed(0)
    learn = sequence_learner(dls, arch=arch, seed=0, **kw)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(n, lr)
    return learn

@pytest.fixture(scope='module')
def syn():
    torch.set_num_threads(1)
    return SequenceDataLoaders.from_df(synthetic_sequences(10, 1000, seed=0), 'user', 'item', 'time', max_len=10, seed=0, bs=32)

def test_synthetic_lstm_beats_pooling(syn):
    lstm = _fit(syn, 'lstm', 10, 2e-2)
    pool = _fit(syn, 'pool', 3, 2e-2)
    got,base = lstm.recorder.values[-1][-1],pool.recorder.values[-1][-1]
    assert got > 0.77 and base < 0.3, (got, base)
    assert lstm.recommend(history=list(range(21, 30)), n=1) == [30]
    # a user's own history: the next item of its run, and nothing it has already seen
    h = syn.history(5)
    assert h == sorted(h) and len(h) == 10
    recs = lstm.recommend(5, n=5)
    assert not set(recs) & set(h)
    if h[-1] < syn.items[-1]: assert recs[0] == h[-1]+1
    with tempfile.TemporaryDirectory() as d:
        lstm.export(Path(d)/'s.pkl'); l2 = load_learner(Path(d)/'s.pkl')
    assert l2.recommend(5, n=5) == lstm.recommend(5, n=5)

def test_ml100k_pool_beats_popularity():
    dls = SequenceDataLoaders.from_df(movielens_100k(titles=False), 'user', 'movie', 'timestamp', max_len=200, seed=0,
                                      bs=32, exclude_preceding=True)
    pool = _fit(dls, 'pool', 10, 1e-2, loss='adaptive_hinge').recorder.values[-1][-1]
    pop = _fit(dls, 'popularity', 1, 1e-2, loss='adaptive_hinge').recorder.values[-1][-1]
    assert pool > pop, (pool, pop)

@pytest.mark.parametrize('cls', [PoolNet, LSTMNet, CNNNet, PopularityNet])
def test_prefix_only(cls):
    "Changing a later item never moves an earlier position's scores"
    set_seed(1)
    m = cls(30, n_factors=8).eval()
    x = torch.randint(1, 30, (4, 12)); x[:, :3] = 0
    items = torch.randint(1, 30, (4, 12, 5))
    for t in (5, 11):
        x2 = x.clone(); x2[:, t] = (x[:, t] % 29) + 1
        torch.testing.assert_close(m(x2, items)[:, :t], m(x, items)[:, :t])

def test_split_is_exact(syn):
    "`valid_pct` holds out exactly `round(valid_pct*n_users)` users (one window of 10 items each here)"
    assert len(syn.valid.dataset) == 200 and len(syn.train.dataset) == 800
    assert syn.seen.nnz == 10_000 and (syn.seen.row_lengths()[1:] == 10).all()

def test_bad_input(syn):
    learn = sequence_learner(syn, arch='pool')
    m = learn.model.eval()  # models check ids in evaluation mode (in training they come from the loaders)
    with pytest.raises(ValueError, match='Empty history'): learn.recommend(history=[])
    with pytest.raises(KeyError, match='Unknown item id 5000'): learn.recommend(history=[3, 5000])
    with pytest.raises(KeyError, match='Unknown user id -3'): learn.recommend(-3)
    with pytest.raises(ValueError, match=f'larger than the {syn.n_items-1} items'): learn.recommend(history=[3], n=500)
    with pytest.raises(IndexError, match='item index -1 is out of range'): m(tensor([[0, -1]]))
    with pytest.raises(IndexError, match='out of range'): m(tensor([[0, syn.n_items]]))
    long = list(range(1, 60))
    assert syn.encode_history(long).shape == (1, 10)
    assert syn.encode_history(long)[0, -1].item() == syn.encode_history([59])[0, -1].item()
    df = synthetic_sequences(5, 10, seed=0)
    with pytest.raises(ValueError, match="Column 'ts' \\(`time_name`\\) is not in the DataFrame"): SequenceDataLoaders.from_df(df, time_name='ts')
    with pytest.raises(TypeError, match="unexpected keyword argument 'valid_pc'"): SequenceDataLoaders.from_df(df, valid_pc=0.1)
    with pytest.raises(ValueError, match="Unknown split"): SequenceDataLoaders.from_df(df, split='x')
    with pytest.raises(ValueError, match='smaller than `seq_len`'): synthetic_sequences(10, 5, n_items=3)
    with pytest.raises(ValueError, match="Unknown arch 'gru'"): sequence_learner(syn, arch='gru')

def test_time_split_and_windows():
    df = pd.DataFrame({'u':[1]*7+[2]*2, 'i':[10,11,12,13,14,15,16, 11,10], 't':[7,1,2,3,4,5,6, 0,1]})
    dls = SequenceDataLoaders.from_df(df, 'u', 'i', 't', max_len=3, split='last', bs=4)
    vx,vy = dls.valid.dataset.ts
    ids = lambda t: [dls.classes['i'][j] for j in t.tolist()]
    assert ids(vy[:, -1]) == [10, 10]          # each user's most recent item is held out
    assert ids(vx[0]) == [14, 15, 16]
    tx,ty = dls.train.dataset.ts
    assert sorted(tuple(map(str, ids(r))) for r in ty) == sorted([('14','15','16'), ('11','12','13'), ('#na#','#na#','11')])
    assert (ty != 0).sum().item() == 6 + 1     # 7-1 and 2-1 training targets

def test_no_valid_users_gives_no_metric():
    "With no validation users training runs and the MRR is missing (None), not a number made up from nothing"
    dls = SequenceDataLoaders.from_df(synthetic_sequences(5, 20, seed=0), max_len=5, time_name='time', valid_pct=0., bs=8)
    learn = sequence_learner(dls, arch='pool', seed=0)
    with learn.no_bar(), learn.no_logging(): learn.fit(1)
    assert len(dls.valid.dataset) == 0
    assert np.isfinite(learn.recorder.values[-1][0])  # the training loss
    assert learn.recorder.values[-1][-1] is None  # the recorded MRR
    met = first(m for m in learn.metrics if m.name == 'mrr')
    met.accumulate(learn)
    assert met.value is None

def test_valid_df():
    "A fixed validation frame: its own windows are the validation set, `seen` holds both frames in time order"
    df = synthetic_sequences(6, 30, seed=0)
    trn,val = df[df.user<20],df[df.user>=20]
    dls = SequenceDataLoaders.from_df(trn, time_name='time', valid_df=val, max_len=6, bs=8, seed=0)
    vx,vy = dls.valid.dataset.ts
    assert len(vx) == 10 and len(dls.train.dataset) == 20
    ids = lambda t: [dls.items[j] for j in t.tolist()]
    first = val[val.user==20].sort_values('time')
    assert ids(vy[0]) == list(first.item) and ids(vx[0])[1:] == list(first.item)[:-1]
    # the same users later in time: validation windows from the later rows alone, the history spans both frames
    early,late = df[df.time<4],df[df.time>=4]
    dlt = SequenceDataLoaders.from_df(early, time_name='time', valid_df=late.sample(frac=1, random_state=0), max_len=6, bs=8)
    assert (dlt.valid.dataset.ts[1] != 0).sum().item() == len(late)
    assert dlt.history(3) == list(df[df.user==3].sort_values('time').item)
    assert dlt.seen.nnz == len(df)
    with pytest.raises(ValueError, match="Column 'time' \\(`time_name`\\) is not in the DataFrame"):
        SequenceDataLoaders.from_df(trn, time_name='time', valid_df=val.drop(columns='time'))
    with pytest.raises(ValueError, match="replaces split='time'"):
        SequenceDataLoaders.from_df(trn, time_name='time', valid_df=val, split='time')

def test_rating_lstm_beats_constant():
    "The rating LSTM of 'PyTorch for Recommenders 101' on ML-100K users <= 150, ratings in [0, 1], each user's last rating held out"
    torch.set_num_threads(1)
    ml = movielens_100k(titles=False)
    ml = ml[ml.user<=150].assign(rating=lambda d: (d.rating-1)/4)
    dls = RatingSequenceDataLoaders.from_df(ml[['user','movie','rating','timestamp']], time_name='timestamp', split='last',
                                            max_len=50, seed=0, bs=32)
    set_seed(0)
    learn = rating_lstm_learner(dls)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(3, 1e-2)
    y = dls.valid.dataset.ts[-1][:, -1]
    const = float(((y - np.nanmean(dls.train.dataset.ts[-1].numpy()))**2).mean().sqrt())
    got = learn.recorder.values[-1][-1]
    assert got < const - 0.01, (got, const)
    with pytest.raises(TypeError, match='needs RatingSequenceDataLoaders'): rating_lstm_learner(SequenceDataLoaders.from_df(ml, time_name='timestamp'))

def test_text_times_refused():
    "Sequences are ordered by time: a time column of text ('%d/%m/%Y' sorts as text) is refused, naming the column"
    df = pd.DataFrame({'u':[1,1,2,2], 'i':[1,2,1,3], 't':['9/01/2020','10/01/2020','01/02/2020','02/02/2020']})
    with pytest.raises(ValueError, match=r"Column 't' \(`time_name`\) must hold numbers or datetimes"):
        SequenceDataLoaders.from_df(df, time_name='t', valid_pct=0.)
    dls = SequenceDataLoaders.from_df(df.assign(t=pd.to_datetime(df.t, format='%d/%m/%Y')), time_name='t', valid_pct=0.)
    assert dls.seen.nnz==4
