"Hostile review round 8 (hostile27): each bad input is refused by name, warned with a count, or handled correctly."
import functools, warnings
import numpy as np, pandas as pd, pytest, torch
from recfast.all import *
from recfast.ram.interpret import plot_glimpses, glimpse_locations

torch.set_num_threads(1)

from tests.hostile import S, S3, _quiet, _messages, _fit

@functools.cache
def rd(): return _quiet(RatingsDataLoaders.from_df, S3(), seed=0)

@functools.cache
def dot(): return _fit(_quiet(dot_learner, rd(), n_factors=4))

def _st(): return torch.randn(4, 20).index_fill_(1, torch.tensor([3]), 10.), torch.zeros(4, 20, dtype=torch.bool)

# b5#50: the interpretation of Mult-VAE / Mult-DAE learners
@pytest.mark.parametrize('arch', ['multvae', 'multdae'])
def test_interpretation_of_mult_autoencoders(arch):
    sv = _quiet(SparseVectorDataLoaders.from_df, S3(), implicit=True, seed=0)
    learn = _fit(autoencoder_learner(sv, arch=arch, layers=[8,4]))
    interp = _quiet(RecInterpretation.from_learner, learn)
    assert len(interp.losses) and torch.isfinite(interp.losses).all()
    pred,targ = torch.randn(3, 5),torch.ones(3, 5)
    loss = MultinomialLoss()
    test_close(loss(pred, targ, reduction='none').mean(), loss(pred, targ))
    test_close(loss(pred, targ, reduction='sum'), loss(pred, targ)*3)

# b9#13: the Unix-time check reads rating columns only, never side features
def test_large_whole_number_features_are_accepted():
    U = movielens_users()[['user','age','gender']]
    U = U[U.user<=60].assign(signup=880000000+U.user, followers=150_000_000)
    d = _quiet(InteractionsDataLoaders.from_df, S()[['user','movie']], seed=0, user_features=U)
    assert d.user_features is not None
    with pytest.raises(ValueError, match='like Unix times'):
        RatingsDataLoaders.from_df(S()[['user','movie','timestamp']], seed=0)

# b10#14, b10#13, f3#3, b10#15, b10#17: the metric functions
def test_metric_targets_masks_and_scores():
    s,t = _st(); t[:,3] = True
    test_eq(mrr(s, t), 1.); test_eq(precision_at_k(s, t, k=1), 1.)
    test_eq(mrr(s, torch.full((4,), 3)), 1.)  # indices, one per row
    test_eq(mrr(s, t.numpy()), 1.)  # a NumPy mask is a mask
    for bad in (t.long(), t.float()):  # a 0/1 mask of another dtype is never read as indices
        for f in (mrr, partial(precision_at_k, k=1), auc, partial(ndcg_at_k, k=5)):
            with pytest.raises(ValueError, match=r"shaped like `scores` \(4, 20\): a mask of targets must be bool"):
                f(s, bad)
    with pytest.raises(ValueError, match='holds fractions'): mrr(s, torch.full((4,), 2.5))
    nan = torch.full((4, 20), float('nan'))
    for f in (mrr, partial(ndcg_at_k, k=5), partial(mrr, n_negatives=5)):
        with pytest.raises(ValueError, match='`scores` hold 80 NaN values'): f(nan, t)
    with pytest.raises(TypeError, match="takes a metric function .*not 'mrr'"): RankMetric('mrr')
    with pytest.raises(ValueError, match=r"`targ` has shape \(2, 20\), `scores` \(4, 20\)"): cold_start_auc(s, t[:2])
    with pytest.raises(TypeError, match='must be a bool tensor'): cold_start_auc(s, t.long())
    test_eq(cold_start_auc(s, t)[0], 1.)

# b1#34: columns taken by position whose names say another role
@pytest.mark.parametrize('cols,arg', [(['rating','user','movie'], 'user_name'), (['movie','user','rating'], 'user_name'),
                                      (['user','movie','item_id'], 'rating_name')])
def test_defaulted_columns_named_for_another_role(cols, arg):
    df = S3().rename(columns={'rating':'item_id'}) if 'item_id' in cols else S3()
    with pytest.raises(ValueError, match=rf"would be read as the \w+ column \(`{arg}`\) by its position.*name the"):
        RatingsDataLoaders.from_df(df[cols], seed=0)
    d = _quiet(RatingsDataLoaders.from_df, df[cols], user_name='user', item_name='movie',
               rating_name='item_id' if 'item_id' in cols else 'rating', seed=0)  # named: as asked
    test_eq(d.user_name, 'user')

# b4#62, b4#9: sequence histories without `time_name`, and timedelta times
def test_sequences_without_time_name_beside_a_time_column():
    st = S()
    for f,df in ((RatingSequenceDataLoaders.from_df, st), (SequenceDataLoaders.from_df, st[['user','movie','timestamp']])):
        with pytest.raises(ValueError, match=r"Column 'timestamp' looks like the time.* 60 of 60 users.*time_name="):
            f(df, seed=0, max_len=10)
    srt = st.sort_values(['user','timestamp'], kind='stable')[['user','movie','timestamp']]
    _quiet(SequenceDataLoaders.from_df, srt, seed=0, max_len=10)  # already in time order: nothing to say
    td = st[['user','movie','timestamp']].assign(timestamp=pd.to_timedelta(st.timestamp, unit='s'))
    a = _quiet(SequenceDataLoaders.from_df, td, time_name='timestamp', seed=0, max_len=10, split='last')
    b = _quiet(SequenceDataLoaders.from_df, st[['user','movie','timestamp']], time_name='timestamp', seed=0,
               max_len=10, split='last')
    test_eq(a.history(1), b.history(1))  # timedeltas sort like the seconds they hold

# b4#54, b4#52, b4#51: the ratings of a rating-LSTM history
def test_rating_history_ratings_are_checked():
    d = _quiet(RatingSequenceDataLoaders.from_df, S(), time_name='timestamp', seed=0, max_len=10, split='last')
    learn = _fit(rating_lstm_learner(d, n_factors=8, n_hidden=8))
    for r,what in ((float('inf'), 'not finite'), (-float('inf'), 'not finite'), (float('nan'), 'not finite'),
                   (True, 'not a number'), ('x', 'not a number')):
        with pytest.raises(ValueError, match=rf"Rating .* of item 50 \(position 0 of `history`\) is {what}"):
            learn.recommend(history=[(50, r), (172, 4)], n=3)
    _,msgs = _messages(lambda: learn.recommend(history=[(50, 1e6), (172, 4)], n=3))
    assert any("1 of 2 ratings of `history` lie outside the training ratings' range [1, 5]" in m for m in msgs), msgs
    _,msgs = _messages(lambda: learn.recommend(history=[(50, 5), (172, np.int64(4))], n=3))
    assert not any('outside' in m for m in msgs), msgs

# b4#40, b2#67: unordered collections and dicts where ids go
def test_sets_and_dicts_are_refused_as_ids():
    st = S().assign(movie='m'+S().movie.astype(str))[['user','movie','timestamp']]
    sl = _fit(sequence_learner(_quiet(SequenceDataLoaders.from_df, st, time_name='timestamp', seed=0, max_len=10,
                                      split='last'), n_factors=8, seed=0))
    with pytest.raises(TypeError, match='`history` must be a list .*not set \\(a set has no order\\)'):
        sl.recommend(history={'m50','m172','m1'}, n=3)
    with pytest.raises(TypeError, match='`user` is a set, whose order is arbitrary: pass a list'):
        _quiet(dot().recommend, {1, 2, 3}, n=2)
    with pytest.raises(TypeError, match=r"A user id is one value, not a dict \(\{'user': 1\}\)"):
        dot().recommend({'user':1}, n=2)
    test_eq(len(dot().recommend([1, 2, 3], n=2)), 3)

# b8#38: the schedule arguments of `fit_one_cycle`
@pytest.mark.parametrize('kw,msg', [(dict(pct_start=2), '`pct_start` must be .* in \\[0, 1\\], got 2'),
                                    (dict(pct_start=-1), '`pct_start` must be'), (dict(div=0), '`div` must be'),
                                    (dict(div_final=0), '`div_final` must be'),
                                    (dict(moms=(0.9,)), r'`moms` must be \(start, middle, end\)')])
def test_fit_one_cycle_schedule_arguments(kw, msg):
    learn = _quiet(dot_learner, rd(), n_factors=4)
    with pytest.raises(ValueError, match=msg): learn.fit_one_cycle(1, 5e-3, **kw)

# b11#12: decoding indices outside the vocabulary
def test_decode_out_of_range():
    d = rd()
    for f,i,what in ((d.decode_items, -1, 'item'), (d.decode_items, d.n_items, 'item'), (d.decode_users, -1, 'user')):
        with pytest.raises(IndexError, match=rf"{what} index {i} is outside the {what} vocabulary"): f(torch.tensor([i]))
    test_eq(list(d.decode_items(torch.tensor([1]))), [d.items[1]])

# b2#27: the verbs of a learner that was never trained
def test_untrained_learner_warns_once():
    learn = _quiet(dot_learner, rd(), n_factors=4)
    _,msgs = _messages(lambda: (learn.recommend(1, n=3), learn.evaluate(S3().head(50))))
    assert sum('this learner was never trained (no fit or `load` yet)' in m for m in msgs)==1, msgs
    trained = _quiet(dot_learner, rd(), n_factors=4)
    with trained.no_bar(), trained.no_logging(): _quiet(trained.lr_find, num_it=5, show_plot=False)
    _,msgs = _messages(lambda: trained.recommend(1, n=3))
    assert any('never trained' in m for m in msgs), msgs  # lr_find restores the weights: still untrained
    _,msgs = _messages(lambda: dot().recommend(1, n=3))
    assert not any('never trained' in m for m in msgs), msgs
    il = _quiet(ease_learner, _quiet(InteractionsDataLoaders.from_df, S()[['user','movie']], seed=0))
    _,msgs = _messages(lambda: il.recommend(1, n=3))  # a closed form is solved when built
    assert not any('never trained' in m for m in msgs), msgs

# b5#66: MNIST labels that were never re-mapped
def test_mnist_sparse_labels_warned():
    x = torch.rand(100, 1, 28, 28)
    _,msgs = _messages(lambda: MNISTGlimpseDataLoaders.from_tensors(x, torch.arange(100)%10*100, bs=16, seed=0))
    assert any('The labels take 10 values but reach 900: c=901, and 891 of the classes never occur' in m
               for m in msgs), msgs
    _,msgs = _messages(lambda: MNISTGlimpseDataLoaders.from_tensors(x, torch.arange(100)%10, bs=16, seed=0))
    assert not any('never occur' in m for m in msgs), msgs

# b5#20, f1#b4: the autoencoder factory's `y_range` and `seed`
@pytest.mark.parametrize('y_range', [True, (1,), ('1','5'), (float('nan'), 5), (0, float('inf'))])
def test_autoencoder_y_range_and_seed(y_range):
    sv = _quiet(SparseVectorDataLoaders.from_df, S3(), seed=0)
    with pytest.raises(ValueError, match=r'`y_range` must be \(low, high\), two finite numbers'):
        autoencoder_learner(sv, y_range=y_range)
    with pytest.raises(ValueError, match='has low >= high'): autoencoder_learner(sv, y_range=(6, 0))
    with pytest.raises(ValueError, match="`seed` must be None or a non-negative int, got 'a'"):
        autoencoder_learner(sv, layers=[8], seed='a')

# b2#20, b8#33: a misspelt factory argument, and `cbs` that are no callbacks
def test_factory_arguments_named_by_the_factory():
    with pytest.raises(TypeError, match=r"dot_learner\(\) got an unexpected keyword argument 'n_factor'; did you mean "
                                        r"'n_factors'\?"):
        recfast_learner(rd(), arch='dot', n_factor=8)
    with pytest.raises(TypeError, match=r"dot_learner\(\) .* 'y_ragne'; did you mean 'y_range'"):
        dot_learner(rd(), y_ragne=(0, 5))
    il = _quiet(InteractionsDataLoaders.from_df, S()[['user','movie']], seed=0)
    with pytest.raises(TypeError, match=r"ease_learner\(\) .* 'lamda'; did you mean 'lam'"): ease_learner(il, lamda=1.)
    with pytest.raises(TypeError, match=r"`cbs` must be fastai `Callback`s .*got 'EarlyStopping'"):
        dot_learner(rd(), n_factors=4, cbs='EarlyStopping')
    _quiet(dot_learner, rd(), n_factors=4, cbs=[EarlyStoppingCallback(), SaveModelCallback])  # instances and classes

# f1#a3: `load_learner_safe(dls=)` of a model with folded-in users
def test_load_learner_safe_after_fold_in(tmp_path):
    learn = _fit(_quiet(dot_learner, rd(), n_factors=4))
    _quiet(learn.fold_in, pd.DataFrame({'user':[9001]*3, 'movie':[50,172,210], 'rating':[5,4,5]}))
    learn.export_safe(tmp_path/'m')
    with pytest.raises(ValueError, match=r"they lack its last 1 id\(s\) \(e.g. 9001\), which are users added by "
                                         r"`fold_in` after training \(load without `dls=`"):
        load_learner_safe(tmp_path/'m', dls=rd())
    _,msgs = _messages(lambda: load_learner_safe(tmp_path/'m').recommend(9001, n=2))
    assert not any('never trained' in m for m in msgs), msgs

# b8#51: `tune` on loaders with no validation rows
def test_tune_without_validation_rows(tmp_path):
    d = _quiet(RatingsDataLoaders.from_df, S3(), valid_pct=0, seed=0)
    with pytest.raises(ValueError, match=r"`tune` scores each trial on `dls.valid`, which is empty"):
        tune(d, arch='dot', n_trials=1, space=lambda t,d: {'n_factors':4,'epochs':1,'lr':1e-3}, show=False,
             path=tmp_path)

# b8#16: too few `names` for a CSV's columns
def test_from_csv_too_few_names(tmp_path):
    f = tmp_path/'n.csv'; S3().head(50).to_csv(f, index=False, header=False)
    with pytest.raises(ValueError, match=r"`names` has 2 names for the 3 columns of .*n.csv"):
        RatingsDataLoaders.from_csv(f, header=None, names=['u','i'], seed=0)
    d = _quiet(RatingsDataLoaders.from_csv, f, header=None, names=['u','i','r'], seed=0)
    test_eq(d.rating_name, 'r')

# b2#83, b3#38, b2#81: `evaluate`'s `k`, repeated rows of an implicit model, an empty frame
def test_evaluate_k_duplicates_and_empty():
    with pytest.raises(ValueError, match=r"`k`=1127 is larger than the 1126 items in the catalogue"):
        dot().evaluate(S3().head(50), k=1127)
    with pytest.raises(ValueError, match='The held-out rows DataFrame is empty: nothing to evaluate'):
        dot().evaluate(S3().head(0))
    il = _fit(implicit_learner(_quiet(InteractionsDataLoaders.from_df, S()[['user','movie']], seed=0), n_factors=4))
    _,msgs = _messages(lambda: il.evaluate(pd.concat([S()[['user','movie']].head(5)]*2)))
    assert any('5 repeated rows add nothing: the ranking metrics count each pair once' in m for m in msgs), msgs
    assert not any('RMSE' in m for m in msgs), msgs
    _,msgs = _messages(lambda: dot().evaluate(pd.concat([S3().head(5)]*2)))
    assert any('5 repeated rows count again in the RMSE/MAE' in m for m in msgs), msgs

# b10#3: the model arguments of `synthetic_ratings`
@pytest.mark.parametrize('kw,msg', [(dict(noise=-1), 'noise=-1 must be a finite number >= 0'),
                                    (dict(alpha=float('nan')), 'alpha=nan must be'),
                                    (dict(n_factors=0), 'n_factors=0 must be a positive integer')])
def test_synthetic_ratings_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg): synthetic_ratings(10, 10, 5, **kw)
    test_eq(len(synthetic_ratings(10, 10, 5, seed=0)), 5)

# f3#5, f3#6: the RAM helpers
def test_ram_helpers_arguments():
    mg = MNISTGlimpseDataLoaders.from_tensors(torch.rand(64,1,28,28), torch.randint(0,10,(64,)), bs=16, seed=0)
    ram = ram_learner(mg, n_hidden=8, n_glimpses=1)
    with pytest.raises(ValueError, match='`n` must be a positive int, got 0'): plot_glimpses(ram, n=0)
    with pytest.raises(TypeError, match='glimpse_locations needs a RAM learner .*got DotProductBias'):
        glimpse_locations(dot(), torch.rand(2,1,28,28))
    with pytest.raises(TypeError, match='`dl` must be a DataLoader'): glimpse_locations(ram, torch.rand(2,1,28,28))
    x,l,p = glimpse_locations(ram, n=3)
    test_eq(l.shape, (3, 1, 2))

# b9#42: a cold split that leaves no warm item
def test_cold_items_split_all_cold():
    films = movielens_items()[['movie','year']].fillna({'year':1990.})
    with pytest.raises(ValueError, match='`pct`=1 holds out every item, which leaves no warm item'):
        cold_items_split(S()[['user','movie']], films, 'movie', pct=1, seed=0)
    test_eq([len(x)>0 for x in cold_items_split(S()[['user','movie']], films, 'movie', pct=0.2, seed=0)], [True]*4)
