"""Datasets: the data model (`core`), the published sources (`sources`) and the synthetic
planted-concepts generator (`synthetic`); every public name of the three, importable from here.

    from recsae_lite.data import load_dataset, leave_one_out
    dataset = load_dataset("ml-100k")          # or "ml-1m", "lastfm", "synthetic"
    split = leave_one_out(dataset)
"""

from .core import (
    DATASETS,
    DataError,
    Dataset,
    Split,
    UserSplit,
    cache_dir,
    leave_one_out,
    load_dataset,
    make_dataset,
    user_split,
)
from .sources import (
    ML_100K_GENRES,
    ML_GENRES,
    OPTIONS,
    U_ITEM_GENRES,
    read_source,
    respect_umask,
    write_atomic,
)
from .synthetic import SyntheticConfig, SyntheticTruth, synthetic_dataset

__all__ = [
    "DATASETS",
    "DataError",
    "Dataset",
    "ML_100K_GENRES",
    "ML_GENRES",
    "OPTIONS",
    "Split",
    "SyntheticConfig",
    "SyntheticTruth",
    "U_ITEM_GENRES",
    "UserSplit",
    "cache_dir",
    "leave_one_out",
    "load_dataset",
    "make_dataset",
    "read_source",
    "respect_umask",
    "synthetic_dataset",
    "user_split",
    "write_atomic",
]
