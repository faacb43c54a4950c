"""Issue #26: next-item prediction over the full catalogue — ML-100K, each user's latest rating held out
(leave-last-out), the rest trained on, every item ranked with the user's training items excluded; NDCG@10, HR@10 and
MRR, mean over the 943 users. Sequence models (pool, LSTM, CNN, SASRec) against popularity, item-kNN and EASE fitted on
the same training histories. Recipes are chosen on valid, never on the held-out last items: each user's last item
removed entirely (`test=True`), the one before it the valid target. `--tune` runs recfast's own `tune` (Optuna, issue
#30) per arch on that split, `BENCH_TUNE_BUDGET` seconds each (900), its first trial the hand recipe (`HAND`:
bench/recipes.py's `NEXT_ITEM`, the valid-best of a hand grid of fifteen rounds that came before `tune`); the studies
are saved in bench/results/next_item_tuning/ (JSON and PNG). Then (`--confirm` alone redoes it) every finished trial
becomes a row of next_item_tuning.json, the hand recipe and the study's best are refitted with seeds 0-2 (unless their
3-seed rows are saved) and scored by the bench's metrics, and the study's best replaces the hand recipe only where its
mean valid NDCG@10 beats it by more than either's spread over the seeds (bench/recipes.py's `next_item`). `tune`'s
objective is the learner's own metric, `mrr` after each valid window with nothing excluded: not the bench's.
Writes bench/results/next_item.json.
`--quick`: one seed, one epoch, one trial (a smoke run; writes no rows).
Usage: python bench/bench_next_item.py [--quick] [--tune | --confirm] [--archs sasrec,lstm,cnn,pool] [--seeds 3]"""
import os, sys, warnings, argparse, functools, tempfile
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np, torch
from recfast.all import *
from bench import report
from bench.recipes import NEXT_ITEM as HAND, NEXT_ITEM_STUDIES as STUDIES, next_item_rows as valid
from bench.recipes import MAX_LEN, BS, CONF, rstr, windows, window_text, learner_args, next_item, next_item_study

p = argparse.ArgumentParser()
p.add_argument('--quick', action='store_true'); p.add_argument('--tune', action='store_true')
p.add_argument('--confirm', action='store_true')
p.add_argument('--seeds', type=int, default=3); p.add_argument('--archs', default='sasrec,lstm,cnn,pool')
args = p.parse_args()
if args.tune and args.confirm: p.error('--tune ends with what --confirm does: give one of them')
torch.set_num_threads(int(os.environ.get('BENCH_THREADS', 1))); warnings.simplefilter('ignore')
BSL = f'BS {BS} unless the settings name another'  # the batch size, in the rows' protocol
MLL = f'max_len {MAX_LEN} unless the settings name another'  # the window length (a recipe knob from the ninth round)
ml = movielens_100k(titles=False)[['user','movie','timestamp']]
DATA = "ML-100K, each user's latest rating held out (943 targets), the rest trained on"
PROTO = "leave-last-out; every item ranked, the user's training items excluded; mean over users"
VDATA = "ML-100K, each user's last item removed (`test=True`), the one before it held out as the valid target"
FUNCS = {'NDCG@10':partial(ndcg_at_k, k=10), 'HR@10':partial(recall_at_k, k=10), 'MRR':mrr}

# `--tune`: recfast's own `tune` (Optuna) per arch on the valid split, `BUDGET` seconds each, its first trial the hand
# recipe (`start`); the objective is the learner's own metric, `mrr` over the valid windows (the whole catalogue,
# nothing excluded), the bench's figures come from `--confirm`'s refits
BUDGET = float(os.environ.get('BENCH_TUNE_BUDGET', 900))
# pool's wd 0 and lr 9e-2 lie outside `sequence_space` (log-uniform wd from 1e-5, lr up to 5e-2): its study starts
# from the nearest point (an Optuna trial outside the space's bounds is refused, loudly)
CLIP = {'pool': {'wd': 1e-5, 'lr': 5e-2}}
def start(a):
    "The hand recipe of arch `a` as parameters of its search space (SASRec's `model_kwargs` flat), `CLIP`ped"
    h = HAND[a]
    return {k: h[k] for k in ('loss', 'n_factors', 'wd', 'lr', 'epochs')} | h.get('model_kwargs', {}) | CLIP.get(a, {})
def loaders(r, seed, test):
    "Training loaders of recipe `r`'s windows and batch size"
    bs,max_len,step = windows(r)
    return SequenceDataLoaders.from_df(ml, max_len=max_len, step=step, bs=bs, time_name='timestamp', split='last',
                                       seed=seed, test=test)

def frames(test):
    "`(train, held-out)` frames of the interactions: the last item held out (the one before it, with `test`)"
    trn,val,*tst = split_frame(ml, by='user', split='last', time_name='timestamp', test=test)
    return trn,val

@functools.cache
def full_loaders(test):
    "The exclusions' loaders: windows of every training item (the same for every seed and recipe: built once)"
    return SequenceDataLoaders.from_df(ml, max_len=800, exclude_preceding=True, time_name='timestamp', split='last',
                                       test=test)

def run_seq(arch, seed, test=False, **recipe):
    "Fit `arch` with `recipe`; the metrics on the held-out items and the fit's CPU seconds"
    r = recipe or RECIPES[arch]  # a recipe is whole: none of the winner's keys (`step`, `max_len`...) leak in
    set_seed(seed)
    dls = loaders(r, seed, test)
    full = full_loaders(test)
    learn = sequence_learner(dls, arch=arch, seed=seed, metrics=[], **learner_args(r))
    sw = report.Stopwatch()
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1 if args.quick else r['epochs'], r['lr'])
    fit = sw.cpu()
    return report.next_item_metrics(learn.model, dls, full, FUNCS),fit

def run_closed(name, test=False):
    "Popularity, item-kNN or EASE fitted on the same training histories"
    trn,val = frames(test)
    dls = InteractionsDataLoaders.from_df(trn, user_name='user', item_name='movie', valid_df=val, bs=1024, seed=0)
    sw = report.Stopwatch()
    learn = recfast_learner(dls, arch=name)
    fit = sw.cpu()
    return report.eval_metrics(learn.model, dls, FUNCS),fit

ARCHS = args.archs.split(',')
if bad:=[a for a in ARCHS if a not in HAND]: p.error(f'--archs: unknown {bad}: use some of {list(HAND)}')
RECIPES = {a: next_item(a) for a in HAND}

def seeds3(a, c, rows):
    "Rows of recipe `c` of arch `a` on valid with seeds 0-2, each metric's mean and std"
    runs = [run_seq(a, s, test=True, **c) for s in (0, 1, 2)]
    for k in FUNCS:
        v = np.array([m[k] for m,_ in runs])
        rows.append(report.row('next_item', f'sequence_learner({a!r})', VDATA,
                               f'{PROTO}; seeds 0-2 (mean, std), {BSL}, {MLL}', f'valid {k}, 3 seeds',
                               float(v.mean()), float(np.mean([t for _,t in runs])), std=float(v.std(ddof=1)),
                               n=len(v), recipe=rstr(c),
                               suite=report.own_suite('next_item', VDATA, f'valid {k}, 3 seeds')))
    print(a, rstr(c), {k: round(float(np.mean([m[k] for m,_ in runs])), 4) for k in FUNCS}, flush=True)

if args.tune:  # one study per arch; its trials become rows with `--confirm`
    for a in ARCHS:
        space = report.with_starts(search_space(a), start(a))
        with tempfile.TemporaryDirectory() as tmp:  # (a `--quick` study is thrown away)
            rec,_ = tune(loaders(HAND[a], 0, True), arch=a, n_trials=1 if args.quick else 10_000, timeout=BUDGET,
                         seed=0, path=tmp if args.quick else STUDIES, space=space, show=False)
            plot_study(rec['study'], Path(rec['study']).with_suffix('.png'))
        print(a, 'tuned:', rec, flush=True)
    if args.quick: sys.exit()

if args.tune or args.confirm:  # the studies' trials as rows, and their best refitted with seeds 0-2 on valid
    def arch_of(r): return r['model'][len('sequence_learner('):].strip("')") if r['model'].startswith('seq') else None
    # the sequence rows are kept (the hand grid's, the 3-seed refits) but for these archs' trials; the closed forms
    # are refitted
    rows = [r for r in report.saved('next_item_tuning')
            if arch_of(r) is not None and not (arch_of(r) in ARCHS and '`tune`' in r['protocol'])]
    for name in ('pop','itemknn','ease'):
        m,fit = run_closed(name, test=True)
        rows += [report.row('next_item', name, VDATA, PROTO, f'valid {k}', v, fit,
                            suite=report.own_suite('next_item', VDATA, f'valid {k}')) for k,v in m.items()]
    OBJ = "valid mrr (`tune`'s objective)"
    for a in ARCHS:
        f = STUDIES/f'study_{a}.json'
        if not f.exists(): print(f'{a}: no study ({f}): run --tune first', flush=True); continue
        rows += [report.row('next_item', f'sequence_learner({a!r})', VDATA,
                            "the learner's `mrr` after each valid window (every item ranked, nothing excluded: "
                            f"`tune`'s objective); `tune`, {report.budget(f)}, seed 0, trial {t['number']}"
                            f"{report.first_trial(t, CLIP.get(a, {}))}; trial seconds (wall, validation included), "
                            f"{BSL}, {MLL}", OBJ, t['value'], t['seconds'], recipe=t['text']+window_text(HAND[a]),
                            suite=report.own_suite('next_item', VDATA, OBJ))
                 for t in report.trials(f)]
        for k,c in {rstr(c): c for c in (HAND[a], next_item_study(a))}.items():  # (3-seed rows reused where saved)
            if k not in valid(rows, a, CONF): seeds3(a, c, rows)
    if args.quick: sys.exit()
    report.save(rows, 'next_item_tuning')
    for a in ARCHS: print(a, 'chosen:', rstr(next_item(a)), flush=True)  # (from the rows just saved)
    sys.exit()

res = {}
for name in ('pop','itemknn','ease'): res[name] = [run_closed(name)]
for arch in ARCHS: res[arch] = [run_seq(arch, s) for s in range(1 if args.quick else args.seeds)]
# the rows of archs not run this time are kept (same closed forms, same split)
rows = [r for r in report.saved('next_item')
        if r['model'].startswith('recfast sequence_learner(') and r['model'][26:-1].strip("'") not in ARCHS]
ease = res['ease'][0][0]
for a,rs in res.items():
    for k in FUNCS:
        v = np.array([m[k] for m,_ in rs])
        model = (f'recfast sequence_learner({a!r})' if a in ARCHS
                 else {'pop':'popularity','itemknn':'item-kNN','ease':'EASE'}[a])
        rows.append(report.row('next_item', model, DATA, f'{PROTO}; {BSL}, {MLL}', k, float(v.mean()),
                               float(np.mean([f for _,f in rs])), 'EASE (same run)', ease[k],
                               std=float(v.std(ddof=1)) if len(v)>1 else None,
                               n=len(v), recipe=rstr(RECIPES[a]) if a in ARCHS else 'closed form, defaults',
                               suite=report.own_suite('next_item', DATA, k)))
    print(a, {k: round(float(np.mean([m[k] for m,_ in rs])), 4) for k in FUNCS}, flush=True)
if not args.quick: report.save(rows, 'next_item')
