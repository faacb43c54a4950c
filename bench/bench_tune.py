"""Issue #30: `tune` with a fixed wall-clock budget (10 minutes by default, one thread) against the hand-tuned recipes,
in the same run. Both searches read a validation split only; the test figures come after, from the chosen recipes.

- implicit, Kula's talk protocol: `tune(arch='implicit')` on ua.base with 10 random ratings per user held out (the
  split `bench_baselines.py` tunes on), then test MRR / NDCG@10 / R@20 on ua.test (full catalogue, training items
  excluded) over 3 seeds, against the hand-tuned softmax recipe and the BPR recipe of `bench_baselines.py`.
- dot, explicit: `tune(arch='dot')` on u1.base with a random 10% held out (the split `bench_explicit.py` tunes on),
  then test RMSE on u1..u5 against the hand-tuned `dot_tuned` and the fastbook recipe.
- sequence: `tune(arch='lstm')` on leave-last-out ML-100K with each user's last item removed (`test=True`, the split
  `bench_next_item.py --tune` searches on), then test NDCG@10 / HR@10 / MRR on the last items over 3 seeds, against
  the LSTM's hand-tuned recipe (bench/recipes.py's `NEXT_ITEM`), where the search starts.
- autoencoder: `tune(arch='autorec')` on `bench_autoenc.py`'s 90% with 10% of it held out, then test RMSE on the
  other 10% over 3 seeds against the factory's defaults with `bench_autoenc.py`'s schedule.

Writes bench/results/tune.json (bench/report.py rows) and the studies (bench/results/tune/). `BENCH_TUNE_BUDGET`
sets the budget in seconds (per family); `BENCH_QUICK=1` runs a 60-second budget and one seed (a smoke test);
`BENCH_TUNE_FAMILIES=sequence,autoencoder` runs some families (the rows of the others are kept)."""
import os, sys, warnings
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import report, recipes
from fastai.basics import *
from recfast.all import *

warnings.filterwarnings('ignore')
torch.set_num_threads(int(os.environ.get('BENCH_THREADS', 1)))
QUICK = bool(int(os.environ.get('BENCH_QUICK', 0)))
BUDGET = float(os.environ.get('BENCH_TUNE_BUDGET', 60 if QUICK else 600))
SEEDS = (0,) if QUICK else (0, 1, 2)
OUT = report.RESULTS/'tune'
ALL = ('implicit', 'dot', 'sequence', 'autoencoder')
FAMILIES = os.environ.get('BENCH_TUNE_FAMILIES', ','.join(ALL)).split(',')
if bad:=[f for f in FAMILIES if f not in ALL]: sys.exit(f"BENCH_TUNE_FAMILIES: unknown {bad}: use some of {ALL}")
# the rows of the families not run this time are kept (each row's model starts with its family's arch)
KEEP = {'implicit':'implicit,', 'dot':'dot,', 'sequence':'lstm,', 'autoencoder':'autorec,'}
rows = [r for r in report.saved('tune')
        if not any(r['model'].startswith(KEEP[f]) for f in FAMILIES)]
recipe = lambda r: ', '.join(f'{k} {v:.3g}' if isinstance(v, float) else f'{k} {v}' for k,v in r['kwargs'].items()) \
                   + f", fit_one_cycle({r['epochs']}, {r['lr']:.3g})"

def started(tuned, start):
    "Whether `tune`'s best recipe is `start`, the search's first trial (then its test figures are the hand recipe's)"
    return tuned['epochs']==start['epochs'] and np.isclose(tuned['lr'], start['lr']) and \
        {k:v for k,v in tuned['kwargs'].items()}=={k:v for k,v in start.items() if k not in ('epochs','lr')}

def compare(fam, tuned, res, data, metrics, tuned_s, n_label, main, kept=False):
    """Report rows: tune's recipe (`res['tune']`) against the hand-tuned ones (the other keys of `res`, the first the
    baseline, `main` metric's ratio), each a list of `(metrics, fit seconds)` over seeds or folds"""
    suite = report.own_suite('tune', data, f'test {main}')
    mean = lambda rs, m: float(np.mean([r[0][m] for r in rs]))
    std = lambda rs, m: float(np.std([r[0][m] for r in rs]))
    secs = lambda rs: float(np.mean([r[1] for r in rs]))
    hand,out = next(k for k in res if k!='tune'),[]
    for m in metrics:
        label = f"{fam}, tune's recipe ({BUDGET/60:.0f}-minute budget: {tuned['trials']} trials in {tuned_s:.0f} s" \
                f"{'; the hand-tuned start won' if kept else ''})"
        out.append(report.row('tune', label, data, f'test {m}, {n_label}', f'test {m}', mean(res['tune'], m),
                              secs(res['tune']), f'{fam}, {hand}', mean(res[hand], m), secs(res[hand]), suite=suite,
                              ratio_of='value', std=std(res['tune'], m), n=len(res['tune']), recipe=recipe(tuned)))
        out += [report.row('tune', f'{fam}, {k}', data, f'test {m}, {n_label}', f'test {m}', mean(rs, m), secs(rs),
                           suite=suite, std=std(rs, m), n=len(rs)) for k,rs in res.items() if k!='tune']
    print(out, flush=True)
    return out

# ---- implicit on the talk protocol
if 'implicit' in FAMILIES:
    trn,tst = movielens_split()
    val = trn.groupby('user').sample(n=10, random_state=0)
    vdls = InteractionsDataLoaders.from_df(trn.drop(val.index), valid_df=val, bs=1024, seed=0)
    FUNCS = {'MRR':mrr, 'NDCG@10':partial(ndcg_at_k, k=10), 'R@20':partial(recall_at_k, k=20)}
    TALK = "ML-100K ua.base -> ua.test, every rating a positive; full catalogue, training items excluded; " \
           "mean of 3 seeds"
    HAND = {'softmax (hand-tuned: wd 1, fit_one_cycle(20, 2e-2))': dict(kwargs=dict(loss='softmax', wd=1.),
                                                                        epochs=20, lr=2e-2),
            'bpr (bench recipe: fit(10, 1e-2))': dict(kwargs=dict(loss='bpr'), epochs=10, lr=1e-2, plain=True)}

    def scores(model, d): return report.eval_metrics(model, d, FUNCS)

    def implicit_test(rec, seed):
        "Test metrics of `rec` (kwargs, epochs, lr) trained on all of ua.base with `seed`, and its fit seconds"
        dls = InteractionsDataLoaders.from_df(trn, valid_df=tst, bs=1024, seed=seed)
        set_seed(seed)
        learn = implicit_learner(dls, metrics=[], seed=seed, **rec['kwargs'])
        t = report.fit_seconds(learn, rec['epochs'], rec['lr'], plain=rec.get('plain', False))
        return scores(learn.model, dls), t

    (best,_),tuned_s = report.timed(tune, vdls, arch='implicit', n_trials=10_000, timeout=BUDGET, seed=0, path=OUT)
    print('implicit tuned:', best, flush=True)
    res = {'tune': [implicit_test(best, s) for s in SEEDS]} | {k:[implicit_test(r, s) for s in SEEDS]
                                                                for k,r in HAND.items()}
    rows += compare('implicit', best, res, TALK, FUNCS, tuned_s, '3 seeds', 'MRR')

# ---- dot on u1..u5
if 'dot' in FAMILIES:
    EXPL = "ML-100K u1..u5: train u{k}.base, test RMSE on u{k}.test; mean ± std over the 5 folds; tuned on 10% " \
           "of u1.base"
    u1,_ = movielens_split(split='u1')
    u1 = u1[['user','movie','rating']]
    v1 = u1.sample(frac=0.1, random_state=0)
    ddls = RatingsDataLoaders.from_df(u1.drop(v1.index), valid_df=v1, bs=64, seed=0)
    (dbest,_),dtuned_s = report.timed(tune, ddls, arch='dot', n_trials=10_000, timeout=BUDGET, seed=0, path=OUT,
                                      y_range=(0, 5.5))
    print('dot tuned:', dbest, flush=True)
    DHAND = {'dot_tuned (hand-tuned: wd 0.15, fit_one_cycle(5, 5e-3))': dict(kwargs=dict(n_factors=50, wd=0.15),
                                                                             epochs=5, lr=5e-3),
             'fastbook (wd 0.1, fit_one_cycle(5, 5e-3))': dict(kwargs=dict(n_factors=50, wd=0.1), epochs=5, lr=5e-3)}

    def dot_test(rec, fold):
        trn_,tst_ = (d[['user','movie','rating']] for d in movielens_split(split=fold))
        dls = RatingsDataLoaders.from_df(trn_, valid_df=tst_, bs=64, seed=42)
        set_seed(42)
        learn = dot_learner(dls, metrics=[], **{'y_range': (0, 5.5), **rec['kwargs']})
        t = report.fit_seconds(learn, rec['epochs'], rec['lr'])
        return {'RMSE': float(((learn.predict_pairs(tst_)-tst_.rating.to_numpy())**2).mean()**0.5)}, t

    folds = ('u1',) if QUICK else ('u1','u2','u3','u4','u5')
    dres = {'tune': [dot_test(dbest, f) for f in folds]} | {k:[dot_test(r, f) for f in folds] for k,r in DHAND.items()}
    rows += compare('dot', dbest, dres, EXPL, ('RMSE',), dtuned_s, f'{len(folds)} folds', 'RMSE')
    # the fold-to-fold differences of the tuned recipe against the hand-tuned one (paired: the same folds)
    print('dot paired diffs (tune - hand):', [a[0]['RMSE']-b[0]['RMSE'] for a,b in zip(dres['tune'],
                                                                                    dres[next(iter(DHAND))])])

# ---- sequences (LSTM) on leave-last-out next-item prediction (bench_next_item.py's protocol)
if 'sequence' in FAMILIES:
    ml = movielens_100k(titles=False)[['user','movie','timestamp']]
    lstm = recipes.NEXT_ITEM['lstm']  # bench_next_item.py's hand-tuned recipe
    SKW = dict(time_name='timestamp', split='last', **dict(zip(recipes.WINDOW, recipes.windows(lstm))))
    SEQ = "ML-100K, each user's latest rating held out (943 targets), the rest trained on; every item ranked, the " \
          "user's training items excluded; mean of 3 seeds"
    SFUNCS = {'NDCG@10':partial(ndcg_at_k, k=10), 'HR@10':partial(recall_at_k, k=10), 'MRR':mrr}
    # bench_next_item.py's valid-best LSTM recipe (next_item_tuning.json, its windows and batch size in SKW: they are
    # the loaders', which `tune` searches on, not the learner's), the search's first trial
    shand = dict(kwargs={k: lstm[k] for k in ('loss', 'n_factors', 'wd')}, epochs=lstm['epochs'], lr=lstm['lr'])
    sstart = {**shand['kwargs'], 'epochs': shand['epochs'], 'lr': shand['lr']}
    vsdls = SequenceDataLoaders.from_df(ml, seed=0, test=True, **SKW)  # valid: each user's last-but-one item
    (sbest,_),stuned_s = report.timed(tune, vsdls, arch='lstm', n_trials=10_000, timeout=BUDGET, seed=0, path=OUT,
                                      space=report.with_starts(sequence_space, sstart))
    print('lstm tuned:', sbest, flush=True)

    def seq_test(rec, seed):
        "Test metrics of `rec` fitted with `seed` on everything but each user's last item, and its fit seconds"
        set_seed(seed)
        dls = SequenceDataLoaders.from_df(ml, seed=seed, **SKW)
        full = SequenceDataLoaders.from_df(ml, seed=seed, exclude_preceding=True, **{**SKW, 'max_len':800, 'step':None})
        learn = sequence_learner(dls, arch='lstm', seed=seed, metrics=[], **rec['kwargs'])
        t = report.fit_seconds(learn, rec['epochs'], rec['lr'])
        return report.next_item_metrics(learn.model, dls, full, SFUNCS), t

    hand = [seq_test(shand, s) for s in SEEDS]
    # the start winning: its test fits would repeat the hand recipe's, so they are not rerun
    sres = {'tune': hand if started(sbest, sstart) else [seq_test(sbest, s) for s in SEEDS],
            'hand-tuned (bench_next_item: softmax, 64 factors, wd 0.3, fit_one_cycle(10, 1.5e-2); bs 32, max_len 25, '
            'step 12)': hand}
    rows += compare('lstm', sbest, sres, SEQ, SFUNCS, stuned_s, '3 seeds', 'NDCG@10', kept=started(sbest, sstart))

# ---- I-AutoRec on a 90/10 random split of the ratings (bench_autoenc.py's protocol)
if 'autoencoder' in FAMILIES:
    ratings = movielens_100k(titles=False)[['user','movie','rating']]
    AE = "ML-100K ratings, 10% held out at random (seed 42) as the test set; item vectors; tuned on 10% of the rest; " \
         "mean of 3 seeds"
    atest = ratings.sample(frac=0.1, random_state=42)
    atrn = ratings.drop(atest.index)
    aval = atrn.sample(frac=0.1, random_state=0)
    vadls = SparseVectorDataLoaders.from_df(atrn.drop(aval.index), by='item', valid_df=aval, bs=64, seed=0)
    ahand = dict(kwargs=dict(wd=1e-3), epochs=8, lr=3e-3)  # the factory's defaults and bench_autoenc.py's schedule
    astart = {**ahand['kwargs'], 'epochs': ahand['epochs'], 'lr': ahand['lr']}
    (abest,_),atuned_s = report.timed(tune, vadls, arch='autorec', n_trials=10_000, timeout=BUDGET, seed=0, path=OUT,
                                      space=report.with_starts(autoencoder_space, astart))
    print('autorec tuned:', abest, flush=True)

    def ae_test(rec, seed):
        "Test RMSE of `rec` fitted with `seed` on the 90%, and its fit seconds"
        dls = SparseVectorDataLoaders.from_df(atrn, by='item', valid_df=atest, bs=64, seed=seed)
        set_seed(seed)
        learn = autoencoder_learner(dls, arch='autorec', seed=seed, **rec['kwargs'])
        t = report.fit_seconds(learn, rec['epochs'], rec['lr'])
        with learn.no_bar(): return {'RMSE': float(learn.validate()[1])}, t

    hand = [ae_test(ahand, s) for s in SEEDS]
    ares = {'tune': hand if started(abest, astart) else [ae_test(abest, s) for s in SEEDS],
            'defaults (wd 1e-3, noise 0.25; bench_autoenc: fit_one_cycle(8, 3e-3))': hand}
    rows += compare('autorec', abest, ares, AE, ('RMSE',), atuned_s, '3 seeds', 'RMSE', kept=started(abest, astart))

report.save(rows, 'tune')
for a in {'implicit':'implicit', 'dot':'dot', 'sequence':'lstm', 'autoencoder':'autorec'}.values():
    if (OUT/f'study_{a}.json').exists(): plot_study(OUT/f'study_{a}.json', OUT/f'study_{a}.png')
