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
    rmse = float(final['_rmse'])  # fastai's `rmse` metric is named `_rmse`
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
    assert "Column 'rating' (`rating_name`) is not in the DataFrame" in res.stderr

def test_missing_file_and_usage(tmp_path):
    res = _run('train', '--data', str(tmp_path/'nope.csv'), cwd=tmp_path)
    assert res.returncode != 0 and 'no such file' in res.stderr
    assert _run(cwd=tmp_path).returncode == 2
