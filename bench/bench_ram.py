"""RAM benchmark (issue #5): RAM vs the paper's two-hidden-layer FC network on the offline 10k MNIST split.

Protocol: the 10k MNIST test digits split 80/20 (seed 42); both models trained in this run on the same
DataLoaders (random shifts of up to 2 px as augmentation on 28x28, new random canvas positions per batch on
60x60), `fit_one_cycle`, valid error reported. Writes bench/results/ram.md and the same figures as report rows in
bench/results/ram.json (bench/report.py); with `--no-plain`, ram_translated.md/.json.
Usage: python bench/bench_ram.py [--epochs 40] [--fc-epochs 20] [--t-epochs 3] [--threads 1] [--no-plain]
"""
import argparse, time, platform, os, sys
from pathlib import Path
import torch
from fastai.basics import *
from fastai.callback.all import *
from recfast.core import *
from recfast.ram.data import *
from recfast.ram.models import *
from recfast.ram.learner import *
from recfast.ram.interpret import glimpse_locations
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import report

p = argparse.ArgumentParser()
p.add_argument('--epochs', type=int, default=40)
p.add_argument('--fc-epochs', type=int, default=20)
p.add_argument('--t-epochs', type=int, default=3)
p.add_argument('--threads', type=int, default=1)
p.add_argument('--depth', type=int, default=2)
p.add_argument('--lr', type=float, default=3e-3)
p.add_argument('--no-plain', action='store_true', help='only the translated 60x60 comparison (writes ram_translated.md)')
args = p.parse_args()
torch.set_num_threads(args.threads)

def fit(learn, n, lr):
    t = time.time()
    with learn.no_bar(): learn.fit_one_cycle(n, lr)
    dt = (time.time()-t)/n
    err = learn.validate()[1]
    print(f"  {type(learn.model).__name__}: {n} epochs, {dt:.1f} s/epoch, valid error {err:.4f}", flush=True)
    return err, dt

def fc_learner(dls, n_in): return Learner(dls, FCNet(n_in), loss_func=CrossEntropyLossFlat(), metrics=error_rate, opt_func=FastAdam)

x,y = mnist_digits()
rows,jrows = [],[]
R = lambda *a, **k: jrows.append(report.row('ram', *a, **k))
split = 'MNIST 10k test digits, 80/20 split seed 42'
if not args.no_plain:
  print("28x28, 8k train / 2k valid", flush=True)
  dls = MNISTGlimpseDataLoaders.from_tensors(x, y, bs=64, max_shift=2, seed=42)
  dlp = MNISTGlimpseDataLoaders.from_tensors(x, y, bs=64, seed=42)
  set_seed(42); fcp_err,_ = fit(fc_learner(dlp, 784), args.fc_epochs, 1e-3)
  set_seed(42); fc_err,fc_dt = fit(fc_learner(dls, 784), args.fc_epochs, 1e-3)
  set_seed(42); learn = ram_learner(dls, n_glimpses=6, glimpse_size=8, depth=args.depth, scale=2, core='lstm')
  ram_err,ram_dt = fit(learn, args.epochs, args.lr)
  _,locs,_ = glimpse_locations(learn, n=2000)
  sd = locs.std(0).mean(-1)
  rows.append(('valid error, RAM 6 glimpses (8x8, depth %d, LSTM) vs FC 784-256-256-10' % args.depth,
               f'10k split 80/20 seed 42, 28x28, shifts<=2px, RAM {args.epochs} / FC {args.fc_epochs} epochs one-cycle',
               f'{ram_err:.2%}', f'{fc_err:.2%}', f'{ram_err/fc_err:.2f}'))
  rows.append(('valid error, RAM (above) vs FC 784-256-256-10 without shifts (the paper\'s FC)',
               f'same split, plain 28x28, FC {args.fc_epochs} epochs', f'{ram_err:.2%}', f'{fcp_err:.2%}', f'{ram_err/fcp_err:.2f}'))
  rows.append(('std of glimpse location across valid images, per step (RAM above)', 'eval mode (mean locations)',
               ' / '.join(f'{v:.3f}' for v in sd.tolist()), 'first step fixed at the centre', '-'))
  rows.append(('CPU seconds per epoch (8k train + 2k valid)', f'{args.threads} thread(s), shared 2-core machine, bs 64',
               f'{ram_dt:.1f} s', f'FC {fc_dt:.1f} s', f'{ram_dt/fc_dt:.1f}'))
  ram_model = f'RAM, 6 glimpses 8x8, depth {args.depth}, LSTM core'
  R(ram_model, split+', 28x28, training shifts <= 2 px', f'RAM {args.epochs} / FC {args.fc_epochs} epochs fit_one_cycle, bs 64',
    'valid error', ram_err, None, 'FC 784-256-256-10, same shifts', fc_err)
  R(ram_model, split+', 28x28', f"FC on plain digits (the paper's FC), {args.fc_epochs} epochs", 'valid error', ram_err, None,
    'FC 784-256-256-10 without shifts', fcp_err)
  R('RAM (above)', split, 'std of the glimpse location across valid images, per step, eval mode (mean locations)', 'location std per step',
    ' / '.join(f'{v:.3f}' for v in sd.tolist()), None, 'first step fixed at the centre')
  R('RAM (above)', split+', 8k train + 2k valid', f'seconds per epoch, {args.threads} thread(s), bs 64', None, None, ram_dt, 'FC', None, fc_dt)

if args.t_epochs:
    print("translated 60x60", flush=True)
    dlt = MNISTGlimpseDataLoaders.from_tensors(x, y, variant='translated', bs=64, seed=42)
    set_seed(42); tfc_err,_ = fit(fc_learner(dlt, 3600), args.t_epochs, 1e-3)
    set_seed(42); tram = ram_learner(dlt, n_glimpses=6, glimpse_size=12, depth=3, scale=2, core='lstm')
    tram_err,tram_dt = fit(tram, args.t_epochs, args.lr)
    rows.append(('valid error, translated 60x60: RAM 6 glimpses (12x12, depth 3) vs FC 3600-256-256-10',
                 f'same split, new random positions per batch, {args.t_epochs} epochs each', f'{tram_err:.2%}', f'{tfc_err:.2%}', f'{tram_err/tfc_err:.2f}'))
    R('RAM, 6 glimpses 12x12, depth 3, LSTM core', split+', translated 60x60 (new random positions per batch)', f'{args.t_epochs} epochs each',
      'valid error', tram_err, None, 'FC 3600-256-256-10', tfc_err)

opts = ' '.join(f"--{k.replace('_','-')} {v}" for k,v in vars(args).items())
machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared with other jobs during the run), torch {torch.__version__}"
md = ["# RAM benchmark (issue #5)", "", f"Machine: {machine}. Generated by `python bench/bench_ram.py` "
      f"({opts}).", "",
      "| what | protocol | number | baseline (same run) | ratio |", "|---|---|---|---|---|"]
md += [f"| {' | '.join(r)} |" for r in rows]
txt = '\n'.join(md)+'\n'
print(txt)
out = Path(__file__).parent/'results'/('ram_translated.md' if args.no_plain else 'ram.md')
out.parent.mkdir(exist_ok=True); out.write_text(txt)
report.save(jrows, out.with_suffix('.json'))
