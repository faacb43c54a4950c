"""Serve fastai's datasets from ../shared/data when it is there (offline machines): `FASTAI_HOME` pointed at a
`.fastai_home/data` of links to its folders, so `untar_data(URLs.ML_100k)` finds them. Used by tests/conftest.py and
bench/report.py."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent/'shared'/'data'

def serve_shared_data():
    "Point `FASTAI_HOME` at links to ../shared/data's datasets, unless it is set or there is no such folder"
    if 'FASTAI_HOME' in os.environ or not (SHARED/'ml-100k'/'u.data').exists(): return
    home = ROOT/'.fastai_home'
    (home/'data').mkdir(parents=True, exist_ok=True)
    for d in SHARED.iterdir():
        link = home/'data'/d.name
        if d.is_dir() and not link.exists():
            try: link.symlink_to(d)
            except FileExistsError: pass  # another process made it
    os.environ['FASTAI_HOME'] = str(home)
