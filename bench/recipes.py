"""Recipes more than one bench script reads, and how each is chosen: a module with no side effects (importing a bench
script runs it). Next-item prediction (bench_next_item.py's protocol): each sequence arch's hand recipe (`NEXT_ITEM`),
replaced by its `tune` study's best where that won on valid beyond the seeds' spread (`next_item`); bench_frontier.py
and bench_tune.py fit the same recipes."""
from bench import report

# The next-item recipes before `tune`: the valid-best of each arch in a hand grid of fifteen rounds (bench_next_item.py
# before issue #30's `tune`, commit 05ab227: lr, epochs, weight decay, batch size, the training windows and SASRec's
# blocks, heads and dropout, each round around the last one's winner, every close call refitted with seeds 0-2). Its
# rows stay in next_item_tuning.json: the chapter's findings on the windows cite them. The windows (`max_len`, `step`)
# and the batch size are the loaders', which `tune` does not search: the studies keep each arch's.
NEXT_ITEM = {'sasrec': dict(loss='softmax', n_factors=64, epochs=20, lr=1.5e-2, wd=0.3,
                            model_kwargs={'p':0.3, 'n_heads':2, 'n_layers':1}, bs=32, max_len=25),
             'lstm': dict(loss='softmax', n_factors=64, epochs=10, lr=1.5e-2, wd=0.3, bs=32, max_len=25, step=12),
             'cnn': dict(loss='softmax', n_factors=64, epochs=10, lr=5e-3, wd=0.3, bs=32, max_len=25),
             'pool': dict(loss='softmax', n_factors=64, epochs=20, lr=9e-2, wd=0.)}
MAX_LEN,BS = 50,128  # the windows and batch size of a recipe that names none
WINDOW = ('bs', 'max_len', 'step')  # the loaders' knobs
NEXT_ITEM_STUDIES = report.RESULTS/'next_item_tuning'
CONF = 'valid NDCG@10, 3 seeds'  # the metric `next_item` decides on: bench_next_item.py's `--confirm` rows

def window_text(r):
    "The loaders' settings recipe `r` names, as the end of its rows' `recipe` text"
    bs = f", bs {r['bs']}" if r.get('bs', BS)!=BS else ''  # (BS unless searched: the rows before `bs` was a knob)
    return bs + ''.join(f', {k} {r[k]}' for k in ('max_len', 'step') if k in r)  # (MAX_LEN, no overlap, unless named)

def rstr(r):
    "A next-item recipe as the `recipe` text of its rows"
    mk = ''.join(f', {k} {v}' for k,v in r.get('model_kwargs', {}).items())  # SASRec's own options, when searched
    return (f"{r['loss']} loss, {r['n_factors']} factors{mk}, fit_one_cycle({r['epochs']}, {r['lr']:g}), wd {r['wd']}"
            f"{window_text(r)}")

def windows(r):
    "`(bs, max_len, step)` of the training loaders of recipe `r`"
    return r.get('bs', BS),r.get('max_len', MAX_LEN),r.get('step')

def learner_args(r):
    "The arguments of `sequence_learner` in recipe `r` (its windows are the loaders', its epochs and lr the fit's)"
    return {k: v for k,v in r.items() if k not in (*WINDOW, 'epochs', 'lr')}

def next_item_study(a):
    "The best trial of arch `a`'s next-item study as a recipe, the hand recipe's windows kept (`None` without a study)"
    s = report.study(NEXT_ITEM_STUDIES/f'study_{a}.json')
    if s is None: return None
    r = s['recipe']
    return {k: NEXT_ITEM[a][k] for k in WINDOW if k in NEXT_ITEM[a]} | r['kwargs'] | {'epochs': r['epochs'],
                                                                                     'lr': r['lr']}

def next_item_rows(rows, a, metric):
    "`{recipe text: row}` of arch `a`'s rows of `metric` among `rows` (next_item_tuning.json's)"
    return {r.get('recipe'): r for r in rows if r['model']==f'sequence_learner({a!r})' and r['metric']==metric}

def next_item(a):
    """Arch `a`'s next-item recipe: its study's best where, refitted with seeds 0-2, its mean valid NDCG@10 beats the
    hand recipe's by more than either's spread over the seeds (a study's best is picked among many one-seed trials:
    optimistic), else the hand recipe"""
    conf = next_item_rows(report.saved('next_item_tuning'), a, CONF)  # (bench_next_item.py --confirm's rows)
    return report.study_or_hand(NEXT_ITEM[a], next_item_study(a), conf, rstr, a)
