"""Issue #26's peers: RecBole 1.2.1 (BPR, LightGCN, MultVAE) on the talk protocol (ML-100K ua.base/ua.test, every
rating a positive, the full catalogue ranked with each user's training items excluded), scored by recfast's own metrics
against EASE fitted in the same run. RecBole imports only with numpy<2, pandas<2.3 and scipy<1.13 (FACTS.md), so this
script makes it an environment of its own (`.venv-recbole`, or `$RECBOLE_ENV`) the first time, fits each model there
(`recbole_fit.py`, one thread, a fixed recipe: the issue's valid-split choices, never ua.test) on the loaders' training
pairs, reads every user's scores back and ranks them here. Writes bench/results/recbole.json.

Usage: python bench/bench_recbole.py [--seeds N] [--models BPR,LightGCN,MultiVAE,SASRec]   (`BENCH_QUICK=1`: one seed,
2 epochs, nothing saved). SASRec runs on bench_next_item's leave-last-out protocol, against EASE of the same run."""
import argparse, json, os, subprocess, sys, tempfile, warnings
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]  # (the script runs in recfast's environment; RecBole in its own)
sys.path.insert(0, str(ROOT))
import numpy as np, pandas as pd, torch
from bench import report
from recfast.all import (movielens_split, movielens_100k, split_frame, InteractionsDataLoaders, SequenceDataLoaders,
                         ease_learner, recfast_learner, mrr, precision_at_k, recall_at_k, ndcg_at_k)
from fastcore.basics import partial

p = argparse.ArgumentParser(); p.add_argument('--seeds', type=int, default=3)
p.add_argument('--models', default='BPR,LightGCN,MultiVAE,SASRec'); p.add_argument('--tune', action='store_true')
args = p.parse_args()
QUICK = bool(int(os.environ.get('BENCH_QUICK', 0)))
ENV = Path(os.environ.get('RECBOLE_ENV', ROOT/'.venv-recbole'))
PINS = ['recbole==1.2.1', 'numpy<2', 'pandas<2.3', 'scipy<1.13', 'torch==2.14.1']  # scipy<1.13: LightGCN's sparse API
# `--tune`: each general model's grid on bench_baselines' validation split of ua.base (fitted on the rest of it; never
# ua.test), first the recipes of the issue's own search (FACTS.md: 128/64 factors), then more epochs and a higher lr
GRID = {'BPR': [dict(embedding_size=128, learning_rate=lr, epochs=e) for lr in (1e-3, 5e-3)
                for e in (100, 50, 200, 25)],
        'LightGCN': [dict(embedding_size=64, n_layers=2, learning_rate=lr, epochs=e) for lr in (1e-3, 5e-3)
                     for e in (50, 150)],
        'MultiVAE': [dict(learning_rate=lr, epochs=e) for lr in (1e-3, 3e-3) for e in (100, 50, 200)]}
# a second round past the first's edges: BPR (no regularisation in RecBole) overfits past 50 epochs, MultVAE gains
# to 200
GRID['BPR'] += [dict(embedding_size=128, learning_rate=1e-3, epochs=10)]
GRID['MultiVAE'] += [dict(learning_rate=1e-3, epochs=400)]
GRID['LightGCN'] += [dict(embedding_size=64, n_layers=2, learning_rate=5e-3, epochs=25)]  # 50 beat 150 at lr 5e-3
def rstr(cfg): return ', '.join(f'{k} {v:g}' for k,v in cfg.items() if isinstance(v, (int, float)))
def winner(name):
    "The recipe of `GRID[name]` with the best validation MRR in recbole_tuning.json (its first if untuned)"
    val = {(r['model'], r.get('recipe')):r['value'] for r in report.saved('recbole_tuning')}
    return max(GRID[name], key=lambda c: val.get((f'RecBole 1.2.1 {name}', rstr(c)), -1))
RECIPES = {**{k:winner(k) for k in GRID},
           # next item: RecBole's SASRec defaults (2 blocks, 2 heads, 64 wide, dropout 0.5, 50 items, cross-entropy);
           # RecBole trains on every prefix of every history (100k windows an epoch, 2-5 CPU minutes): 5 epochs
           'SASRec': dict(learning_rate=1e-3, epochs=5, train_neg_sample_args=None)}
SEQUENTIAL = {'SASRec'}
FUNCS = {'MRR':mrr, 'P@10':partial(precision_at_k, k=10), 'R@10':partial(recall_at_k, k=10),
         'NDCG@10':partial(ndcg_at_k, k=10), 'R@20':partial(recall_at_k, k=20)}

def env_python()->Path|None:
    "RecBole's interpreter, its environment made (once) with the pins it imports with; `None` where it doesn't install"
    py = ENV/'bin'/'python'
    if not py.exists():
        print(f'making RecBole 1.2.1 an environment of its own in {ENV} (once)', flush=True)
        try:
            subprocess.run([getattr(sys, '_base_executable', sys.executable), '-m', 'venv', str(ENV)], check=True)
            subprocess.run([str(py), '-m', 'pip', 'install', '-q', *PINS], check=True)
        except subprocess.CalledProcessError as e:
            print(f'RecBole does not install here ({e}): no rows written', flush=True); return None
    return py

class Scores(torch.nn.Module):
    "A peer's score matrix, users x items of the loaders, as a model `eval_batches` scores"
    def __init__(self, s):
        super().__init__(); self.s = torch.nn.Parameter(s, requires_grad=False)
    def score_items(self, users): return self.s[users]

def metrics(model, dls, funcs=FUNCS):
    "Each metric of `funcs` over `dls`'s held-out items (full catalogue, training items excluded), mean over users"
    return report.eval_metrics(model, dls, funcs)

def atomic(path, **cols):
    "A RecBole atomic file: a tab-separated table whose header names each column `name:type`"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({k.replace('__', ':'):np.asarray(v) for k,v in cols.items()}).to_csv(path, sep='\t', index=False)

def write_atomic(folder, dls, val):
    "rb.train.inter (the loaders' training pairs, as their indices); rb.valid/test.inter (validation pairs, never read)"
    r,c,_ = dls.seen.coo()
    atomic(folder/'rb'/'rb.train.inter', user_id__token=r.numpy(), item_id__token=c.numpy())
    cu,ci = dls.classes['user'].o2i,dls.classes['movie'].o2i
    for k in ('valid', 'test'):
        atomic(folder/'rb'/f'rb.{k}.inter', user_id__token=val.user.map(cu), item_id__token=val.movie.map(ci))

def write_sequences(folder, x, targets):
    "rb.inter: each user's training items in order (the rows of `x`, left-padded windows) then the held-out one"
    rows,pos = np.nonzero(x)
    u = np.concatenate([rows, np.arange(len(x))]); i = np.concatenate([x[rows, pos], targets])
    t = np.concatenate([pos, np.full(len(x), x.shape[1])])  # the held-out item last: RecBole's leave-one-out takes it
    o = np.lexsort((t, u))
    atomic(folder/'rb'/'rb.inter', user_id__token=u[o], item_id__token=i[o], timestamp__float=t[o])

def fit(py, folder, name, recipe, seed, shape):
    "Fit RecBole's `name` with `recipe` in its environment: `(its scores, users x items of the loaders; fit seconds)`"
    cfg = {**recipe, 'seed':seed, **({'epochs':2} if QUICK else {})}
    out = folder/f'{name}-{seed}.npz'
    r = subprocess.run([str(py), str(ROOT/'bench'/'recbole_fit.py'), str(folder), name, json.dumps(cfg), str(out)],
                       env={k:v for k,v in os.environ.items() if k!='PYTHONPATH'}, capture_output=True, text=True)
    if r.returncode: raise RuntimeError(f'RecBole {name} failed (exit {r.returncode}):\n{r.stderr[-3000:]}')
    z = np.load(out)
    users,items,sc = (torch.from_numpy(z[k]) for k in ('users', 'items', 'scores'))
    # items RecBole never saw (2 of ua.test's items have no ua.base row) get each user's lowest score, as an untrained
    # row would in recfast's models, rather than -inf (a sure miss for the peer only)
    s = torch.full(shape, -float('inf')); s[users] = sc.min(1, keepdim=True).values
    s[users[:,None], items[None]] = sc
    return Scores(s), float(z['fit_s'])

def sequence_protocol(py, names, rows):
    "Leave-last-out next item (bench_next_item's protocol): RecBole's sequential models against EASE of the same run"
    ml = movielens_100k(titles=False)[['user','movie','timestamp']]
    full = SequenceDataLoaders.from_df(ml, max_len=800, exclude_preceding=True, time_name='timestamp', split='last',
                                       seed=0)
    x,targ,ex = full.eval_set()
    n = torch.arange(len(x)); t,e = targ.densify(n).bool(),ex.densify(n).bool()
    funcs = {'NDCG@10':partial(ndcg_at_k, k=10), 'HR@10':partial(recall_at_k, k=10), 'MRR':mrr}
    def score(s): return {k:float(f(s, t, e, per_user=True).nanmean()) for k,f in funcs.items()}
    trn,val,*_ = split_frame(ml, by='user', split='last', time_name='timestamp')
    idls = InteractionsDataLoaders.from_df(trn, user_name='user', item_name='movie', valid_df=val, bs=1024, seed=0)
    learn,t_ease = report.timed(recfast_learner, idls, arch='ease')
    ease = metrics(learn.model, idls, funcs)
    data = "ML-100K, each user's latest rating held out (943 targets), the rest trained on"
    proto = ("leave-last-out; every item ranked, the user's training items excluded; mean over users; RecBole's own "
             "windows (its SASRec: the last 50 items), scored by recfast's metrics; RecBole's defaults, untuned, at a "
             "CPU budget of epochs")
    rows += [report.row('recbole', 'EASE', data, proto, k, v, t_ease, 'EASE (same run)', ease[k], recipe='closed form, '
                        'defaults', suite=report.own_suite('next_item', data, k)) for k,v in ease.items()]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp); write_sequences(folder, x.numpy(), t.float().argmax(1).numpy())
        for name in names:
            runs = [fit(py, folder, name, RECIPES[name], s, (len(x), full.n_items))
                    for s in range(1 if QUICK else args.seeds)]
            report_rows(rows, name, runs, [score(m.s.detach()) for m,_ in runs], data, proto, ease,
                        lambda k: report.own_suite('next_item', data, k), funcs, '')
    return rows

def save_keeping(rows, name, names):
    "Save `rows` as `name`, keeping the saved rows of the models not run this time (same split, same EASE)"
    kept = [r for r in report.saved(name)
            if r['model'].startswith('RecBole') and r['model'].removeprefix('RecBole 1.2.1 ') not in names]
    report.save(rows+kept, name)

def report_rows(rows, name, runs, ms, data, proto, ease, suite, funcs, prefix):
    "Append the rows of RecBole's `name`: each metric of `funcs`, mean ± std over `ms` (one per seed), against EASE"
    recipe = rstr(RECIPES[name])
    for n in funcs:
        xs = [m[n] for m in ms]
        spread = dict(std=float(np.std(xs)), n=len(xs)) if len(xs)>1 else {}
        rows.append(report.row('recbole', f'RecBole 1.2.1 {name}', data, proto, prefix+n,
                               float(np.mean(xs)), min(t for _,t in runs), 'EASE (same run)', ease[n], suite=suite(n),
                               ratio_of='value', recipe=recipe, **spread))
    print(name, {n: round(float(np.mean([m[n] for m in ms])), 4) for n in funcs}, f"{min(t for _,t in runs):.1f}s",
          flush=True)

if __name__=='__main__':
    warnings.filterwarnings('ignore'); torch.set_num_threads(1)
    if (py:=env_python()) is None: sys.exit()
    trn,tst = movielens_split()
    val = trn.groupby('user').sample(n=10, random_state=0)  # bench_baselines' validation split
    dls = InteractionsDataLoaders.from_df(trn, valid_df=tst, bs=1024, seed=0)
    ease_learn,ease_t = report.timed(ease_learner, dls, lam=800.)  # bench_baselines' valid choice
    ease = metrics(ease_learn.model, dls)
    data = 'ML-100K ua.base/ua.test, all ratings positive'
    proto = ("full catalogue, each user's training items excluded (recfast's metrics through `dls.eval_batches`, peers "
             "included); fit seconds: the best of the seeds' runs, one thread")
    rows = [report.row('recbole', 'EASE', data, proto, f'test {n}', v, ease_t, 'EASE (same run)', ease[n],
                       suite='talk-mrr', ratio_of='value', recipe='lam=800') for n,v in ease.items()]
    names = args.models.split(',')
    if args.tune:  # recipes already in recbole_tuning.json are kept, not refitted
        VALID = 'ML-100K ua.base, validation split: 10 random ratings per user (seed 0) held out, all ratings positive'
        vrows = report.saved('recbole_tuning')
        vdls = InteractionsDataLoaders.from_df(trn.drop(val.index), valid_df=val, bs=1024, seed=0)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp); write_atomic(folder, vdls, val)
            for name in [n for n in names if n in GRID]:
                for cfg in GRID[name]:
                    if (f'RecBole 1.2.1 {name}', rstr(cfg)) in {(r['model'], r.get('recipe')) for r in vrows}: continue
                    m,t = fit(py, folder, name, cfg, 0, (vdls.n_users, vdls.n_items))
                    vrows.append(report.row('recbole', f'RecBole 1.2.1 {name}', VALID,
                                            'seed 0, one thread; fit seconds', 'validation MRR',
                                            metrics(m, vdls)['MRR'], t, recipe=rstr(cfg),
                                            suite=report.own_suite('baselines', VALID, 'validation MRR')))
                    print(name, rstr(cfg), round(vrows[-1]['value'], 4), f'{t:.0f}s', flush=True)
                    report.save(vrows, 'recbole_tuning')
        sys.exit()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp); write_atomic(folder, dls, val)
        for name in [n for n in names if n not in SEQUENTIAL]:
            runs = [fit(py, folder, name, RECIPES[name], s, (dls.n_users, dls.n_items))
                    for s in range(1 if QUICK else args.seeds)]
            report_rows(rows, name, runs, [metrics(m, dls) for m,_ in runs], data, proto, ease, lambda k: 'talk-mrr',
                        FUNCS, 'test ')
    if not QUICK and len(rows)>len(FUNCS): save_keeping(rows, 'recbole', names)
    if seq:=[n for n in names if n in SEQUENTIAL]:  # its own file: each protocol's rows kept when the other runs alone
        rows = sequence_protocol(py, seq, [])
        if not QUICK: save_keeping(rows, 'recbole_next_item', names)
