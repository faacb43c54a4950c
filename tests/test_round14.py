"Hostile review round 11 (hostile27): each bad input is refused by name, warned with a count, or handled correctly."
import functools, json, warnings
import numpy as np, pandas as pd, pytest, torch
from recfast.all import *
from recfast.cli import main

torch.set_num_threads(1)

from tests.hostile import S, S3, _quiet, _messages, _fit

def T(): return S3()[S3().user<=20].reset_index(drop=True)

@functools.cache
def rd(): return _quiet(RatingsDataLoaders.from_df, T(), seed=0)

def _rows(learn):
    "The RowL2 callback's hooks on the user embedding"
    return len(learn.model.u_weight._forward_hooks)

# b1#22: `learn.compile()` and `RowL2` (forward hooks a compiled model skips) are refused together, either order
def test_compile_and_row_l2_refused():
    with pytest.raises(ValueError, match='RowL2 reads the embedding rows through forward hooks'):
        dot_learner(rd(), n_factors=4, l2=0.5).compile(backend='eager')
    L = dot_learner(rd(), n_factors=4).compile(backend='eager')
    with pytest.raises(ValueError, match='train without `learn.compile'): L.fit(1, 1e-3, cbs=[RowL2(5.)])

# b1#8: a fit ended by an exception leaves no hook behind: the next fit applies the penalty once
def test_row_l2_hooks_removed_after_an_interrupted_fit():
    class Boom(Callback):
        def before_batch(self):
            if self.iter==1 and self.training: raise KeyboardInterrupt
    L = dot_learner(rd(), n_factors=4, l2=0.5)
    with pytest.raises(KeyboardInterrupt): L.fit(1, 1e-3, cbs=[Boom()])
    seen = []
    class Count(Callback):
        def after_pred(self): seen.append(len(self.learn.cbs.filter(lambda c: isinstance(c, RowL2))[0].rows))
    _fit(L.add_cb(Count()))
    assert set(seen[:3])=={4}, seen[:3]  # u, i, u bias, i bias: one hook each, not two
    assert _rows(L)==0  # and none left after the fit

# b1#5: `l2=` with a `RowL2` in `cbs` (or two at fit) is refused, not applied twice
def test_row_l2_twice_refused():
    with pytest.raises(ValueError, match='holds one too: pass one of them'):
        dot_learner(rd(), n_factors=4, l2=0.05, cbs=[RowL2(0.05)])
    L = dot_learner(rd(), n_factors=4, l2=0.05)
    with pytest.raises(ValueError, match='2 `RowL2` callbacks'): L.fit(1, 1e-3, cbs=[RowL2(0.1)])

# b3#3: a `RankMetric` set after the learner is built is checked when `fit` starts, not after an epoch
def test_metrics_set_later_checked_at_fit():
    d = _quiet(InteractionsDataLoaders.from_df, T()[['user','movie']], seed=0)
    L = implicit_learner(d, n_factors=4)
    L.metrics = [RankMetric(precision_at_k, k=5000)]
    with pytest.raises(ValueError, match=f'`k`=5000 is larger than the {d.n_items-1} items'): L.fit(1, 1e-3)

# b3#23: implicit loaders only compare the rating column with `threshold`: no squared-error overflow check
def test_implicit_threshold_large_values():
    df = T().astype({'rating':float}).assign(rating=lambda x: x.rating*1e30)
    d = _quiet(InteractionsDataLoaders.from_df, df, threshold=4e30, seed=0)
    assert len(d.train.dataset)+len(d.valid.dataset)==int((df.rating>=4e30).sum())
    with pytest.raises(ValueError, match='square overflows float32'): RatingsDataLoaders.from_df(df, seed=0)

# cli#17: the CLI's default y_range covers every row of the file, whatever the split
def test_cli_y_range_from_every_row(tmp_path, capsys):
    df = pd.concat([T(), pd.DataFrame({'user':[1], 'movie':[99999], 'rating':[10]})], ignore_index=True)
    df.to_csv(tmp_path/'one10.csv', index=False)
    for seed in ('1', '7'):
        assert main(['train', '--data', str(tmp_path/'one10.csv'), '--arch', 'dot', '--epochs', '1', '--n-factors', '4',
                     '--seed', seed, '--out', str(tmp_path/f'm{seed}')]) == 0, capsys.readouterr().err

# cli#21: `--implicit` gets no warning that the rating column is not read (the flag says exactly that)
def test_cli_implicit_no_unread_warning(tmp_path, capsys):
    T().to_csv(tmp_path/'s.csv', index=False)
    assert main(['train', '--data', str(tmp_path/'s.csv'), '--arch', 'multdae', '--epochs', '1', '--implicit',
                 '--out', str(tmp_path/'m')]) == 0
    err = capsys.readouterr().err
    assert 'is not read' not in err and 'implicit=False' not in err, err

# b4#7: `dls.held` on every recfast loaders: the held-out pairs (`valid_seen` where the family keeps no other)
def test_held_on_every_loaders():
    d = rd()
    assert d.held is d.valid_seen and d.held.nnz==len(d.valid.dataset)
    st = S()[S().user<=30][['user','movie','timestamp']]
    sd = _quiet(SequenceDataLoaders.from_df, st, time_name='timestamp', split='last', seed=0)
    assert sd.held is not sd.valid_seen and sd.held.nnz==30  # the sequence loaders' own: one last item per user
