"Hostile review round 13 (hostile27): each bad input is refused by name, warned with a count, or handled correctly."
import functools
import numpy as np, pandas as pd, pytest, torch
from recfast.all import *
from recfast.cli import main

torch.set_num_threads(1)

from tests.hostile import S, S3, _quiet, _messages, _fit, _dot50

def T(): return S3()[S3().user<=20].reset_index(drop=True)

# b6#14: refitting a known user with fold_in stores no pair twice (popularity and seen items stay right)
def test_fold_in_refit_keeps_seen_unique():
    learn,_ = _dot50()
    nnz = learn.dls.seen.nnz
    rows = pd.DataFrame({'user':[1]*3, 'movie':[1,2,3], 'rating':[5,4,3]})
    for _ in range(3): _quiet(learn.fold_in, rows)
    r,c,_ = learn.dls.seen.coo()
    key = r*learn.dls.n_items + c
    assert len(torch.unique(key))==len(key)  # no (user, item) pair twice
    u = learn.dls.encode_users([1])[0]
    new = set(learn.dls.encode_items([1,2,3]).tolist()) - set(c[r==u].tolist())
    assert learn.dls.seen.nnz <= nnz+3 and not new

# b5#11: a new user whose id is the text '#na#' folds in like any id (not merged with the padding slot)
def test_fold_in_na_text_id():
    learn,u = _dot50()
    n = learn.dls.n_users
    _quiet(learn.fold_in, u.assign(user=99999))  # an int model: an int id
    d = _quiet(RatingsDataLoaders.from_df, T().astype({'user':str}), seed=0)
    ls = _fit(_quiet(dot_learner, d, n_factors=4))
    rows = T()[T().user==3].assign(user='#na#')
    rows = rows[rows.movie.isin(d.items.items[1:])]
    _quiet(ls.fold_in, rows)
    assert ls.dls.n_users==d.n_users+1 and ls.model.u_weight.weight.shape[0]==ls.dls.n_users
    assert len(ls.recommend('#na#', n=3))==3
    assert learn.dls.n_users==n+1

# cli#11: `recfast evaluate` reads a CSV's ids in the kind of the model's (int ids of ML-100K)
def test_cli_evaluate_csv_on_int_model(tmp_path, capsys):
    assert main(['train', '--epochs', '1', '--n-factors', '4', '--out', str(tmp_path/'o')]) == 0, capsys.readouterr().err
    held = movielens_100k()[['user','title','rating']].head(200)  # the CLI's ml-100k: titles as items
    held.to_csv(tmp_path/'held.csv', index=False)
    assert main(['evaluate', '--model', str(tmp_path/'o'/'model'), '--data', str(tmp_path/'held.csv')]) == 0, \
        capsys.readouterr().err

# b3#22: an unknown encoding is named as such, not a raw LookupError
def test_cli_unknown_encoding(tmp_path, capsys):
    T().to_csv(tmp_path/'s.csv', index=False)
    assert main(['train', '--data', str(tmp_path/'s.csv'), '--encoding', 'utf-99', '--epochs', '1']) != 0
    assert "--encoding 'utf-99' is not a text encoding" in capsys.readouterr().err

# b11#14: a RankMetric of a functools.partial is named after the function
def test_rank_metric_of_partial():
    m = RankMetric(functools.partial(recall_at_k, k=5))
    assert m.name.startswith('recall')

# b7b#21: on a small catalogue the sampled losses' default 64 negatives are capped at the catalogue, with a warning
def test_default_n_neg_capped_on_small_catalogue():
    d12 = _quiet(InteractionsDataLoaders.from_df, T()[T().movie<=12][['user','movie']], seed=0)
    for loss in ('sampled_softmax', 'gbce'):
        learn,msgs = _messages(lambda: implicit_learner(d12, loss=loss, n_factors=4))
        neg = next(c for c in learn.cbs if isinstance(c, NegativeSampling))
        assert neg.n_neg==d12.n_items-1 and any('default 64 negatives' in m for m in msgs), msgs
    with pytest.raises(ValueError, match='`n_neg`=64 is larger'): implicit_learner(d12, loss='gbce', n_neg=64)

# b11#9: `valid_df`'s ratings are checked against y_range as given too (before duplicates are averaged)
def test_valid_df_span_checked():
    tr,v = T().iloc[:-50], T().iloc[-50:]
    vd = pd.concat([v, pd.DataFrame({'user':[1,1], 'movie':[1,1], 'rating':[-50,60]})], ignore_index=True)
    d = _quiet(RatingsDataLoaders.from_df, tr, valid_df=vd, seed=0)
    with pytest.raises(ValueError, match=r'ratings span \[-50, 60\] as given'): dot_learner(d, n_factors=4)
