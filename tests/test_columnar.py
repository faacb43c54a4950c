"""Issue #30, columnar input: Polars frames, Arrow-backed pandas frames and Parquet files give the loaders and answers a
NumPy-backed pandas frame gives, ids and times keeping their values and types; the CLI reads .parquet."""
import warnings
import pytest
import polars as pl
from recfast.all import *

@pytest.fixture(scope='module')
def R():
    r = movielens_100k()[['user','movie','rating','timestamp']]
    r = r[r.user<=60].reset_index(drop=True)
    return r.assign(user=r.user.map(lambda u: f'u{u:03d}'), timestamp=pd.to_datetime(r.timestamp, unit='s'))

def _quiet(f, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return f(*a, **k)

def _same(a, b):
    assert list(a.users)==list(b.users) and list(a.items)==list(b.items)
    for x,y in zip(a.train.dataset.ts + a.valid.dataset.ts, b.train.dataset.ts + b.valid.dataset.ts): assert torch.equal(x, y)

@pytest.mark.parametrize('convert', [lambda df: df.convert_dtypes(dtype_backend='pyarrow'), pl.from_pandas],
                         ids=['arrow-backed pandas', 'polars'])
def test_frames_give_the_same_loaders(R, convert):
    "Every family's loaders (split by time too) from a columnar frame equal those from the NumPy-backed frame"
    seq = R[['user','movie','timestamp']]
    for cls,df,kw in ((RatingsDataLoaders, R, dict(split='last', time_name='timestamp')), (InteractionsDataLoaders, R, {}),
                      (SequenceDataLoaders, seq, dict(time_name='timestamp', max_len=5))):
        a,b = (_quiet(cls.from_df, d, seed=0, **kw) for d in (df, convert(df)))
        _same(a, b)
        assert isinstance(b.users[1], str)

def test_verbs_take_polars_frames(R):
    "predict_pairs, evaluate and fold_in read a Polars frame as they read its pandas copy"
    learn = dot_learner(_quiet(RatingsDataLoaders.from_df, R[['user','movie','rating']], seed=0))
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-2)
    rows = R[['user','movie','rating']].iloc[:50]
    np.testing.assert_allclose(learn.predict_pairs(pl.from_pandas(rows)), learn.predict_pairs(rows))
    assert learn.evaluate(pl.from_pandas(rows))['rmse'] == learn.evaluate(rows)['rmse']
    learn.fold_in(pl.from_pandas(pd.DataFrame({'user':['new']*3, 'movie':[1,50,100], 'rating':[5.,4,3]})))
    assert len(learn.recommend('new')) == 10

def test_parquet(R, tmp_path):
    "from_parquet keeps text ids as written and datetimes as datetimes; a missing or damaged file is named"
    R.assign(user=R.user.str.replace('u', '0')).to_parquet(tmp_path/'r.parquet')
    d = _quiet(RatingsDataLoaders.from_parquet, tmp_path/'r.parquet', split='last', time_name='timestamp', seed=0)
    assert d.users[1]=='0001' and len(d.train.dataset)+len(d.valid.dataset)==len(R)
    with pytest.raises(FileNotFoundError, match='nope.parquet: no such file'): RatingsDataLoaders.from_parquet(tmp_path/'nope.parquet')
    (tmp_path/'bad.parquet').write_text('user,movie\n1,2\n')
    with pytest.raises(ValueError, match="bad.parquet can't be read as Parquet"): RatingsDataLoaders.from_parquet(tmp_path/'bad.parquet')

def test_cli_reads_parquet(R, tmp_path, capsys):
    "`recfast train --data ratings.parquet` trains, and `recommend` answers in the file's ids"
    from recfast.cli import main
    R[['user','movie','rating']].to_parquet(tmp_path/'r.parquet')
    assert main(['train', '--data', str(tmp_path/'r.parquet'), '--arch', 'dot', '--epochs', '1', '--out', str(tmp_path/'out')]) == 0
    assert main(['recommend', '--model', str(tmp_path/'out'/'model.pkl'), '--user', 'u001', '--n', '3']) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) >= 3
    assert main(['train', '--data', str(tmp_path/'none.parquet'), '--arch', 'dot']) == 1
    assert "no such file" in capsys.readouterr().err
