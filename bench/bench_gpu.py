"""The prepared GPU check (issue 29), run by `bench/gpu.sh`: each part saves report rows (`bench/report.py`) that name
the device into `--out` (default `$OUT`, else bench/results/gpu), and prints one line per check.

- `contract`: every registered arch on small ML-100K data (users <= 150, as tests/test_contract.py), loaders on the
  device: one epoch (finite loss, weights and batches on the device), `predict_pairs`, `recommend`, `recommend_all`,
  `similar_items`, `export` -> `load_learner` (in process, then moved to the device: the same scores and top-N) and
  `export_serving` -> `recfast.serve_torch.Recommender` (torch alone, CPU): the same top-N as `learn.recommend`.
  Every verb passes or fails on its own, with its error's text.
- `fp16`: every arch's learner `.to_fp16()`: one epoch after a warm-up epoch, finite losses, the epoch's seconds against
  the same learner in fp32, same run.
- `fastbook`: recfast `dot_learner` on the fastbook recipe (ML-100K with titles, 80/20 split seed 42, bs 64,
  `fit_one_cycle(5, 5e-3, wd=0.1)`, 50 factors) against stock fastai's `collab_learner` in a fresh process that never
  imports recfast, both on the device: wall seconds (synchronised), valid MSE.
- `facts`, `summary`: the device named, versions and data; the rows in `--out` and the step statuses `bench/gpu.sh`
  passes as Markdown (printed: gpu.sh keeps them as device.txt and SUMMARY.md).
Usage: python bench/bench_gpu.py --part contract|fp16|fastbook|summary [--device cuda] [--quick] [--out DIR]"""
import os, sys, json, math, argparse, warnings, tempfile, traceback
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import report
import torch

def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--part', required=True,
                   choices=('facts', 'contract', 'fp16', 'fastbook', 'summary', 'stock-fastai'))
    p.add_argument('--device', default=None, help="'cuda' (the default where there is one), 'cuda:1', 'cpu'")
    p.add_argument('--quick', action='store_true', help='tiny data, one epoch: a smoke run of every code path')
    p.add_argument('--out', default=os.environ.get('OUT') or str(report.RESULTS/'gpu'), help='folder of the rows')
    p.add_argument('--archs', default=None, help='comma-separated archs (default: every registered arch)')
    p.add_argument('--steps', default=None, help='summary: a file of `name<TAB>status<TAB>seconds` lines')
    # the fastbook recipe, and the internal stock-fastai part's arguments
    p.add_argument('--epochs', type=int, default=None); p.add_argument('--rows', type=int, default=None)
    p.add_argument('--seed', type=int, default=42); p.add_argument('--lr', type=float, default=5e-3)
    p.add_argument('--wd', type=float, default=0.1)
    return p.parse_args(argv)

def get_device(name):
    if name is None: return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    d = torch.device(name)
    if d.type=='cuda' and not torch.cuda.is_available(): sys.exit(f"--device {name}: torch sees no CUDA device")
    return d

def device_name(dev):
    "The device in words: the GPU's name, or the CPU"
    if dev.type=='cuda': return f"{torch.cuda.get_device_name(dev)} ({dev})"
    import platform
    return f"CPU ({platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"

def sync(dev):
    if dev.type=='cuda': torch.cuda.synchronize(dev)

def timed(dev, f, *args, **kwargs):
    "`f(*args, **kwargs)` and its wall seconds, the device synchronised before and after"
    sync(dev); sw = report.Stopwatch(); r = f(*args, **kwargs); sync(dev)
    return r, sw()

def err_text(e, n=300):
    s = f"{type(e).__name__}: {e}".replace('\n', ' ')
    return s if len(s)<=n else s[:n]+'...'

def save(rows, out, name):
    "`report.save` into folder `out`, quietly (a part saves after every arch)"
    import io, contextlib
    with contextlib.redirect_stdout(io.StringIO()): return report.save(rows, Path(out)/f'{name}.json')

# ---- data and loaders on the device ----------------------------------------------------------------------------------

def small_ml(quick):
    "ML-100K ratings of users <= 150 (tests/test_contract.py's data), <= 40 if `quick`"
    from recfast.datasets import movielens_100k
    df = movielens_100k(titles=False)
    return df[df.user<=(40 if quick else 150)].reset_index(drop=True)

def builders(dev, n_images=400):
    "tests/test_contract.py's `BUILDERS`, with the loaders' tensors on `dev`"
    from recfast.all import (RatingsDataLoaders, InteractionsDataLoaders, SequenceDataLoaders, SparseVectorDataLoaders,
                             RatingSequenceDataLoaders, MNISTGlimpseDataLoaders, mnist_digits)
    return {
        RatingsDataLoaders: lambda df: RatingsDataLoaders.from_df(df[['user','movie','rating']], seed=0, bs=256,
                                                                  device=dev),
        InteractionsDataLoaders: lambda df: InteractionsDataLoaders.from_df(df[['user','movie']], seed=0, bs=512,
                                                                            device=dev),
        SequenceDataLoaders: lambda df: SequenceDataLoaders.from_df(df[['user','movie','timestamp']],
                                                                    time_name='timestamp', max_len=20, seed=0, bs=64,
                                                                    device=dev),
        RatingSequenceDataLoaders: lambda df: RatingSequenceDataLoaders.from_df(
            df[['user','movie','rating','timestamp']], time_name='timestamp', max_len=20, seed=0, bs=64, device=dev),
        SparseVectorDataLoaders: lambda df: SparseVectorDataLoaders.from_df(df[['user','movie','rating']], by='user',
                                                                            seed=0, bs=32, device=dev),
        MNISTGlimpseDataLoaders: lambda df: MNISTGlimpseDataLoaders.from_tensors(
            *[t[:n_images] for t in mnist_digits()], seed=0, bs=32, device=dev),
    }

def archs(arg):
    from recfast.all import known_archs
    every = known_archs()
    if not arg: return every
    got = arg.split(',')
    if bad:=set(got)-set(every): sys.exit(f"--archs: unknown {sorted(bad)}; registered: {every}")
    return got

def arch_kwargs(a): return dict(layers=[64,32]) if a=='deep' else {}  # as tests/test_contract.py

def fit1(learn, lr=1e-3):
    with learn.no_bar(), learn.no_logging(): learn.fit(1, lr)
    return learn

def on_device(x, dev):
    "Whether every tensor in `x` (a tensor or a tuple/list of them, nested) is on `dev`'s type of device"
    if isinstance(x, torch.Tensor): return x.device.type==dev.type
    if isinstance(x, (tuple, list)): return all(on_device(o, dev) for o in x)
    return True

# ---- contract --------------------------------------------------------------------------------------------------------

class Verbs:
    "Each verb's outcome for one arch: 'ok' (or 'ok: note') or the error's text; one printed line per verb"
    def __init__(self, arch): self.arch,self.res,self.secs = arch,{},{}
    def __call__(self, verb, f):
        sw = report.Stopwatch()
        try: note = f()
        except Exception as e:
            self.res[verb] = 'FAIL: '+err_text(e)
            if os.environ.get('BENCH_GPU_TRACEBACKS'): traceback.print_exc()
        else: self.res[verb] = 'ok' + (f': {note}' if isinstance(note, str) else '')
        self.secs[verb] = sw()
        print(f"  {self.arch:12s} {verb:16s} {self.res[verb]} ({self.secs[verb]:.2f} s)", flush=True)
        return self.res[verb].startswith('ok')
    @property
    def failed(self): return {k:v for k,v in self.res.items() if not v.startswith('ok')}

def same_top(learn, users, got, want, rtol=1e-3, atol=1e-4):
    """`None` if top-N lists `got` and `want` agree, or differ only by near-ties (their scores, from `learn`, equal to
    `rtol`/`atol`: the CPU and GPU round differently); else what differs"""
    if got==want: return None
    dls = learn.dls
    for u,g,w in zip(users, got, want):
        if g==w: continue
        s = learn.score_items(dls.encode_users([u]).to(dls.device))[0].float().cpu()
        enc = lambda ids: s[dls.encode_items(ids).cpu()]
        if len(g)!=len(w) or not torch.allclose(enc(g), enc(w), rtol=rtol, atol=atol):
            return f"user {u}: got {g}, want {w}"
    return 'near-ties reordered'

def contract_arch(a, dls, dev, tmp):
    from recfast.all import recfast_learner, set_seed, RecLearner, load_learner, pd, np
    from recfast.serve_torch import Recommender
    v, st = Verbs(a), {}
    def fit():
        set_seed(0)
        st['learn'] = learn = recfast_learner(dls, arch=a, **arch_kwargs(a))
        fit1(learn)
        losses = [float(x) for x in learn.recorder.values[-1]]
        assert math.isfinite(losses[0]), f"train loss {losses}"
        st['loss'] = losses[0]
    if not v('fit', fit): return v, st
    learn = st['learn']
    def device():
        params = list(learn.model.parameters())
        wrong = {str(p.device) for p in params if p.device.type!=dev.type}
        assert not wrong, f"weights on {wrong}, not {dev}"
        b = dls.valid.one_batch()
        assert on_device(b, dev), f"a batch on {[getattr(t, 'device', None) for t in b]}"
        return f"{len(params)} weight tensors" if params else 'no weights (closed form)'
    v('on device', device)
    if not isinstance(learn, RecLearner):  # RAM: a classifier, no recommender verbs
        def preds():
            with learn.no_bar(): p = learn.get_preds(dl=dls.valid)[0]
            assert torch.isfinite(p).all(), 'non-finite predictions'
            st['preds'] = p
        v('get_preds', preds)
        def export():
            learn.export(tmp/f'{a}.pkl')
            l2 = load_learner(tmp/f'{a}.pkl', cpu=True); l2.dls.to(dev); l2.model.to(dev)
            with l2.no_bar(): p = l2.get_preds(dl=dls.valid)[0]
            if 'preds' in st: assert torch.allclose(p.cpu(), st['preds'].cpu(), rtol=1e-4, atol=1e-5), 'other preds'
        v('export/load', export)
        return v, st
    users, items = list(dls.users.items[1:4]), list(dls.items.items[1:4])
    pairs = pd.DataFrame({dls.user_name: users, dls.item_name: items})
    def score():
        s = np.asarray(learn.predict_pairs(pairs))
        assert s.shape==(3,) and np.isfinite(s).all(), s
        st['scores'] = s
    v('predict_pairs', score)
    def recommend():
        recs = learn.recommend(users, n=5)
        for u,r in zip(users, recs):
            assert len(r)==5 and len(set(r))==5, r
            seen = dls.exclude_mask(dls.encode_users([u]).to(dls.device))[0].cpu()
            known = set(dls.decode_items(torch.where(seen)[0]))
            assert not known & set(r), f"user {u}: recommends items they have: {known & set(r)}"
        st['recs'] = recs
    v('recommend', recommend)
    def rec_all():
        df = pd.read_csv(learn.recommend_all(n=3, fname=tmp/f'{a}.csv', users=users))
        assert len(df)==9, f"{len(df)} rows"
        for u,g in df.groupby(dls.user_name, sort=False):
            got, want = [str(i) for i in g[dls.item_name]], [str(i) for i in learn.recommend(u, n=3)]
            assert got==want, f"user {u}: {got} != recommend's {want}"
    v('recommend_all', rec_all)
    def similar():
        sim = learn.similar_items(items[0], n=4)
        assert len(sim)==4 and sim.similarity.is_monotonic_decreasing, sim
    v('similar_items', similar)
    def export():
        learn.export(tmp/f'{a}.pkl')
        l2 = load_learner(tmp/f'{a}.pkl', cpu=True); l2.dls.to(dev); l2.model.to(dev)
        s = np.asarray(l2.predict_pairs(pairs))
        if 'scores' in st: np.testing.assert_allclose(s, st['scores'], rtol=1e-4, atol=1e-5)
        if 'recs' in st:
            if d:=same_top(learn, users, l2.recommend(users, n=5), st['recs']): raise AssertionError(d)
    v('export/load', export)
    def serving():
        got = Recommender(learn.export_serving(tmp/f'{a}.serving')).recommend(users, n=5)
        want = st.get('recs') or learn.recommend(users, n=5)
        d = same_top(learn, users, [list(g) for g in got], [list(w) for w in want])
        if d and d!='near-ties reordered': raise AssertionError(d)
        return d
    v('export_serving', serving)
    return v, st

def part_contract(args, dev):
    from recfast.all import arch_info
    out, quick, names = args.out, args.quick, archs(args.archs)
    dname = device_name(dev)
    ml = small_ml(quick)
    data = f"ML-100K users <= {ml.user.max()} ({len(ml):,} ratings), MNIST {200 if quick else 400} digits; on {dname}"
    proto = ("the contract (tests/test_contract.py) on the device: 1 epoch, verbs, export -> load_learner, "
             "export_serving -> serve_torch; time = the fit's seconds")
    build = builders(dev, 200 if quick else 400)
    dls_by, rows, tmp = {}, [], Path(tempfile.mkdtemp(prefix='recfast_gpu_contract_'))
    for a in names:
        cls = arch_info(a)['dls']
        if cls not in dls_by:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore'); dls_by[cls] = build[cls](ml)
            except Exception as e: dls_by[cls] = e
        dls = dls_by[cls]
        if isinstance(dls, Exception) or cls not in build:
            def loaders(): raise dls if isinstance(dls, Exception) else KeyError(f"no builder for {cls.__name__}")
            v, st = Verbs(a), {}
            v('loaders', loaders)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore'); v, st = contract_arch(a, dls, dev, tmp)
        n_ok = sum(r.startswith('ok') for r in v.res.values())
        r = report.row('gpu', f'{a} ({type(st["learn"]).__name__ if "learn" in st else "not built"})', data, proto,
                       'contract verbs passed', n_ok, v.secs.get('fit'), baseline='verbs checked',
                       baseline_value=len(v.res), baseline_metric='verbs checked',
                       suite=report.own_suite('gpu', data, 'contract verbs passed'),
                       recipe='; '.join(f'{k}: {x}' for k,x in v.failed.items()) or 'every verb passed')
        r['verbs'] = v.res; r['arch'] = a
        rows.append(r)
        save(rows, out, 'contract')  # after every arch: a step killed by its timeout keeps what it measured
        st.clear()
        if dev.type=='cuda': torch.cuda.empty_cache()
    bad = {r['arch']: sorted(k for k in r['verbs'] if not r['verbs'][k].startswith('ok'))
           for r in rows if r['value']!=r['baseline_value']}
    print(f"contract on {dname}: {len(rows)-len(bad)}/{len(rows)} archs pass every verb"
          + (f"; failing: {bad}" if bad else ''))
    return 1 if bad else 0

# ---- fp16 ------------------------------------------------------------------------------------------------------------

def part_fp16(args, dev):
    from recfast.all import arch_info, recfast_learner, set_seed, movielens_100k
    dname = device_name(dev)
    ml = small_ml(True) if args.quick else movielens_100k(titles=False)
    n_img = 200 if args.quick else 2000
    data = f"ML-100K ({len(ml):,} ratings), MNIST {n_img} digits; contract loaders; on {dname}"
    proto = ("one epoch of `learn.to_fp16()` after a warm-up epoch: finite train/valid losses; seconds "
             "(synchronised) against the same learner in fp32, same run")
    build = builders(dev, n_img)
    dls_by, rows, failed = {}, [], []
    for a in archs(args.archs):
        cls = arch_info(a)['dls']
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                if cls not in dls_by: dls_by[cls] = build[cls](ml)
                dls = dls_by[cls]
                res = {}
                for prec in ('fp32', 'fp16'):
                    set_seed(0)
                    learn = recfast_learner(dls, arch=a, **arch_kwargs(a))
                    if prec=='fp16': learn = learn.to_fp16()
                    fit1(learn)  # warm-up: kernels chosen, allocator grown, the grad scaler settled
                    _,t = timed(dev, fit1, learn)
                    vals = [float(x) for x in learn.recorder.values[-1]]
                    res[prec] = dict(t=t, loss=vals[0], valid=vals[1] if len(vals)>1 else float('nan'))
            f16 = res['fp16']
            ok = math.isfinite(f16['loss']) and (math.isnan(res['fp32']['valid']) or math.isfinite(f16['valid']))
            note = '' if ok else f"non-finite fp16 losses {f16}"
        except Exception as e:
            ok, note, res = False, err_text(e), {}
        if not ok: failed.append(a)
        g = lambda p,k: res.get(p, {}).get(k)
        f = lambda x: '-' if x is None else f'{x:.4g}'
        print(f"  {a:12s} fp16 {'ok' if ok else 'FAIL'}: epoch {f(g('fp16','t'))} s, fp32 {f(g('fp32','t'))} s; "
              f"train losses fp16 {f(g('fp16','loss'))}, fp32 {f(g('fp32','loss'))}"
              + (f"; {note}" if note else ''), flush=True)
        r = report.row('gpu', f'{a} to_fp16', data, proto, 'train loss (fp16)', g('fp16','loss'), g('fp16','t'),
                       f'{a} fp32', g('fp32','loss'), g('fp32','t'), ratio_of='time',
                       suite=report.speed_suite('gpu fp16', data), recipe=note or None)
        r.update(arch=a, ok=ok, valid_fp16=g('fp16','valid'), valid_fp32=g('fp32','valid'))
        rows.append(r)
        save(rows, args.out, 'fp16')
        if dev.type=='cuda': torch.cuda.empty_cache()
    print(f"fp16 on {dname}: {len(rows)-len(failed)}/{len(rows)} archs train with finite losses"
          + (f"; failing: {failed}" if failed else ''))
    return 1 if failed else 0

# ---- fastbook: recfast against stock fastai on the device ------------------------------------------------------------

def ratings(rows=None):
    "The fastbook's frame (bench_collab's): ML-100K joined with titles, the first `rows` rows"
    from bench.bench_collab import _ratings
    df = _ratings()
    return df if rows is None else df.iloc[:rows].reset_index(drop=True)

def part_stock_fastai(args, dev):
    "In a fresh process that imports fastai only: `CollabDataLoaders` + `collab_learner` on the device, as JSON"
    warnings.simplefilter('ignore')
    from fastai.collab import CollabDataLoaders, collab_learner
    from fastai.torch_core import set_seed
    df = ratings(args.rows)
    def fit(learn, n):
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(n, args.lr, wd=args.wd)
        return learn
    mk = lambda d: CollabDataLoaders.from_df(d, item_name='title', bs=64, seed=args.seed, device=dev)
    fit(collab_learner(mk(df.iloc[:5000]), n_factors=50, y_range=(0,5.5)), 1)  # warm-up
    dls = mk(df)
    set_seed(args.seed); learn = collab_learner(dls, n_factors=50, y_range=(0,5.5))
    learn, t = timed(dev, fit, learn, args.epochs)
    print(json.dumps(dict(mse=float(learn.recorder.values[-1][1]), wall=t, device=str(dls.device),
                          model_device=str(next(learn.model.parameters()).device),
                          recfast_imported=any(m.split('.')[0]=='recfast' for m in sys.modules))))

def part_fastbook(args, dev):
    import subprocess
    warnings.simplefilter('ignore')
    from recfast.all import RatingsDataLoaders, dot_learner, set_seed
    dname = device_name(dev)
    epochs, nrows = args.epochs or (1 if args.quick else 5), args.rows or (10_000 if args.quick else None)
    df = ratings(nrows)
    def fit(learn, n):
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(n, args.lr, wd=args.wd)
        return learn
    mk = lambda d: RatingsDataLoaders.from_df(d, seed=args.seed, bs=64, duplicates='keep', device=dev)
    fit(dot_learner(mk(df.iloc[:5000])), 1)  # warm-up
    dls = mk(df)
    set_seed(args.seed); learn, t = timed(dev, fit, dot_learner(dls, n_factors=50), epochs)
    rf = dict(mse=float(learn.recorder.values[-1][1]), wall=t, model_device=str(next(learn.model.parameters()).device))
    print('recfast dot_learner', rf, flush=True)
    cmd = [sys.executable, __file__, '--part', 'stock-fastai', '--device', str(dev), '--epochs', str(epochs),
           '--seed', str(args.seed), '--lr', str(args.lr), '--wd', str(args.wd)]
    cmd += ['--rows', str(nrows)] if nrows else []
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
    fa = None
    if p.returncode: print('stock fastai failed:', p.stderr[-3000:], flush=True)
    else:
        fa = json.loads(p.stdout.strip().splitlines()[-1])
        assert not fa.pop('recfast_imported'), 'the stock fastai run imported recfast'
        print('stock fastai collab_learner (own process)', fa, flush=True)
    data = (f"ML-100K ({len(df):,} ratings, item = title), 80/20 random split seed {args.seed}; on {dname}")
    proto = (f"fit_one_cycle({epochs}, {args.lr}), wd {args.wd}, bs 64, 50 factors, after a warm-up fit; "
             "wall-clock fit seconds, device synchronised")
    base = ('stock fastai `collab_learner` (own process, same device)', fa['mse'], fa['wall']) if fa else ()
    rows = [report.row('gpu', 'recfast `dot_learner` (fastbook recipe)', data, proto, 'valid MSE', rf['mse'],
                       rf['wall'], *base, ratio_of='time', suite=report.speed_suite('gpu fastbook', data))]
    if fa: rows.append(report.row('gpu', 'stock fastai `collab_learner` (own process)', data, proto, 'valid MSE',
                                  fa['mse'], fa['wall'], suite=report.speed_suite('gpu fastbook', data)))
    save(rows, args.out, 'fastbook')
    ok = fa is not None and math.isfinite(rf['mse']) and math.isfinite(fa['mse'])
    wrong = [d for d in (rf['model_device'], (fa or {}).get('model_device', dev.type)) if d.split(':')[0]!=dev.type]
    if wrong: print(f"models trained on {wrong}, not {dev}"); ok = False
    if fa: print(f"fastbook on {dname}: recfast {rf['wall']:.2f} s (MSE {rf['mse']:.4f}), stock fastai "
                 f"{fa['wall']:.2f} s (MSE {fa['mse']:.4f}): {fa['wall']/rf['wall']:.2f}x faster")
    return 0 if ok else 1

# ---- facts -----------------------------------------------------------------------------------------------------------

def part_facts(args, dev):
    "The device named (nvidia-smi, torch), the versions, a CUDA matmul, the data (gpu.sh keeps it as device.txt)"
    import subprocess, platform, datetime
    L = [f"date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
         f"host: {platform.node()} {platform.system()} {platform.release()} {platform.machine()}, "
         f"{os.cpu_count()} CPUs", f"device asked for: {dev}{' (quick)' if args.quick else ''}"]
    def sh(*cmd):
        try: return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
        except Exception as e: return f"{cmd[0]}: {err_text(e)}"
    import shutil
    L.append(f"git: {sh('git', 'rev-parse', '--short', 'HEAD')}")
    L += ([sh('nvidia-smi', '-L'), sh('nvidia-smi', '--query-gpu=name,memory.total,driver_version,clocks.max.sm',
                                      '--format=csv,noheader')] if shutil.which('nvidia-smi') else ['no nvidia-smi'])
    L.append(f"python {platform.python_version()}; torch {torch.__version__}, CUDA {torch.version.cuda}, "
             f"cuda available: {torch.cuda.is_available()}")
    ok = True
    if dev.type=='cuda':
        p = torch.cuda.get_device_properties(dev)
        L.append(f"torch device: {torch.cuda.get_device_name(dev)}, {p.total_memory/2**30:.0f} GiB, "
                 f"{p.multi_processor_count} SMs")
        a = torch.randn(512, 512, device=dev, dtype=torch.float64)
        good = torch.allclose((a@a).cpu(), a.cpu()@a.cpu()); ok &= good
        L.append(f"a float64 CUDA matmul equals the CPU's: {good}")
    try:
        import fastai, fastcore, recfast
        L.append(f"fastai {fastai.__version__} ({Path(fastai.__file__).parent}), fastcore {fastcore.__version__}, "
                 f"recfast {recfast.__version__}")
        from fastai.data.external import fastai_path
        d = fastai_path('data')
        need = ('ml-100k/u.data', 'ml-100k/u.item', 'ml-100k/ua.base', 'mnist/t10k-images-idx3-ubyte.gz')
        miss = [f for f in need if not (d/f).exists()]
        L.append(f"data: {d}" + (f"; MISSING {miss}: run `bash bench/gpu.sh --stage` here, carry build/gpu" if miss
                                 else ''))
        ok &= not miss
    except Exception as e: L.append(f"imports: {err_text(e, 1000)}"); ok = False
    L.append(f"report.machine(): {report.machine()}")
    print('\n'.join(L))
    return 0 if ok else 1

# ---- summary ---------------------------------------------------------------------------------------------------------

def part_summary(args, dev):
    out = Path(args.out)
    load = lambda n: json.loads((out/f'{n}.json').read_text()) if (out/f'{n}.json').exists() else None
    L = [f"# GPU check (bench/gpu.sh, issue 29)", '']
    dev_txt = out/'device.txt'
    if dev_txt.exists(): L += ['## Device', '', '```', dev_txt.read_text().strip(), '```', '']
    if args.steps and Path(args.steps).exists():
        L += ['## Steps', '', '| step | status | seconds |', '|---|---|---|']
        L += ['| ' + ' | '.join(l.split('\t')[:3]) + ' |' for l in Path(args.steps).read_text().splitlines() if l]
        L.append('')
    c = load('contract')
    if c:
        verbs = list(dict.fromkeys(k for r in c for k in r['verbs']))
        L += [f"## Contract ({sum(r['value']==r['baseline_value'] for r in c)}/{len(c)} archs pass every verb)", '',
              f"{c[0]['data']}; machine {c[0]['machine']}", '',
              '| arch | ' + ' | '.join(verbs) + ' | fit (s) |', '|---|' + '---|'*(len(verbs)+1)]
        cell = lambda s: '-' if s is None else 'ok' if s.startswith('ok') else '**FAIL**'
        L += [f"| {r['arch']} | " + ' | '.join(cell(r['verbs'].get(k)) for k in verbs)
              + f" | {report._secs(r['time_s'])} |" for r in c]
        fails = [(r['arch'], k, x) for r in c for k,x in r['verbs'].items() if not x.startswith('ok')]
        if fails: L += ['', 'Failures:', ''] + [f"- {a} `{k}`: {x[6:]}" for a,k,x in fails]
        L.append('')
    fam = [r for p in sorted(out.glob('families*.json')) for r in json.loads(p.read_text())]
    if fam:
        L += ['## Families: recfast epoch against the plain PyTorch loop', '', f"machine {fam[0]['machine']}", '',
              '| model | data | recfast (s) | baseline | baseline (s) | ratio |', '|---|---|---|---|---|---|']
        L += [f"| {r['model']} | {r['data']} | {report._secs(r['time_s'])} | {r['baseline']} | "
              f"{report._secs(r['baseline_time_s'])} | {r['ratio']:.2f} |" for r in fam]
        L.append('')
    fb = load('fastbook')
    if fb:
        L += ['## Fastbook fit: recfast against stock fastai', '', fb[0]['data'], '', fb[0]['protocol'], '',
              '| model | valid MSE | wall (s) |', '|---|---|---|']
        L += [f"| {r['model']} | {r['value']:.4f} | {report._secs(r['time_s'])} |" for r in fb]
        if fb[0].get('ratio'): L += ['', f"recfast takes {fb[0]['ratio']:.3f}x stock fastai's time "
                                         f"({1/fb[0]['ratio']:.1f}x faster)"]
        L.append('')
    f16 = load('fp16')
    if f16:
        L += [f"## to_fp16 ({sum(r['ok'] for r in f16)}/{len(f16)} archs with finite losses)", '', f16[0]['data'], '',
              '| arch | ok | fp16 epoch (s) | fp32 epoch (s) | ratio | fp16 loss | fp32 loss | note |',
              '|---|---|---|---|---|---|---|---|']
        n = lambda x: '-' if x is None else report._num(x)
        L += [f"| {r['arch']} | {'ok' if r['ok'] else '**FAIL**'} | {report._secs(r['time_s'])} | "
              f"{report._secs(r['baseline_time_s'])} | {n(r.get('ratio'))} | {n(r['value'])} | "
              f"{n(r['baseline_value'])} | {r.get('recipe') or ''} |" for r in f16]
        L.append('')
    print('\n'.join(L))  # gpu.sh keeps it as SUMMARY.md
    return 0

def main(argv=None):
    args = parse(argv)
    dev = get_device(args.device)
    torch.set_num_threads(1 if dev.type=='cpu' else min(4, os.cpu_count() or 1))  # 1: as the CPU benches
    if args.part not in ('summary', 'facts'): print(f"bench_gpu --part {args.part} on {device_name(dev)}", flush=True)
    f = dict(facts=part_facts, contract=part_contract, fp16=part_fp16, fastbook=part_fastbook, summary=part_summary,
             **{'stock-fastai': part_stock_fastai})[args.part]
    return f(args, dev) or 0

if __name__=='__main__': sys.exit(main())
