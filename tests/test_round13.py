"Hostile review round 10 (hostile27): each bad input is refused by name, warned with a count, or handled correctly."
import functools, json, re, warnings
import numpy as np, pandas as pd, pytest, torch
from recfast.all import *
from recfast.cli import main
from recfast import serve_torch

torch.set_num_threads(1)

from tests.hostile import S, S3, _quiet, _messages, _fit, _dot50

def T(): return S3()[S3().user<=20].reset_index(drop=True)

@functools.cache
def rd(): return _quiet(RatingsDataLoaders.from_df, T(), seed=0)

@functools.cache
def dot(): return _fit(_quiet(dot_learner, rd(), n_factors=4))

@functools.cache
def idl(): return _quiet(InteractionsDataLoaders.from_df, T()[['user','movie']], seed=0)

@functools.cache
def seq_last():
    st = S()[S().user<=30][['user','movie','timestamp']]
    d = _quiet(SequenceDataLoaders.from_df, st, time_name='timestamp', split='last', max_len=10, seed=0)
    return d, _fit(_quiet(sequence_learner, d, arch='pool', n_factors=4))

# b12#1 (b13#2): exclude_seen='train' on sequence loaders leaves out the training items only, not the held-out ones
def test_sequence_exclude_train_keeps_held(tmp_path):
    d,learn = seq_last()
    r,c,_ = d.held.coo()
    held = pd.DataFrame({'user': d.decode_users(r), 'movie': d.decode_items(c)})
    n = d.n_items-1
    _quiet(learn.export_serving, tmp_path/'s'); srv = serve_torch.Recommender(tmp_path/'s')
    top = learn.recommend_all(n=n, exclude_seen='train')
    for u,g in held.groupby('user'):
        items = set(g.movie)
        assert items <= set(learn.recommend(u, n=n, exclude_seen='train'))
        assert not items & set(learn.recommend(u, n=n, exclude_seen=True))
        assert items <= set(srv.recommend(u, n=n, exclude_seen='train'))
        assert items <= set(top.loc[top.user==u, 'movie'])
    hist = set(d.history(held.user.iloc[0]))
    train = hist - set(held[held.user==held.user.iloc[0]].movie)
    assert not train & set(learn.recommend(held.user.iloc[0], n=n, exclude_seen='train'))

# cli#1 (cli#2, cli#20): the CLI's y_range comes from the data's min and max; --y-range sets it
def test_cli_y_range_from_data(tmp_path, capsys):
    from recfast.cli import data_y_range
    assert data_y_range(np.array([1., 5])) == (0., 5.5)  # fastai's (0, 1.1*max) for ratings >= 0
    assert np.allclose(data_y_range(np.array([-1., 1])), (-1.2, 1.2))
    assert np.allclose(data_y_range(np.array([-5., -1])), (-5.4, -0.6))
    pm = T().assign(rating=np.where(T().rating>=4, 1., -1.))
    pm.to_csv(tmp_path/'pm.csv', index=False)
    (pm.assign(rating=-T().rating)).to_csv(tmp_path/'neg.csv', index=False)
    for f in ('pm.csv', 'neg.csv'):
        assert main(['train', '--data', str(tmp_path/f), '--arch', 'dot', '--epochs', '1', '--out',
                     str(tmp_path/'m')]) == 0, capsys.readouterr().err
    assert main(['train', '--data', str(tmp_path/'pm.csv'), '--arch', 'mlp', '--epochs', '1', '--y-range=-2,2',
                 '--out', str(tmp_path/'m2')]) == 0, capsys.readouterr().err
    assert json.loads((tmp_path/'m2'/'model'/'recipe.json').read_text())['kwargs']['y_range'] == {'$tuple': [-2., 2.]}
    assert main(['train', '--data', str(tmp_path/'pm.csv'), '--arch', 'dot', '--epochs', '1', '--y-range=0,1',
                 '--out', str(tmp_path/'m3')]) != 0
    err = capsys.readouterr().err
    assert 'outside y_range' in err and '--y-range' in err and 'y_range=None' not in err, err
    assert main(['train', '--data', str(tmp_path/'pm.csv'), '--arch', 'dot', '--y-range', 'abc']) != 0
    assert "--y-range 'abc': pass LOW,HIGH" in capsys.readouterr().err
    assert main(['tune', '--data', str(tmp_path/'pm.csv'), '--arch', 'dot', '--trials', '1',
                 '--out', str(tmp_path/'t')]) == 0, capsys.readouterr().err
    assert np.allclose(json.loads((tmp_path/'t'/'best.json').read_text())['kwargs']['y_range'], (-1.2, 1.2))

# b9#28 (cli#25): Mult-DAE / Mult-VAE on rating vectors warn with a count; the CLI builds click vectors (--implicit)
def test_mult_archs_warn_on_ratings(tmp_path, capsys):
    d = _quiet(SparseVectorDataLoaders.from_df, T(), seed=0, device='cpu')
    for arch in ('multvae', 'multdae'):
        _,msgs = _messages(lambda: autoencoder_learner(d, arch=arch))
        assert any(re.search(rf"arch='{arch}' reads each user's click vector .* \d+ of \d+ training entries are not 1"
                             r".*implicit=True", m) for m in msgs), msgs
    di = _quiet(SparseVectorDataLoaders.from_df, T()[['user','movie']], seed=0, device='cpu', implicit=True)
    _,msgs = _messages(lambda: autoencoder_learner(di, arch='multvae'))
    assert not any('click vector' in m for m in msgs), msgs
    T()[['user','movie']].to_csv(tmp_path/'s.csv', index=False)
    assert main(['train', '--data', str(tmp_path/'s.csv'), '--arch', 'multvae', '--implicit', '--epochs', '1',
                 '--out', str(tmp_path/'m')]) == 0, capsys.readouterr().err
    assert load_learner_safe(tmp_path/'m'/'model').dls.implicit
    assert main(['train', '--data', str(tmp_path/'s.csv'), '--arch', 'dot', '--implicit']) != 0
    assert '--implicit does not apply to --arch dot' in capsys.readouterr().err

# b1#10: exporting an LSTM model for serving shows no torch note about `nn.LSTM._flat_weights`
def test_export_serving_lstm_quiet(tmp_path):
    d,_ = seq_last()
    learn = _fit(_quiet(sequence_learner, d, arch='lstm', n_factors=4))
    _,msgs = _messages(lambda: learn.export_serving(tmp_path/'s'))
    assert not any('_flat_weights' in m for m in msgs), msgs
    assert serve_torch.Recommender(tmp_path/'s').recommend(d.users[1], n=3) == learn.recommend(d.users[1], n=3)

# b2#5b: an id of another kind than bool ids says so, as serving does
def test_unknown_id_bool_kind_hint():
    d = _quiet(RatingsDataLoaders.from_df, T().assign(user=T().user%2==0), seed=0)
    learn = _fit(_quiet(dot_learner, d, n_factors=4))
    with pytest.raises(KeyError, match=r"Unknown user id 1 .* the user ids are bools \(e.g. False\), this one is a int"):
        learn.recommend(1)
    assert len(learn.recommend(True, n=3)) == 3

# b9#20: an unknown item in a history is to be dropped from the history, not from a frame's rows
def test_history_unknown_item_advice():
    d,learn = seq_last()
    with pytest.raises(KeyError, match=r"Unknown movie id 99999 .*drop the unknown items from the history") as e:
        learn.recommend(history=[d.items[1], 99999], n=3)
    assert 'df[df[col]' not in str(e.value)

# b3#1 (b3#2): a time column of datetimes in several zones (or ISO text) gets a hint that fits its values
def test_time_col_hint_fits_values():
    st = S()[S().user<=20][['user','movie','timestamp']].reset_index(drop=True)
    ts = pd.to_datetime(st.timestamp, unit='s')
    mixed = st.assign(timestamp=[t.tz_localize('UTC') if i%2 else t.tz_localize('Asia/Tokyo') for i,t in enumerate(ts)])
    with pytest.raises(ValueError, match=r"datetimes of 2 time zones .*pd.to_datetime\(df\['timestamp'\], utc=True\)") as e:
        SequenceDataLoaders.from_df(mixed, time_name='timestamp')
    assert "format='%d/%m/%Y'" not in str(e.value)
    iso = st.assign(timestamp=ts.dt.strftime('%Y-%m-%dT%H:%M:%S'))
    with pytest.raises(ValueError, match=r"format='ISO8601'"): SequenceDataLoaders.from_df(iso, time_name='timestamp')
    _quiet(SequenceDataLoaders.from_df, mixed.assign(timestamp=pd.to_datetime(mixed.timestamp, utc=True)),
           time_name='timestamp')

# b3#4: split='cutoff' by valid_pct warns, counting them, when the boundary cuts rows of one time
def test_cutoff_by_pct_warns_ties():
    st = S()[S().user<=20][['user','movie','timestamp']]
    day = st.assign(timestamp=st.timestamp//86400)
    d,msgs = _messages(lambda: InteractionsDataLoaders.from_df(day, time_name='timestamp', split='cutoff',
                                                               valid_pct=0.2, seed=0))
    m = [m for m in msgs if "split='cutoff' by valid_pct=0.2" in m]
    assert m and re.search(r"(\d+) rows share a time where the held-out rows begin \(e.g. timestamp=\d+: \d+ rows on one "
                           r"side, \d+ on the other\).*pass `cutoff`", m[0]), msgs
    _,msgs = _messages(lambda: InteractionsDataLoaders.from_df(st.assign(timestamp=np.arange(len(st))),
                                                               time_name='timestamp', split='cutoff', seed=0))
    assert not any("split='cutoff' by" in m for m in msgs), msgs

# b4#17: `learn.fold_in` takes `duplicates` (as `recfast.features.fold_in` does)
def test_fold_in_verb_duplicates():
    learn,u = _dot50()
    rows = pd.concat([u, u.head(2).assign(rating=1)])
    with pytest.raises(ValueError, match=r"duplicates='mean'"): learn.fold_in(rows, duplicates='error')
    _,msgs = _messages(lambda: learn.fold_in(rows, duplicates='last'))
    assert any("duplicates='last'" in m for m in msgs), msgs

# b4#20: evaluate with no known user names only the ways this learner has to score new users
def test_evaluate_no_known_user_advice():
    li = _fit(_quiet(implicit_learner, idl(), n_factors=4))
    new = S3()[S3().user>50][['user','movie']]
    with pytest.raises(ValueError, match=r"no user of it is known: new users are added with `learn.fold_in\(rows\)`\)") as e:
        _quiet(li.evaluate, new)
    assert 'history' not in str(e.value)
    d,ls = seq_last()
    with pytest.raises(ValueError, match=r"scored from their histories, with `learn.recommend\(history=...\)`\)"):
        _quiet(ls.evaluate, S()[S().user>50][['user','movie']])

def _block(df, splitter=None):
    db = DataBlock(blocks=(RatingsBlock('user','movie'), RegressionBlock()), get_y=ColReader('rating'),
                   splitter=ifnone(splitter, RandomSplitter(seed=0)))
    return db.dataloaders(df, bs=64)

# b6#1: mixed id kinds on the DataBlock path are refused by name, as `from_df` does
def test_datablock_mixed_ids():
    df = T().assign(user=T().user.astype(object))
    df.loc[[3, 7, 9], 'user'] = 'x'
    with pytest.raises(ValueError, match=r"Column 'user' mixes id types \(int, str\)"): _quiet(_block, df)

# b6#2b: a missing id on the DataBlock path is refused, not trained as the padding id
def test_datablock_missing_id():
    df = T().astype({'movie': float})
    df.loc[5, 'movie'] = np.nan
    with pytest.raises(ValueError, match=r"Column 'movie' has 1 missing ids, first at row 5"):
        _quiet(_block, df, IndexSplitter(range(2500, len(df))))
    df = T().astype({'movie': float})
    df.loc[2600, 'movie'] = np.nan  # in the validation split
    with pytest.raises(ValueError, match=r"Column 'movie' has 1 missing ids, first at row 2600"):
        _quiet(_block, df, IndexSplitter(range(2500, len(df))))

# b6#8: fold_in on DataBlock loaders says they can't, as the other verbs do
def test_datablock_fold_in_refused():
    learn = _fit(_quiet(dot_learner, _quiet(_block, T()), n_factors=4))
    with pytest.raises(TypeError, match=r"`fold_in` needs recfast DataLoaders, not DataLoaders"):
        learn.fold_in(S3()[S3().user==30])

# b6#11: a missing target on the DataBlock path is named by the frame's row and its ids as they are
def test_datablock_missing_target_row():
    df = T().assign(rating=T().rating.astype(float).where(T().index!=3))
    u,m = int(T().user[3]),int(T().movie[3])
    with pytest.raises(ValueError, match=rf"first at row 3 of the frame, ids \{{'user': {u}, 'movie': {m}\}}"):
        _quiet(_block, df)

# b8#2: export_safe's checksums cover recipe.json too: an edit that keeps the shapes is refused, naming the file
def test_export_safe_recipe_checksum(tmp_path):
    learn = dot()
    p = learn.export_safe(tmp_path/'m')
    pp = T().head(2)
    assert np.allclose(load_learner_safe(p).predict_pairs(pp), learn.predict_pairs(pp), atol=1e-5)
    r = json.loads((p/'recipe.json').read_text())
    r['kwargs']['y_range'] = {'$tuple': [0, 50]}
    (p/'recipe.json').write_text(json.dumps(r))
    with pytest.raises(ValueError, match=r"recipe.json doesn't match the checksum in model.safetensors: it was edited"):
        load_learner_safe(p)

# b8#22: RankMetric's k beyond the catalogue is refused when the learner is built, not after an epoch
def test_rank_metric_k_checked_at_build():
    n = idl().n_items-1
    with pytest.raises(ValueError, match=rf"`RankMetric` precision@5000: `k`=5000 is larger than the {n} items"):
        implicit_learner(idl(), n_factors=4, metrics=[RankMetric(precision_at_k, k=5000)])
    with pytest.raises(ValueError, match=r"`k`=5000 is larger"):
        sequence_learner(seq_last()[0], arch='pool', n_factors=4, metrics=[RankMetric(recall_at_k, k=5000)])

# b8#23: RankMetric's n_negatives beyond the other items of the catalogue is refused (as k is)
def test_rank_metric_n_negatives_checked_at_build():
    n = idl().n_items-1
    with pytest.raises(ValueError, match=rf"`RankMetric` mrr_5000neg: `n_negatives`=5000 is larger than the {n-1} other"):
        implicit_learner(idl(), n_factors=4, metrics=[RankMetric(mrr, n_negatives=5000)])
    learn = _fit(_quiet(implicit_learner, idl(), n_factors=4, metrics=[RankMetric(mrr, n_negatives=n-1),
                                                                       RankMetric(precision_at_k, k=n)]))
    assert all(v is not None for v in learn.recorder.values[-1])

# b11#20: evaluate of an implicit learner says when a rating column is not read (every row counts as relevant)
def test_evaluate_unread_ratings():
    li = _fit(_quiet(implicit_learner, idl(), n_factors=4))
    _,msgs = _messages(lambda: li.evaluate(T()))
    assert any(re.search(r"`evaluate`: column 'rating' is not read: .* each of the 3\d\d\d held-out rows is a positive", m)
               for m in msgs), msgs
    _,msgs = _messages(lambda: li.evaluate(T()[['user','movie']]))
    assert not any('is not read' in m for m in msgs), msgs
    _,msgs = _messages(lambda: dot().evaluate(T()))
    assert not any('is not read' in m for m in msgs), msgs

# b14#1 (b14#2): a rating whose square overflows float32 is refused by row, not reported as divergence
def test_huge_rating_refused():
    df = T().astype({'rating': float})
    df.loc[7, 'rating'] = 1e20
    pat = r"Column 'rating' has 1 ratings whose square overflows float32 .*first at row 7 \(rating=1e\+20\): rescale"
    with pytest.raises(ValueError, match=pat): RatingsDataLoaders.from_df(df)
    with pytest.raises(ValueError, match=pat): SparseVectorDataLoaders.from_df(df, device='cpu')
    _quiet(RatingsDataLoaders.from_df, df.assign(rating=df.rating.clip(upper=1e18)))  # (a square float32 holds)
    # loaders that don't check (the DataBlock path): the divergence names the targets, torch says nothing
    learn = _quiet(dot_learner, _quiet(_block, df, IndexSplitter(range(2500, len(df)))), n_factors=4, y_range=None)
    with pytest.raises(TrainingDiverged, match=r"1 targets of the batch are too large .* \(e.g. 1e\+20\)") as e:
        with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
            warnings.simplefilter('error')
            learn.fit(1, 1e-3)
    assert 'learning rate' not in str(e.value)
