"""Issue #14 protocols: a serving export (`learn.export_serving`) loaded by its torch-only `serve.py` in a fresh process.
1. top-10 identity with `learn.recommend` for every ML-100K user (943), per family, answered in a process that imports
   no fastai and no recfast (checked in its `sys.modules`);
2. latency per single-user request on CPU (1 torch thread) for a synthetic 20k-item catalogue (`recfast.datasets`'
   generator), p50/p99 over 1,000 users, against `learn.recommend` per user measured in the same run.
Writes bench/results/serving.md and the same figures as report rows in bench/results/serving.json (bench/report.py).
`python bench/bench_serving.py [--quick]`."""
import os, sys, time, json, platform, tempfile, subprocess, warnings, argparse
from pathlib import Path
from recfast.all import *
from recfast.datasets import synthetic_ratings
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench import report

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
        t = time.perf_counter(); exp[a] = learn.recommend(users, n=10); exp[a+'_s'] = time.perf_counter()-t
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
                t = time.perf_counter(); f(u); out.append(time.perf_counter()-t)
            return np.asarray(out)
        ts,tb = times(lambda u: rec.recommend(u, n=10)),times(lambda u: learn.recommend(u, n=10))
        res[a] = dict(p50=np.percentile(ts, 50), p99=np.percentile(ts, 99), base_p50=np.percentile(tb, 50), base_p99=np.percentile(tb, 99), same200=f'{same} ({m} users)', n=k)
        print(a, {k:(round(float(v)*1e3, 3) if isinstance(v, (float, np.floating)) else v) for k,v in res[a].items()}, flush=True)
    return res

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--quick', action='store_true'); a = ap.parse_args()
    t_all = time.perf_counter()
    d = Path(tempfile.mkdtemp())
    exp,got = identity(d, 0 if a.quick else 2)
    n_users,n_req = (1000, 100) if a.quick else (5000, 1000)
    lat = latency(d, n_users, n_req, a.quick)
    rows,jrows = [],[]
    data,syn = 'ML-100K, all 943 users', f'synthetic_ratings({n_users} users, 20,000 items, {40*n_users:,} ratings, seed 0)'
    for f in FAMILIES:
        n_same = sum(x==y for x,y in zip(got[f]['top'], exp[f]))
        rows.append((f'{f}: top-10 identical to learn.recommend', f"{data}; serve.py in a fresh process (imports: {got['imports'] or 'torch only'})",
                     f'{n_same}/{len(exp[f])}', f"batch {got[f]['batch_s']:.3f} s vs learn.recommend {exp[f+'_s']:.3f} s", ''))
        jrows.append(report.row('serving', f'{f} export, serve.py', data, 'top-10 of every user, fresh process importing no fastai/recfast',
                                'users with identical top-10', n_same/len(exp[f]), got[f]['batch_s'], 'learn.recommend', 1.0, exp[f+'_s'], ratio_of='value'))
    for f,r in lat.items():
        rows.append((f'{f}: p99 latency per user (ms)', f"{syn}; {r['n']} single-user requests, n=10, 1 CPU thread; p50 {r['p50']*1e3:.2f} ms; "
                     f"top-10 identical: {r['same200']}", f"{r['p99']*1e3:.2f}",
                     f"learn.recommend p99 {r['base_p99']*1e3:.2f} (p50 {r['base_p50']*1e3:.2f})", f"{r['p99']/r['base_p99']:.2f}"))
        jrows.append(report.row('serving', f'{f} export, serve.Recommender.recommend', syn, f"{r['n']} single-user requests, n=10, 1 CPU thread",
                                'p99 latency per user (s)', r['p99'], None, 'learn.recommend per user', r['base_p99'], ratio_of='value'))
    md = ['# Serving benchmark (issue #14)', '',
          f"Machine: {platform.machine()} {os.cpu_count()}-core CPU, shared with other jobs (times are noisy; compare within this run). "
          f"torch threads: {torch.get_num_threads()}. Total run {time.perf_counter()-t_all:.0f} s. {'QUICK MODE. ' if a.quick else ''}"
          f"ML-100K models fit {0 if a.quick else 2} epochs; the latency models are untrained (a request's work does not depend on the weights).", '',
          '| what | protocol | number | baseline (same run) | ratio |', '|---|---|---|---|---|']
    md += [f"| {' | '.join(r)} |" for r in rows]
    txt = '\n'.join(md)+'\n'
    if a.quick: print(txt)
    else: report.publish('serving', txt, jrows)

if __name__=='__main__': main()
