"""fastai extension for recommender systems and attention models: every classic neural recommender as a fastai one-liner

Modules:

- `recfast.datasets`: MovieLens 100K loaded the way fastai users get it, as DataFrames ready for the recfast DataLoaders, and synthetic power-law ratings at any size.
- `recfast.scale`: Training and recommending at scale: synthetic power-law ratings (`recfast.datasets`), sparse embedding gradients (`recfast.fast`), and top-N recommendations for every user streamed to disk."""

__version__ = "0.0.1"

from .compat import install as _install_deprecated_paths
_install_deprecated_paths()  # recfast 0.0.1's module paths (`recfast.data.ratings`, ...) keep working, with a warning
