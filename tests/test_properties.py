"""Property-based tests (Hypothesis) of recfast's input checks: generated frames with int, string, float and mixed ids,
NaN, infinities, booleans, numeric strings, duplicates, empty and single-row frames and missing columns go through every
`from_df`; each either builds loaders holding exactly the input's rows (or says, in a warning, what it merged or dropped)
or raises a `ValueError`/`TypeError` whose message names the column or the argument at fault, never a raw error from
pandas, torch or fastcore. Argument values (the loaders' `valid_pct`, `bs`, `val_bs`, `seed`, `max_len`, MNIST's `size`,
`max_shift`, `n_frags`, RAM's `glimpse_size`, `depth`, `scale`, `std`, ..., the verbs' `n` and `k`) are accepted or
refused with a message naming the argument."""
import math, warnings
import numpy as np, pandas as pd, pytest, torch
from hypothesis import given, settings, strategies as st, HealthCheck
from recfast.core import *
from recfast.collab.data import RatingsDataLoaders
from recfast.implicit.data import InteractionsDataLoaders
from recfast.sequence.data import SequenceDataLoaders
from recfast.autoencoder.data import SparseVectorDataLoaders
from recfast.ram.data import MNISTGlimpseDataLoaders
from recfast.ram.learner import ram_learner

FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

# cells: good ones of each kind, and the bad ones a hostile but realistic user sends
_int_ids = st.integers(0, 5)
_str_ids = st.sampled_from(['a', 'b', 'c', 'd', 'e'])
_float_ids = st.sampled_from([0.5, 1.0, 2.5, 3.0])
_bad_ids = st.sampled_from([float('nan'), None, pd.NA, True, '7', 3.5, b'b', (1, 2), [1, 2], float('inf')])
_ratings = st.one_of(st.integers(1, 5), st.floats(0.5, 5, allow_nan=False))
_bad_ratings = st.sampled_from([float('nan'), float('inf'), -float('inf'), None, pd.NA, '4', 'x', True, 0, [3], 1e300, -2])

@st.composite
def frames(draw, n_cols:int=3):
    "A frame of `n_cols` columns (user, item, rating/time) with 0-12 rows, sometimes with bad cells or a missing column"
    n = draw(st.integers(0, 12))
    ids = [draw(st.sampled_from([_int_ids, _str_ids, _float_ids])) for _ in range(2)]
    cols = {'user': [draw(ids[0]) for _ in range(n)], 'item': [draw(ids[1]) for _ in range(n)]}
    cols['rating' if n_cols==3 else 'time'] = [draw(_ratings) for _ in range(n)]
    names = list(cols)
    for _ in range(draw(st.integers(0, 2)) if n else 0):  # a few bad cells
        c = draw(st.sampled_from(names))
        cols[c][draw(st.integers(0, n-1))] = draw(_bad_ratings if c in ('rating','time') else _bad_ids)
    df = pd.DataFrame(cols)
    for c in names:  # the dtypes pandas users end up with
        how = draw(st.sampled_from([None, None, None, 'category', 'Int64', 'string', 'Float64', 'dup_index']))
        try:
            if how=='dup_index': df.index = [0]*len(df)
            elif how: df[c] = df[c].astype(how)
        except (TypeError, ValueError, OverflowError): pass  # not convertible: keep the column as it is
    k = draw(st.integers(0, 19))
    if k==0: df = df.drop(columns=draw(st.sampled_from(names)))  # a missing column
    if k==1: df = pd.concat([df, df[[draw(st.sampled_from(names))]]], axis=1)  # a column twice (after a merge)
    return df

BUILDERS = {
    'ratings': lambda df, **kw: RatingsDataLoaders.from_df(df, user_name='user', item_name='item', rating_name='rating', **kw),
    'implicit': lambda df, **kw: InteractionsDataLoaders.from_df(df, user_name='user', item_name='item', **kw),
    'implicit_threshold': lambda df, **kw: InteractionsDataLoaders.from_df(df, user_name='user', item_name='item',
                                                                          rating_name='rating', threshold=3, **kw),
    'sequence': lambda df, **kw: SequenceDataLoaders.from_df(df, user_name='user', item_name='item', time_name='time', max_len=4, **kw),
    'autoencoder': lambda df, **kw: SparseVectorDataLoaders.from_df(df, user_name='user', item_name='item', rating_name='rating',
                                                                    device='cpu', **kw),
}
_names_of = lambda kind: ('user','item','time') if kind=='sequence' else ('user','item','rating')

def _build(kind, df, **kw):
    "`(dls, warnings)` or `(exception, warnings)`"
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter('always')
        try: res = BUILDERS[kind](df, seed=0, **kw)
        except Exception as e: res = e
    return res, [str(w.message) for w in ws]

def _assert_named(e, names, kind):
    "A `ValueError`/`TypeError` whose message names one of `names` (a column or an argument)"
    assert type(e) in (ValueError, TypeError), f"{kind}: raw {type(e).__name__}: {e}"
    msg = str(e)
    if 'DataFrame is empty' in msg: return  # a frame without rows: no column is at fault
    assert any(f"'{n}'" in msg or f"`{n}`" in msg or f"{n}=" in msg for n in names), f"{kind}: the message names no column: {msg}"

def _rows(kind, dls):
    "How many input rows the loaders hold"
    if kind in ('ratings', 'implicit', 'implicit_threshold'): return len(dls.train.dataset)+len(dls.valid.dataset)
    if kind=='autoencoder': return dls.seen.nnz+dls.valid_seen.nnz
    return dls.seen.nnz  # sequence: every interaction is in the users' histories

@pytest.mark.parametrize('kind', list(BUILDERS))
@FAST
@given(data=st.data())
def test_from_df_builds_or_names_the_column(kind, data):
    df = data.draw(frames(n_cols=2 if kind=='sequence' else 3))
    res,ws = _build(kind, df)
    names = _names_of(kind)
    if isinstance(res, Exception): return _assert_named(res, names+('valid_pct','threshold','split'), kind)
    n = _rows(kind, res)
    if n!=len(df):  # fewer rows only with a warning that says so
        assert n<len(df) and any(('more than once' in w or 'dropped' in w) for w in ws), (kind, n, len(df), ws, df)
    for k in ('users','items'): assert getattr(res, k)[0]=='#na#'

_values = st.one_of(st.integers(-3, 3), st.floats(-1, 2), st.sampled_from([float('nan'), float('inf'), None, True, '2', 10**6, 2.0, [1]]))
_tiny = pd.DataFrame({'user': [1,1,2,2,3,3,4,4,5,5], 'item': [1,2,3,4,1,2,3,4,1,2], 'rating': [1.,2,3,4,5,1,2,3,4,5]})
_digits = (torch.rand(40,1,28,28), torch.arange(40)%10)
ARGS = {**{k:('valid_pct','bs','val_bs','seed') for k in BUILDERS}, 'sequence': ('valid_pct','bs','val_bs','seed','max_len'),
        'mnist': ('valid_pct','bs','seed','size','max_shift','n_frags'),
        'ram_learner': ('n_glimpses','glimpse_size','depth','scale','std','n_hidden','n_samples','rollouts','reward','loc_lr_mult')}
ARGS_RUN = settings(FAST, max_examples=40)
_glimpses = MNISTGlimpseDataLoaders.from_tensors(*_digits, bs=4)

@pytest.mark.parametrize('kind', list(ARGS))
@ARGS_RUN
@given(data=st.data())
def test_arguments_accepted_or_named(kind, data):
    "Any value of the loaders' (and RAM's) arguments builds them or is refused by a message naming the argument"
    vals = _values.filter(lambda v: v!=10**6) if kind=='ram_learner' else _values  # a 10**6-unit RAM is a valid, huge model
    args = data.draw(st.dictionaries(st.sampled_from(ARGS[kind]), vals, min_size=1, max_size=2))
    df = _tiny.rename(columns={'rating':'time'}) if kind=='sequence' else _tiny
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter('always')
        try:
            if kind=='mnist': res = MNISTGlimpseDataLoaders.from_tensors(*_digits, **{'bs':4, **args})
            elif kind=='ram_learner': res = ram_learner(_glimpses, **{'n_hidden':8, **args}).model(_glimpses.one_batch()[0])
            else: res = BUILDERS[kind](df, **{'seed':0, **args})
        except Exception as e: return _assert_named(e, tuple(args), kind)
    _assert_accepted(kind, res, args, df)
    v = args.get('valid_pct')
    if kind in ('ratings','implicit','autoencoder') and isinstance(v, float) and 0<v and not round(v*len(df)):
        assert any('holds out none' in str(w.message) for w in ws), (kind, args)  # an empty validation set is said

def _assert_accepted(kind, res, args, df):
    "Accepted arguments do what they say: every row (or digit) in the loaders, the batch sizes asked for, RAM's 10 scores"
    if kind=='ram_learner':
        logits,log_pi,_,locs = res
        n_glimpses = args.get('n_glimpses', locs.shape[1])
        assert logits.shape==(4,10) and torch.isfinite(logits).all(), (args, logits)
        assert locs.shape==(4,n_glimpses,2) and log_pi.shape==(4,n_glimpses-1) and locs.abs().max()<=1, args
        return
    if kind=='mnist':
        assert len(res.train_ds)+len(res.valid_ds)==len(_digits[0]), args
        size = args.get('size') or 28  # 0 and None: the digits' own canvas
        assert res.train_ds[0][0].shape[-2:]==(size,size), (args, res.train_ds[0][0].shape)
    else:  # `threshold=3` keeps the ratings of 3 and more as positives
        n = int((df.rating>=3).sum()) if kind=='implicit_threshold' else len(df)
        assert _rows(kind, res)==n, (kind, args, _rows(kind, res))
    if 'bs' in args: assert res.train.bs==args['bs'], (args, res.train.bs)
    if 'val_bs' in args: assert res.valid.bs==args['val_bs'], (args, res.valid.bs)
    if 'valid_pct' in args and kind!='sequence':  # some rows held out, training rows left; 0: none held out
        n = len(_digits[0]) if kind=='mnist' else _rows(kind, res)
        n_valid = len(res.valid_ds) if kind=='mnist' else res.valid_seen.nnz if kind=='autoencoder' else len(res.valid.dataset)
        vp = 0.1 if args['valid_pct'] is None and kind=='autoencoder' else 0.2 if args['valid_pct'] is None else args['valid_pct']
        assert n_valid<n and (n_valid>0)==(vp>0 and round(vp*n)>0), (kind, args, n_valid)  # `None`: the default

@pytest.fixture(scope='module')
def learn():
    from recfast.collab.learner import dot_learner
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return dot_learner(RatingsDataLoaders.from_df(_tiny, seed=0, bs=4), n_factors=4)

@ARGS_RUN
@given(verb=st.sampled_from(['recommend', 'similar_items', 'recommend_all', 'evaluate']), n=_values)
def test_counts_accepted_or_named(learn, verb, n):
    "`n` (or `k`) of every recommender verb gives an answer of that size or is refused by name, never a `topk` error"
    call = {'recommend': lambda: learn.recommend(1, n=n), 'similar_items': lambda: learn.similar_items(1, n=n),
            'recommend_all': lambda: learn.recommend_all(n=n), 'evaluate': lambda: learn.evaluate(_tiny, k=n)}[verb]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try: res = call()
        except Exception as e: return _assert_named(e, ('k' if verb=='evaluate' else 'n',), verb)
    if verb=='recommend': assert len(res)<=n
    if verb=='similar_items': assert len(res)==n
    if verb=='recommend_all':  # n items for each of the 5 users (the tiny frame's 4 films, less those seen: at most n)
        counts = res.groupby('user').size()
        assert len(counts)==5 and (counts<=n).all() and (counts>0).all() and not isinstance(n, bool), res
    if verb=='evaluate': assert f'precision@{n}' in res and not isinstance(n, bool), res

@pytest.mark.parametrize('kind', list(BUILDERS))
def test_padding_token_is_an_id(kind):
    "A user and an item whose id is the string '#na#' get their own slot: slot 0 stays the padding, nothing is merged"
    df = pd.DataFrame({'user': np.repeat(['#na#','a','b'], 4), 'item': ['#na#','x','y','z']*3,
                       'time' if kind=='sequence' else 'rating': np.arange(12)%3+3.})
    dls,ws = _build(kind, df)
    assert not isinstance(dls, Exception), f"{kind}: {type(dls).__name__}: {dls}"
    assert _rows(kind, dls)==len(df)
    assert list(dls.users)==['#na#','#na#','a','b'] and list(dls.items)==['#na#','#na#','x','y','z']
    assert dls.encode_users(['#na#']).tolist()==[1] and dls.encode_items(['#na#','z']).tolist()==[1,4]

# --- frames that come in after training, and CSV files ------------------------------------------------------------
_csv_ids = st.sampled_from(['0186', '186', '1e3', '1000', '007', '7', 'a b', '#na#', 'NA', 'None', '-1', '1.0', 'x'])

@given(data=st.data())
@FAST
def test_from_csv_reads_ids_as_written(tmp_path_factory, data):
    "Every id of a CSV is kept as written (text): no two spellings merged, no row dropped without a warning"
    n = data.draw(st.integers(2, 10))
    df = pd.DataFrame({'user': [data.draw(_csv_ids) for _ in range(n)], 'item': [data.draw(_csv_ids) for _ in range(n)],
                       'rating': [data.draw(st.integers(1, 5)) for _ in range(n)]})
    f = tmp_path_factory.mktemp('csv')/'r.csv'
    df.to_csv(f, index=False)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        try: dls = RatingsDataLoaders.from_csv(f, valid_pct=0.5, seed=0, bs=2)
        except ValueError as e:
            assert any(k in str(e) for k in ('Column', 'valid', 'split', 'empty', 'rows', 'ids')), str(e); return
    want = set(df.user)
    got = set(dls.users.items[1:])
    assert got <= want and all(isinstance(u, str) for u in got), (got, want)
    msgs = ' '.join(str(x.message) for x in w)
    assert got==want or 'no training row' in msgs or 'more than once' in msgs, (got, want, msgs)

@pytest.fixture(scope='module')
def folded():
    "A dot model on synthetic ratings of 30 users x 20 items, to fold new users into"
    from recfast.collab.learner import dot_learner
    rng = np.random.default_rng(0)
    df = pd.DataFrame({'user': rng.integers(1, 31, 400), 'item': rng.integers(1, 21, 400), 'rating': rng.integers(1, 6, 400)})
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn = dot_learner(RatingsDataLoaders.from_df(df, seed=0, bs=64), n_factors=4)
    return learn

_fold_items = st.one_of(st.integers(1, 20), st.sampled_from([99, 'x', None, float('nan'), 2.5, True]))
_fold_ratings = st.one_of(st.integers(1, 5), st.sampled_from([0.5, 5.5, 50, -1, float('nan'), float('inf'), None, 'x', '4']))

@given(data=st.data())
@FAST
def test_fold_in_adds_users_or_names_the_problem(folded, data):
    "Generated new users' rows: `fold_in` adds exactly their distinct users, or refuses naming the column/id/rating"
    learn = folded
    n = data.draw(st.integers(1, 8))
    df = pd.DataFrame({'user': [data.draw(st.sampled_from([1001, 1002, 1003])) for _ in range(n)],
                       'item': [data.draw(_fold_items) for _ in range(n)],
                       'rating': [data.draw(_fold_ratings) for _ in range(n)]})
    before = learn.dls.n_users
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try: learn.fold_in(df)
        except (ValueError, KeyError, TypeError) as e:
            m = str(e)
            assert any(k in m for k in ("'item'", "'rating'", "'user'", 'item id', 'y_range', 'Unknown')), m
            assert learn.dls.n_users==before  # refused before anything changed
            return
    new = set(df.user) - set(learn.dls.users.items[1:before])
    assert learn.dls.n_users==before+len(new), (before, learn.dls.n_users, new)
    assert np.isfinite(learn.predict_pairs(df[['user','item']].assign(item=1))).all()

# the data path's fast checks (issue 29) agree with pandas' own on every kind of id column
_dup_cols = st.sampled_from([st.integers(-3, 3), st.integers(0, 2**40), st.sampled_from(['a', 'b', 'c']),
                             st.sampled_from([0.5, 1.0, float('nan')]), st.booleans()])

@FAST
@given(st.data(), st.integers(0, 12))
def test_any_dup_matches_pandas(data, n):
    "`_any_dup` (one sort of an int64 key) says what `df.duplicated(k).any()` says, NaN ids and big ints included"
    from recfast.core import _any_dup
    kinds = [data.draw(_dup_cols) for _ in range(2)]
    df = pd.DataFrame({c: [data.draw(k) for _ in range(n)] for c,k in zip('ui', kinds)})
    assert _any_dup(df, ['u','i'])==bool(df.duplicated(['u','i']).any())

@FAST
@given(st.lists(st.integers(-2**40, 2**40), min_size=1, max_size=20), st.sampled_from(['int64', 'int32', 'uint8']))
def test_make_vocab_native_dtype(ids, dtype):
    "Numeric ids take `make_vocab`'s fast path and give the vocabulary of the object path: Python numbers, sorted"
    s = pd.Series(np.asarray(ids).astype(dtype))
    v = make_vocab(s, s[:1])
    assert list(v.items)==['#na#']+sorted(set(s.astype(object)))
    assert all(type(o) is int for o in v.items[1:])
