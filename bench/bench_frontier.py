"""Issue #29: time to quality on ML-100K's explicit protocol (u1..u5: train on u{k}.base, test RMSE on u{k}.test).

Each model is fitted at a few budgets, one torch thread, one fit at a time (no worker pool: the fit seconds are
comparable), and the mean test RMSE over the five folds is drawn against the mean fit seconds (loaders built,
model trained, test pairs predicted), the frontier marked. Peers in the same run: scikit-surprise's SVD (its default
20 epochs, and 5 / 10 epochs as its smaller budgets) and BaselineOnly; recfast's `dot` with the fastbook recipe
(bs 64, AdamW weight decay), with the batch-size-free recipe (bs 1024, `l2=` on the rows each rating uses, `RowL2`)
at 2-8 epochs, and I-AutoRec (`autoencoder_learner`).

`--protocol implicit`: Kula's talk protocol (ML-100K ua.base/ua.test, every rating a positive, full-catalogue MRR with
each user's training items excluded), seed 0: recfast's full softmax (the default, 2-20 epochs) and adaptive hinge
(5 and 10 epochs), EASE, item-kNN, popularity, and `implicit`'s ALS (the recipe tuned in bench_baselines, 3 / 5 / 15
iterations) and BPR; fit seconds = training only (the loaders and the peers' CSR matrix are built once, untimed).
Writes bench/results/frontier_implicit.json and frontier_implicit.png.

`--protocol sequence`: bench_next_item.py's leave-last-out protocol (each user's latest item held out, every item
ranked, the user's training items excluded; NDCG@10), seed 0: the sequence models with their valid-best recipes of
bench_next_item.py (batch size and training windows included) at a few budgets up to their chosen epochs
(`SEQ_EPOCHS`), EASE, item-kNN, popularity and `implicit`'s ALS (the talk's tuned recipe) and BPR on the same
training histories; fit seconds = training only. Writes bench/results/frontier_sequence.json and frontier_sequence.png.

`--tune` chooses the batch-size-free recipe on a random 10% of u1.base (never a test fold): a grid of lr x l2 x
epochs at bs 1024, then the chosen l2 at bs 256 and 4096 (lr scaled with the square root of the batch) to show that
the quality no longer follows the number of steps. Writes bench/results/frontier_tuning.json; the plain run writes
bench/results/frontier.json and bench/results/frontier_explicit.png.
Usage: python bench/bench_frontier.py [--tune] [--quick]"""
import re, sys, json, argparse, warnings, functools
from functools import partial
from pathlib import Path
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench import report, recipes
from bench.bench_explicit import data, valid_split, rmse, fit_collab, fit_autorec, fit_surprise, FOLDS, RECIPES, HAND
import numpy as np, torch

PROTOCOL = ("ML-100K official folds u1..u5: train on u{k}.base, test RMSE on u{k}.test; mean over the 5 folds; fit "
            "seconds = loaders + training + predicting the test pairs, one torch thread, one fit at a time")
DATA = 'ML-100K u1..u5 (u{k}.base / u{k}.test)'
TUNE_DATA,TUNE_PROTO = 'ML-100K u1.base, random 10% held out (seed 0)','tuning split: 90% of u1.base train, 10% valid'
SUITE = report.own_suite('frontier', DATA, 'test RMSE against fit seconds')
# the batch-size-free recipe: the valid-best of `--tune` (bench/results/frontier_tuning.json)
FAST = dict(arch='dot', n_factors=50, wd=0., l2=0.05, bs=1024, lr=1e-2)
FAST_EPOCHS = (2, 3, 5, 8)

def models(quick=False):
    "`{label: (fit, kwargs)}` of every model and budget of the frontier"
    m = {f'recfast `dot`, l2 {FAST["l2"]}, bs 1024, {e} epochs': (fit_collab, {**FAST, 'epochs':e})
         for e in FAST_EPOCHS}
    m['recfast `dot`, fastbook recipe (wd 0.1, bs 64, 5 epochs)'] = (fit_collab,
                                                                     {**RECIPES['dot_fastbook'], 'arch':'dot'})
    if not quick: m['recfast `autorec` (I-AutoRec, 20 epochs)'] = (fit_autorec, HAND['autorec'])  # (before `tune`)
    try: import surprise
    except ImportError as e: print(f'scikit-surprise not importable ({e}): its rows are skipped', flush=True); return m
    m['scikit-surprise BaselineOnly (defaults)'] = (fit_surprise, dict(algo='BaselineOnly'))
    for e in (5, 10, 20):
        m[f'scikit-surprise SVD ({e} epochs{", its default" if e==20 else ""})'] = (_svd, dict(n_epochs=e))
    return m

def _svd(trn, tst, n_epochs=20, **_):
    "scikit-surprise SVD with its defaults but `n_epochs`"
    import surprise
    ts = surprise.Dataset.load_from_df(trn[['user','movie','rating']], surprise.Reader(rating_scale=(1, 5)))
    ts = ts.build_full_trainset()
    a = surprise.SVD(n_epochs=n_epochs, random_state=0); a.fit(ts)
    return np.array([a.predict(u, i).est for u,i in zip(tst.user, tst.movie)])

def fit_time(fit, trn, tst, **kw):
    "(RMSE, seconds) of one fit, warnings silenced (the loaders count the test's cold rows)"
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        p,t = report.timed(fit, trn, tst, **kw)
    return rmse(p, tst.rating.to_numpy()), t

def frontier(points):
    "Labels of the points no other point beats on both fit seconds and RMSE (lower is better on both)"
    return [k for k,(r,t) in points.items() if not any(r2<=r and t2<=t and (r2,t2)!=(r,t) for r2,t2 in points.values())]

def tune():
    "The batch-size-free recipe's grid on the valid split, then its batch-size check; rows of frontier_tuning.json"
    trn,val = valid_split()
    grid = [dict(lr=lr, l2=l2, epochs=e) for lr in (5e-3, 1e-2, 2e-2) for l2 in (0.03, 0.05, 0.08) for e in (3, 5)]
    rows,res = [],[]
    for g in grid:
        r,t = fit_time(fit_collab, trn, val, **{**FAST, **g}); res.append((r, t, g))
        print(f'valid RMSE {r:.4f} in {t:.2f} s: {g}', flush=True)
    best = min(res, key=lambda x: x[0])
    print(f'valid-best: {best}', flush=True)
    for bs in (256, 1024, 4096):  # the chosen recipe at other batch sizes: lr with the square root of the batch
        g = {**best[2], 'bs':bs, 'lr':best[2]['lr']*(bs/1024)**0.5}
        r,t = fit_time(fit_collab, trn, val, **{**FAST, **g}); res.append((r, t, g))
        print(f'valid RMSE {r:.4f} in {t:.2f} s: {g}', flush=True)
    for bs,lr in ((64, 5e-3), (256, 5e-3), (1024, 5e-3)):  # the fastbook recipe (weight decay, no l2) at larger batches
        g = dict(RECIPES['dot_fastbook'], bs=bs, lr=lr*(bs/64)**0.5)
        r,t = fit_time(fit_collab, trn, val, arch='dot', **g); res.append((r, t, {**g, 'l2':None}))
        print(f'valid RMSE {r:.4f} in {t:.2f} s: {g}', flush=True)
    for r,t,g in res:
        name = ('recfast `dot`, weight decay (fastbook)' if g.get('l2') is None else
                'recfast `dot`, `l2` on the batch rows')
        rows.append(report.row('frontier', name, TUNE_DATA, TUNE_PROTO, 'valid RMSE', r, t,
                               suite=report.own_suite('frontier', TUNE_DATA, 'valid RMSE'),
                               recipe=str({k:v for k,v in {**FAST, **g}.items() if k!='arch'})))
    report.save(rows, 'frontier_tuning')

def plot(points, front, path, ylabel='test RMSE (mean, u1-u5)', higher=False,
         title='ML-100K explicit: quality against fit time (squares: scikit-surprise)'):
    import matplotlib, matplotlib.ticker; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig,ax = plt.subplots(figsize=(7.5, 4.5))
    pts = sorted(points.items(), key=lambda x: x[1][1])
    for k,(r,t) in pts:
        peer = not k.startswith('recfast')
        ax.scatter(t, r, marker='s' if peer else 'o', color='tab:gray' if peer else 'tab:blue', zorder=3)
    ts = [t for _,t in points.values()]
    ax.set_xscale('log'); ax.set_xlim(min(ts)/1.5, max(ts)*4)  # (room for the labels on the right)
    ax.margins(y=0.08); ax.autoscale_view(scalex=False)  # (room above and below for the labels)
    f = sorted((points[k][1], points[k][0]) for k in front)
    ax.step([x for x,_ in f], [y for _,y in f], where='post', color='tab:orange', lw=1, label='frontier', zorder=2)
    ticks = [x for x in (0.001, 0.01, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
             if min(ts)/1.5<=x<=max(ts)*4]
    ax.set_xticks(ticks, [f'{x:g}' for x in ticks]); ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel('fit seconds (one thread, log scale)'); ax.set_ylabel(ylabel)
    ax.set_title(title); ax.legend(loc='upper left' if higher else 'upper right')
    fig.tight_layout()  # (before the labels: their places are measured on the final axes)
    pt = 72/fig.dpi  # points per pixel
    at = lambda t, r: tuple(v*pt for v in ax.transData.transform((t, r)))  # a point's place on the page, in points
    ext = ax.get_window_extent()
    left,bottom,right,top = ext.x0*pt,ext.y0*pt,ext.x1*pt,ext.y1*pt
    boxes = [(x-3, y-3, x+3, y+3) for x,y in (at(t, r) for _,(r,t) in pts)]  # the markers, then each label placed
    free = lambda b: not any(b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3] for o in boxes)
    for k,(r,t) in pts:  # each label at the first free place: right of its point, above or below, then left of it
        lab = re.sub(r'^(recfast (implicit, )?|scikit-surprise )', '', k).replace('`', '')
        (x,y),w = at(t, r),3.4*len(lab)  # (fontsize 6: at most about 3.4 points a character)
        tries = [(dx, dy) for dy in (3, -9, 10, -16, 17, -23, 24, -30, 31, -37, 38, -44) for dx in (4, -4-w)]
        box = lambda dx, dy: (x+dx, y+dy, x+dx+w, y+dy+6.5)
        inside = lambda dx, dy: left<x+dx and x+dx+w<right and bottom<y+dy and y+dy+6.5<top
        fits = [(dx, dy) for dx,dy in tries if inside(dx, dy)] or tries
        dx,dy = next(((dx, dy) for dx,dy in fits if free(box(dx, dy))), (None, None))
        if dx is None: print(f'{path.name}: no free place for the label {lab!r}: it overlaps another', flush=True)
        dx,dy = (dx, dy) if dx is not None else fits[0]
        boxes.append(box(dx, dy))
        far = dict(arrowprops=dict(arrowstyle='-', lw=0.4, color='0.6', shrinkA=0, shrinkB=2)) if abs(dy)>10 else {}
        ax.annotate(lab, (t, r), fontsize=6, xytext=(dx, dy), textcoords='offset points', **far)  # (far: a leader)
    fig.savefig(path, dpi=110); plt.close(fig)

class Factors(torch.nn.Module):
    "A peer's user and item factors as a model `eval_batches` scores"
    def __init__(self, u, i):
        super().__init__()  # (parameters: `eval_batches` finds the model's device from them)
        self.u,self.i = (torch.nn.Parameter(torch.tensor(np.asarray(a))) for a in (u, i))
    def score_items(self, users): return self.u[users] @ self.i.T

def closed_form(factory, dls, score, **kw):
    "(`score` of the closed form `factory(dls, **kw)` builds, the seconds it took)"
    learn,t = report.timed(factory, dls, **kw)
    return score(learn.model), t

def implicit_peers(dls, score, iters, als):
    "`implicit`'s ALS (the talk's tuned recipe, at `iters` iterations, labelled `als`) and BPR fitted on `dls.seen`"
    try:
        import implicit, scipy.sparse as sp
        from threadpoolctl import threadpool_limits
    except ImportError as e: print(f'`implicit` not importable ({e}): its rows are skipped', flush=True); return {}
    r,c,v = dls.seen.coo()
    ui = sp.csr_matrix((v.numpy(), (r.numpy(), c.numpy())), shape=dls.seen.shape)
    def peer(m):
        with threadpool_limits(1): _,t = report.timed(m.fit, ui, show_progress=False)
        return score(Factors(m.user_factors, m.item_factors)), t
    model = lambda it: implicit.cpu.als.AlternatingLeastSquares(factors=128, regularization=50., alpha=10.,
                                                                iterations=it, random_state=0, num_threads=1)
    peer(model(1))  # warm-up, untimed
    pts = {f'{als}, {it} iterations': peer(model(it)) for it in iters}
    pts['implicit BPR (100 iterations)'] = peer(implicit.cpu.bpr.BayesianPersonalizedRanking(
        factors=128, iterations=100, random_state=0, num_threads=1))
    return pts

def implicit_protocol():
    "The talk protocol's frontier: `{label: (MRR, fit seconds)}`"
    from recfast.all import (movielens_split, InteractionsDataLoaders, implicit_learner, ease_learner, itemknn_learner,
                             popularity_learner, mrr, set_seed)
    trn,tst = movielens_split()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dls = InteractionsDataLoaders.from_df(trn[['user','movie']], valid_df=tst[['user','movie']], bs=1024, seed=0)
    def score(model): return report.eval_metrics(model, dls, {'MRR': mrr})['MRR']
    def neural(epochs, lr, **kw):
        set_seed(0); learn = implicit_learner(dls, metrics=[], seed=0, **kw)
        t = report.fit_seconds(learn, epochs, lr)
        return score(learn.model), t
    closed = lambda factory, **kw: closed_form(factory, dls, score, **kw)
    neural(1, 2e-2)  # warm-up, untimed
    pts = {f'recfast implicit, softmax (default), {e} epochs': neural(e, 2e-2) for e in (2, 3, 5, 10, 20)}
    pts |= {f'recfast implicit, adaptive hinge, {e} epochs': neural(e, 3e-3, loss='adaptive_hinge', wd=0,
                                                                     sampler='reject') for e in (5, 10)}
    pts |= {'recfast EASE (lam 800)': closed(ease_learner, lam=800.),
            'recfast item-kNN (k 200)': closed(itemknn_learner, k=200),
            'recfast popularity': closed(popularity_learner)}
    return pts | implicit_peers(dls, score, (3, 5, 15), 'implicit ALS, tuned')

def save_ranked(pts, name, data, proto, metric, base, ylabel, title, quick=False):
    "Print `pts` (`{label: (quality, seconds)}`, higher quality better) by time, the frontier starred; save the rows"
    front = frontier({k:(-m, t) for k,(m,t) in pts.items()})
    for k,(m,t) in sorted(pts.items(), key=lambda x: x[1][1]):
        print(f"{'*' if k in front else ' '} {k}: {metric} {m:.4f} in {t:.2f} s", flush=True)
    if quick: return
    base = () if base not in pts else (f'{base} (same run)', *pts[base])
    rows = [report.row('frontier', k, data, proto, f'test {metric}', m, t, *base, ratio_of='value',
                       suite=report.own_suite('frontier', data, f'test {metric} against fit seconds'),
                       recipe=('on the frontier' if k in front else 'behind the frontier'))
            for k,(m,t) in pts.items()]
    report.save(rows, name)
    plot(pts, front, report.RESULTS/f'{name}.png', ylabel=ylabel, higher=True, title=title)

IMPLICIT_PLOT = dict(ylabel='test MRR (ua.test)', higher=True,
                     title='ML-100K implicit (talk protocol): quality against fit time (squares: peers)')
SEQUENCE_PLOT = dict(ylabel='test NDCG@10 (last items)', higher=True,
                     title='ML-100K next item (leave-last-out): quality against fit time (squares: peers)')

def run_implicit():
    save_ranked(implicit_protocol(), 'frontier_implicit', 'ML-100K ua.base/ua.test, every rating a positive',
                "full-catalogue MRR, each user's training items excluded; fit seconds = training only, one thread, "
                "seed 0", 'MRR', 'implicit ALS, tuned, 15 iterations', IMPLICIT_PLOT['ylabel'], IMPLICIT_PLOT['title'])

# bench_next_item.py's recipe per arch (bench/recipes.py's `next_item`: the batch size and the training windows among
# its knobs), each at a few budgets up to its chosen epochs
SEQ_RECIPES = {a: recipes.next_item(a) for a in ('lstm', 'cnn', 'pool', 'sasrec')}
SEQ_EPOCHS = {a: (*short, SEQ_RECIPES[a]['epochs'])
              for a,short in {'lstm': (2, 5), 'cnn': (2, 5), 'pool': (3, 8), 'sasrec': (5, 10)}.items()}

def sequence_protocol(quick=False):
    "Leave-last-out next-item prediction's frontier (bench_next_item.py's protocol): `{label: (NDCG@10, fit seconds)}`"
    from recfast.all import (movielens_100k, split_frame, SequenceDataLoaders, InteractionsDataLoaders,
                             sequence_learner, ease_learner, itemknn_learner, popularity_learner, ndcg_at_k, set_seed)
    ml = movielens_100k(titles=False)[['user','movie','timestamp']]
    kw = dict(time_name='timestamp', split='last', seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        full = SequenceDataLoaders.from_df(ml, max_len=800, exclude_preceding=True, **kw)  # every training item
        trn,val = split_frame(ml, by='user', split='last', time_name='timestamp')[:2]
        idls = InteractionsDataLoaders.from_df(trn, valid_df=val, bs=1024, seed=0)
    ndcg = {'NDCG@10': partial(ndcg_at_k, k=10)}
    @functools.cache
    def loaders(bs, max_len, step):  # the training windows are recipe knobs (bs, max_len, step)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return SequenceDataLoaders.from_df(ml, max_len=max_len, step=step, bs=bs, **kw)
    def score(model): return report.eval_metrics(model, idls, ndcg)['NDCG@10']
    def neural(arch, epochs, r):  # recipe `r` for `epochs`
        set_seed(0)
        dls = loaders(*recipes.windows(r))
        learn = sequence_learner(dls, arch=arch, seed=0, metrics=[], **recipes.learner_args(r))
        t = report.fit_seconds(learn, epochs, r['lr'])
        return report.next_item_metrics(learn.model, dls, full, ndcg)['NDCG@10'], t
    closed = lambda factory, **kw: closed_form(factory, idls, score, **kw)
    neural('pool', 1, {**SEQ_RECIPES['pool'], 'lr': 3e-2, 'bs': 32})  # warm-up, untimed (loaders no recipe uses)
    pts = {}
    for a,r in SEQ_RECIPES.items():
        for e in SEQ_EPOCHS[a][:1] if quick else SEQ_EPOCHS[a]:
            pts[k:=f"recfast {a}, {r['loss']}, {e} epochs"] = neural(a, e, r)
            print(a, e, pts[k], flush=True)
    pts |= {'recfast EASE (defaults)': closed(ease_learner), 'recfast item-kNN (defaults)': closed(itemknn_learner),
            'recfast popularity': closed(popularity_learner)}
    return pts | implicit_peers(idls, score, (5, 15), 'implicit ALS (talk-tuned)')

def run_sequence(quick=False):
    save_ranked(sequence_protocol(quick), 'frontier_sequence',
                "ML-100K, each user's latest rating held out (943 targets), the rest trained on",
                "leave-last-out; every item ranked, the user's training items excluded; NDCG@10, mean over users; fit "
                "seconds = training only, one thread, seed 0", 'NDCG@10', 'recfast EASE (defaults)',
                SEQUENCE_PLOT['ylabel'], SEQUENCE_PLOT['title'], quick)

def replot():
    "Draw the three PNGs again from the saved rows (the figures unchanged: for a change of the drawing only)"
    for name,png,kw in (('frontier', 'frontier_explicit', {}), ('frontier_implicit', 'frontier_implicit',
                        IMPLICIT_PLOT), ('frontier_sequence', 'frontier_sequence', SEQUENCE_PLOT)):
        rows = [r for r in report.saved(name) if r.get('recipe') in ('on the frontier', 'behind the frontier')]
        plot({r['model']: (r['value'], r['time_s']) for r in rows},
             {r['model'] for r in rows if r['recipe']=='on the frontier'}, report.RESULTS/f'{png}.png', **kw)

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--protocol', default='explicit', choices=('explicit', 'implicit', 'sequence'))
    p.add_argument('--tune', action='store_true', help="choose the batch-size-free recipe on u1.base's valid split")
    p.add_argument('--quick', action='store_true', help='u1 only, fewer models: a smoke test (writes nothing)')
    p.add_argument('--replot', action='store_true', help='draw the PNGs again from the saved rows (no fits)')
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.tune: return tune()
    if a.replot: return replot()
    if a.protocol=='implicit': return run_implicit()
    if a.protocol=='sequence': return run_sequence(a.quick)
    folds = FOLDS[:1] if a.quick else FOLDS
    splits = {f: data(f) for f in folds}
    fit_time(fit_collab, *splits[folds[0]], **{**FAST, 'epochs':1})  # warm-up (lazy imports, allocations): untimed
    if any(k.startswith('scikit') for k in models(a.quick)): fit_time(_svd, *splits[folds[0]], n_epochs=1)
    res = {k: [fit_time(fit, *splits[f], **kw) for f in folds] for k,(fit,kw) in models(a.quick).items()}
    points = {k: (float(np.mean([r for r,_ in v])), float(np.mean([t for _,t in v]))) for k,v in res.items()}
    front = frontier(points)
    for k,(r,t) in sorted(points.items(), key=lambda x: x[1][1]):
        print(f"{'*' if k in front else ' '} {k}: RMSE {r:.4f} in {t:.2f} s", flush=True)
    if a.quick: return
    svd = next((k for k in points if k.startswith('scikit-surprise SVD (20')), None)
    base = () if svd is None else ('scikit-surprise SVD (defaults, 20 epochs)', points[svd][0], points[svd][1])
    rows = [report.row('frontier', k, DATA, PROTOCOL, 'test RMSE', r, t, *base, suite=SUITE, ratio_of='time',
                       std=float(np.std([x for x,_ in res[k]], ddof=1)), n=len(folds),
                       recipe=('on the frontier' if k in front else 'behind the frontier'))
            for k,(r,t) in points.items()]
    report.save(rows, 'frontier')
    plot(points, front, report.RESULTS/'frontier_explicit.png')

if __name__=='__main__': main()
