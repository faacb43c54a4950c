"""fastai extension for recommender systems and attention models: every classic neural recommender as a fastai one-liner, faster than fastai itself

Modules:

- `recfast.data.sequences`: `SequenceDataLoaders`: each user's items in time order as left-padded windows with shifted targets, a `SequenceBlock` for the data block API, and the synthetic sanity data set of Kula's talk."""

__version__ = "0.0.1"
