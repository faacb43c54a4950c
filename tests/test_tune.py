"""`tune` (issue #30): the search reads the training and validation splits only, every registered search space runs,
closed forms are scored without epochs, pruning stops trailing trials, and the recipe rebuilds the learner."""
import json, random, warnings
import pytest
from recfast.all import *

@pytest.fixture(scope='module')
def R():
    r = movielens_100k()[['user','movie','rating','timestamp']]
    return r[r.user<=120].reset_index(drop=True)

def _q(f, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return f(*a, **k)

class Untouchable:
    "A stand-in for `dls.test_df` that fails on any use"
    def __getattr__(self, k): raise AssertionError(f"the search read the test split ({k})")
    def __len__(self): raise AssertionError("the search read the test split")

def test_test_split_never_read(R, tmp_path):
    dls = _q(RatingsDataLoaders.from_df, R[['user','movie','rating']], seed=0, bs=256, test=True)
    n_test = len(dls.test_df)
    dls.test_df = Untouchable()
    rec,learn = _q(tune, dls, arch='dot', n_trials=4, path=tmp_path, show=False)
    assert rec['trials']==4 and rec['monitor']=='_rmse' and 0.8 < rec['value'] < 1.3
    assert abs(learn.validate()[1]-rec['value']) < 1e-4  # the learner returned is the best trial's, fitted
    assert n_test > 0

def test_every_space_samples(R):
    "Each registered space returns arguments its factory accepts (one trial each, a fixed trial)"
    import optuna
    dls = {RatingsDataLoaders: lambda: RatingsDataLoaders.from_df(R[['user','movie','rating']], seed=0, bs=256),
           InteractionsDataLoaders: lambda: InteractionsDataLoaders.from_df(R[['user','movie']], seed=0, bs=512),
           SequenceDataLoaders: lambda: SequenceDataLoaders.from_df(R[['user','movie','timestamp']], time_name='timestamp',
                                                                   max_len=20, seed=0, bs=64),
           RatingSequenceDataLoaders: lambda: RatingSequenceDataLoaders.from_df(R, time_name='timestamp', max_len=20,
                                                                               seed=0, bs=64),
           SparseVectorDataLoaders: lambda: SparseVectorDataLoaders.from_df(R[['user','movie','rating']], seed=0, bs=32)}
    built = {}
    for a in known_archs():
        info = arch_info(a)
        if info['space'] is None or info['dls'] not in dls: continue
        d = built.setdefault(info['dls'], _q(dls[info['dls']]))
        study = optuna.create_study()
        args = info['space'](study.ask(), d)
        args.pop('epochs', None); args.pop('lr', None)
        assert isinstance(_q(recfast_learner, d, arch=a, **args), Learner), a

def test_closed_form_and_pruning(R, tmp_path):
    idl = _q(InteractionsDataLoaders.from_df, R[['user','movie']], seed=0, bs=512)
    rec,_ = _q(tune, idl, arch='ease', n_trials=3, path=tmp_path, show=False)
    assert rec['epochs'] is None and rec['monitor']=='mrr' and 0 < rec['value'] < 1
    s = json.loads(Path(rec['study']).read_text())
    assert s['direction']=='maximize' and len(s['trials'])==3
    rd = _q(RatingsDataLoaders.from_df, R[['user','movie','rating']], seed=0, bs=256)
    rec,_ = _q(tune, rd, arch='dot', n_trials=12, path=tmp_path, show=False)
    s = json.loads(Path(rec['study']).read_text())
    assert any(t['state']=='PRUNED' for t in s['trials']), [t['state'] for t in s['trials']]
    assert plot_study(rec['study'], tmp_path/'s.png').stat().st_size > 1000

def test_recipe_rebuilds(R, tmp_path):
    "The recipe's arguments, epochs and lr give the tuned value again (same seed)"
    rd = _q(RatingsDataLoaders.from_df, R[['user','movie','rating']], seed=0, bs=256)
    rec,_ = _q(tune, rd, arch='dot', n_trials=3, path=tmp_path, show=False, prune=False)
    set_seed(rec['seed'])
    for dl in rd.loaders: dl.rng = random.Random(dl.seed)  # as `tune` restarts the shuffling for every trial
    learn = recfast_learner(rd, arch=rec['arch'], **rec['kwargs'])
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(rec['epochs'], rec['lr'])
    assert abs(learn.recorder.values[-1][2] - rec['value']) < 1e-4

def test_bad_input(R):
    rd = _q(RatingsDataLoaders.from_df, R[['user','movie','rating']], seed=0, bs=256)
    for f,err,msg in [(lambda: tune(rd, arch='dot', n_trials=1.5), ValueError, '`n_trials` must be a positive int'),
                      (lambda: tune(rd, timeout=-1), ValueError, '`timeout` must be a positive number'),
                      (lambda: tune(rd, space=3), TypeError, '`space` must be a function'),
                      (lambda: tune(rd, prune='no'), ValueError, '`prune`'),
                      (lambda: tune(rd, arch='implicit'), TypeError, 'trains on InteractionsDataLoaders'),
                      (lambda: tune(rd, arch='nope'), ValueError, 'Unknown arch')]:
        with pytest.raises(err, match=msg): f()
