"""Data: loaders -> ``Interactions`` -> leave-one-out ``Split`` -> padded batches.

>>> from minih2rec.data import make_synthetic, split_leave_one_out, TrainBatches
>>> inter = make_synthetic("tiny", seed=0)
>>> split = split_leave_one_out(inter)
>>> batch = next(iter(TrainBatches(split, batch_size=32, max_len=20, rng=np.random.default_rng(0))))
>>> batch.seq.shape[0], int(batch.positions[-1])
(32, 19)

Modules: ``interactions`` (container, id remapping, dedup, k-core), ``loaders`` (the
``load`` dispatcher) with ``loaders_movielens`` and ``loaders_tabular``, ``reading``
(line parsing shared by loaders), ``errors`` (``DataFormatError``), ``synthetic``
(planted-cluster data and shaped workloads), ``split`` and ``batching``.
"""
import numpy as np  # noqa: F401  (used by the doctest above)

from .batching import Batch, TrainBatches, left_pad
from .errors import DataFormatError
from .interactions import Interactions, build_interactions, kcore_mask
from .loaders import FORMATS, detect_format, load
from .loaders_movielens import load_ml1m, load_ml100k
from .loaders_tabular import load_atomic, load_csv
from .split import Split, split_leave_one_out
from .shaped import SHAPES, lognormal_lengths, make_shaped, make_shaped_like
from .synthetic import PRESETS, SyntheticConfig, make_synthetic

__all__ = [
    "Interactions", "build_interactions", "kcore_mask", "DataFormatError",
    "load", "detect_format", "FORMATS", "load_ml100k", "load_ml1m", "load_atomic", "load_csv",
    "Split", "split_leave_one_out", "Batch", "TrainBatches", "left_pad",
    "make_synthetic", "SyntheticConfig", "PRESETS", "make_shaped", "make_shaped_like",
    "SHAPES", "lognormal_lengths",
]
