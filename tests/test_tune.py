"""`tune` (issue #30): the search reads the training and validation splits only, every registered search space runs,
closed forms are scored without epochs, pruning stops trailing trials, and the recipe rebuilds the learner."""
import json, random, re, warnings
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
    assert rec['trials']==4 and rec['monitor']=='rmse' and 0.8 < rec['value'] < 1.3
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
        args = search_space(a)(study.ask(), d)
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

def test_round_seven_tune(R, tmp_path):
    "Spaces that return junk, schedules that can't train, clashes, seeds, paths: refused by name, before any trial"
    rd = _q(RatingsDataLoaders.from_df, R[['user','movie','rating']], seed=0, bs=256)
    idl = _q(InteractionsDataLoaders.from_df, R[['user','movie']], seed=0, bs=512)
    one = lambda t,d: dict(n_factors=t.suggest_categorical('n_factors', [8]), epochs=1, lr=1e-2)
    T = lambda **k: (lambda: _q(tune, rd, n_trials=2, path=tmp_path, show=False, **k))
    (tmp_path/'afile').write_text('x')
    cases = [(T(space=lambda t,d: [1]), TypeError, '`space` must return a dict'),
             (T(space=lambda t,d: None), TypeError, '`space` must return a dict'),
             (T(space=lambda t,d: dict(epochs=-2, lr=1e-2)), ValueError, '`epochs`, a positive int'),
             (T(space=lambda t,d: dict(epochs=0, lr=1e-2)), ValueError, '`epochs`, a positive int'),
             (T(space=lambda t,d: dict(epochs=1.7, lr=1e-2)), ValueError, '`epochs`, a positive int'),
             (T(space=lambda t,d: dict(lr=1e-2)), ValueError, '`epochs`, a positive int'),
             (T(space=lambda t,d: dict(epochs=1)), ValueError, '`lr`, a positive number'),
             (T(space=lambda t,d: dict(bogus=1, epochs=1, lr=1e-2)), TypeError, "don't fit arch 'dot'"),
             (T(space=lambda t,d: dict(loss_func=MSELossFlat(), epochs=1, lr=1e-2)), TypeError, "'loss_func' is a"),
             (T(space=one, n_factors=4), ValueError, 'n_factors: searched by the space and fixed'),
             (T(space=one, epochs=1), ValueError, '`epochs` is part of the recipe'),
             (T(space=one, seed=-1), ValueError, '`seed` must be'),
             (T(space=one, seed='abc'), ValueError, '`seed` must be'),
             (lambda: _q(tune, rd, space=one, n_trials=1, path=tmp_path/'afile', show=False), ValueError, 'is a file'),
             (lambda: _q(tune, idl, arch='ease', monitor='train_loss', n_trials=1, path=tmp_path), ValueError,
              "`monitor`='train_loss' is not a metric"),
             (lambda: plot_study({'x': 1}), ValueError, 'has no trials'),
             (lambda: save_study({'a': 1}, tmp_path/'s.json'), TypeError, 'must be an Optuna study')]
    for f,err,msg in cases:
        with pytest.raises(err, match=re.escape(msg)): f()
    # a diverging trial is pruned, the study goes on; numpy values are written as numbers
    sp = lambda t,d: dict(n_factors=8, epochs=np.int64(1), lr=1e-2 if t.number!=1 else 1e8)
    rec,_ = _q(tune, rd, space=sp, n_trials=3, prune=False, path=tmp_path, show=False)
    s = json.loads(Path(rec['study']).read_text())
    assert [t['state'] for t in s['trials']].count('PRUNED')==1 and rec['epochs']==1 and type(rec['epochs']) is int
    with pytest.raises(RuntimeError, match='No trial of arch'):
        _q(tune, rd, space=lambda t,d: dict(epochs=1, lr=1e8), n_trials=2, prune=False, path=tmp_path, show=False)

def test_registry_spaces(R, monkeypatch):
    "A bad space is refused when registered; a typo in one doesn't break building; re-registering differently warns"
    import recfast.registry
    monkeypatch.setattr(recfast.registry, '_learners', dict(recfast.registry._learners))  # its archs leave with it
    with pytest.raises(TypeError, match='`space` of arch'): register_learner('h7a', 'recfast.collab.learner:dot_learner',
                                                                           space=123)
    with pytest.raises(TypeError, match='`space` of arch'): register_learner('h7b', 'recfast.collab.learner:dot_learner',
                                                                           space='nocolon')
    register_learner('h7c', 'recfast.collab.learner:dot_learner', 'recfast.collab.data:RatingsDataLoaders',
                     space='recfast.collab.learner:no_such_space')
    rd = _q(RatingsDataLoaders.from_df, R[['user','movie','rating']], seed=0, bs=256)
    assert isinstance(recfast_learner(rd, arch='h7c'), Learner)
    with pytest.raises(ValueError, match="registers the search space 'recfast.collab.learner:no_such_space'"):
        search_space('h7c')
    with pytest.warns(UserWarning, match="arch 'h7c' was registered already; its space now differ"):
        register_learner('h7c', 'recfast.collab.learner:dot_learner', 'recfast.collab.data:RatingsDataLoaders',
                         space='recfast.collab.learner:dot_space')

def test_cli_tune_and_config(R, tmp_path, capsys):
    "`recfast tune` checks --timeout first; `train --config` refuses a recipe it would misread, naming the file"
    from recfast.cli import main
    R[['user','movie','rating']].to_csv(tmp_path/'r.csv', index=False)
    data = ['--data', str(tmp_path/'r.csv')]
    assert main(['tune', *data, '--timeout', 'abc', '--out', str(tmp_path/'t0')]) == 1
    assert '--timeout abc' in capsys.readouterr().err and not (tmp_path/'t0').exists()
    assert main(['tune', *data, '--trials', '2', '--bs', '256', '--out', str(tmp_path/'t')]) == 0
    best = json.loads((tmp_path/'t'/'best.json').read_text())
    def cfg(**upd):  # one file per case: the table is built before any case runs
        f = tmp_path/f'c{len(list(tmp_path.glob("c*.json")))}.json'
        f.write_text(json.dumps({**best, **upd}))
        return ['train', *data, '--config', str(f), '--out', str(tmp_path/'o')]
    for argv,msg in [(cfg(epochs=0), "'epochs' must be a positive int"), (cfg(epochs='2'), "'epochs' must be"),
                     (cfg(epochs=1.5), "'epochs' must be"), (cfg(epochs=True), "'epochs' must be"),
                     (cfg(lr=0), "'lr' must be a positive number"), (cfg(lr=-1.), "'lr' must be a positive number"),
                     (cfg(kwargs={'lr': 0.1}), "holds 'lr', not an argument"),
                     (cfg(kwargs={'bogus': 1}), "holds 'bogus', not an argument of --arch dot"),
                     (cfg(kwargs={'layers': [64]}), "holds 'layers'"), (cfg(arch='nope'), "arch 'nope' is not registered"),
                     (cfg()+['--n-factors', '3'], f"--n-factors 3 but --config"), (cfg()+['--arch', 'mlp'], 'drop one')]:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert msg in err and '--config' in err, (msg, err)

def test_sasrec_space(R, tmp_path):
    "SASRec's space searches its blocks, heads and dropout; its first trial is the bench's valid-best; recipes rebuild"
    sd = _q(SequenceDataLoaders.from_df, R[['user','movie','timestamp']], time_name='timestamp', max_len=20, seed=0,
            bs=64)
    assert search_space('sasrec') is sasrec_space and search_space('lstm') is sequence_space
    short = lambda t,d: {**sasrec_space(t, d), 'epochs': 1}  # (the starts' 20 epochs, cut to one for the test)
    short.starts = sasrec_space.starts
    rec,learn = _q(tune, sd, arch='sasrec', space=short, n_trials=2, path=tmp_path, show=False, prune=False)
    s = json.loads(Path(rec['study']).read_text())
    assert s['trials'][0]['params'] == sasrec_space.starts[0]  # the hand-tuned recipe first
    mk = rec['kwargs']['model_kwargs']
    assert set(mk) == {'n_layers', 'n_heads', 'p'} and len(learn.model.blocks) == mk['n_layers']
    assert learn.model.blocks[0].n_heads == mk['n_heads'] and learn.model.p == mk['p']
    set_seed(rec['seed'])
    for dl in sd.loaders: dl.rng = random.Random(dl.seed)
    again = recfast_learner(sd, arch='sasrec', **rec['kwargs'])
    with again.no_bar(), again.no_logging(): again.fit_one_cycle(rec['epochs'], rec['lr'])
    assert abs(again.recorder.values[-1][2] - rec['value']) < 1e-4

def test_fixed_model_kwargs_merge(R, tmp_path):
    "A fixed `model_kwargs` joins the space's (SASRec's searches its own): a key both fix and search is refused by name"
    sd = _q(SequenceDataLoaders.from_df, R[['user','movie','timestamp']], time_name='timestamp', max_len=20, seed=0,
            bs=64)
    short = lambda t,d: {**sasrec_space(t, d), 'epochs': 1}
    rec,learn = _q(tune, sd, arch='sasrec', space=short, n_trials=1, path=tmp_path, show=False,
                   model_kwargs={'max_len': 12})
    assert rec['kwargs']['model_kwargs']['max_len'] == 12 == learn.model.max_len
    assert set(rec['kwargs']['model_kwargs']) == {'n_layers', 'n_heads', 'p', 'max_len'}
    with pytest.raises(ValueError, match=re.escape("model_kwargs['p']: searched by the space and fixed")):
        _q(tune, sd, arch='sasrec', space=short, n_trials=1, path=tmp_path, show=False, model_kwargs={'p': 0.1})
    rd = _q(RatingsDataLoaders.from_df, R[['user','movie','rating']], seed=0, bs=256)
    with pytest.raises(ValueError, match=re.escape('n_factors: searched by the space and fixed')):
        _q(tune, rd, arch='dot', n_trials=1, path=tmp_path, show=False, n_factors=8)
