"""Evaluation protocols (issue 12): the sampled-negatives mode of the ranking metrics reproduces the published
calibration figure on real data, and is never confused with the full-catalogue protocol."""
import numpy as np, torch
from recfast.all import *

def _leave_last_out_popularity():
    "ML-100K, each user's last rating (by time) held out; popularity = training counts: (scores, targets)"
    r = movielens_100k(titles=False).sort_values(['user','timestamp'], kind='stable')
    last = r.groupby('user').tail(1)
    trn = r.drop(last.index)
    items = np.sort(r.movie.unique())
    cnt = torch.from_numpy(np.bincount(np.searchsorted(items, trn.movie.to_numpy()), minlength=len(items))).float()
    return cnt[None].expand(len(last), -1).contiguous(), torch.from_numpy(np.searchsorted(items, last.movie.to_numpy()))

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
