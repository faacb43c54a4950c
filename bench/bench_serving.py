"""Issue #14 protocols: a serving export (`learn.export_serving`) loaded by its torch-only `serve.py` in a fresh process.
1. top-10 identity with `learn.recommend` for every ML-100K user (943), per family, answered in a process that imports
   no fastai and no recfast (checked in its `sys.modules`);
2. latency per single-user request on CPU (1 torch thread) for a synthetic 20k-item catalogue (`recfast.datasets`'
   generator), p50/p99 over 1,000 users, against `learn.recommend` per user measured in the same run.
Writes the figures as report rows in bench/results/serving.json (bench/report.py). The ML-100K models fit 2 epochs; the
latency models are untrained (a request's work does not depend on the weights).
`python bench/bench_serving.py [--quick]`."""
import os, sys, json, tempfile, subprocess, warnings, argparse
from pathlib import Path
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench import report
from recfast.all import *
from recfast.datasets import synthetic_ratings

torch.set_num_threads(int(os.environ.get('BENCH_THREADS', 1)))
FAMILIES = {'dot':'ratings', 'mlp':'ratings', 'implicit':'implicit', 'autorec':'vectors', 'deep':'vectors', 'cnn':'sequence', 'lstm':'sequence'}

def loaders(df, u, i, r, t):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return {'ratings': RatingsDataLoaders.from_df(df[[u,i,r]], seed=0, bs=1024),
                'implicit': InteractionsDataLoaders.from_df(df[[u,i]], seed=0, bs=1024),
                'vectors': SparseVectorDataLoaders.from_df(df[[u,i,r]], by='user', seed=0, bs=64),
                'sequence': SequenceDataLoaders.from_df(df[[u,i,t]], time_name=t, max_len=50, seed=0, bs=256)}

def learner(dls_by, a, epochs):
    set_seed(0)
    learn = recfast_learner(dls_by[FAMILIES[a]], arch=a)
    if epochs:
        with learn.no_bar(), learn.no_logging(): learn.fit(epochs, 3e-3)
    return learn

CHILD = '''
import sys, json, time, importlib.util
d,archs = sys.argv[1],sys.argv[2:]
res = {}
for a in archs:
    spec = importlib.util.spec_from_file_location('serve', f'{d}/{a}/serve.py')
    serve = importlib.util.module_from_spec(spec); spec.loader.exec_module(serve)
    t = time.perf_counter(); rec = serve.Recommender(f'{d}/{a}'); load_s = time.perf_counter()-t
    users = json.load(open(f'{d}/{a}/users.json'))[1:]
    t = time.perf_counter(); top = rec.recommend(users, n=10); batch_s = time.perf_counter()-t
    res[a] = dict(top=top, load_s=load_s, batch_s=batch_s)
res['imports'] = sorted({m.split('.')[0] for m in sys.modules} & {'fastai','recfast','fastcore','pandas'})
print(json.dumps(res))
'''

def identity(d, epochs):
    "Top-10 of every ML-100K user: `learn.recommend` here, the export's `serve.py` in a fresh process"
    df = movielens_100k(titles=False)
    dls_by,exp = loaders(df, 'user', 'movie', 'rating', 'timestamp'),{}
    for a in FAMILIES:
        learn = learner(dls_by, a, epochs)
        learn.export_serving(d/a)
        users = list(learn.dls.users.items[1:])
        exp[a],exp[a+'_s'] = report.timed(learn.recommend, users, n=10)
    env = {k:v for k,v in os.environ.items() if k!='PYTHONPATH'}
    p = subprocess.run([sys.executable, '-c', CHILD, str(d), *FAMILIES], capture_output=True, text=True, env=env, cwd=d)
    if p.returncode: raise RuntimeError(p.stderr[-3000:])
    got = json.loads(p.stdout.strip().splitlines()[-1])
    return exp, got

def latency(d, n_users, n_req, quick):
    "p50/p99 seconds of single-user requests: the export's `Recommender` and `learn.recommend`, same users, same run"
    df = synthetic_ratings(n_users, 20_000, 40*n_users, seed=0)
    df['time'] = np.arange(len(df))
    dls_by,res = loaders(df, 'user', 'item', 'rating', 'time'),{}
    sys.path.insert(0, str(d))
    from recfast.serve_torch import Recommender
    rng = np.random.default_rng(0)
    for a in FAMILIES:
        learn = learner(dls_by, a, 0)  # untrained: the work per request does not depend on the weights
        learn.export_serving(d/('syn_'+a))
        rec = Recommender(d/('syn_'+a))
        k = n_req if a!='mlp' else min(n_req, 200)  # the MLP scores 20k (user, item) pairs per request: ~0.2 s each
        users = list(rng.choice(np.asarray(list(learn.dls.users.items[1:])), k, replace=True))
        m = 200 if a!='mlp' else 10  # the MLP's learn.recommend scores (users x 20k) pairs in one batch: keep it small
        same = rec.recommend(users[:m], n=10)==learn.recommend(users[:m], n=10)
        def times(f):
            for u in users[:20]: f(u)
            out = []
            for u in users:
                out.append(report.timed(f, u)[1])
            return np.asarray(out)
        ts,tb = times(lambda u: rec.recommend(u, n=10)),times(lambda u: learn.recommend(u, n=10))
        res[a] = dict(p50=np.percentile(ts, 50), p99=np.percentile(ts, 99), base_p50=np.percentile(tb, 50), base_p99=np.percentile(tb, 99), same200=f'{same} ({m} users)', n=k)
        print(a, {k:(round(float(v)*1e3, 3) if isinstance(v, (float, np.floating)) else v) for k,v in res[a].items()}, flush=True)
    return res

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--quick', action='store_true'); a = ap.parse_args()
    t_all = report.Stopwatch()
    d = Path(tempfile.mkdtemp())
    exp,got = identity(d, 0 if a.quick else 2)
    n_users,n_req = (1000, 100) if a.quick else (5000, 1000)
    lat = latency(d, n_users, n_req, a.quick)
    jrows = []
    data,syn = 'ML-100K, all 943 users', f'synthetic_ratings({n_users} users, 20,000 items, {40*n_users:,} ratings, seed 0)'
    for f in FAMILIES:
        n_same = sum(x==y for x,y in zip(got[f]['top'], exp[f]))
        metric = 'users with identical top-10'
        jrows.append(report.row('serving', f'{f} export, serve.py', data,
                                f"top-10 of every user, fresh process importing {got['imports'] or 'no fastai/recfast'}", metric,
                                n_same/len(exp[f]), got[f]['batch_s'], 'learn.recommend', 1.0, exp[f+'_s'],
                                suite=report.own_suite('serving', data, metric), ratio_of='value'))
    for f,r in lat.items():
        proto = f"{r['n']} single-user requests, n=10, 1 CPU thread; top-10 identical to learn.recommend: {r['same200']}"
        jrows += [report.row('serving', f'{f} export, serve.Recommender.recommend', syn, proto, f'{q} latency per user (s)',
                             r[q], None, 'learn.recommend per user', r['base_'+q], suite=report.speed_suite('serving', syn),
                             ratio_of='value') for q in ('p99', 'p50')]
    jrows.append(report.row('serving', 'the whole serving bench', data, f'wall-clock seconds, {torch.get_num_threads()} torch thread(s)',
                            time_s=t_all(), suite=report.speed_suite('serving', data)))
    if a.quick: print(jrows)
    else: report.save(jrows, 'serving')

if __name__=='__main__': main()
