"""fastai extension for recommender systems and attention models: every classic neural recommender as a fastai one-liner"""

__version__ = "0.0.1"

from .compat import install as _install_deprecated_paths
_install_deprecated_paths()  # recfast 0.0.1's module paths (`recfast.data.ratings`, ...) keep working, with a warning
