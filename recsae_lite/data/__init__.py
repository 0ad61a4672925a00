"""Datasets: the data model (`core`), the published sources (`sources`, no need to read) and the
synthetic planted-concepts generator (`synthetic`); what a chapter uses is importable from here.

    from recsae_lite.data import load_dataset, leave_one_out
    dataset = load_dataset("ml-100k")          # or "ml-1m", "lastfm", "synthetic"
    split = leave_one_out(dataset)
"""

from .core import (
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
from .synthetic import SyntheticConfig, SyntheticTruth

__all__ = [
    "DataError", "Dataset", "Split", "SyntheticConfig", "SyntheticTruth", "UserSplit", "cache_dir",
    "leave_one_out", "load_dataset", "make_dataset", "user_split"
]  # fmt: skip
