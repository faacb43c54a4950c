"""RAM benchmark (issues #5, #15): the Recurrent Attention Model with recfast's defaults against a fully connected net
(and a small CNN on Fashion-MNIST), every pair trained in this run on the same DataLoaders with the same schedule.

Protocol (`fit_one_cycle(n, lr)` for every model, valid error at the end):
- 28x28: MNIST's 10k test digits split 80/20 (seed 42, `MNISTGlimpseDataLoaders.from_mnist()`): `ram_learner(dls)`
  against `FCNet(784)` (784-256-256-10, the paper's baseline). MNIST's 60k training set is not available off-line.
- translated 60x60: the same digits on 60x60 canvases (new random places per training batch): `ram_learner(dls)`
  against `FCNet(3600)`.
- Fashion-MNIST (its 60k train / 10k test split, `from_fashion_mnist()`): RAM, FC and a small CNN.
Writes bench/results/ram.json (bench/report.py rows, with the per-epoch curves), the learning curves (nbs/images/ram_curves.png)
and the glimpse paths of the translated model (nbs/images/ram_glimpses_translated.png).
`--jobs 2` runs the three sections as processes side by side (1 thread each): the 45-minute budget of issue #15 on 2 cores.
Usage: python bench/bench_ram.py [--epochs 30] [--t-epochs 20] [--f-epochs 2] [--lr 3e-3] [--bs 32] [--threads 1] [--jobs 2]
"""
import argparse, os, sys
from concurrent.futures import ProcessPoolExecutor, as_completed
import multiprocessing as mp
from pathlib import Path
import torch
from fastai.basics import *
from fastai.callback.all import *
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import report
from recfast.core import *
from recfast.fast import FastAdam
from recfast.ram.data import *
from recfast.ram.models import *
from recfast.ram.learner import *
from recfast.ram.interpret import glimpse_locations, plot_glimpses, ink_centres

p = argparse.ArgumentParser()
p.add_argument('--epochs', type=int, default=30, help='28x28 epochs, each model')
p.add_argument('--t-epochs', type=int, default=20, help='translated 60x60 epochs, each model')
p.add_argument('--f-epochs', type=int, default=2, help='Fashion-MNIST epochs, each model (0: skip)')
p.add_argument('--lr', type=float, default=3e-3)
p.add_argument('--bs', type=int, default=32)
p.add_argument('--n-samples', type=int, default=10, help='rollouts of the Monte-Carlo evaluation reported beside the default one')
p.add_argument('--threads', type=int, default=1)
p.add_argument('--jobs', type=int, default=2, help='sections run side by side')
args = p.parse_args()
torch.set_num_threads(args.threads)
assert args.jobs>=1, '--jobs must be >= 1'
t_start = report.Stopwatch()
ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT/'nbs'/'images'; IMG.mkdir(exist_ok=True)

def fit(name, learn, n):
    def go():
        with learn.no_bar(): learn.fit_one_cycle(n, args.lr)
    dt = report.timed(go)[1]/n
    curve = [float(v[-1]) for v in learn.recorder.values]
    print(f"  {name}: {n} epochs, {dt:.1f} s/epoch, valid error {curve[-1]:.4f}", flush=True)
    with learn.no_bar(): preds,targs = learn.get_preds()
    return dict(err=curve[-1], dt=dt, curve=curve, wrong=(preds.argmax(1)!=targs).tolist()) # `wrong`: for the paired test

def die_with_parent():
    "In a section's worker process: end when the bench process ends, even when it is killed (Linux; elsewhere a no-op)"
    if sys.platform.startswith('linux'):
        import ctypes, signal
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

def mc_err(learn, n):
    "Valid error of the Monte-Carlo evaluation (`n` rollouts), the model's `n_samples` restored after"
    m = learn.model; old,m.n_samples = m.n_samples,n
    try: return float(learn.validate()[1])
    finally: m.n_samples = old

def fc(dls): return Learner(dls, FCNet(dls.one_batch()[0][0].numel()), loss_func=CrossEntropyLossFlat(), metrics=error_rate, opt_func=FastAdam)

def cnn(dls):
    "A small CNN: two 3x3 conv layers (16, 32 channels) with max-pooling, then 128 ReLUs"
    body = nn.Sequential(nn.Conv2d(1,16,3,padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16,32,3,padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32*7*7,128), nn.ReLU(), nn.Linear(128,10))
    return Learner(dls, body, loss_func=CrossEntropyLossFlat(), metrics=error_rate, opt_func=FastAdam)

def loc_spread(learn):
    "Mean over steps 2.. of the std of the eval-mode glimpse locations across 1000 valid images"
    _,locs,_ = glimpse_locations(learn, n=1000)
    return float(locs[:,1:].std(0).mean())

def dist_per_step(learn):
    "Mean distance (pixels) from each eval-mode glimpse (1 is the centre) to the ink centre, 1000 valid images"
    xs,locs,_ = glimpse_locations(learn, n=1000)
    return [float(v) for v in ((locs-ink_centres(xs)[:,None]).norm(dim=-1)*xs.shape[-1]/2).mean(0)]

def dist_to_ink(learn): return dist_per_step(learn)[-1] # the last glimpse's

def glimpse_dists(learn):
    "`dist_per_step` rounded to 0.1 px, and the last glimpse's"
    d = [round(v, 1) for v in dist_per_step(learn)]
    return d,d[-1]

class DistTrack(Callback):
    "After every epoch: the mean distance (px) from the last eval-mode glimpse to the ink centre, on 1000 valid images"
    order = 100
    def before_fit(self): self.d = []
    def after_epoch(self): self.d.append(round(dist_to_ink(self.learn), 2))

def save(final=False):
    "Write the curves PNG and ram.json from what has run so far (after every section: a cut-off run keeps its results)"
    curves = [(t, a, b) for t,a,b in (('28x28 MNIST (8k train)', 'ram', 'fc'), ('translated 60x60 (8k train)', 'tram', 'tfc'),
                                      ('Fashion-MNIST (60k train)', 'fram', 'ffc')) if a in res and b in res]
    if curves:
        fig,axs = plt.subplots(1, len(curves), figsize=(4.5*len(curves), 3.4), squeeze=False)
        for ax,(t,a,b) in zip(axs[0], curves):
            for k,lbl in ((a,'RAM (defaults)'), (b,'FC'), ('fcnn' if a=='fram' else None,'small CNN')):
                if k in res: ax.plot(range(1, len(res[k]['curve'])+1), [100*v for v in res[k]['curve']], label=lbl)
            ax.set(title=t, xlabel='epoch', ylabel='valid error (%)', ylim=(0, min(100, 110*max(res[a]['curve'][len(res[a]['curve'])//4:]+res[b]['curve'][len(res[b]['curve'])//4:]))))
            ax.grid(alpha=.3); ax.legend()
        fig.tight_layout(); fig.savefig(IMG/'ram_curves.png', dpi=80); plt.close(fig)
    rows = jrows+[R('the whole RAM bench' if final else 'the RAM bench so far (cut off)', 'all of the above',
                    f'wall-clock seconds, {args.threads} thread(s), 2-core machine', time_s=t_start())]
    report.save(rows, 'ram')

def R(model, data, protocol, metric=None, *a, **k):
    "A row of this bench: a speed row when it measures no `metric`, else in a table of its own per data and metric"
    suite = report.own_suite('ram', data, metric) if metric else report.speed_suite('ram', data)
    return report.row('ram', model, data, protocol, metric, *a, suite=suite, **k)

res,jrows = {},[]
sched = lambda n: f"fit_one_cycle({n}, {args.lr:g}) each, bs {args.bs}, same DataLoaders"
split = 'MNIST 10k test digits (the 60k training set is not available off-line), 80/20 split seed 42'
DEF = ('RAM, recfast defaults (ram_learner(dls): 6 glimpses, ReLU RNN 256, 4 rollouts per training image, log-likelihood reward, '
       'label smoothing 0.1, locator at 0.1x the learning rate on canvases up to 32 px')
retina = lambda m: f"{m.depth} scales {m.glimpse_size}-{m.glimpse_size*int(m.scale)**(m.depth-1)} px)"
per_epoch = lambda: f"seconds per epoch, {args.threads} thread(s){', sections side by side on the 2 cores' if args.jobs>1 else ''}, bs {args.bs}"

def compare_rows(rows, learn, data, n, ram, fc_res, fc_name, mc):
    "The rows both digit sections report: RAM against FC, its Monte-Carlo evaluation, and seconds per epoch"
    curves = {'RAM, valid error per epoch': ram['curve'], f'{fc_name}, valid error per epoch': fc_res['curve']}
    rows.append(R(f'{DEF}, {retina(learn.model)}', data, sched(n), 'valid error', ram['err'], ram['dt']*n, fc_name, fc_res['err'],
                  fc_res['dt']*n, ratio_of='value', series=curves))
    rows.append(R(f'{DEF}, {retina(learn.model)}, Monte-Carlo evaluation ({args.n_samples} rollouts)', data,
                  'the RAM above, validated again', 'valid error', mc, None, fc_name, fc_res['err']))
    rows.append(R('RAM (above)', data+', 8k train + 2k valid', per_epoch(), None, None, ram['dt'], 'FC', None, fc_res['dt']))
    t = report.paired_test(ram['wrong'], fc_res['wrong'])
    rows.append(R('RAM (above) against FC, on the same valid digits', data,
                  f"exact McNemar test: digits only RAM gets wrong {t['only_model']}, only FC {t['only_base']}",
                  'two-sided p-value', t['p'], None, fc_name, None))

def plain():
    "28x28: FC and RAM on the 8k/2k split"
    res,rows = {},[]
    print("28x28, 8k train / 2k valid", flush=True)
    dls = MNISTGlimpseDataLoaders.from_mnist(bs=args.bs, seed=42)
    set_seed(42); res['fc'] = fit('FC', fc(dls), args.epochs)
    set_seed(42); learn = ram_learner(dls)
    res['spread0'] = loc_spread(learn)
    res['ram'] = fit('RAM', learn, args.epochs)
    res['ram_mc'] = mc_err(learn, args.n_samples); res['spread'] = loc_spread(learn)
    print(f"  RAM MC{args.n_samples}: {res['ram_mc']:.4f}, location spread {res['spread0']:.3f} -> {res['spread']:.3f}", flush=True)
    compare_rows(rows, learn, split+', 28x28', args.epochs, res['ram'], res['fc'], 'FC 784-256-256-10', res['ram_mc'])
    rows.append(R('RAM (above)', split+', 28x28', 'std of the eval-mode glimpse locations across 1000 valid images (steps 2-6), before -> after training',
                           'location std', f"{res['spread0']:.3f} -> {res['spread']:.3f}", None, 'untrained RAM', res['spread0'], ratio=res['spread']/res['spread0']))
    return res,rows

def translated():
    "Translated 60x60: FC and RAM, the glimpse-to-ink distance per epoch, the glimpse paths"
    res,rows = {},[]
    print("translated 60x60", flush=True)
    dlt = MNISTGlimpseDataLoaders.from_mnist(variant='translated', bs=args.bs, seed=42)
    set_seed(42); res['tfc'] = fit('translated FC', fc(dlt), args.t_epochs)
    set_seed(42); tram = ram_learner(dlt)
    res['tsteps0'],res['tdist0'] = glimpse_dists(tram)
    track = DistTrack(); tram.add_cb(track)
    res['tram'] = fit('translated RAM', tram, args.t_epochs)
    tram.remove_cb(track); res['tdist_curve'] = track.d
    res['tram_mc'] = mc_err(tram, args.n_samples); res['tsteps'],res['tdist'] = glimpse_dists(tram)
    print(f"  translated RAM MC{args.n_samples}: {res['tram_mc']:.4f}, last glimpse to ink centre {res['tdist0']:.1f} -> {res['tdist']:.1f} px", flush=True)
    fig = plot_glimpses(tram, n=4); fig.savefig(IMG/'ram_glimpses_translated.png', dpi=80); plt.close(fig)
    compare_rows(rows, tram, split+', translated 60x60 (new random places per training batch)', args.t_epochs, res['tram'], res['tfc'],
                 'FC 3600-256-256-10', res['tram_mc'])
    rows.append(R('RAM (above)', split+', translated 60x60', 'mean distance (px) from the last eval-mode glimpse to the digit\'s ink centre, 1000 valid images, before -> after training',
                           'distance (px)', res['tdist'], None, 'untrained RAM', res['tdist0'],
                           series={'last glimpse to the ink centre after each epoch (px)': res['tdist_curve'],
                                   'each eval-mode glimpse (1: the centre) to the ink centre, untrained (px)': res['tsteps0'],
                                   'each eval-mode glimpse (1: the centre) to the ink centre, trained (px)': res['tsteps']}))
    return res,rows

def fashion():
    "Fashion-MNIST: FC, a small CNN and RAM"
    res,rows = {},[]
    print("Fashion-MNIST, 60k train / 10k test", flush=True)
    dlf = MNISTGlimpseDataLoaders.from_fashion_mnist(bs=args.bs)
    for k,mk in (('ffc',fc), ('fcnn',cnn), ('fram',ram_learner)):
        set_seed(42); res[k] = fit('Fashion '+k[1:].upper(), mk(dlf), args.f_epochs)
    fs = 'Fashion-MNIST 60k train / 10k test'
    for k,name in (('fram',DEF+', 3 scales 8-32 px)'), ('fcnn','small CNN (conv 16-32, 128 ReLUs)')):
        curves = {'valid error per epoch': res[k]['curve']}
        if k=='fram': curves['FC 784-256-256-10, valid error per epoch'] = res['ffc']['curve']
        rows.append(R(name, fs, sched(args.f_epochs), 'valid error', res[k]['err'], res[k]['dt']*args.f_epochs,
                      'FC 784-256-256-10', res['ffc']['err'], res['ffc']['dt']*args.f_epochs, ratio_of='value', series=curves))
    return res,rows

if __name__=='__main__':
    todo = [f for f,n in ((plain, args.epochs), (translated, args.t_epochs), (fashion, args.f_epochs)) if n]
    done = {}
    def collect(f, out):
        "Keep a finished section's results and rows, and save all finished ones in the sections' order"
        done[f] = out
        res.clear(); jrows.clear()
        for g in sorted(done, key=todo.index): res.update(done[g][0]); jrows.extend(done[g][1])
        save()
    if args.jobs==1:
        for f in todo: collect(f, f())
    else:
        with ProcessPoolExecutor(args.jobs, mp_context=mp.get_context('spawn'), initializer=die_with_parent) as ex:
            futs = {ex.submit(f): f for f in todo}
            for fu in as_completed(futs): collect(futs[fu], fu.result())
    save(final=True)
