"""Issue #12: strong simple baselines (popularity, item-kNN, EASE, iALS) against recfast's neural implicit models
(pointwise, BPR, adaptive hinge; uniform vs rejection sampling of negatives; Mult-DAE and Mult-VAE over users' click
vectors) and, when installed, the `implicit` library's ALS and BPR, on Kula's talk protocol: ML-100K ua.base/ua.test,
every rating a positive, metrics over the full catalogue with each user's training items excluded. Hyper-parameters
are chosen on a validation split carved from ua.base (10 random ratings per user, as ua.test holds), never on ua.test:
the closed forms' grids are rows of bench/results/baselines.json; the adaptive hinge's and the softmax's recipes come
from recfast's own `tune` (`--tune adaptive_hinge`, `--tune softmax`: an Optuna study each from the hand recipe, which
replaces it only where its best beats it beyond the spread of three seeds; see `HAND`), whose trials are rows of
bench/results/baselines_tuning.json, where the rows of the hand grids that came before it and the Mult-DAE / Mult-VAE
settings tried are too. P@10 equals R@10 because every ua.test user has exactly 10 test items.
Writes bench/results/baselines.json (bench/report.py rows). `BENCH_QUICK=1` runs one seed (a smoke test).
Usage: python bench/bench_baselines.py [--tune LOSS | --confirm LOSS]"""
import os, sys, json, warnings
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import report
from fastai.basics import *
from recfast.core import *
from recfast.datasets import *
from recfast.metrics.ranking import *
from recfast.implicit.data import *
from recfast.implicit.learner import *
from recfast.implicit.baselines import *
from recfast.autoencoder.data import *
from recfast.autoencoder.learner import *
from recfast.tune import tune, plot_study
from recfast.losses import default_n_neg

warnings.filterwarnings('ignore')
torch.set_num_threads(int(os.environ.get('BENCH_THREADS', 1)))
QUICK = bool(int(os.environ.get('BENCH_QUICK', 0)))
SEEDS = (0,) if QUICK else (0, 1, 2)
t_start = report.Stopwatch()
SEARCHED = ('adaptive_hinge', 'softmax')  # the losses `--tune LOSS` searches
if (mode:={'--tune', '--confirm'} & set(sys.argv)) and not (len(sys.argv)==3 and sys.argv[2] in SEARCHED):
    sys.exit(f"usage: bench_baselines.py {mode.pop()} LOSS, LOSS one of {SEARCHED}")
if mode and QUICK: sys.exit('BENCH_QUICK=1 smoke-runs the plain bench, not a study: set BENCH_TUNE_BUDGET instead')

trn,tst = movielens_split()
val = trn.groupby('user').sample(n=10, random_state=0)  # the validation split: 10 ratings per user, like ua.test
fit_df = trn.drop(val.index)
vdls = InteractionsDataLoaders.from_df(fit_df, valid_df=val, bs=1024, seed=0)
dls = InteractionsDataLoaders.from_df(trn, valid_df=tst, bs=1024, seed=0)
FUNCS = {'MRR':mrr, 'P@10':partial(precision_at_k, k=10), 'R@10':partial(recall_at_k, k=10),
         'NDCG@10':partial(ndcg_at_k, k=10), 'R@20':partial(recall_at_k, k=20)}

def scores(model, d):
    "Every metric of `model` on `d`'s held-out items: full catalogue, training items excluded, mean over users"
    return report.eval_metrics(model, d, FUNCS)

# ---- closed forms: the hyper-parameters on the validation split, then one fit on ua.base
sel = []
def kwcfg(kw): return ', '.join(f'{k}={v:g}' for k,v in kw.items())  # (`cfg` names the recipes below)
def closed(name, factory, grid):
    "`grid`: `(argument, values)` or a list of keyword dicts, each fitted on the validation split; the best refitted"
    kws = [{grid[0]:k} for k in grid[1]] if isinstance(grid, tuple) else grid or []
    vmrr = [scores(factory(vdls, **kw).model, vdls)['MRR'] for kw in kws]
    sel.extend((name, kwcfg(k), v) for k,v in zip(kws, vmrr))
    kw = kws[int(np.argmax(vmrr))] if kws else {}
    learn,t = report.timed(factory, dls, **kw)  # the factory solves the closed form
    return dict(model=name, config=kwcfg(kw) or 'training counts', fit_s=[t], runs=[scores(learn.model, dls)],
                stochastic=False)

# iALS (seed 0): Hu et al.'s single λ (nu=0) and Rendle et al. 2022's frequency-scaled λ (nu=1), each with its own
# scale
IALS_GRID = [dict(n_factors=k, alpha=a, nu=nu, reg=r) for k in (64, 128) for a in (1., 3.)
             for nu,regs in ((0., (10., 20., 40., 80.)), (1., (0.01, 0.02, 0.04))) for r in regs]
results = [] if mode else [  # (`--tune`, `--confirm`: the neural models only)
           closed('popularity', popularity_learner, None),
           closed('item-kNN (cosine)', itemknn_learner, ('k', (25, 50, 100, 200))),
           closed('EASE', ease_learner, ('lam', (100., 200., 300., 500., 800., 1200., 2000.))),
           closed('iALS', ials_learner, IALS_GRID)]
print(results, flush=True)

# ---- recfast's neural implicit models, 3 seeds each; settings chosen on the validation split (`--tune`)
# The hand recipes: pointwise and BPR at the talk's settings; the adaptive hinge's and the softmax's the valid-best of
# hand grids that came before recfast's `tune` (the adaptive hinge's negatives, factors, weight decay, lr and epochs,
# 12 recipes; the softmax's weight decay, lr, epochs and factors, 15; their rows stay in baselines_tuning.json and
# baselines_softmax_tuning.json)
HAND = {'pointwise': dict(lr=1e-2, epochs=10, one_cycle=False),
        'bpr': dict(lr=1e-2, epochs=10, one_cycle=False),
        'adaptive_hinge': dict(lr=3e-3, epochs=10, one_cycle=True),
        'softmax': dict(lr=2e-2, epochs=20, one_cycle=True, wd=1.)}
def samplers(loss): return ('all items',) if loss=='softmax' else ('uniform', 'reject')  # the softmax samples nothing
def neural(loss, sampler, seed, d, lr, epochs, one_cycle, n_factors=128, wd=0., n_neg=None):
    set_seed(seed)
    learn = implicit_learner(d, loss=loss, n_factors=n_factors, sampler=None if loss=='softmax' else sampler, seed=seed,
                             metrics=[], wd=wd, n_neg=n_neg)
    def go():
        with learn.no_bar(), learn.no_logging(): (learn.fit_one_cycle if one_cycle else learn.fit)(epochs, lr)
    _,t = report.timed(go)
    return scores(learn.model, d), t

def neural_cfg(cfg):
    sched = f"{'fit_one_cycle' if cfg['one_cycle'] else 'fit'}({cfg['epochs']}, {cfg['lr']:g})"
    return (f"{cfg.get('n_factors', 128)} factors, {cfg.get('n_neg') or 'default'} negatives, wd {cfg.get('wd', 0):g}, "
            f"bs 1024, {sched}")

VALID = 'ML-100K ua.base, validation split: 10 random ratings per user (seed 0) held out, all ratings positive'
VSUITE = report.own_suite('baselines', VALID, 'validation MRR')
# `--tune LOSS` (adaptive_hinge or softmax): recfast's own `tune` (Optuna, issue #30) on the validation split, the
# implicit space narrowed to the loss, `BENCH_TUNE_BUDGET` seconds (600), one thread, its first trial the hand recipe
# (`start`); the study in bench/results/baselines_tuning/<loss>/, every finished trial a row of baselines_tuning.json;
# then (`--confirm LOSS` alone redoes it) the hand recipe and the study's best refitted with seeds 0-2, and the study's
# best replaces the hand recipe only where its mean validation MRR beats it by more than either's spread (`chosen`)
BUDGET = float(os.environ.get('BENCH_TUNE_BUDGET', 600))
STUDIES,SEEDS3 = report.RESULTS/'baselines_tuning','validation MRR, seeds 0-2'
CLIP = {'adaptive_hinge': {'wd': 1e-4}}  # its wd 0 lies outside `implicit_space` (log-uniform from 1e-4): the nearest
def start(loss):
    "The hand recipe of `loss` as parameters of the implicit space (its default negatives named), `CLIP`ped"
    h = HAND[loss]
    r = dict(loss=loss, **({} if loss=='softmax' else {'n_neg': default_n_neg(loss)}),
             n_factors=h.get('n_factors', 128), wd=h.get('wd', 0.), lr=h['lr'], epochs=h['epochs'])
    return r | CLIP.get(loss, {})
def study_best(loss):
    "The best trial of `loss`'s study as a recipe of `neural` (`None` without a study)"
    s = report.study(STUDIES/loss/'study_implicit.json')
    if s is None: return None
    r = s['recipe']
    return dict(lr=r['lr'], epochs=r['epochs'], one_cycle=True, **{k: v for k,v in r['kwargs'].items() if k!='loss'})
def label(loss): return f"recfast implicit, {loss}{'' if loss=='softmax' else ', reject'}"  # (the softmax samples none)
def chosen(loss):
    "The study's best where its 3-seed validation MRR beats the hand recipe's beyond the seeds' spread, else the hand's"
    if loss not in SEARCHED: return HAND[loss]
    conf = {r['recipe']: r for r in report.saved('baselines_tuning') if r['metric']==SEEDS3 and r['model']==label(loss)}
    return report.study_or_hand(HAND[loss], study_best(loss), conf, neural_cfg, loss)
NEURAL = {l: chosen(l) for l in HAND}

def confirm(loss, rows):
    "`rows` with the study's trials and the 3-seed validation rows of the hand recipe and the study's best added"
    f = STUDIES/loss/'study_implicit.json'
    if not f.exists(): sys.exit(f'--confirm {loss}: no study ({f}): run --tune {loss} first')
    rows = [r for r in rows if not (r['model']==label(loss) and ('`tune`' in r['protocol'] or r['metric']==SEEDS3))]
    rows += [report.row('baselines', label(loss), VALID, f"seed 0, one thread; `tune`, {report.budget(f)}, "
                        f"trial {t['number']}{report.first_trial(t, CLIP.get(loss, {}))}; trial seconds (wall, "
                        "validation included)",
                        'validation MRR', t['value'], t['seconds'], suite=VSUITE, recipe=t['text'])
             for t in report.trials(f)]
    b = study_best(loss)
    for c in [HAND[loss]] + [b]*(neural_cfg(b)!=neural_cfg(HAND[loss])):
        runs = [neural(loss, 'reject', s, InteractionsDataLoaders.from_df(fit_df, valid_df=val, bs=1024, seed=s), **c)
                for s in (0, 1, 2)]
        v = [m['MRR'] for m,_ in runs]
        rows.append(report.row('baselines', label(loss), VALID, 'seeds 0-2 (mean, std), one thread; fit seconds',
                               SEEDS3, float(np.mean(v)), float(np.mean([t for _,t in runs])),
                               std=float(np.std(v, ddof=1)), n=3, suite=VSUITE, recipe=neural_cfg(c)))
        print(rows[-1], flush=True)
    return rows

if mode:
    loss = sys.argv[2]
    if sys.argv[1]=='--tune':
        space = report.with_starts(partial(implicit_space, losses=[loss]), start(loss))
        rec,_ = tune(vdls, arch='implicit', n_trials=10_000, timeout=BUDGET, seed=0, path=STUDIES/loss, space=space,
                     show=False)
        plot_study(rec['study'], Path(rec['study']).with_suffix('.png'))
        print(loss, 'tuned:', rec, flush=True)
    report.save(confirm(loss, report.saved('baselines_tuning')), 'baselines_tuning')
    print(loss, 'chosen:', neural_cfg(chosen(loss)), flush=True)
    sys.exit()

for loss,cfg in NEURAL.items():
    for sampler in samplers(loss):
        runs = [neural(loss, sampler, s, dls, **cfg) for s in SEEDS]
        results.append(dict(model=f'recfast implicit, {loss}, {sampler}', config=neural_cfg(cfg),
                            fit_s=[r[1] for r in runs], runs=[r[0] for r in runs], stochastic=True, sampler=sampler,
                            neural=True))
        print(results[-1]['model'], np.mean([r['MRR'] for r in results[-1]['runs']]), flush=True)

# ---- Mult-DAE / Mult-VAE (Liang et al. 2018) over users' click vectors: the same split, catalogue and metrics
# (`SparseVectorDataLoaders(implicit=True)` has the same vocabularies, seen and held-out matrices), 3 seeds; bs 128,
# constant lr with Adam, settings chosen on the validation split (their figures: rows of baselines_tuning.json)
MULT = {'multvae': dict(layers=[200,50], epochs=50, lr=3e-3, bs=128),
        'multdae': dict(layers=[200,50], epochs=25, lr=3e-3, bs=128)}
def mult(arch, seed, d, layers, epochs, lr, bs):
    set_seed(seed)
    sd = SparseVectorDataLoaders.from_df(d['trn'][['user','movie']], valid_df=d['val'][['user','movie']], by='user',
                                         implicit=True, bs=bs, seed=seed)
    learn = autoencoder_learner(sd, arch=arch, layers=layers, metrics=[])
    def go():
        with learn.no_bar(), learn.no_logging(): learn.fit(epochs, lr)
    _,t = report.timed(go)
    return scores(learn.model, sd), t
for arch,cfg in MULT.items():
    runs = [mult(arch, s, dict(trn=trn, val=tst), **cfg) for s in SEEDS]
    name = {'multvae':'Mult-VAE','multdae':'Mult-DAE'}[arch]
    results.append(dict(model=f'recfast {name} (`{arch}`)',
                        config=f"{'-'.join(map(str, cfg['layers']))}-{cfg['layers'][0]} tanh, input dropout 0.5, "
                        f"{'KL annealed to 0.2, ' if arch=='multvae' else ''}Adam, bs {cfg['bs']}, "
                        f"fit({cfg['epochs']}, {cfg['lr']:g})",
                        fit_s=[r[1] for r in runs], runs=[r[0] for r in runs], stochastic=True, neural=True))
    print(results[-1]['model'], np.mean([r['MRR'] for r in results[-1]['runs']]), flush=True)

# ---- peers, same split, when the `bench` extra is installed (pip install 'recfast[bench]')
try:
    import implicit, scipy.sparse as sp
    from threadpoolctl import threadpool_limits
except ImportError as e: implicit = None; print(f'`implicit` not importable ({e}): peer rows skipped', flush=True)
class Factors(Module):
    "A peer's user and item factors answering recfast's scoring protocol (`eval_batches`)"
    def __init__(self, u, i): self.u,self.i = nn.Parameter(tensor(np.asarray(u))),nn.Parameter(tensor(np.asarray(i)))
    def score_items(self, users): return self.u[users] @ self.i.T
if implicit is not None:
    r,c,v = dls.seen.coo()
    ui = sp.csr_matrix((v.numpy(), (r.numpy(), c.numpy())), shape=dls.seen.shape)
    def ui_of(d):
        r,c,v = d.seen.coo()
        return sp.csr_matrix((v.numpy(), (r.numpy(), c.numpy())), shape=d.seen.shape)
    # ALS tuned like ours: factors, regularisation and confidence weight alpha on the validation split (seed 0)
    ALS_GRID = [dict(factors=f, regularization=r, alpha=a) for f in (64, 128) for r in (1., 10., 50.)
                for a in (1., 10.)]
    def als(s, **kw): return implicit.cpu.als.AlternatingLeastSquares(**kw, random_state=s, num_threads=1)
    vui,vm = ui_of(vdls),[]
    for kw in ALS_GRID:
        m = als(0, **kw)
        with threadpool_limits(1): m.fit(vui, show_progress=False)
        vm.append(scores(Factors(m.user_factors, m.item_factors), vdls)['MRR'])
    sel.extend(('implicit ALS', kwcfg(kw), v) for kw,v in zip(ALS_GRID, vm))
    best = ALS_GRID[int(np.argmax(vm))]
    peers = {'implicit ALS': (lambda s: als(s, factors=64), '64 factors, defaults (15 iterations, reg 0.01)'),
             'implicit ALS, tuned': (lambda s: als(s, **best),
                                     f"{kwcfg(best)}, 15 iterations (chosen on the validation split)"),
             'implicit BPR': (lambda s: implicit.cpu.bpr.BayesianPersonalizedRanking(factors=128, iterations=100,
                                                                                     random_state=s, num_threads=1),
                              '128 factors, 100 iterations, defaults (lr 0.01, reg 0.01)')}
    for name,(make,cfg) in peers.items():
        runs = []
        for s in SEEDS:
            m = make(s)
            with threadpool_limits(1): _,t = report.timed(m.fit, ui, show_progress=False)
            runs.append((scores(Factors(m.user_factors, m.item_factors), dls), t))
        results.append(dict(model=f'{name} {implicit.__version__}', config=cfg, fit_s=[r[1] for r in runs],
                            runs=[r[0] for r in runs], stochastic=True))
        print(results[-1]['model'], np.mean([r['MRR'] for r in results[-1]['runs']]), flush=True)

# ---- rows: every metric of every model (mean ± std over the seeds of stochastic ones), against EASE of the same run
data = 'ML-100K ua.base/ua.test, all ratings positive'
proto = ("full catalogue, each user's training items excluded (recfast's metrics through `dls.eval_batches`, peers "
         "included); fit seconds: the best of the seeds' runs, one thread")
order = sorted(range(len(results)), key=lambda k: -np.mean([r['MRR'] for r in results[k]['runs']]))
jrows = [report.row('baselines', name, VALID, 'closed form fitted on the rest of ua.base', 'validation MRR', v,
                    suite=VSUITE, recipe=c) for name,c,v in sel]
ease = results[[r['model'] for r in results].index('EASE')]['runs'][0]
for k in order:
    r = results[k]
    for n in FUNCS:
        xs = [x[n] for x in r['runs']]
        spread = dict(std=float(np.std(xs)), n=len(xs)) if r['stochastic'] and len(xs)>1 else {}
        jrows.append(report.row('baselines', r['model'], data, proto, f'test {n}', float(np.mean(xs)), min(r['fit_s']),
                                'EASE (same run)', ease[n], suite='talk-mrr', ratio_of='value', recipe=r['config'],
                                **spread))
jrows.append(report.row('baselines', 'the whole baselines bench', data, 'wall-clock seconds, one thread',
                        time_s=t_start(),
                        suite=report.speed_suite('baselines', data)))
report.save(jrows, 'baselines')
