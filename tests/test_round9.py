"Hostile review round 7 (#27), the POOR cases: each bad input is refused early, by name, with what to do instead."
import functools, warnings
import pandas as pd, pytest, torch
from fastai.data.block import DataBlock, TransformBlock, RegressionBlock
from fastai.data.transforms import ColReader, RandomSplitter
from fastai.callback.tracker import EarlyStoppingCallback, SaveModelCallback
from recfast.all import *
from recfast.serve_torch import Recommender

torch.set_num_threads(1)

from tests.hostile import S, S3

@functools.cache
def rd(): return RatingsDataLoaders.from_df(S3(), seed=0)

@functools.cache
def dot():
    learn = dot_learner(rd(), n_factors=8)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 5e-3)
    return learn

@functools.cache
def implicit():
    users = movielens_users()[['user','age','gender','occupation']]
    films = movielens_items()[['movie','year','genres']].fillna({'year':1990.})
    dls = InteractionsDataLoaders.from_df(S3()[['user','movie']], seed=0, user_features=users[users.user<=60],
                                          item_features=films)
    return implicit_learner(dls, n_factors=8), films

@functools.cache
def ram():
    x,y = mnist_digits(split='testing')
    return ram_learner(MNISTGlimpseDataLoaders.from_tensors(x[:64], y[:64], bs=32))

def served(tmp):
    learn = dot()
    return Recommender(learn.export_serving(tmp/'served'))

def ease_user_features():
    users = movielens_users()[['user','age','gender','occupation']]
    dls = InteractionsDataLoaders.from_df(S3()[['user','movie']], seed=0, user_features=users[users.user<=60])
    new = pd.DataFrame({'user':[9001], 'age':[30], 'gender':['F'], 'occupation':['student']})
    return ease_learner(dls).recommend(9001, n=3, user_features=new)

def text_ratings(strict:bool, target=RegressionBlock):
    "A `RatingsBlock` DataBlock on ratings held as text; warnings raised as errors if `strict`"
    db = DataBlock(blocks=(RatingsBlock('user','movie'), target()), get_y=ColReader('rating'),
                   splitter=RandomSplitter(seed=0))
    with warnings.catch_warnings():
        warnings.simplefilter('error' if strict else 'ignore')
        return db.dataloaders(S3().assign(rating=S3().rating.astype(str)), bs=64).one_batch()

def seq_block(seqs):
    db = DataBlock(blocks=(SequenceBlock(max_len=5, shift=True), SequenceBlock(max_len=5)), get_x=ColReader('seq'),
                   get_y=ColReader('seq'), splitter=RandomSplitter(seed=0))
    return db.dataloaders(seqs, bs=8).one_batch()

def vec_block(df):
    db = DataBlock(blocks=(SparseVectorBlock(5), SparseVectorBlock(5)), get_x=ColReader('v'), get_y=ColReader('v'),
                   splitter=RandomSplitter(seed=0))
    return db.dataloaders(df, bs=2).one_batch()

def interp_test_idx():
    dls = RatingsDataLoaders.from_df(S(), seed=0, test=True, split='last', time_name='timestamp')
    return RecInterpretation.from_learner(dot_learner(dls, n_factors=8), ds_idx=2)

CASES = {  # case id: (the bad call, taking pytest's tmp_path; the error; a regex of its message)
    'b4#31 interp ds_idx=2': (lambda p: interp_test_idx(), ValueError, r"use 0 \(training\) or 1.*dls\.test_df"),
    'b4#53 served recommend(None)': (lambda p: served(p).recommend(None), TypeError, r"Pass a `user`"),
    'b4#53 served top(None)': (lambda p: served(p).top(None), TypeError, r"Pass `users`"),
    'b4#58 RAM export_serving': (lambda p: ram().export_serving(p/'d'), AttributeError,
                                 r"`export_serving` is a verb of recommenders \(`RecLearner`\).*RecurrentAttention"),
    'b7#2 RAM recommend': (lambda p: ram().recommend(1), AttributeError, r"`recommend` is a verb of recommenders"),
    'b7#3 RAM evaluate': (lambda p: ram().evaluate(S3()), AttributeError, r"`evaluate` is a verb of recommenders"),
    'b7#5 RAM fold_in': (lambda p: ram().fold_in(S3()), AttributeError, r"`fold_in` is a verb of recommenders"),
    'b6#26 validate(dl=df)': (lambda p: dot().validate(dl=S3()), TypeError,
                              r"takes a DataLoader as `dl`, not DataFrame.*test_dl\(df\)"),
    'b6#26 FastLearner get_preds(dl=df)': (lambda p: ram().get_preds(dl=S3()), TypeError,
                                           r"`get_preds` takes a DataLoader.*`learn\.dls\.test_dl\(df\)`"),
    'b6#43 EarlyStopping val_loss': (lambda p: dot_learner(rd()).fit(1, cbs=EarlyStoppingCallback(monitor='val_loss')),
                                     ValueError, r"monitor='val_loss'.*one of 'train_loss', 'valid_loss', 'rmse'"),
    'b6#44 learner SaveModel mrr': (lambda p: dot_learner(rd(), cbs=SaveModelCallback(monitor='mrr')).fit(1),
                                    ValueError, r"SaveModelCallback\(monitor='mrr'\).*'valid_loss'"),
    'b6#38 recommend_all missing folder': (lambda p: dot().recommend_all(n=2, fname=p/'nodir'/'x.parquet'),
                                           FileNotFoundError, r"its folder .*nodir' does not exist"),
    'b3#28 show_results by=item': (
        lambda p: autoencoder_learner(SparseVectorDataLoaders.from_df(S3(), by='item', valid_pct=0.1, seed=0))
                  .show_results(max_n=2, show=False), TypeError, r"no user queries.*learn\.recommend\(users\)"),
    'b3#6 bool time column': (
        lambda p: SequenceDataLoaders.from_df(S()[['user','movie','timestamp']].assign(timestamp=S().index%2==0),
                                              time_name='timestamp'), ValueError, r"bools are not times"),
    'b2#9 empty item_features': (lambda p: implicit()[0].recommend(9001, n=3, item_features=implicit()[1].head(0)),
                                 ValueError, r"item_features is empty: pass the new items' rows"),
    'b2#33 ease with user_features': (lambda p: ease_user_features(), TypeError,
                                      r"EASE \(a closed form\) uses no features.*train a hybrid model"),
    'b5#10 text ratings (warned)': (lambda p: text_ratings(True), UserWarning, r"Column 'rating' holds numbers as text"),
    'b5#10 text ratings reach the loader': (lambda p: text_ratings(False, TransformBlock), TypeError,
                                            r"holds text, '\d'.*pd\.to_numeric"),
    'b5#16 SequenceBlock str': (lambda p: seq_block(pd.DataFrame({'seq': ['1,2,3']*8})), TypeError,
                                r"is a str \('1,2,3'\), not a list of item ids"),
    'b5#18 SparseVectorBlock lists': (lambda p: vec_block(pd.DataFrame({'v': [[0,1,2,3,4,5,6]]*10})), TypeError,
                                      r"takes `\(indices, values\)` pairs"),
}

@pytest.mark.parametrize('case', list(CASES))
def test_refused_clearly(case, tmp_path):
    f,exc,msg = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        if exc is UserWarning: warnings.simplefilter('error', UserWarning)
        with pytest.raises(exc, match=msg): f(tmp_path)

def test_delegation_kept():
    "fastai's `Learner` still hands unknown attributes to the model, and a missing one still fails as before"
    learn = ram()
    name,mod = next(iter(learn.model.named_children()))
    assert getattr(learn, name) is mod
    with pytest.raises(AttributeError, match='no_such_attr'): learn.no_such_attr
    assert not hasattr(learn, 'recommend') and hasattr(dot(), 'recommend')

def test_good_inputs_pass(tmp_path):
    "The checks let the right inputs through: a recorded monitor, a list `dl` (fastai's `summary`), a folder that exists"
    learn = dot_learner(rd(), n_factors=8)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, cbs=EarlyStoppingCallback(monitor='rmse'))
    assert len(dot().recommend_all(n=2, fname=tmp_path/'x.csv', users=[1, 2]).read_text().splitlines()) == 5
    assert served(tmp_path).recommend(1, n=2) == dot().recommend(1, n=2)
    b = dot().dls.valid.one_batch()
    assert len(dot().get_preds(dl=[b])[0]) == len(b[0])
