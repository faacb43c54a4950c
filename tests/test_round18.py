"Hostile review round 14 (fix 15): each bad input is refused by name, warned with a count, or handled correctly."
from decimal import Decimal
import numpy as np, pandas as pd, pytest, torch
from recfast.all import *
from recfast.cli import _say

torch.set_num_threads(1)

from tests.hostile import S, S3, _quiet, _messages, _fit, T30, TT30, _cli

T = T30
TT = TT30

# b2#30 (+b5#3): a naive `cutoff` in a DST gap or overlap of the column's zone gets recfast's message, not pandas'
def test_cutoff_in_dst_change_named():
    df = TT().assign(timestamp=pd.to_datetime(TT().timestamp, unit='s').dt.tz_localize('Europe/London'))
    f = lambda c: RatingsDataLoaders.from_df(df, time_name='timestamp', split='cutoff', cutoff=c, seed=0)
    with pytest.raises(ValueError, match=r"`cutoff`='1998-03-29 01:30' has no time zone and column 'timestamp' is in "
                       r"Europe/London: say which instant, e.g. '1998-03-29 01:30:00\+00:00' \(UTC\); that local time "
                       r"doesn't exist in Europe/London \(a clock change\)$"): f('1998-03-29 01:30')
    with pytest.raises(ValueError, match=r"e.g. '1997-10-26 01:30:00\+00:00' \(UTC\); that local time happens twice "
                                         r"in Europe/London"): f('1997-10-26 01:30')
    with pytest.raises(ValueError, match=r"\(UTC\) or '1998-01-10 00:00:00\+00:00' \(Europe/London\)$"):
        f('1998-01-10')  # an ordinary local time: both examples, as before
    assert len(_quiet(f, '1998-01-10 00:00+00:00').valid.dataset)>0

# b5#11 (+b5#12): sequence loaders warn that a rating column is not read (every row is a positive), as the others do
def test_sequence_unread_ratings_warned():
    _,msgs = _messages(lambda: SequenceDataLoaders.from_df(TT(), time_name='timestamp', seed=0, max_len=10))
    assert any(f"column 'rating' is not read: each of the {len(TT())} rows is a positive interaction, whatever its "
               "rating; keep only the relevant rows first (e.g. `df[df['rating'] >= 4]`), or use "
               "`RatingSequenceDataLoaders` to learn from the ratings" in m for m in msgs), msgs
    assert not any('without `threshold`' in m for m in msgs), msgs  # (sequence loaders take none)
    for ok in (lambda: SequenceDataLoaders.from_df(TT()[['user','movie','timestamp']], time_name='timestamp', seed=0),
               lambda: RatingSequenceDataLoaders.from_df(TT(), time_name='timestamp', seed=0)):
        _,msgs = _messages(ok)
        assert not any('is not read' in m for m in msgs), msgs
    _,msgs = _messages(lambda: InteractionsDataLoaders.from_df(T(), seed=0))  # (the implicit loaders' text is kept)
    assert any("column 'rating' is not read: without `threshold` each of" in m for m in msgs), msgs

def test_cli_sequence_unread_ratings(tmp_path, capsys):
    TT().to_csv(tmp_path/'st.csv', index=False)
    rc,err = _cli(['train', '--data', tmp_path/'st.csv', '--arch', 'lstm', '--time-col', 'timestamp', '--epochs', 1,
                   '--n-factors', 4, '--out', tmp_path/'o'], capsys)
    assert rc==0 and "column 'rating' is not read: each of" in err and '--arch rating_lstm' in err, err
    assert "keep only the relevant rows of the file first (e.g. those with 'rating' >= 4)" in err, err
    assert 'remove that column from the file' in err and '`' not in err.split('is not read')[1].split('\n')[0], err
    # cli#38: evaluate on that model says it in the CLI's terms (no `df[...]`, no `evaluate`: prefix)
    T().head(300).to_csv(tmp_path/'held.csv', index=False)
    rc,err = _cli(['evaluate', '--model', tmp_path/'o'/'model', '--data', tmp_path/'held.csv', '--k', 5], capsys)
    line = next(l for l in err.splitlines() if 'is not read' in l)
    assert rc==0 and line.startswith("recfast evaluate: warning: column 'rating' is not read: each of the 300 "), line
    assert "keep only the relevant rows of the file first (e.g. those with 'rating' >= 4)" in line, line
    assert 'remove that column from the file' in line and '`' not in line and '--user-col' not in line, line
    rc,err = _cli(['evaluate', '--model', tmp_path/'o'/'model', '--data', tmp_path/'held.csv', '--sep', ';'], capsys)
    assert rc!=0 and "held.csv has one column ('user,movie,rating'): wrong --sep ';'? pass --sep ','" in err, err

# cli#27 (+cli#36): a one-column CSV read with the wrong --sep is told the separator its header holds
def test_cli_sep_guessed_from_header(tmp_path, capsys):
    T().to_csv(tmp_path/'s.csv', index=False); T().to_csv(tmp_path/'t.csv', index=False, sep='\t')
    rc,err = _cli(['train', '--data', tmp_path/'s.csv', '--sep', ';', '--epochs', 1], capsys)
    assert rc!=0 and "has one column ('user,movie,rating'): wrong --sep ';'? pass --sep ','" in err, err
    rc,err = _cli(['train', '--data', tmp_path/'t.csv', '--epochs', 1], capsys)
    assert rc!=0 and "wrong --sep ','? pass --sep '\\t'" in err, err
    (tmp_path/'one.csv').write_text('user\n1\n2\n')
    rc,err = _cli(['train', '--data', tmp_path/'one.csv', '--epochs', 1], capsys)
    assert rc!=0 and "pass e.g. --sep ';' or '\\t'" in err, err  # nothing to guess from

# b2#17 (+b5#1): a CSV whose first line is a comment is told to skip it (header=1), not to change `sep`
def test_csv_comment_line(tmp_path, capsys):
    (tmp_path/'c.csv').write_text('# exported 2024\n' + T().to_csv(index=False))
    with pytest.raises(ValueError, match=r"c.csv: line 1 looks like a comment \('# exported 2024'\): pass header=1 to "
                                         r"read the header row after it$"):
        RatingsDataLoaders.from_csv(tmp_path/'c.csv', seed=0)
    assert _quiet(RatingsDataLoaders.from_csv, tmp_path/'c.csv', header=1, seed=0).n_users==31
    (tmp_path/'c2.csv').write_text('// a\n# b, c\n' + T().to_csv(index=False))
    with pytest.raises(ValueError, match=r"lines 1-2 look like comments \('// a'\): pass header=2"):
        RatingsDataLoaders.from_csv(tmp_path/'c2.csv', seed=0)
    with pytest.raises(ValueError, match=r"line 2 looks like a comment \('# b'\): pass header=2"):
        RatingsDataLoaders.from_csv(tmp_path/'c2.csv', header=1, seed=0)
    (tmp_path/'n.csv').write_text(T().assign(**{'#': range(len(T()))})[['#','user','movie','rating']]
                                  .to_csv(index=False))  # a column named '#' is no comment
    assert _quiet(RatingsDataLoaders.from_csv, tmp_path/'n.csv', user_name='user', item_name='movie',
                  rating_name='rating', seed=0).n_users==31
    rc,err = _cli(['train', '--data', tmp_path/'c.csv', '--epochs', 1], capsys)
    assert rc!=0 and "c.csv: line 1 looks like a comment ('# exported 2024'): delete it, so that line 1 is the " \
                     "header row" in err and '--sep' not in err, err

# b2#12 (+b5#4): Decimal ratings (Parquet's decimal128) are exact numbers: read as floats, not refused as text
def test_decimal_ratings_accepted(tmp_path):
    import pyarrow as pa, pyarrow.parquet as pq
    t = pa.table({'user': T().user.values, 'movie': T().movie.values,
                  'rating': pa.array([Decimal(f'{r}.5') for r in T().rating], pa.decimal128(4, 1))})
    pq.write_table(t, tmp_path/'dec.parquet')
    d = _quiet(RatingsDataLoaders.from_parquet, tmp_path/'dec.parquet', seed=0)
    assert d.rating_span==(1.5, 5.5) and d.one_batch()[1].dtype==torch.float32
    d2 = _quiet(RatingsDataLoaders.from_df, T().assign(rating=T().rating.map(Decimal)), seed=0)
    ref = _quiet(RatingsDataLoaders.from_df, T(), seed=0)
    assert torch.equal(d2.one_batch()[1], ref.one_batch()[1])
    with pytest.raises(ValueError, match=r"Column 'rating' holds numbers as text .* row 3 \(rating='4'\)"):
        RatingsDataLoaders.from_df(T().assign(rating=T().rating.map(Decimal).astype(object).where(T().index!=3, '4')))
    with pytest.raises(ValueError, match=r"Column 'rating' has 1 missing or infinite values, first at row 2"):
        RatingsDataLoaders.from_df(T().assign(rating=T().rating.map(Decimal).where(T().index!=2, Decimal('NaN'))))

# b5#34: a Parquet folder whose files don't share their columns is refused naming the file, not its "missing ids"
def test_parquet_folder_columns_shared(tmp_path, capsys):
    p = tmp_path/'pq'; p.mkdir()
    T().to_parquet(p/'a.parquet'); T().rename(columns={'movie':'item'}).head(10).to_parquet(p/'b.parquet')
    msg = (r"b.parquet in folder .*pq has no column 'movie' \(its columns: user, item, rating\): the folder's files "
           r"must share their columns")
    with pytest.raises(ValueError, match=msg): RatingsDataLoaders.from_parquet(p, seed=0)
    rc,err = _cli(['train', '--data', p, '--epochs', 1], capsys)
    assert rc!=0 and "b.parquet in folder" in err and "has no column 'movie'" in err and 'missing ids' not in err, err
    T().assign(extra=1).head(10).to_parquet(p/'b.parquet')
    with pytest.raises(ValueError, match=r"b.parquet .* has a column 'extra' that a.parquet has not"):
        RatingsDataLoaders.from_parquet(p, seed=0)
    assert _quiet(RatingsDataLoaders.from_parquet, p, columns=['user','movie','rating'], seed=0).n_users==31
    T().iloc[:100].to_parquet(p/'b.parquet'); T().iloc[100:].to_parquet(p/'c.parquet')  # shared columns: read
    (p/'_SUCCESS').write_text('')
    assert _quiet(RatingsDataLoaders.from_parquet, p, seed=0).n_users==31

# cli#10, cli#20, cli#31: a missing column named by --time-col/--user-col is said with that option
def test_cli_missing_column_names_option(tmp_path, capsys):
    TT().to_csv(tmp_path/'st.csv', index=False); T().to_csv(tmp_path/'s.csv', index=False)
    rc,err = _cli(['train', '--arch', 'sasrec', '--data', tmp_path/'st.csv', '--time-col', 'ts', '--epochs', 1], capsys)
    assert rc!=0 and f"--time-col ts: {tmp_path/'st.csv'} has no such column (its columns: user, movie, rating, " \
                     "timestamp)" in err, err
    rc,err = _cli(['train', '--data', tmp_path/'s.csv', '--user-col', 'uid', '--epochs', 1], capsys)
    assert rc!=0 and f"--user-col uid: {tmp_path/'s.csv'} has no such column (its columns: user, movie, rating)" in err
    assert '`' not in err and 'user_name' not in err, err

# cli#11, cli#12, cli#8: option values are named as the option, without the data file's name
def test_cli_option_values_named(tmp_path, capsys):
    TT().to_csv(tmp_path/'st.csv', index=False); T().to_csv(tmp_path/'s.csv', index=False)
    rc,err = _cli(['train', '--arch', 'lstm', '--data', tmp_path/'st.csv', '--time-col', 'timestamp', '--max-len', 0,
                   '--epochs', 1], capsys)
    assert rc!=0 and err.strip()=='recfast train: error: --max-len 0: must be a positive int', err
    rc,err = _cli(['train', '--arch', 'autorec', '--data', tmp_path/'s.csv', '--by', 'bogus', '--epochs', 1], capsys)
    assert rc!=0 and err.strip()=="recfast train: error: --by 'bogus': unknown; use 'user' or 'item'", err

# cli#6, cli#39: evaluate's advice is what a CLI user can do (no `learn.fold_in`, no `df[...]`, no `evaluate`:)
def test_cli_evaluate_advice(capsys):
    import io, contextlib
    def said(cmd, msg):
        f = io.StringIO()
        with contextlib.redirect_stderr(f): _say(cmd, 'error', msg)
        return f.getvalue().strip()
    out = said('evaluate', "No row of the frame has a user and an item the model knows (no user of it is known: new "
                           "users are added with `learn.fold_in(rows)`)")
    assert out.endswith("(no user of it is known: the CLI knows the users a model trained on; train one with "
                        "`recfast train` on some rows of these users, and evaluate on the others)"), out
    assert 'fold_in' not in out
    out = said('evaluate', "`evaluate`: column 'r' is not read: each of the 3 held-out rows is a positive "
                           "interaction, whatever its rating; keep only the relevant rows first (e.g. "
                           "`df[df['r'] >= 4]`), or select the user and item columns to say all rows are positives")
    assert out==("recfast evaluate: error: column 'r' is not read: each of the 3 held-out rows is a positive "
                 "interaction, whatever its rating; keep only the relevant rows of the file first (e.g. those with "
                 "'r' >= 4), or remove that column from the file to say all rows are positives"), out

def test_evaluate_unread_ratings_sequence_no_threshold():
    d = _quiet(SequenceDataLoaders.from_df, TT()[['user','movie','timestamp']], time_name='timestamp', seed=0)
    learn = _fit(_quiet(recfast_learner, d, arch='lstm', n_factors=4))
    _,msgs = _messages(lambda: learn.evaluate(T().head(200)))
    m = next(m for m in msgs if 'is not read' in m)
    assert "`evaluate`: column 'rating' is not read: each of the 200 held-out rows" in m, m
    assert 'without `threshold`' not in m and "`df[df['rating'] >= 4]`" in m, m
