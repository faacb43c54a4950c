"Test setup: serve fastai's datasets from ../shared/data when it is there (offline machines)."
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent/'shared'/'data'

def _seed_fastai_home():
    if 'FASTAI_HOME' in os.environ or not (SHARED/'ml-100k'/'u.data').exists(): return
    home = ROOT/'.fastai_home'
    (home/'data').mkdir(parents=True, exist_ok=True)
    for d in SHARED.iterdir():
        link = home/'data'/d.name
        if d.is_dir() and not link.exists():
            try: link.symlink_to(d)
            except FileExistsError: pass  # another pytest-xdist worker made it
    os.environ['FASTAI_HOME'] = str(home)

_seed_fastai_home()
os.environ.setdefault('MPLBACKEND', 'Agg')

if os.environ.get('PYTEST_XDIST_WORKER'):  # `make test-py` runs 2 pytest-xdist workers: one torch thread each, not 2x2
    import torch
    torch.set_num_threads(1)

def pytest_pycollect_makeitem(collector, name, obj):
    "Collect only the tests a module defines, not helpers like fastcore's `test_fail` that `import *` brings in"
    import inspect
    if inspect.isfunction(obj) and name.startswith('test') and obj.__module__ != getattr(collector, 'module', None).__name__:
        return []
