"""Epoch time of every family's `RecLearner` against a plain PyTorch loop of the same model, loss, optimizer and
batches (issue 10: goal <= 1.15x each), and a plain fastai `Learner` with and without the opt-in fast path (`to_fast`).
One torch thread; each path is warmed up, then timed `REPEATS` times alternating with its baseline, best run kept.
Writes bench/results/families.json (rows for REPORT.md) and prints a table. `--quick`: a smoke run on little data.
`--device cuda`: loaders, models and batches of both paths on that device, timings synchronised; the rows (protocol
naming the device) go to `families_<device type>.json` in bench/results or `$BENCH_RESULTS` (`--quick`: only there)."""
import os, sys, warnings, argparse
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import report
from bench.report import row, save
import torch, numpy as np
from recfast.all import *

p = argparse.ArgumentParser(); p.add_argument('--quick', action='store_true'); p.add_argument('--repeats', type=int, default=3)
p.add_argument('--device', default=None, help="e.g. 'cuda': every path's loaders, model and batches there")
args = p.parse_args()
dev = torch.device(args.device) if args.device else None
def mv(m): return m.to(dev) if dev else m  # a plain loop's model on the loaders' device
def sync():
    if dev is not None and dev.type=='cuda': torch.cuda.synchronize(dev)
def timed(f, *a):
    "`report.timed`, the device synchronised before and after"
    sync(); r = report.timed(lambda: (f(*a), sync())[0]); return r
torch.set_num_threads(1)
warnings.simplefilter('ignore')
REPEATS = 1 if args.quick else args.repeats

def adamw(model, lr, wd=0.): return torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9,0.99), eps=1e-5, weight_decay=wd, fused=True)

def plain_epoch(model, dls, opt, loss_step, valid_step):
    "One training pass (forward, loss, backward, step) and one validation-loss pass, as a fastai epoch does"
    model.train()
    for b in dls.train: opt.zero_grad(); loss_step(*b).backward(); opt.step()
    model.eval()
    with torch.no_grad():
        for b in dls.valid: valid_step(*b)

def fastai_epoch(learn):
    with learn.no_bar(), learn.no_logging(): learn.fit(1, learn.lr)

def compare(name, learn, plain):
    "Warm both up, then time them alternately; the best of `REPEATS` each"
    fastai_epoch(learn); plain()
    a,b = [],[]
    for _ in range(REPEATS): a.append(timed(fastai_epoch, learn)[1]); b.append(timed(plain)[1])
    return min(a),min(b)

ml = movielens_100k(titles=False)
if args.quick: ml = ml[ml.user<=100]
trn,tst = (ml.iloc[:int(len(ml)*0.9)], ml.iloc[int(len(ml)*0.9):]) if args.quick else movielens_split()
rows,table = [],[]
ON = f', on {dev} ({torch.cuda.get_device_name(dev) if dev.type=="cuda" else "CPU"})' if dev else ''
def record(family, model, data, protocol, t_fast, t_plain):
    protocol += ON
    rows.append(row('families', model, data, protocol, time_s=t_fast, baseline='plain PyTorch loop, same model, loss and batches',
                    baseline_time_s=t_plain, suite=report.speed_suite('families', data), ratio_of='time'))
    table.append((family, t_fast, t_plain, t_fast/t_plain)); print(table[-1], flush=True)

# implicit: BilinearNet + BPR, one uniform negative per positive
idls = InteractionsDataLoaders.from_df(trn[['user','movie']], valid_df=tst[['user','movie']], bs=1024, seed=0,
                                      device=args.device)
ilearn = implicit_learner(idls, loss='bpr', metrics=[], seed=0, lr=1e-2, sampler='uniform')  # the plain loop's sampler
imodel = mv(BilinearNet.from_dls(idls, 128)); iopt = adamw(imodel, 1e-2); rl = RankLoss('bpr')
def ineg(u, i): return torch.cat([i[:,None], torch.randint(1, idls.n_items, (len(i),1), device=i.device)], 1)
t = compare('implicit', ilearn, lambda: plain_epoch(imodel, idls, iopt, lambda u,i: rl(imodel(u, ineg(u,i)), i), lambda u,i: rl(imodel(u, ineg(u,i)), i)))
record('implicit', 'implicit_learner (BilinearNet, BPR)', 'ML-100K ua.base/ua.test', 'one epoch: train + valid loss, bs 1024, 128 factors', *t)

# sequence: LSTM, BPR, negatives at every position
sdls = SequenceDataLoaders.from_df(ml[['user','movie','timestamp']], time_name='timestamp', max_len=50, seed=0, bs=256,
                                   device=args.device)
slearn = sequence_learner(sdls, arch='lstm', loss='bpr', metrics=[], seed=0, lr=1e-2)
smodel = mv(LSTMNet.from_dls(sdls, n_factors=32)); sopt = adamw(smodel, 1e-2)
def sneg(y): return torch.cat([y[...,None], torch.randint(1, sdls.n_items, (*y.shape,1), device=y.device)], -1)
t = compare('sequence', slearn, lambda: plain_epoch(smodel, sdls, sopt, lambda x,y: rl(smodel(x, sneg(y)), y), lambda x,y: rl(smodel(x, sneg(y)), y)))
record('sequence', 'sequence_learner (LSTM, BPR)', 'ML-100K sequences, 20% users held out', 'one epoch: train + valid loss, bs 256, max_len 50, 32 factors', *t)

# the default losses since issue 26: the full softmax over the catalogue (implicit, weight decay 1; SASRec)
sm = RankLoss('softmax')
ilearn = implicit_learner(idls, metrics=[], seed=0, lr=2e-2)  # loss=None: 'softmax', wd 1
imodel = mv(BilinearNet.from_dls(idls, 128)); iopt = adamw(imodel, 2e-2, 1.)
t = compare('implicit softmax', ilearn, lambda: plain_epoch(imodel, idls, iopt, lambda u,i: sm(imodel(u, 'all'), i), lambda u,i: sm(imodel(u, 'all'), i)))
record('implicit softmax', 'implicit_learner, full softmax (BilinearNet, the default)', 'ML-100K ua.base/ua.test', 'one epoch: train + valid loss, bs 1024, 128 factors', *t)
slearn = sequence_learner(sdls, arch='sasrec', metrics=[], seed=0, lr=3e-3)  # loss=None: 'softmax'
set_seed(0); smodel = mv(SASRecNet.from_dls(sdls, n_factors=32)); sopt = adamw(smodel, 3e-3)
t = compare('sasrec softmax', slearn, lambda: plain_epoch(smodel, sdls, sopt, lambda x,y: sm(smodel(x, 'all'), y), lambda x,y: sm(smodel(x, 'all'), y)))
record('sasrec softmax', 'sequence_learner, SASRec + full softmax (the default)', 'ML-100K sequences, 20% users held out', 'one epoch: train + valid loss, bs 256, max_len 50, 32 factors', *t)

# autoencoder: deep SELU autoencoder, masked MSE
adls = SparseVectorDataLoaders.from_df(ml[['user','movie','rating']], by='item', seed=42, bs=64,
                                      device=args.device or 'cpu')
alearn = autoencoder_learner(adls, arch='deep', lr=1e-3)
amodel = mv(DeepAutoEncoder(adls.n_cols, [512,512,1024], dropout=0.8, y_range=adls.rating_range))
aopt = adamw(amodel, 1e-3, 1e-3); ml_ = MaskedMSELoss()
t = compare('autoencoder', alearn, lambda: plain_epoch(amodel, adls, aopt, lambda x,y: ml_(amodel(x), y), lambda x,y: ml_(amodel(x), y)))
record('autoencoder', 'autoencoder_learner (deep, 944-512-512-1024-512-512-944)', 'ML-100K item vectors, 90/10', 'one epoch: train + valid loss, bs 64', *t)

# RAM: the hybrid loss of ReinforceCallback, written out
x,y = mnist_digits()
if args.quick: x,y = x[:1000],y[:1000]
rdls = MNISTGlimpseDataLoaders.from_tensors(x, y, seed=42, bs=64, device=args.device)
rlearn = ram_learner(rdls, lr=1e-3, core='lstm', std=0.1, reward='correct', rollouts=1, loc_lr_mult=1,  # the settings of the saved rows
                     loss_func=CrossEntropyLossFlat())  # (0/1 reward, learned baseline, one learning rate, plain cross-entropy like the loop below)
import copy; rmodel = mv(copy.deepcopy(rlearn.model)); ropt = adamw(rmodel, 1e-3); ce = nn.CrossEntropyLoss()
def ram_loss(xb, yb):
    xb,yb = xb.as_subclass(Tensor),yb.as_subclass(Tensor)  # what fastai's `CastToTensor` does
    logits,log_pi,bl,*_ = rmodel(xb)
    if not rmodel.training: return ce(logits, yb)
    r = (logits.argmax(-1)==yb).float()[:,None]
    return ce(logits, yb) - (log_pi*(r-bl.detach())).sum(1).mean() + F.mse_loss(bl, r.expand_as(bl))
t = compare('ram', rlearn, lambda: plain_epoch(rmodel, rdls, ropt, ram_loss, ram_loss))
record('ram', 'ram_learner (RecurrentAttention, REINFORCE)', 'MNIST 10k test digits, 80/20', 'one epoch: train + valid loss, bs 64', *t)

# a plain fastai Learner, with and without the opt-in fast path, on the fastbook protocol's model and batches
cdls = RatingsDataLoaders.from_df(ml[['user','movie','rating']], seed=42, bs=64, device=args.device)
def dot(): set_seed(0); return DotProductBias(cdls.n_users, cdls.n_items, 50)
plain_l = Learner(cdls, dot(), loss_func=FastMSELossFlat(), opt_func=FastAdam, lr=5e-3, wd=0.1)
fast_l = to_fast(Learner(cdls, dot(), loss_func=FastMSELossFlat(), opt_func=FastAdam, lr=5e-3, wd=0.1))
cmodel = mv(dot()); copt = adamw(cmodel, 5e-3, 0.1)
t = compare('fastai Learner + to_fast', fast_l, lambda: plain_epoch(cmodel, cdls, copt, lambda x,y: F.mse_loss(cmodel(x), y), lambda x,y: F.mse_loss(cmodel(x), y)))
record('collab, to_fast', 'fastai Learner + to_fast (DotProductBias)', 'ML-100K ratings, 80/20', 'one epoch: train + valid loss, bs 64, 50 factors', *t)
t2 = compare('fastai Learner', plain_l, lambda: None)
rows.append(row('families', 'fastai Learner + to_fast (DotProductBias)', 'ML-100K ratings, 80/20',
                'one epoch: train + valid loss, bs 64, 50 factors'+ON,
                time_s=t[0], baseline='the same fastai Learner without to_fast', baseline_time_s=t2[0],
                suite=report.speed_suite('families', 'ML-100K ratings, 80/20'), ratio_of='time'))
table.append(('fastai Learner without to_fast', t2[0], t[1], t2[0]/t[1])); print(table[-1])

print('\n| family | recfast epoch (s) | plain loop (s) | ratio |\n|---|---|---|---|')
for f,a,b,r in table: print(f'| {f} | {a:.2f} | {b:.2f} | {r:.2f} |')
if dev is None:
    if not args.quick: save(rows, 'families')
elif not args.quick or os.environ.get('BENCH_RESULTS'): save(rows, f'families_{dev.type}')
