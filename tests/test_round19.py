"Hostile review round 15 (fix 16): each bad input is refused by name, warned with a count, or handled correctly."
import numpy as np, pandas as pd, pytest, torch
from fastai.data.all import DataBlock, RegressionBlock, ColReader, RandomSplitter, IndexSplitter
from recfast.all import *

torch.set_num_threads(1)

from tests.hostile import S, S3, _quiet, _messages, _fit, T30, TT30, _cli

T = T30
TT = TT30

def _ratings_block():
    return DataBlock(blocks=(RatingsBlock('user','movie'), RegressionBlock()), get_y=ColReader('rating'),
                     splitter=RandomSplitter(seed=0)).dataloaders(T(), bs=64)

def _sequence_block():
    seqs = pd.DataFrame({'items': [[5,6,7,8], [6,7], [8,5,6], [7,8,5]]*10})
    return DataBlock(blocks=(SequenceBlock(max_len=3, shift=True), SequenceBlock(max_len=3)), get_x=ColReader('items'),
                     get_y=ColReader('items'), splitter=IndexSplitter(range(4))).dataloaders(seqs, bs=4)

# b5#1 (+b5#2): `recfast_learner` hands DataBlock loaders to the factory, as `dot_learner(B)` takes them
def test_recfast_learner_datablock_loaders():
    B = _quiet(_ratings_block)
    for arch in ('dot', 'mlp', 'nn'):
        learn = _fit(_quiet(recfast_learner, B, arch=arch))
        assert type(learn.model) is type(_quiet(dot_learner if arch=='dot' else mlp_learner, B).model)
    with pytest.raises(TypeError, match=r"^`sequence_learner` needs SequenceDataLoaders \(build them with "
                       r"`SequenceDataLoaders.from_df`\) or DataBlock loaders of `SequenceBlock`s, got DataLoaders of "
                       r"other blocks$"): recfast_learner(B, arch='lstm')
    with pytest.raises(TypeError, match='got DataLoaders of other blocks'): sequence_learner(B)  # (it built, then
    # failed in `fit` with an index dtype error)
    with pytest.raises(TypeError, match=r'`ease_learner` needs InteractionsDataLoaders'): recfast_learner(B, arch='ease')
    Q = _quiet(_sequence_block)
    _fit(recfast_learner(Q, arch='pool'))
    with pytest.raises(TypeError, match=r'Need ratings DataLoaders \(`RatingsDataLoaders.from_df`/`RatingsBlock`\)'):
        recfast_learner(Q, arch='dot')
    d = _quiet(RatingsDataLoaders.from_df, T(), seed=0)  # recfast loaders of another family: refused with the archs
    with pytest.raises(TypeError, match=r"arch='lstm' trains on SequenceDataLoaders, not RatingsDataLoaders; the "
                                        r"archs for these loaders: 'dot', 'nn', 'mlp'$"): recfast_learner(d, arch='lstm')

# cli#25 (+cli#24): two column options naming one column are said in option terms, before the columns are read
def test_cli_column_options_clash(tmp_path, capsys):
    TT().to_csv(tmp_path/'st.csv', index=False)
    run = lambda *a: _cli(['train', '--data', tmp_path/'st.csv', '--epochs', 1, '--out', tmp_path/'o', *a], capsys)
    rc,err = run('--rating-col', 'user')
    assert rc!=0 and err.strip().endswith("error: --rating-col user is also the user column (--user-col, by default "
                                          "the first column)"), err
    rc,err = run('--user-col', 'user', '--item-col', 'user')
    assert rc!=0 and err.strip().endswith("error: --item-col user is also the user column (--user-col)"), err
    rc,err = run('--user-col', 'rating')
    assert rc!=0 and "--user-col rating is also the rating column (--rating-col, by default the third" in err, err
    rc,err = run('--arch', 'lstm', '--time-col', 'movie')
    assert rc!=0 and "--time-col movie is also the item column (--item-col, by default the second column)" in err, err

# cli#17: an empty --sep is refused by name (it was pandas' Py_UCS4 error)
def test_cli_empty_sep(tmp_path, capsys):
    T().to_csv(tmp_path/'s.csv', index=False)
    rc,err = _cli(['train', '--data', tmp_path/'s.csv', '--sep', '', '--epochs', 1], capsys)
    assert rc!=0 and err.strip().endswith("error: --sep '': pass one character (e.g. --sep ',')"), err
    with pytest.raises(ValueError, match=r"^`sep` must be a non-empty string, got ''$"):
        RatingsDataLoaders.from_csv(tmp_path/'s.csv', sep='')

# cli#19 (+b6#2): UTF-16/32 asked of a UTF-8 file: the file, the encoding and the one to try, not the codec's error
def test_wrong_wide_encoding(tmp_path, capsys):
    T().to_csv(tmp_path/'s.csv', index=False)
    with pytest.raises(ValueError, match=r"s.csv is not utf-16 text \(no BOM\): try encoding='utf-8'$"):
        RatingsDataLoaders.from_csv(tmp_path/'s.csv', encoding='utf-16', seed=0)
    with pytest.raises(ValueError, match=r"s.csv is not utf-32 text .*: pass its encoding, e.g. encoding='utf-8'$"):
        RatingsDataLoaders.from_csv(tmp_path/'s.csv', encoding='utf-32', seed=0)
    rc,err = _cli(['train', '--data', tmp_path/'s.csv', '--encoding', 'utf-16', '--epochs', 1], capsys)
    assert rc!=0 and err.strip().endswith("s.csv is not utf-16 text (no BOM): try --encoding utf-8"), err
    rc,err = _cli(['train', '--data', tmp_path/'s.csv', '--encoding', 'utf-32', '--epochs', 1], capsys)
    assert rc!=0 and "s.csv is not utf-32 text (" in err and err.strip().endswith("try --encoding utf-8"), err
    T().to_csv(tmp_path/'w.csv', index=False, encoding='utf-16')  # (with a BOM: read)
    assert _quiet(RatingsDataLoaders.from_csv, tmp_path/'w.csv', encoding='utf-16', seed=0).n_users==31

# b1#33: an index that copies a column (`set_index(c, drop=False)`) is no sign that ids hide in it
def test_index_copying_a_column_not_warned():
    df = T().set_index(T().user.rename('user'))
    d,msgs = _messages(lambda: RatingsDataLoaders.from_df(df, seed=0))
    assert not any('index is named' in m for m in msgs), msgs
    assert d.n_users==31
    _,msgs = _messages(lambda: RatingsDataLoaders.from_df(T().rename_axis('row'), seed=0))  # another name: warned
    assert any("The frame's index is named 'row'" in m for m in msgs), msgs

# b3#43: many rows over the limit are the column's scale (rescale it), not outliers to drop
def test_large_share_over_limit_is_scale():
    df = T().assign(rating=np.where(T().index%10==0, 2e6, 0.0))
    _,msgs = _messages(lambda: RatingsDataLoaders.from_df(df, seed=0))
    m = [m for m in msgs if 'swamps a squared-error loss' in m]
    assert len(m)==1 and m[0]==(f"Column 'rating' has magnitudes from 0 to 2e+06, {(df.rating>0).sum()} of its "
                                f"{len(df)} ratings (10%) over 1e+06 (1e6 times the median magnitude): that scale "
                                "swamps a squared-error loss; rescale the column (e.g. divide it by 2e+06, or take its "
                                "log)"), m
    assert 'drop' not in m[0] and 'outlying' not in m[0]
    one = T().assign(rating=np.where(T().index==3, 4e7, T().rating))  # one row among stars: still an outlier
    _,msgs = _messages(lambda: RatingsDataLoaders.from_df(one, seed=0))
    assert any("has 1 outlying ratings, over 4e+06" in m and 'drop or fix them' in m for m in msgs), msgs
    for ok in (T(), T().assign(rating=(T().rating>3).astype(float))):  # stars, 0/1: nothing
        _,msgs = _messages(lambda: RatingsDataLoaders.from_df(ok, seed=0))
        assert not any('swamps' in m for m in msgs), msgs

# round 15's notes (b3#14-18): an exported learner's advice leads to what works
def test_exported_learner_advice(tmp_path):
    d = _quiet(RatingsDataLoaders.from_df, T(), seed=0)
    learn = _fit(_quiet(dot_learner, d, n_factors=4))
    learn.export(tmp_path/'m.pkl')
    l2 = _quiet(load_learner, tmp_path/'m.pkl')
    with pytest.raises(ValueError, match=r"^`get_preds`: the validation set is empty \(an exported learner keeps no "
                       r"rows\): score rows with `learn.predict_pairs\(df\)`, or get metrics with "
                       r"`learn.evaluate\(df\)`$"): l2.get_preds()
    assert len(l2.predict_pairs(T().head(3)))==3 and l2.evaluate(T().head(50))['rows']==50
    with pytest.raises(ValueError, match=r"^No training batches: the training set is empty \(an exported learner "
                       r"keeps no rows\): set `learn.dls` to loaders built again from the data it was trained on, "
                       r"e.g. `learn.dls = RatingsDataLoaders.from_df\(df, ...\)` \(`load_learner_safe\(folder, "
                       r"dls=dls\)` also checks their ids\)$"):
        with l2.no_bar(), l2.no_logging(): l2.fit(1)
    l2.dls = _quiet(RatingsDataLoaders.from_df, T(), seed=1)  # what it advises works
    _fit(l2); assert len(l2.get_preds()[0])==len(l2.dls.valid.dataset)
    empty = _quiet(RatingsDataLoaders.from_df, T(), valid_pct=0.2, seed=0)
    l3 = _quiet(dot_learner, empty, n_factors=4)  # (not exported: a training set with rows, `dl=` still advised)
    l3.dls.valid.dataset.ts = tuple(t[:0] for t in l3.dls.valid.dataset.ts)
    with pytest.raises(ValueError, match=r"the validation set is empty: pass `dl=`, or score with `predict_pairs"):
        l3.get_preds()

# the docs build sequence loaders from MovieLens without its rating column: no "is not read" warning in them
def test_sequence_docs_no_unread_rating_warning():
    import json
    nb = json.load(open('nbs/tutorial.sequences.ipynb'))
    code = [''.join(c['source']) for c in nb['cells'] if c['cell_type']=='code']
    cells = [c for c in code if c.startswith(('ml = movielens_100k', 'dls = SequenceDataLoaders.from_df'))]
    assert len(cells)==2, cells
    ns = {}
    exec('from recfast.all import *', ns)
    _,msgs = _messages(lambda: [exec(c, ns) for c in cells])
    assert 'rating' in ns['ml'].columns and not any('is not read' in m for m in msgs), msgs
