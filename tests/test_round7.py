"""Issue #27, hostile round 7: the BUG and BAD cases fixed in the families and the CLI (the POOR ones: test_round9)."""
import re, warnings
import pytest
from recfast.all import *

@pytest.fixture(scope='module')
def S():
    r = movielens_100k()
    return r[r.user<=60].reset_index(drop=True)

def _q(f, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return f(*a, **k)

def test_rating_lstm_interpretation(S):
    "b4#24: `RecInterpretation` on a rating LSTM (its loss takes `reduction` like fastai's)"
    rs = _q(RatingSequenceDataLoaders.from_df, S[['user','movie','rating','timestamp']], time_name='timestamp', seed=0)
    l = rating_lstm_learner(rs)
    with l.no_bar(), l.no_logging(): l.fit(1, 5e-3)
    interp = _q(RecInterpretation.from_learner, l)
    assert len(interp.losses)==len(rs.valid.dataset) and torch.isfinite(interp.losses).all()
    p,t = torch.randn(4, 3), torch.tensor([[1., float('nan'), 2.]]*4)
    assert rating_mse(p, t, reduction='none').shape==(4,) and torch.isclose(rating_mse(p, t, 'sum')/2/4, rating_mse(p, t))

def test_refusals(S, tmp_path):
    from recfast.cli import main
    S3,ST = S[['user','movie','rating']],S[['user','movie','rating','timestamp']]
    ST.to_csv(tmp_path/'rt.csv', index=False)
    cases = [(lambda: autoencoder_learner(_q(SparseVectorDataLoaders.from_df, S3, implicit=True, seed=0)), ValueError,
              "Every training rating is 1.0: an output range can't be learned"),
             (lambda: RatingSequenceDataLoaders.from_df(ST[['user','movie','timestamp','rating']], seed=0), ValueError,
              "Column 'timestamp' holds whole numbers from .* like Unix times, not ratings"),
             (lambda: RatingsDataLoaders.from_df(ST, rating_name='timestamp'), ValueError, 'like Unix times')]
    for f,err,msg in cases:
        with pytest.raises(err, match=msg): _q(f)
    assert isinstance(autoencoder_learner(_q(SparseVectorDataLoaders.from_df, S3, implicit=True, seed=0),
                                          y_range=False), Learner)
    assert main(['train', '--data', str(tmp_path/'rt.csv'), '--arch', 'lstm', '--epochs', '1']) == 1
    assert main(['train', '--data', str(tmp_path/'rt.csv'), '--rating-col', 'timestamp', '--epochs', '1']) == 1

def test_counted_warnings(S):
    S3 = S[['user','movie','rating']]
    films = movielens_items()[['movie','year']].fillna({'year': 1990.})
    I = _q(InteractionsDataLoaders.from_df, S3[['user','movie']], seed=0, item_features=films)
    with pytest.warns(UserWarning, match="EASE is fitted from the interactions alone: the loaders' item_features"):
        ease_learner(I)
    l = dot_learner(_q(RatingsDataLoaders.from_df, S3, seed=0), n_factors=8)
    with pytest.warns(UserWarning, match=r"fold_in: 1 user\(s\) of the frame are known already \(e.g. 1\)"):
        l.fold_in(pd.DataFrame({'user': [1]*3, 'movie': [50, 172, 210], 'rating': [5, 4, 5]}))
    il = implicit_learner(_q(InteractionsDataLoaders.from_df, S3[['user','movie']], seed=0), n_factors=8)
    with pytest.warns(UserWarning, match=r"fold_in: 2 repeated \(user, movie\) rows count once"):
        il.fold_in(pd.DataFrame({'user': [9001]*3, 'movie': [50]*3}))
