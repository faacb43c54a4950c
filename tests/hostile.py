"Shared setup of the hostile-review tests (test_round9..19): a small slice of ML-100K, warning and CLI helpers"
import functools, warnings
from recfast.all import movielens_100k

@functools.cache
def S():
    "ML-100K rows of users 1..60: `user, movie, rating, timestamp`"
    r = movielens_100k()
    return r[r.user<=60][['user','movie','rating','timestamp']].reset_index(drop=True)

def S3(): return S()[['user','movie','rating']].copy()

def _quiet(f, *a, **k):
    "`f(*a, **k)` with every warning silenced"
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return f(*a, **k)

def _messages(f):
    "`(f(), the texts of the warnings it gave)`"
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        res = f()
    return res, [str(x.message) for x in w]

def _fit(learn, quiet:bool=True):
    "One epoch at 1e-3, without bars or logs (and, if `quiet`, without warnings)"
    with learn.no_bar(), learn.no_logging(): (_quiet if quiet else lambda f,*a: f(*a))(learn.fit, 1, 1e-3)
    return learn

def _dot50():
    "`(learner, rows of user 55 on items it knows)`: a dot model fitted on users <= 50, and a new user to fold in"
    from recfast.all import RatingsDataLoaders, dot_learner
    d2 = _quiet(RatingsDataLoaders.from_df, S3()[S3().user<=50], seed=0)
    learn = _fit(_quiet(dot_learner, d2, n_factors=4))
    return learn, S3()[(S3().user==55) & S3().movie.isin(d2.items.items[1:])]

def T30(): return S3()[S3().user<=30].reset_index(drop=True)
def TT30(): return S()[S().user<=30].reset_index(drop=True)

def _cli(args, capsys):
    "`(exit code, stderr)` of `recfast *args`, run in-process"
    from recfast.cli import main
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err
