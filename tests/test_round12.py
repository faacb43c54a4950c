"Hostile review round 9 (hostile27): each bad input is refused by name, warned with a count, or handled correctly."
import functools, re, warnings
import numpy as np, pandas as pd, pytest, torch
from recfast.all import *
from recfast.cli import main

torch.set_num_threads(1)

from tests.hostile import S, S3, _quiet, _messages, _fit, _dot50

@functools.cache
def rd(): return _quiet(RatingsDataLoaders.from_df, S3(), seed=0)

@functools.cache
def idl(): return _quiet(InteractionsDataLoaders.from_df, S()[['user','movie']], seed=0)

@functools.cache
def sdl(): return _quiet(SequenceDataLoaders.from_df, S()[['user','movie','timestamp']], time_name='timestamp', seed=0)

@functools.cache
def hyb():
    U = movielens_users()
    U = U[U.user<=60][['user','age','gender']]
    return _fit(_quiet(dot_learner, _quiet(RatingsDataLoaders.from_df, S3(), seed=0, user_features=U), n_factors=4))

# r4: a metric that raises during validation leaves grad mode (and the model's mode) as they were
def test_metric_error_keeps_grad_mode():
    def boom(scores, targets, exclude=None, per_user=False): raise RuntimeError('boom')
    learn = _quiet(implicit_learner, idl(), n_factors=4, metrics=[RankMetric(boom)])
    with pytest.raises(RuntimeError, match='boom'): _fit(learn)
    assert torch.is_grad_enabled()
    learn.model.train(); g = idl().eval_batches(learn.model, bs=8)
    next(g)  # a consumer suspended between batches (or one that raised) holds no `no_grad`
    assert torch.is_grad_enabled() and learn.model.training
    _fit(_quiet(implicit_learner, idl(), n_factors=4))  # a later fit trains

# b6#13: loaders of other vocabulary sizes assigned to `learn.dls`
def test_swapped_dls_of_other_sizes_refused():
    learn = _fit(_quiet(dot_learner, rd(), n_factors=4))
    learn.dls = _quiet(RatingsDataLoaders.from_df, S3()[S3().user<=40], seed=1)
    verbs = ((learn.validate, 'validate'), (lambda: _fit(learn), 'fit'), (lambda: learn.recommend(1), 'recommend'))
    for f,verb in verbs:
        with pytest.raises(ValueError, match=rf"`{verb}`: `learn.dls` have n_(users|items)=\d+, but the model"):
            f()
    learn.dls = rd()
    assert len(learn.validate())
    d2 = _quiet(RatingsDataLoaders.from_df, S3()[S3().user<=50], seed=0)
    l2 = _fit(_quiet(dot_learner, d2, n_factors=4))
    _quiet(l2.fold_in, S3()[(S3().user>50) & S3().movie.isin(d2.items.items[1:])])  # the model and loaders grow
    assert len(_quiet(l2.validate)) and len(l2.recommend(55, n=3))

# b1#6 (b2#5): softmax with shared negatives
def test_softmax_refuses_shared_negatives():
    with pytest.raises(ValueError, match="loss='softmax' .* drop `shared_negatives`"):
        implicit_learner(idl(), loss='softmax', shared_negatives=True, n_factors=4)
    with pytest.raises(ValueError, match="drop `shared_negatives`"):
        sequence_learner(sdl(), arch='pool', shared_negatives=True, loss='softmax')

# b1#5: shared negatives without a sampler use the uniform one (as sequences do)
def test_shared_negatives_default_sampler():
    learn = _quiet(implicit_learner, idl(), shared_negatives=True, n_factors=4)
    ns = [c for c in learn.cbs if isinstance(c, NegativeSampling)]
    assert len(ns)==1 and ns[0].sampler=='uniform' and ns[0].shared
    with pytest.raises(ValueError, match="not 'reject'"):
        implicit_learner(idl(), shared_negatives=True, sampler='reject', n_factors=4)

# b2#29: split='last' with ties at the held-out boundary
def test_split_last_warns_ties():
    st = S()[['user','movie','timestamp']]
    _,msgs = _messages(lambda: SequenceDataLoaders.from_df(st.assign(timestamp=st.timestamp//10**7),
                                                          time_name='timestamp', split='last', seed=0))
    assert any(re.search(r"split='last': \d+ of 60 users have several rows at the time", m) for m in msgs), msgs
    _,msgs = _messages(lambda: InteractionsDataLoaders.from_df(st.assign(timestamp=np.arange(len(st))),
                                                              time_name='timestamp', split='last', seed=0))
    assert not any('several rows at the time' in m for m in msgs), msgs

# r6: lr_find after fold_in leaves the warning to the real fit
def test_lr_find_keeps_fold_in_warning():
    learn,u = _dot50()
    _quiet(learn.fold_in, u)
    with learn.no_bar(), learn.no_logging():
        _,msgs = _messages(lambda: learn.lr_find(num_it=3, show_plot=False))
        assert not any('added by `fold_in`' in m for m in msgs), msgs
        _,msgs = _messages(lambda: learn.fit(1, 1e-3))
    assert any('fit: 1 user(s) were added by `fold_in`' in m for m in msgs), msgs

# b4#24: RankMetric arguments its function doesn't take
def test_rank_metric_checks_arguments():
    with pytest.raises(TypeError, match=r"mrr\(\) takes no argument 'k'"): RankMetric(mrr, k=10)
    assert RankMetric(ndcg_at_k, k=10).name=='ndcg@10'

# b4#17: a float `exclude` mask
def test_float_exclude_refused():
    with pytest.raises(ValueError, match='`exclude` is a torch.float32 tensor: .* must be bool'):
        mrr(torch.randn(2, 5), torch.tensor([1, 2]), exclude=torch.zeros(2, 5))
    assert np.isfinite(float(mrr(torch.randn(2, 5), torch.tensor([1, 2]), exclude=torch.zeros(2, 5, dtype=torch.bool))))

# b4#4: autoencoder loaders with implicit=True and a rating column
def test_sparse_vectors_implicit_unread_rating():
    _,msgs = _messages(lambda: SparseVectorDataLoaders.from_df(S3(), implicit=True, seed=0, device='cpu'))
    assert any("column 'rating' is not read" in m and 'implicit=False' in m for m in msgs), msgs
    _,msgs = _messages(lambda: SparseVectorDataLoaders.from_df(S3()[['user','movie']], implicit=True, seed=0,
                                                               device='cpu'))
    assert not any('is not read' in m for m in msgs), msgs

# b5#36: the CLI names its flags, not Python arguments
def test_cli_warning_names_flags(tmp_path, capsys):
    S3().to_csv(tmp_path/'s3.csv', index=False)
    assert main(['train', '--data', str(tmp_path/'s3.csv'), '--arch', 'implicit', '--epochs', '1',
                 '--out', str(tmp_path/'m')]) == 0
    err = capsys.readouterr().err
    assert "column 'rating' is not read" in err and '--threshold' in err, err
    assert 'remove that column from the file' in err and '--user-col' not in err, err  # (naming them doesn't stop it)
    assert 'threshold=' not in err, err

# b4#33: Optuna's experimental warning about the sampler options recfast sets
def test_tune_no_experimental_warning(tmp_path):
    _,msgs = _messages(lambda: tune(rd(), arch='dot', n_trials=1, show=False, path=tmp_path))
    assert not any('experimental feature' in m for m in msgs), msgs

# b3b#36: evaluate of a hybrid on new users
def test_evaluate_hybrid_new_users_points_to_features():
    with pytest.raises(ValueError, match=r'scores new users from their features: .*added_features\(user_features='):
        _quiet(hyb().evaluate, pd.DataFrame({'user':[1001], 'movie':[1], 'rating':[4]}))

# b3#6: feature columns and categories are checked before the range warning
def test_new_user_features_checked_before_range_warning():
    new = pd.DataFrame({'user':[1001,1002], 'age':[30,200], 'gender':['M','F']})
    for bad in (new[['user','age']], new.assign(gender=['M','X'])):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            with pytest.raises(ValueError): hyb().recommend(1001, user_features=bad)
        assert not any('outside its training range' in str(x.message) for x in w), [str(x.message) for x in w]
    _,msgs = _messages(lambda: hyb().recommend(1001, user_features=new, n=3))
    assert any('outside its training range' in m for m in msgs), msgs

# b6#17: the untrained warning doesn't claim the weights are random
def test_untrained_warning_wording():
    trained = _fit(_quiet(dot_learner, rd(), n_factors=4))
    learn = _quiet(dot_learner, rd(), n_factors=4)
    learn.model.load_state_dict(trained.model.state_dict())
    _,msgs = _messages(lambda: learn.recommend(1, n=3))
    m = [m for m in msgs if 'never trained' in m]
    assert m and '(no fit or `load` yet): if its weights are random' in m[0] and 'come from random' not in m[0], msgs

# b2#7: a misspelt option in sequence `model_kwargs`
def test_sequence_model_kwargs_typo():
    with pytest.raises(TypeError, match=r"`model_kwargs` has 'n_layer', not an option of arch='sasrec'.*did you mean "
                                        r"'n_layers'"):
        sequence_learner(sdl(), arch='sasrec', model_kwargs={'n_layer': 1})
    assert _quiet(sequence_learner, sdl(), arch='sasrec', model_kwargs={'n_layers': 1}, n_factors=8)

# r3#r4: a misspelt autoencoder option
def test_autoencoder_option_typo():
    sv = _quiet(SparseVectorDataLoaders.from_df, S3(), seed=0, device='cpu')
    with pytest.raises(TypeError, match=r"'n_hiden'; its options \(besides fastai .Learner.{2}s\): .*layers, dropout"):
        autoencoder_learner(sv, n_hiden=8)  # no close name: the options listed
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'dropuot'; did you mean 'dropout'"):
        autoencoder_learner(sv, dropuot=0.1)
    assert _quiet(autoencoder_learner, sv, arch='deep', layers=[8], dropout=0.1)

# b3#12: fold_in rows with unknown items
def test_fold_in_unknown_items_message():
    d2 = _quiet(RatingsDataLoaders.from_df, S3()[S3().user<=50], seed=0)
    learn = _fit(_quiet(dot_learner, d2, n_factors=4))
    with pytest.raises(KeyError) as e: _quiet(learn.fold_in, S3()[S3().user>50])
    msg = str(e.value)
    assert 'unknown): not in the' in msg and 'did you mean' not in msg and 'drop the rows of unknown' in msg, msg
    with pytest.raises(KeyError, match="did you mean"):
        _quiet(RatingsDataLoaders.from_df, S3().astype({'user': str}), seed=0).encode_users(['1x'])
