"Hostile review round 14: each bad input is refused by name, warned with a count, or handled correctly."
import numpy as np, pandas as pd, pytest, torch
from fastai.tabular.all import DataBlock, RegressionBlock, ColReader, RandomSplitter, ClassificationInterpretation
from recfast.all import *

torch.set_num_threads(1)

from tests.hostile import S3, _quiet, _messages, _fit, T30, _cli

T = T30

def _dot():
    d = _quiet(RatingsDataLoaders.from_df, T(), seed=0)
    return d, _fit(_quiet(dot_learner, d, n_factors=4))


# b5#21: fold_in rows on items with no training row (untrained embeddings) are counted in a warning
def test_fold_in_untrained_items_warned():
    d,learn = _dot()
    cold = [d.items[i] for i in torch.where(d.seen.col_counts()==0)[0].tolist() if i>0][:2]
    _,msgs = _messages(lambda: learn.fold_in(pd.DataFrame({'user':[9001]*2, 'movie':cold, 'rating':[5,5]})))
    assert any('fold_in: 2 of 2 rows are on movies with no training row' in m and 'untrained' in m for m in msgs), msgs
    warm = T()[T().movie.isin(d.items.items[1:]) & (d.seen.col_counts()[d.encode_items(T().movie)]>0).numpy()]
    _,msgs = _messages(lambda: learn.fold_in(warm.head(3).assign(user=9002)))
    assert not any('no training row' in m for m in msgs), msgs

# cli#1, cli#19: --sep/--encoding on Parquet (or the built-in data), --epochs/--lr/--wd on a closed form are refused
def test_cli_inapplicable_options(tmp_path, capsys):
    T().to_parquet(tmp_path/'s.parquet'); T().to_csv(tmp_path/'s.csv', index=False)
    rc,err = _cli(['train', '--data', tmp_path/'s.parquet', '--sep', ';', '--epochs', 1, '--n-factors', 4], capsys)
    assert rc!=0 and '--sep applies to CSV files' in err and 'is Parquet' in err, err
    rc,err = _cli(['train', '--data', tmp_path/'s.parquet', '--encoding', 'latin-1', '--epochs', 1], capsys)
    assert rc!=0 and '--encoding applies to CSV files' in err, err
    rc,err = _cli(['evaluate', '--data', tmp_path/'s.parquet', '--sep', ';'], capsys)
    assert rc!=0 and '--sep applies to CSV files' in err, err
    for arch,opt,v in (('ease','--epochs',3), ('itemknn','--lr',0.1), ('ials','--epochs',2), ('pop','--wd',0.1)):
        rc,err = _cli(['train', '--data', tmp_path/'s.csv', '--arch', arch, opt, v, '--out', tmp_path/'o'], capsys)
        assert rc!=0 and f'{opt}: {arch} is solved in closed form' in err, err
    rc,err = _cli(['train', '--data', tmp_path/'s.csv', '--arch', 'ease', '--out', tmp_path/'o'], capsys)  # defaults
    assert rc==0 and 'closed form' not in err, err

# cli#5, cli#10, cli#14, cli#21: the CLI's errors name its options (--k, --lr, --threshold, --seed), not Python's
def test_cli_errors_name_options(tmp_path, capsys):
    T().to_csv(tmp_path/'s.csv', index=False)
    rc,err = _cli(['train', '--data', tmp_path/'s.csv', '--seed', -1], capsys)
    assert rc!=0 and '--seed -1: must be a non-negative int' in err and 's.csv' not in err, err
    rc,err = _cli(['train', '--data', tmp_path/'s.csv', '--arch', 'implicit', '--threshold', 6, '--epochs', 1], capsys)
    assert rc!=0 and 'check --threshold 6.0 and --valid-pct 0.2' in err and '`' not in err, err
    rc,err = _cli(['train', '--data', tmp_path/'s.csv', '--lr', 100, '--epochs', 1, '--out', tmp_path/'o'], capsys)
    assert rc!=0 and 'lower --lr' in err and 'lr_find' not in err, err
    rc,err = _cli(['evaluate', '--model', tmp_path/'nothing', '--data', tmp_path/'s.csv', '--k', 0], capsys)
    assert rc!=0 and '--k 0: must be at least 1' in err, err
    rc,err = _cli(['tune', '--data', tmp_path/'s.csv', '--seed', -2], capsys)
    assert rc!=0 and '--seed -2' in err, err

def test_cli_translates_backticked_options():
    from recfast.cli import _say
    import io, contextlib
    f = io.StringIO()
    with contextlib.redirect_stderr(f): _say('evaluate', 'error', '`k` must be a positive int, got 0; `learn.x()` kept')
    assert f.getvalue().strip()=='recfast evaluate: error: --k must be a positive int, got 0; `learn.x()` kept'

# cli#27: --implicit is not offered to AutoRec (it predicts ratings): refused up front, with the archs for clicks
def test_cli_implicit_autorec_refused(tmp_path, capsys):
    T().to_csv(tmp_path/'s.csv', index=False)
    for arch in ('autorec', 'deep', 'autoencoder'):
        rc,err = _cli(['train', '--data', tmp_path/'s.csv', '--arch', arch, '--implicit', '--epochs', 1], capsys)
        assert rc!=0 and f'--implicit: {arch} predicts ratings; for clicks use --arch multdae or multvae' in err, err
    assert 'implicit' in arch_info('multvae')['cli'] and 'implicit' not in arch_info('autorec')['cli']

# b10#10, b10#14: tta and ClassificationInterpretation are refused on recfast loaders, with the reason
def test_tta_and_classification_interpretation_refused():
    _,learn = _dot()
    with pytest.raises(TypeError, match='`tta` averages predictions over augmented inputs'): learn.tta()
    with pytest.raises(AttributeError, match='a recommender is not a classifier.*RecInterpretation'):
        with learn.no_bar(): ClassificationInterpretation.from_learner(learn)

# b10#17: an exported learner's get_preds/validate (no rows) say so instead of returning (None, None)
def test_exported_learner_get_preds(tmp_path):
    _,learn = _dot()
    learn.export(tmp_path/'m.pkl')
    l2 = _quiet(load_learner, tmp_path/'m.pkl')
    for f,verb in ((l2.get_preds, 'get_preds'), (l2.validate, 'validate')):
        with pytest.raises(ValueError, match=rf'`{verb}`: the validation set is empty \(an exported learner keeps no '
                                             r'rows\): score rows with `learn.predict_pairs\(df\)`, or get metrics '
                                             r'with `learn.evaluate\(df\)`$'): f()
    assert len(l2.predict_pairs(T().head(3)))==3

# b11#10: the autoencoder loaders check y_range against the ratings as given (before averaging, validation too)
def test_sv_y_range_checks_ratings_as_given():
    df = pd.concat([T(), T().head(5).assign(rating=-50), T().head(5).assign(rating=60)], ignore_index=True)
    d = _quiet(SparseVectorDataLoaders.from_df, df, seed=0)
    assert d.rating_span==(-50., 60.)
    with pytest.raises(ValueError, match=r'The ratings span \[-50, 60\] as given, outside y_range=\(0, 5.5\)'):
        recfast_learner(d, arch='autorec', y_range=(0, 5.5))
    vd = pd.concat([T().tail(50), pd.DataFrame({'user':[1], 'movie':[1], 'rating':[60]})], ignore_index=True)
    d = _quiet(SparseVectorDataLoaders.from_df, T().iloc[:-50], valid_df=vd, seed=0)
    with pytest.raises(ValueError, match=r'span \[1, 60\] as given'):
        recfast_learner(d, arch='autorec', y_range=(0, 5.5))
    _quiet(recfast_learner, _quiet(SparseVectorDataLoaders.from_df, T(), seed=0), arch='autorec', y_range=(0, 5.5))

# b11#21: load_learner_safe with an override that the saved weights don't fit names the override and the saved value
def test_load_safe_override_named(tmp_path):
    _,learn = _dot()
    learn.export_safe(tmp_path/'m')
    with pytest.raises(ValueError, match=r"the override n_factors=8 builds a model the saved weights don't fit "
                                         r"\(they were saved with n_factors=4\)"):
        load_learner_safe(tmp_path/'m', n_factors=8)
    assert load_learner_safe(tmp_path/'m', n_factors=4).model.u_weight.weight.shape[1]==4

# b11#27: RankMetric on DataBlock loaders (no eval_batches) is refused when the learner is built
def test_rank_metric_on_datablock_refused():
    dR = DataBlock(blocks=(RatingsBlock('user','movie'), RegressionBlock()), get_y=ColReader('rating'),
                   splitter=RandomSplitter(seed=0)).dataloaders(T(), bs=64)
    with pytest.raises(TypeError, match=r'RankMetric needs recfast loaders \(e.g. RatingsDataLoaders.from_df\); these '
                                        r'DataBlock loaders \(DataLoaders\) have no `eval_batches`'):
        dot_learner(dR, n_factors=4, metrics=[RankMetric(mrr)])
    learn = _quiet(dot_learner, dR, n_factors=4)
    learn.metrics = [RankMetric(mrr)]
    with pytest.raises(TypeError, match='RankMetric needs recfast loaders'): learn.fit(1, 1e-3)

# round-11 b3#16: outlying ratings (over 1e6 times the median magnitude) are warned with a count and the first row
def test_outlying_ratings_warned():
    df = T().astype({'rating':float}); df.loc[7,'rating'] = 1e19; df.loc[9,'rating'] = -3e7
    for f in (RatingsDataLoaders.from_df, SparseVectorDataLoaders.from_df):
        _,msgs = _messages(lambda: f(df, seed=0))
        assert any("Column 'rating' has 2 outlying ratings, over 4e+06" in m and 'first at row 7' in m
                   for m in msgs), msgs
    for ok in (T(), T().assign(rating=T().rating*1e5), T().assign(rating=np.linspace(0.01, 2e6, len(T())))):
        _,msgs = _messages(lambda: RatingsDataLoaders.from_df(ok, seed=0))
        assert not any('outlying' in m for m in msgs), msgs
    _,msgs = _messages(lambda: InteractionsDataLoaders.from_df(df, seed=0, threshold=4))  # implicit: not read as such
    assert not any('outlying' in m for m in msgs), msgs
