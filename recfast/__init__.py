"""fastai extension for recommender systems and attention models: every classic neural recommender as a fastai one-liner, faster than fastai itself

Modules:

- `recfast.cli`: `recfast train`: the main job (train on MovieLens 100K or any ratings CSV, then show what was learned) from a shell.
- `recfast.data.sequences`: `SequenceDataLoaders`: each user's items in time order as left-padded windows with shifted targets, a `SequenceBlock` for the data block API, and the synthetic sanity data set of Kula's talk.
- `recfast.distributed`: Every recfast learner trains with fastai's `learn.distrib_ctx()` on PyTorch DDP (through Hugging Face `accelerate`): the `TensorDL` batches are sharded across ranks without leaving torch.
- `recfast.interpret.collab`: What a ratings model learned: item biases, a PCA map of the item factors, nearest neighbours and top-N recommendations, all in original ids.
- `recfast.learner.collab`: `dot_learner` and `mlp_learner`: fastai `Learner`s with the fastbook's defaults, plus predictions and top-N recommendations in original ids.
- `recfast.models.collab`: The fastbook's dot product with biases, and fastai's embedding MLP, taking one `(bs, 2)` tensor of (user, item) indices.
- `recfast.scale`: Synthetic power-law ratings at any size, sparse embedding gradients, and top-N recommendations for every user streamed to disk."""

__version__ = "0.0.1"
