"Test setup: serve fastai's datasets from ../shared/data when it is there (offline machines)."
import os, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

sys.path.insert(0, str(ROOT/'tools'))
from offline_data import serve_shared_data
serve_shared_data()
os.environ.setdefault('MPLBACKEND', 'Agg')

if os.environ.get('PYTEST_XDIST_WORKER'):  # `make test-py` runs 2 pytest-xdist workers: one torch thread each, not 2x2
    import torch
    torch.set_num_threads(1)

def pytest_pycollect_makeitem(collector, name, obj):
    "Collect only the tests a module defines, not helpers like fastcore's `test_fail` that `import *` brings in"
    import inspect
    if inspect.isfunction(obj) and name.startswith('test') and obj.__module__ != getattr(collector, 'module', None).__name__:
        return []
