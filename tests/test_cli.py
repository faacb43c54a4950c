"The `recfast train` command on a small CSV, through the console script entry point."
import subprocess, sys, os
from pathlib import Path
import pandas as pd, pytest
from recfast.datasets import movielens_100k

ROOT = Path(__file__).resolve().parents[1]

def _run(*args, cwd):
    cmd = [sys.executable, '-c', 'import sys; from recfast.cli import main; sys.exit(main())', *args]
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'MPLBACKEND': 'Agg'}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)

@pytest.fixture(scope='module')
def csv(tmp_path_factory):
    d = tmp_path_factory.mktemp('cli')
    r = movielens_100k(titles=False)
    r = r[r.user <= 200].rename(columns={'user':'uid', 'movie':'iid', 'rating':'stars'})
    r[['timestamp','uid','iid','stars']].to_csv(d/'ratings.csv', index=False)
    return d/'ratings.csv'

def test_train_on_csv(csv, tmp_path):
    res = _run('train', '--data', str(csv), '--user-col', 'uid', '--item-col', 'iid', '--rating-col', 'stars',
               '--epochs', '3', '--bs', '128', '--lr', '1e-2', '--user', '7', '--out', str(tmp_path/'out'), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout
    assert '200 users' in out and 'train_loss' in out
    final = dict(kv.rsplit(' ', 1) for kv in out.split('\nfinal: ')[1].splitlines()[0].split(', '))
    rmse = float(final['rmse'])  # recfast's `rmse` metric, named `rmse`
    assert rmse < 1.05, out            # well below the ~1.13 of predicting the mean rating
    assert abs(float(final['valid_loss']) - rmse**2) < 1e-3, final  # MSE loss and RMSE metric of the same valid set
    assert 'top 5 recommendations for uid 7' in out and 'most liked iid' in out and 'least liked iid' in out
    assert (tmp_path/'out'/'pca.png').stat().st_size > 10_000
    assert (tmp_path/'out'/'model.pkl').exists()
    # the saved model recommends from the shell: n items, best first, none the user rated in training or validation
    res = _run('recommend', '--model', str(tmp_path/'out'/'model.pkl'), '--user', '7', '--n', '3', cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert 'top 3 for uid 7' in res.stdout, res.stdout
    recs = [int(l.split()[1]) for l in res.stdout.splitlines()[1:] if l.strip()]
    rated = set(pd.read_csv(csv).query('uid == 7').iid)
    assert len(recs) == 3 and not set(recs) & rated, (recs, res.stdout)

def test_bad_column_is_named(csv, tmp_path):
    res = _run('train', '--data', str(csv), '--rating-col', 'rating', '--epochs', '1', '--out', str(tmp_path), cwd=tmp_path)
    assert res.returncode != 0
    assert "--rating-col rating: " in res.stderr and "has no such column (its columns: " in res.stderr
    assert len(res.stderr.strip().splitlines())==1, res.stderr  # nothing else on stderr: no import-time warnings either

def test_missing_file_and_usage(tmp_path, capsys, monkeypatch):
    "A missing data file: exit code 1 and one line naming it; no command: a usage line and exit code 2 (in-process: fast)"
    from recfast.cli import main
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(['train', '--data', str(tmp_path/'nope.csv')]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'no such file' in err[0] and 'nope.csv' in err[0], err
    assert main([]) == 2 and 'usage: recfast' in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing written

def test_help_lists_commands(capsys):
    "`recfast --help`: every subcommand on its own line with a one-line summary, arguments named as flags"
    from recfast.cli import main, _commands
    assert main(['--help']) == 0
    out = capsys.readouterr().out
    lines = {l.split()[0]: l for l in out.splitlines() if l.startswith('  ')}
    assert set(lines) == set(_commands), out
    assert '--arch' in lines['train'] and '--user' in lines['recommend'] and '`' not in out, out

def test_bad_files_one_line(tmp_path, capsys):
    "Damaged or wrong files, for the model and the data: exit code 1 and one line on stderr that names the file (in-process: fast)"
    import gzip, shutil, warnings
    from fastai.data.external import fastai_path
    from recfast.cli import main
    from recfast.collab.data import RatingsDataLoaders
    from recfast.collab.learner import dot_learner
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        df = pd.DataFrame({'u': [1,1,2,2,3,3], 'i': [1,2,1,3,2,3], 'r': [1.,2,3,4,5,4]})
        learn = dot_learner(RatingsDataLoaders.from_df(df, seed=0, bs=2), n_factors=4)
        learn.export(tmp_path/'model.pkl'); learn.save(tmp_path/'weights', with_opt=False)
    (tmp_path/'cut.pkl').write_bytes((tmp_path/'model.pkl').read_bytes()[:1500])
    (tmp_path/'junk.pkl').write_text('not a model')
    (tmp_path/'bin.csv').write_bytes(bytes(range(256))*8)
    (tmp_path/'cities.csv').write_text('name,city,country\nbob,paris,fr\n')
    (tmp_path/'header.csv').write_text('user,item,rating\n')
    src,mn = fastai_path('data')/'mnist',tmp_path/'mnist'
    mn.mkdir(); shutil.copy(src/'t10k-labels-idx1-ubyte.gz', mn)
    (mn/'t10k-images-idx3-ubyte.gz').write_bytes((src/'t10k-images-idx3-ubyte.gz').read_bytes()[:3000])  # a download cut short
    cases = [(['recommend', '--model', tmp_path/'cut.pkl', '--user', '1'], tmp_path/'cut.pkl', 'is not a readable recfast model'),
             (['recommend', '--model', tmp_path/'junk.pkl', '--user', '1'], tmp_path/'junk.pkl', 'is not a readable recfast model'),
             (['evaluate', '--model', tmp_path/'weights.pth', '--data', tmp_path/'cities.csv'], tmp_path/'weights.pth', 'holds no learner'),
             (['train', '--data', tmp_path/'bin.csv'], tmp_path/'bin.csv', 'is not text'),
             (['train', '--data', tmp_path/'cities.csv'], tmp_path/'cities.csv', "Column 'country' must be numeric"),
             (['train', '--data', tmp_path/'header.csv', '--arch', 'implicit'], tmp_path/'header.csv', 'no rows of data'),
             (['train', '--arch', 'ram', '--data', mn], mn/'t10k-images-idx3-ubyte.gz', 'is damaged, not a whole gzip file'),
             (['train', '--arch', 'ram', '--data', 'mnist', '--bs', '9000'], 'bs=9000', 'exceeds the 8000 training images')]
    capsys.readouterr()
    for argv,name,msg in cases:
        rc = main([str(a) for a in argv])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc==1 and len(err)==1, (argv, rc, err)
        assert str(name) in err[0] and msg in err[0], (argv, err)

def test_bad_arguments_one_line(tmp_path, capsys):
    "Bad arguments and malformed CSVs, checked before training: exit code 1 and one line on stderr naming the problem"
    from recfast.cli import main
    dense = pd.DataFrame([(u, i, (u*i)%5+1) for u in range(1, 11) for i in range(1, 11)], columns=['user','item','rating'])
    dense.to_csv(tmp_path/'ok.csv', index=False)
    dense.to_csv(tmp_path/'nohead.csv', index=False, header=False)
    dense.to_csv(tmp_path/'semi.csv', index=False, sep=';')
    (tmp_path/'latin.csv').write_bytes('user,item,rating\n\xe9t\xe9,2,3\n'.encode('latin-1'))
    ok = ['train', '--data', tmp_path/'ok.csv', '--out', tmp_path/'out']
    cases = [(['train', '--data', tmp_path/'nohead.csv'], 'has no header row'),
             (['train', '--data', tmp_path/'semi.csv'], "wrong --sep ','? pass --sep ';'"),
             (['train', '--data', tmp_path/'latin.csv'], '--encoding latin-1'),
             (ok+['--epochs', '0'], '--epochs 0'),
             (ok+['--lr', 'inf'], '--lr inf: the learning rate must be positive and finite'),
             (ok+['--wd', 'nan'], '--wd nan: must be a finite number >= 0'),
             (ok+['--valid-pct', '0'], '--valid-pct 0.0'),
             (ok+['--top', '1000'], '--top 1000 is larger than the catalogue (10 items)'),
             (ok+['--user', '99'], '99'),
             (ok+['--arch', 'nope'], 'nope'),
             (ok+['--arch', 'mlp', '--n-factors', '8'], '--n-factors does not apply to --arch mlp'),
             (ok+['--arch', 'implicit', '--by', 'item'], '--by does not apply to --arch implicit'),
             (ok+['--arch', 'lstm', '--threshold', '4'], '--threshold does not apply to --arch lstm'),
             (['train', '--arch', 'ram', '--data', 'ml-100k'], '--arch ram trains on images'),
             (['train', '--data', 'mnist', '--out', tmp_path/'out'], '--data mnist holds images: --arch dot'),
             (ok[:-1]+[tmp_path/'ok.csv'], 'is a file: give a folder to write into'),
             (ok[:-1]+[tmp_path/'ok.csv'/'sub'], "can't create the folder")]
    capsys.readouterr()
    for argv,msg in cases:
        rc = main([str(a) for a in argv])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc==1 and len(err)==1, (argv, rc, err)
        assert msg in err[0], (argv, err)
    assert not (tmp_path/'out').exists()  # nothing trained, nothing saved

def test_cli_reads_ids_as_written(tmp_path):
    "The CLI reads the id columns of a CSV as text, like `from_csv`: users '0186' and '186' stay two users"
    from recfast.cli import read_csv
    (tmp_path/'r.csv').write_text('user,item,rating\n0186,a,4\n186,b,3\n1e3,a,2\n')
    df = read_csv(tmp_path/'r.csv')
    assert df.user.tolist()==['0186','186','1e3'] and df.rating.dtype.kind in 'if'
