"Hostile review round 12 (hostile27): each bad input is refused by name, warned with a count, or handled correctly."
import functools, json
import numpy as np, pandas as pd, pytest, torch
from recfast.all import *
from recfast.cli import main

torch.set_num_threads(1)

from tests.hostile import S, S3, _quiet, _messages, _fit, _dot50

def T(): return S3()[S3().user<=20].reset_index(drop=True)

# b3#5 (b8#1-3): ratings are checked against y_range as given, before duplicates are averaged into other values
def test_y_range_checks_ratings_before_averaging():
    learn,_ = _dot50()
    with pytest.raises(ValueError, match=r'outside y_range=\(0, 5.5\), e.g. 9.0 by user=9001'):
        learn.fold_in(pd.DataFrame({'user':[9001]*4, 'movie':[50,50,181,1], 'rating':[9,3,4,2]}))
    df = pd.concat([T(), pd.DataFrame({'user':[1,1], 'movie':[1,1], 'rating':[-50,60]})], ignore_index=True)
    d = _quiet(RatingsDataLoaders.from_df, df, seed=0)
    assert d.rating_span==(-50., 60.)
    with pytest.raises(ValueError, match=r'ratings span \[-50, 60\] as given, outside y_range'): dot_learner(d)

# b5#2: a cutoff without a time zone is refused against a time-zone-aware column (pandas would read it there)
def test_naive_cutoff_on_tz_column():
    st = S()[S().user<=20]
    t = pd.to_datetime(st.timestamp, unit='s').dt.tz_localize('UTC').dt.tz_convert('US/Pacific')
    df = st.assign(timestamp=t)[['user','movie','timestamp']]
    with pytest.raises(ValueError, match=r"has no time zone and column 'timestamp' is in US/Pacific"):
        InteractionsDataLoaders.from_df(df, time_name='timestamp', split='cutoff', cutoff='1997-12-12 19:56:04')
    _quiet(InteractionsDataLoaders.from_df, df, time_name='timestamp', split='cutoff', cutoff='1997-12-12 19:56:04Z')

# b5#13: an edited recipe whose model no longer fits the weights is named as the recipe's edit
def test_safe_recipe_edit_named(tmp_path):
    learn,_ = _dot50()
    learn.export_safe(tmp_path/'m')
    r = json.loads((tmp_path/'m'/'recipe.json').read_text()); r['kwargs']['n_factors'] = 8
    (tmp_path/'m'/'recipe.json').write_text(json.dumps(r))
    with pytest.raises(ValueError, match=r"recipe.json doesn't match the checksum .* no longer fits the saved weights"):
        _quiet(load_learner_safe, tmp_path/'m')

# b6#16, b6#23: missing columns: a named index may hold the ids; a one-column header of spaces is a wrong `sep`
def test_missing_columns_hints(tmp_path):
    df = T().copy(); df.columns = ['u','m','r']
    with pytest.raises(ValueError, match=r"its index 'u' may hold ids: `df.reset_index\(\)` first"):
        RatingsDataLoaders.from_df(df.set_index('u'), seed=0)
    T().to_csv(tmp_path/'sp.csv', index=False, sep=' ')
    with pytest.raises(ValueError, match=r"wrong `sep`=','\? pass sep=' '"): RatingsDataLoaders.from_csv(tmp_path/'sp.csv')

# cli#21: the CLI names its own options, and a file of clicks is pointed to --arch implicit
def test_cli_missing_rating_column_words(tmp_path, capsys):
    T()[['user','movie']].to_csv(tmp_path/'clicks.csv', index=False)
    assert main(['train', '--data', str(tmp_path/'clicks.csv'), '--arch', 'dot', '--epochs', '1']) != 0
    err = capsys.readouterr().err
    assert '--rating-col' in err and 'rating_name=' not in err and '--arch implicit' in err, err

# b2#7: a column read without a header is named "column 1" in the cold-row warning
def test_headerless_column_named(tmp_path):
    T().to_csv(tmp_path/'nohdr.csv', index=False, header=False)
    _,msgs = _messages(lambda: RatingsDataLoaders.from_csv(tmp_path/'nohdr.csv', header=None, seed=0))
    cold = [m for m in msgs if 'no training row' in m]
    assert cold and all('column 1 value' in m or 'column 0 value' in m for m in cold), cold

# b5#29: a metric passed as a callback of `fit` is refused with the place it belongs
def test_metric_as_fit_callback():
    d = _quiet(InteractionsDataLoaders.from_df, T()[['user','movie']], seed=0)
    with pytest.raises(TypeError, match='a metric goes in `metrics=`'):
        implicit_learner(d, n_factors=4).fit(1, 1e-3, cbs=[RankMetric(mrr)])
