"""Issue #14: cold-start items on ML-100K. 20% of the films are held out of training entirely; for each user, the held-out
films they rated are ranked among all held-out films, scored from features alone by the LightFM hybrid
(`implicit_learner` on loaders with user and item features), against genre popularity and random scores of the same
run; on warm items the hybrid is compared with the same model without features (same run, same split).
Writes the figures as report rows in bench/results/coldstart.json (bench/report.py)."""
import os, sys, warnings
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import report
from fastai.basics import *
from recfast.core import *
from recfast.datasets import *
from recfast.metrics.ranking import *
from recfast.implicit.data import *
from recfast.features import added_features
from recfast.metrics.coldstart import cold_items_split, cold_start_auc, label_popularity
from recfast.implicit.learner import *
from recfast.recommender import RecLearner

torch.set_num_threads(int(os.environ.get('BENCH_THREADS', 1)))
SEED, EPOCHS, N_FACTORS, LR = 0, int(os.environ.get('BENCH_EPOCHS', 10)), 64, 5e-3
jrows = []

# ---- data: ML-100K, all ratings positive; 20% of the films held out of training
ratings = movielens_100k(titles=False)[['user','movie']]
users = movielens_users()[['user','age','gender','occupation']]
items = movielens_items()[['movie','year','genres']]
items = items.fillna({'year': items.year.median()}).assign(decade=lambda d: (d.year//10*10).astype(int).astype(str))
warm_r,cold_r,warm_items,cold_items = cold_items_split(ratings, items, 'movie', pct=0.2, seed=SEED)
cold_ids = set(cold_items.movie)
data = f"ML-100K, all ratings positive; {len(cold_ids)} of {len(items)} films held out ({len(cold_r)} ratings)"
print(data, flush=True)

with warnings.catch_warnings():
    warnings.simplefilter('ignore')  # a few validation rows have a film with no training row
    plain_dls = InteractionsDataLoaders.from_df(warm_r, valid_pct=0.2, seed=SEED, bs=1024)
    feats = dict(item_features=warm_items[warm_items.movie.isin(warm_r.movie)])
    hyb_dls = InteractionsDataLoaders.from_df(warm_r, valid_pct=0.2, seed=SEED, bs=1024, **feats)
    both_dls = InteractionsDataLoaders.from_df(warm_r, valid_pct=0.2, seed=SEED, bs=1024, user_features=users, **feats)

def fit(dls):
    set_seed(SEED)
    learn = implicit_learner(dls, loss='bpr', n_factors=N_FACTORS, seed=SEED, metrics=[], sampler='uniform')
    def go():
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(EPOCHS, LR)
    return learn, report.timed(go)[1]

def warm_metrics(learn):
    "Full-catalogue MRR and Recall@10 of the warm validation rows (training items excluded)"
    m = {'mrr':[], 'recall@10':[]}
    for s,t,e in learn.dls.eval_batches(learn.model):
        m['mrr'].append(mrr(s, t, e, per_user=True)); m['recall@10'].append(recall_at_k(s, t, e, k=10, per_user=True))
    return {k:float(torch.cat(v).nanmean()) for k,v in m.items()}

plain,t_plain = fit(plain_dls)
hyb,t_hyb = fit(hyb_dls)
both,t_both = fit(both_dls)
wp,wh,wb = warm_metrics(plain),warm_metrics(hyb),warm_metrics(both)
print('warm', wp, wh, wb, flush=True)

# ---- cold items: every user with a held-out rating, the held-out films ranked among themselves
cold_users = [u for u in pd.unique(cold_r.user) if u in set(hyb_dls.users.items[1:])]
cold_list = list(cold_items.movie)
def cold_scores(learn):
    "Scores of the held-out films (from their features alone) for `cold_users`, `(users, films)`"
    with added_features(learn, item_features=cold_items):
        return learn.score_items(learn.dls.encode_users(cold_users))[:, learn.dls.encode_items(cold_list)].cpu()
s_hyb,s_both = cold_scores(hyb),cold_scores(both)
cpos = pd.Index(cold_list)
targ = torch.zeros(len(cold_users), len(cold_list), dtype=torch.bool)
targ[torch.from_numpy(pd.Index(cold_users).get_indexer(cold_r.user)), torch.from_numpy(cpos.get_indexer(cold_r.movie))] = True

# genre popularity: a held-out film scores the mean, over its genres, of the training interactions per film of that genre
gscore = label_popularity(warm_r, warm_items, cold_items, 'movie', 'genres')
s_pop = gscore[None].expand(len(cold_users), -1) + 1e-9*torch.rand(len(cold_users), len(cold_list), generator=torch.Generator().manual_seed(SEED))
s_rand = torch.rand(len(cold_users), len(cold_list), generator=torch.Generator().manual_seed(SEED))
(a_h,r_h),(a_b,r_b),(a_p,r_p),(a_r,r_r) = (cold_start_auc(s, targ) for s in (s_hyb, s_both, s_pop, s_rand))
print('cold auc/recall hybrid', a_h, r_h, 'with user features', a_b, r_b, 'genre pop', a_p, r_p, 'random', a_r, r_r, flush=True)

# ---- report
proto = f"implicit_learner BPR, {N_FACTORS} factors, fit_one_cycle {EPOCHS} epochs lr {LR}, bs 1024, seed {SEED}"
cproto = f"held-out films ranked among the {len(cold_list)} held-out films per user ({len(cold_users)} users); {proto}"
wproto = f"warm films: 20% of the warm rows held out, full warm catalogue ranked, training items excluded; {proto}"
hyb_name = 'recfast hybrid `implicit_learner` (film features: genres, year, decade)'
both_name = 'recfast hybrid `implicit_learner` (film features + user age, gender, occupation)'
for metric,v,vb,p,r in (('AUC', a_h, a_b, a_p, a_r), ('Recall@10', r_h, r_b, r_p, r_r)):
    jrows += [report.row('coldstart', name, data, cproto, f'cold {metric}', x, None, 'genre popularity', p, suite='coldstart-auc')
              for name,x in ((hyb_name, v), (both_name, vb), ('random scores', r))]
for metric in ('mrr','recall@10'):
    for name,w,t in ((hyb_name, wh, t_hyb), (both_name, wb, t_both)):
        jrows.append(report.row('coldstart', name, data, wproto, f'warm {metric}', w[metric], t,
                                '`implicit_learner` without features', wp[metric], t_plain, suite='coldstart-warm', ratio_of='value'))
report.save(jrows, 'coldstart')
assert a_h > a_p > a_r - 0.02, (a_h, a_p, a_r)
assert wh['mrr'] >= 0.98*wp['mrr'], (wh, wp)
