"""Issue #29: what data-parallel training sends per step as the catalogue grows, dense against sparse embedding gradients.

Two CPU processes (gloo), PyTorch DDP around one `nn.Embedding(n_rows, 64)` (dense gradients, or `sparse=True`), a
batch of 1,024 random rows per process and step, SGD. For 10k, 100k and 1M rows: the bytes of the gradient each
process holds after the collective, per step (dense: the whole table, all-reduced; sparse: the indices and rows of
every process's batch, all-gathered) and the wall seconds per step (mean of 20 steps after 3 warm-ups, rank 0). Writes
bench/results/ddp_bytes.json. Usage: python bench/bench_ddp_bytes.py [--rows 10000,100000,1000000]"""
import os, sys, socket, argparse
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch, torch.distributed as dist, torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP

D,BS,STEPS,WARM = 64,1024,20,3

def worker(rank, world, port, rows, q):
    from bench import report
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world)
    res = []
    for n in rows:
        for sparse in (False, True):
            torch.manual_seed(0)
            emb = DDP(torch.nn.Embedding(n, D, sparse=sparse))
            opt = torch.optim.SGD(emb.parameters(), lr=0.1)
            g = torch.Generator().manual_seed(rank)
            times,nbytes = [],0
            for step in range(WARM+STEPS):
                idx = torch.randint(0, n, (BS,), generator=g)
                dist.barrier(); sw = report.Stopwatch()
                opt.zero_grad(); emb(idx).pow(2).sum().backward(); opt.step()
                dt = sw()
                if step>=WARM: times.append(dt)
                gr = emb.module.weight.grad
                nbytes = (gr._indices().numel()*gr._indices().element_size() + gr._values().numel()*4 if gr.is_sparse
                          else gr.numel()*gr.element_size())
            res.append(dict(rows=n, sparse=sparse, bytes=nbytes, step_s=sum(times)/len(times)))
            del emb, opt
    if rank==0: q.put(res)
    dist.destroy_process_group()

def main():
    p = argparse.ArgumentParser(); p.add_argument('--rows', default='10000,100000,1000000'); a = p.parse_args()
    rows = [int(r) for r in a.rows.split(',')]
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    ctx = mp.get_context('spawn'); q = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(r, 2, port, rows, q)) for r in range(2)]
    for pr in procs: pr.start()
    res = q.get()
    for pr in procs: pr.join()
    from bench import report
    data = f'nn.Embedding(n, {D}) under DDP, 2 CPU processes (gloo), bs {BS} random rows per process and step'
    out = []
    for n in rows:
        d,s = (next(r for r in res if r['rows']==n and r['sparse']==sp) for sp in (False, True))
        print(f"{n:>9,} rows: dense {d['bytes']/1e6:8.2f} MB {d['step_s']*1e3:8.1f} ms/step | "
              f"sparse {s['bytes']/1e6:6.2f} MB {s['step_s']*1e3:7.1f} ms/step", flush=True)
        for r,base in ((d, None), (s, d)):
            kind = 'sparse' if r['sparse'] else 'dense'
            b = () if base is None else ('dense gradients, same run', None, base['step_s'])
            size = f'{n//10**6}M' if n>=10**6 else f'{n//1000}k'
            out.append(report.row('ddp_bytes', f'{kind} gradients, {size} rows', data,
                                  'seconds per step (forward, backward with the collective, SGD step), mean of 20',
                                  'gradient MB per process per step', r['bytes']/1e6, r['step_s'], *b, ratio_of='time',
                                  suite=report.speed_suite('ddp_bytes', data)))
    report.save(out, 'ddp_bytes')

if __name__=='__main__': main()
