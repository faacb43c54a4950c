"""Issue #29: quality that does not follow the batch size, for the implicit and sequence families.

AdamW's weight decay shrinks every embedding row at every step, so a larger batch (fewer steps) regularises less;
`l2=` (`RowL2`) penalises the rows each example looks up, per example, as SGD matrix factorisation does, so the same
data seen gives the same penalty at any batch size. For each family, each regulariser's strength is chosen at the
reference batch size on a validation split (never a test split), then the recipe is fitted again at a quarter and at
four times that batch size, the learning rate scaled with the square root of the batch, the epochs unchanged, seed 0.
The figure is the spread of the valid metric over the three batch sizes: small when the quality does not depend on it.
(`dot`'s check is bench_frontier's `--tune`: rows of frontier_tuning.json.)

- implicit: the validation split of bench_baselines (ua.base with 10 random ratings per user held out; every rating a
  positive) and its adaptive hinge recipe (128 factors, rejection sampling, fit_one_cycle(10, 3e-3) at bs 1024), at bs
  256 / 1024 / 4096; valid MRR over the full catalogue, training items excluded. The full softmax is not in it: it reads
  the item table whole, so `l2=` is refused with it.
- sequence: bench_next_item's validation split (each user's last item removed, the one before it held out) and its LSTM
  recipe of the time (full softmax, 64 factors, lr 3e-2, max_len 50) at 10 epochs instead of 20 (one fit costs half),
  at bs 32 / 128 / 512; valid NDCG@10 over the full catalogue, the user's training items excluded.
- softmax: `implicit_learner`'s default loss, the full softmax, with its recipe (wd 1, fit_one_cycle(20, 2e-2) at bs
  1024, bench_baselines' valid-best), on the implicit split at bs 256 / 1024 / 4096: wd 1 at every batch size, against
  wd x sqrt(bs / 1024), which keeps AdamW's decay per epoch ((steps per epoch) x lr x wd) as the lr is scaled.
Writes bench/results/batchsize.json (`--families` runs some, the others' rows kept). `--quick`: one epoch, the
implicit family only (a smoke run).
Usage: python bench/bench_batchsize.py [--quick] [--families implicit,sequence,softmax]"""
import os, sys, warnings, argparse
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import report
import torch
from recfast.all import *

p = argparse.ArgumentParser(); p.add_argument('--quick', action='store_true')
p.add_argument('--families', default='implicit,sequence,softmax', help="some of implicit,sequence,softmax (the rows of "
               "the others are kept)")
args = p.parse_args()
torch.set_num_threads(int(os.environ.get('BENCH_THREADS', 1))); warnings.simplefilter('ignore')

trn,_ = movielens_split()
val = trn.groupby('user').sample(n=10, random_state=0)  # bench_baselines' validation split
fit_df = trn.drop(val.index)
seq = movielens_100k(titles=False)[['user','movie','timestamp']]
IDATA = 'ML-100K ua.base, validation split: 10 random ratings per user (seed 0) held out, all ratings positive'
SDATA = "ML-100K, each user's last item removed (`test=True`), the one before it held out as the valid target"
PROTO = ("seed 0, one thread; every item ranked, the user's training items excluded; lr x sqrt(bs / reference bs), "
         "epochs unchanged; fit seconds")

def implicit_fit(bs, lr, epochs, wd=0., l2=None, loss='adaptive_hinge'):
    "Valid MRR and fit seconds of `implicit_learner(loss=loss)` at batch size `bs`"
    dls = InteractionsDataLoaders.from_df(fit_df, valid_df=val, bs=bs, seed=0)
    set_seed(0)
    learn = implicit_learner(dls, loss=loss, n_factors=128, sampler=None if loss=='softmax' else 'reject', seed=0,
                             metrics=[], wd=wd, l2=l2)
    t = report.fit_seconds(learn, epochs, lr)
    return report.eval_metrics(learn.model, dls, {'MRR': mrr})['MRR'], t

def sequence_fit(bs, lr, epochs, wd=0., l2=None):
    "Valid NDCG@10 and fit seconds of the LSTM at batch size `bs`"
    kw = dict(time_name='timestamp', split='last', seed=0, test=True)
    dls = SequenceDataLoaders.from_df(seq, max_len=50, bs=bs, **kw)
    full = SequenceDataLoaders.from_df(seq, max_len=800, exclude_preceding=True, **kw)  # every training item excluded
    set_seed(0)
    learn = sequence_learner(dls, arch='lstm', loss='softmax', n_factors=64, seed=0, wd=wd, l2=l2, metrics=[])
    t = report.fit_seconds(learn, epochs, lr)
    return report.next_item_metrics(learn.model, dls, full, {'NDCG@10':partial(ndcg_at_k, k=10)})['NDCG@10'], t

# (fit, data, metric, model, reference bs, recipe at it, {regulariser: strengths tried at the reference bs})
FAMILIES = {
    'implicit': (implicit_fit, IDATA, 'valid MRR', "recfast implicit_learner(loss='adaptive_hinge')", 1024,
                 dict(lr=3e-3, epochs=10), {'wd': (0.3, 1.), 'l2': (1e-3, 1e-2, 1e-1)}),
    'sequence': (sequence_fit, SDATA, 'valid NDCG@10', "recfast sequence_learner('lstm', loss='softmax')", 128,
                 dict(lr=3e-2, epochs=10), {'wd': (0.1,), 'l2': (1e-3, 1e-2)}),
    # the default loss, whose recipe decays (wd 1, bench_baselines' valid-best): no `l2`, but AdamW's decay per epoch
    # is (steps per epoch) x lr x wd, so wd x sqrt(bs / 1024) keeps it with the lr's square-root scaling
    'softmax': (partial(implicit_fit, loss='softmax'), IDATA, 'valid MRR',
                "recfast implicit_learner() (full softmax, the default loss)", 1024,
                dict(lr=2e-2, epochs=20, wd=1.), {})}
FAMILY_ARGS = {'softmax': {'wd': lambda bs: {'wd': FAMILIES['softmax'][5]['wd']*(bs/1024)**0.5}}}  # scaled, no grid

def cfg(bs, lr, epochs, wd=0., l2=None):
    return f"bs {bs}, fit_one_cycle({epochs}, {lr:.3g}), " + (f"l2 {l2:g}" if l2 is not None else f"wd {wd:g}")

FAMS = ('implicit',) if args.quick else args.families.split(',')
if bad:=[f for f in FAMS if f not in FAMILIES]: sys.exit(f"--families: unknown {bad}: use some of {list(FAMILIES)}")
rows = [r for r in report.saved('batchsize') if not any(r['model'].startswith(FAMILIES[f][3]) for f in FAMS)]
for fam in FAMS:
    fit,data,mname,model,bs0,recipe,grid = FAMILIES[fam]
    if args.quick: recipe = {**recipe, 'epochs':1}
    suite = report.own_suite('batchsize', data, mname)
    def run(bs, **reg):
        r = {**recipe, 'lr':recipe['lr']*(bs/bs0)**0.5, **reg}
        v,t = fit(bs, **r)
        print(fam, cfg(bs, **r), f'{mname} {v:.4f} in {t:.1f} s', flush=True)
        return v,t,cfg(bs, **r)
    ref = {'none': run(bs0)}  # the recipe with no regularisation, then each regulariser's strengths at `bs0`
    best = {'none': {}}
    for k,vals in grid.items():
        tried = {v: run(bs0, **{k:v}) for v in vals}
        for v,res in tried.items(): rows.append(report.row('batchsize', f'{model}, {k} (choosing it at bs {bs0})',
                                                           data, PROTO, mname, res[0], res[1], suite=suite,
                                                           recipe=res[2]))
        v = max(tried, key=lambda v: tried[v][0]); best[k],ref[k] = {k:v},tried[v]
    arms = {k:(lambda bs, reg=reg: reg) for k,reg in best.items()} | FAMILY_ARGS.get(fam, {})
    for k,arm in arms.items():
        res = {bs: (ref[k] if bs==bs0 and k in ref else run(bs, **arm(bs))) for bs in (bs0//4, bs0, bs0*4)}
        vs = [v for v,_,_ in res.values()]
        for bs,(v,t,c) in res.items():  # each batch size against the reference batch size of the same regulariser
            label = {'none': 'no regularisation' if fam!='softmax' else 'wd 1 at every batch size'}.get(k, k)
            if k in FAMILY_ARGS.get(fam, {}): label = f'{k} x sqrt(bs / {bs0})'
            rows.append(report.row('batchsize', f'{model}, {label}', data, PROTO, mname, v, t,
                                   f'bs {bs0}, same regulariser', res[bs0][0], suite=suite, recipe=c))
        print(f'{fam} {k}: {mname} over bs {list(res)}: {[round(v, 4) for v in vs]}, spread {max(vs)-min(vs):.4f}',
              flush=True)
if not args.quick: report.save(rows, 'batchsize')
