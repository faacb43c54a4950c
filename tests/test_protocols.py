"""Evaluation protocols (issue 12): the sampled-negatives mode of the ranking metrics reproduces the published
calibration figure on real data, and is never confused with the full-catalogue protocol."""
import numpy as np, torch, pytest
from recfast.all import *

def _leave_last_out_popularity():
    "ML-100K, each user's last rating (by time) held out by `split='last'`; popularity = training counts: (scores, targets)"
    r = movielens_100k(titles=False)
    dls = InteractionsDataLoaders.from_df(r[['user','movie','timestamp']], split='last', time_name='timestamp')
    users,targ,_ = dls.eval_set()
    assert (targ.row_lengths()==1).all()
    cnt = dls.seen.col_counts()[1:].float()  # the catalogue without the padding item
    return cnt[None].expand(len(users), -1).contiguous(), targ.indices-1

def test_sampled_mrr_calibration():
    "Popularity, leave-last-out, 200 sampled negatives (uniform, with replacement, nothing excluded): MRR 0.106"
    s,t = _leave_last_out_popularity()
    assert s.shape==(943, 1682)
    sampled = np.mean([mrr(s, t, n_negatives=200, seed=k) for k in range(5)])
    full = mrr(s, t)
    assert abs(sampled-0.106) < 0.01, sampled
    assert abs(full-0.022) < 0.002, full
    assert sampled > 4*full   # the two protocols are not comparable
    # a different draw gives a different figure; the same seed the same one
    assert mrr(s, t, n_negatives=200, seed=0)!=mrr(s, t, n_negatives=200, seed=1)
    assert mrr(s, t, n_negatives=200, seed=0)==mrr(s, t, n_negatives=200, seed=0)
    # more negatives -> lower MRR, and the catalogue is the limit
    assert mrr(s, t, n_negatives=50) > sampled > mrr(s, t, n_negatives=1000) > full

def _ml():
    return movielens_100k(titles=False)

def test_leave_last_out_on_ml100k():
    "Every user's latest rating (ties in frame order) is held out, nothing else; deterministic; n_last and test=True"
    r = _ml()
    trn,val = split_frame(r, by='user', split='last', time_name='timestamp')
    assert len(val)==943 and val.user.is_unique and len(trn)+len(val)==len(r)
    assert (val.set_index('user').timestamp.sort_index() == r.groupby('user').timestamp.max()).all()   # each user's max timestamp is in valid
    assert (trn.groupby('user').timestamp.max() <= val.set_index('user').timestamp.sort_index()).all()  # no later training row
    assert set(trn.index).isdisjoint(val.index)
    assert split_frame(r, by='user', split='last', time_name='timestamp')[1].index.equals(val.index)
    t3,v3,s3 = split_frame(r, by='user', split='last', time_name='timestamp', test=True)
    assert s3.index.equals(val.index) and len(v3)==943 and len(t3)==len(r)-2*943
    assert (v3.set_index('user').timestamp.sort_index() <= s3.set_index('user').timestamp.sort_index()).all()
    t5,v5 = split_frame(r, by='user', split='last', time_name='timestamp', n_last=5)
    assert len(v5)==5*943 and (v5.groupby('user').size()==5).all() and set(val.index) <= set(v5.index)
    # the sequence loaders hold out the same rows
    dls = SequenceDataLoaders.from_df(r, 'user', 'movie', 'timestamp', split='last', max_len=20)
    vy = dls.valid.dataset.ts[1][:, -1]
    assert sorted(dls.items[vy.numpy()]) == sorted(val.movie)

def test_time_cutoff_on_ml100k():
    "Every rating after the cutoff is held out, every one at or before it trains; the quantile form holds out an exact share"
    r = _ml()
    cut = int(r.timestamp.quantile(0.8))
    trn,val = split_frame(r, split='cutoff', time_name='timestamp', cutoff=cut)
    assert (val.timestamp>cut).all() and (trn.timestamp<=cut).all() and len(trn)+len(val)==len(r)
    trn,val = split_frame(r, 0.1, split='cutoff', time_name='timestamp')
    assert len(val)==10_000 and trn.timestamp.max()<=val.timestamp.min()
    t3,v3,s3 = split_frame(r, 0.1, split='cutoff', time_name='timestamp', test=True)
    assert s3.index.equals(val.index) and len(v3)==10_000 and t3.timestamp.max()<=v3.timestamp.min()<=v3.timestamp.max()<=s3.timestamp.min()
    dls = RatingsDataLoaders.from_df(r, split='cutoff', time_name='timestamp', cutoff=cut, seed=0)
    assert len(dls.valid.dataset)==(r.timestamp>cut).sum()
    with pytest.raises(ValueError, match="split='cutoff' needs a time column: pass `time_name`"):
        RatingsDataLoaders.from_df(r, split='cutoff')
    with pytest.raises(TypeError, match="unexpected keyword argument 'cutof'"):
        RatingsDataLoaders.from_df(r, split='cutoff', time_name='timestamp', cutof=cut)
