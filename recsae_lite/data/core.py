"""The data model a learner reads: a `Dataset`, the book's splits, and `load_dataset` (chapter 1).

`load_dataset(name)` returns one `Dataset` whatever the source:

- "ml-100k" (the default), "ml-1m" and "lastfm" (hetrec2011-lastfm-2k, artist tags as concepts):
  published files, downloaded, checked and parsed by `sources`, or read from `path=`;
- "synthetic": planted concepts with a known hierarchy, generated from a seed by `synthetic`.

`leave_one_out(dataset)` is the book's one evaluation split; `user_split` is paper C's. Every
rating counts as an interaction (implicit feedback, as in the papers).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, fields
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pooch

if TYPE_CHECKING:
    from .synthetic import SyntheticTruth

__all__ = [
    "DATASETS",
    "DataError",
    "Dataset",
    "Split",
    "UserSplit",
    "cache_dir",
    "leave_one_out",
    "load_dataset",
    "make_dataset",
    "user_split",
]

DATASETS = ("ml-100k", "ml-1m", "lastfm", "synthetic")


class DataError(ValueError):
    """Bad input: the message names the file (and line), the problem and what to do."""


def cache_dir() -> Path:
    """Where downloads are kept: $RECSAE_CACHE if set, else the user cache; created on demand."""
    path = Path(os.environ.get("RECSAE_CACHE") or pooch.os_cache("recsae-lite")).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(
            f"cannot create the download cache {path} ({e.strerror}): set the RECSAE_CACHE "
            "environment variable to a folder you can write, or pass load_dataset(name, "
            "path='the/downloaded/file')"
        ) from None
    return path


# ------------------------------------------------------------------------------------------------
# the dataset


@dataclass(repr=False)
class Dataset:
    """Interactions and item metadata; users and items are coded 0..n-1 by ascending raw id."""

    name: str  # "ml-100k", "ml-1m", "lastfm" or "synthetic"
    # columns user, item (int64 codes), timestamp (int64), rating (float32, NaN where the source has
    # none); sorted stably by (user, timestamp), so interactions at the same time keep file order
    interactions: pd.DataFrame
    item_titles: list[str]  # (n_items,) e.g. "Toy Story (1995)"
    genres: np.ndarray  # (n_items, n_genres) bool multi-hot: genres, tags or planted concepts
    genre_names: list[str]  # (n_genres,)
    user_ids: np.ndarray  # (n_users,) the raw id of each user code
    item_ids: np.ndarray  # (n_items,) the raw id of each item code
    truth: SyntheticTruth | None = None  # the planted concepts, for "synthetic" only

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_genres(self) -> int:
        return self.genres.shape[1]

    @property
    def popularity(self) -> np.ndarray:
        """(n_items,) int64: the number of interactions of each item."""
        return np.bincount(self.interactions["item"], minlength=self.n_items).astype(np.int64)

    def sequences(self) -> list[np.ndarray]:
        """For each user code, its item codes in interaction order."""
        items = self.interactions["item"].to_numpy(dtype=np.int64, copy=True)
        ends = np.cumsum(np.bincount(self.interactions["user"], minlength=self.n_users))
        return np.split(items, ends[:-1])

    def fingerprint(self) -> str:
        """sha256 of the interactions (user, item, timestamp) and the genres: the same for the same
        data, whichever source file it was read from."""
        h = hashlib.sha256()
        for column in ("user", "item", "timestamp"):
            h.update(self.interactions[column].to_numpy().astype("<i8").tobytes())
        h.update(np.array(self.genres.shape, dtype="<i8").tobytes())
        h.update(np.packbits(self.genres).tobytes())
        h.update("\n".join(self.genre_names).encode())
        return h.hexdigest()

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}: {self.n_users:,} users, {self.n_items:,} items, "
            f"{len(self.interactions):,} interactions, {self.n_genres} genres)"
        )


def make_dataset(
    name, where, *, user, item, timestamp, rating, item_ids, titles, genres, genre_names
) -> Dataset:
    """A `Dataset` from raw interactions: code users and items, keep the items with interactions,
    drop repeated rows, and sort by (user, time).

    user, item, timestamp, rating: the raw interactions in file order (`where` names the file);
    item_ids, titles, genres: every item the metadata lists, in any order. A row that repeats an
    earlier (user, item, timestamp) is dropped, with a warning that counts them: the first one
    is kept."""
    if len(user) == 0:
        raise DataError(f"{where} has no interactions: is it the right file?")
    raw = pd.DataFrame({"user": user, "item": item, "timestamp": timestamp})
    repeated = raw.duplicated().to_numpy()
    if repeated.any():
        first = raw[repeated].iloc[0]
        warnings.warn(
            f"{where}: {repeated.sum():,} rows repeat an earlier (user, item, timestamp), such as "
            f"user {first['user']}, item {first['item']} at {first['timestamp']}; only the first "
            "of each is kept",
            stacklevel=2,
        )
        keep = ~repeated
        user, item = np.asarray(user)[keep], np.asarray(item)[keep]
        timestamp, rating = np.asarray(timestamp)[keep], np.asarray(rating)[keep]
    user_ids, user = np.unique(user, return_inverse=True)
    kept_ids, item = np.unique(item, return_inverse=True)
    rows = pd.Index(item_ids).get_indexer(kept_ids)
    if (rows < 0).any():
        raise DataError(
            f"{where}: {(rows < 0).sum()} items, such as {kept_ids[rows < 0][0]}, have "
            "interactions but no metadata: are the files from the same download?"
        )
    # the row number is the last sort key, so ties in (user, timestamp) keep the file's order
    order = np.lexsort((np.arange(len(user)), timestamp, user))
    interactions = pd.DataFrame(
        {
            "user": user[order].astype(np.int64),
            "item": item[order].astype(np.int64),
            "timestamp": np.asarray(timestamp, dtype=np.int64)[order],
            "rating": np.asarray(rating, dtype=np.float32)[order],
        }
    )
    return Dataset(
        name=name,
        interactions=interactions,
        item_titles=[titles[r] for r in rows],
        genres=np.asarray(genres, dtype=bool)[rows],
        genre_names=list(genre_names),
        user_ids=user_ids,
        item_ids=kept_ids,
    )


# ------------------------------------------------------------------------------------------------
# the splits


@dataclass(repr=False)
class Split:
    """Leave-one-out by time: per user, the last item is the test target, the last other item
    before it the validation target, and what comes before that is training data."""

    users: np.ndarray  # (n,) the user codes kept (see `leave_one_out`)
    train: list[np.ndarray]  # per kept user, its item codes before the validation target
    valid: np.ndarray  # (n,) the validation target of each kept user
    test: np.ndarray  # (n,) the last item of each kept user
    n_dropped: int  # users dropped for having too few interactions

    def history(self, stage: str) -> list[np.ndarray]:
        """What a model sees before predicting: "valid": train; "test": train + the valid item."""
        if stage == "valid":
            return self.train
        if stage == "test":
            return [np.append(t, v) for t, v in zip(self.train, self.valid, strict=True)]
        raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")

    def __repr__(self) -> str:
        return f"Split({len(self.users):,} users kept, {self.n_dropped:,} dropped)"


def leave_one_out(dataset: Dataset) -> Split:
    """Split each user's sequence by time into train..., valid, test.

    The test target is the user's last item. The validation target is the last item before it
    that is another item: where a user took the test item again just before (possible in data
    with repeats), those repeats are left out, so the validation target never equals the test
    target. A user needs a training item, a validation target and a test target; the others are
    dropped (`n_dropped`). In data without repeats (MovieLens, Last.fm, synthetic) this is the
    plain rule: the last item is the test, the second-to-last the validation target. (Evaluation
    masks a user's history, so a target the user had earlier cannot be found at all.)

    Interactions at the same timestamp keep the order of the source file. It matters: in
    MovieLens-100K, 415 users have their last two interactions at the same second. RecBole, which
    stores timestamps as float32, can break such ties differently, so its published numbers may
    come from a slightly different split.
    Last.fm has no listening times (every timestamp is 0): its time order is the file's order.
    """
    users, train, valid, test = [], [], [], []
    for u, sequence in enumerate(dataset.sequences()):
        others = np.flatnonzero(sequence[:-1] != sequence[-1:])  # positions of another item
        if len(others) == 0 or others[-1] == 0:  # no validation target, or no training item
            continue
        users.append(u)
        train.append(sequence[: others[-1]])
        valid.append(sequence[others[-1]])
        test.append(sequence[-1])
    if not users:
        raise DataError(
            f"{dataset.name}: no user has the 3 interactions leave-one-out needs (train, "
            "validation, test): use more data"
        )
    return Split(
        users=np.array(users, dtype=np.int64),
        train=train,
        valid=np.array(valid, dtype=np.int64),
        test=np.array(test, dtype=np.int64),
        n_dropped=dataset.n_users - len(users),
    )


@dataclass
class UserSplit:
    """Paper C's protocol, the usual one for autoencoder recommenders (chapter 8): users, not
    interactions, are split; a validation or test user's row shows the model their other items
    (`inputs`) and asks for the held-out ones (`targets`)."""

    users: dict[str, np.ndarray]  # "train", "valid", "test": the user codes of each part
    train: list[np.ndarray]  # each training user's positive items
    inputs: dict[str, list[np.ndarray]]  # "valid", "test": the items the model is shown
    targets: dict[str, list[np.ndarray]]  # "valid", "test": the held-out items to find

    def __repr__(self) -> str:
        sizes = ", ".join(f"{len(v):,} {k}" for k, v in self.users.items())
        return f"UserSplit({sizes} users)"


def user_split(
    dataset: Dataset,
    min_rating: float = 4.0,
    min_positives: int = 5,
    shares: tuple[float, float] = (0.1, 0.1),
    held_out: float = 0.2,
    seed: int = 42,
) -> UserSplit:
    """Ratings >= min_rating are positives (every interaction when the dataset has no ratings);
    users with at least min_positives of them are shuffled (`seed`) into training, validation and
    test users (`shares` of validation and test, the rest training); each validation and test
    user keeps a random `held_out` share of their positives (at least one) as targets."""
    if not 0 < held_out < 1:
        raise DataError(f"held_out = {held_out}: it is a share of each user's positives, in (0, 1)")
    if min(shares) < 0 or sum(shares) >= 1:
        raise DataError(
            f"shares = {shares}: the validation and test shares must be 0 or more and sum to less "
            "than 1, leaving users to train on"
        )
    inter = dataset.interactions
    rating = inter["rating"].to_numpy()
    positive = np.isnan(rating) | (rating >= min_rating)
    items = inter.loc[positive].groupby("user")["item"].apply(np.asarray)
    items = items[items.map(len) >= min_positives]
    if len(items) < 3:
        raise DataError(
            f"{dataset.name}: {len(items)} users have {min_positives} positives (ratings >= "
            f"{min_rating}); the split needs at least 3: lower min_positives or min_rating"
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(items))
    n_valid, n_test = (max(1, round(share * len(items))) for share in shares)
    parts = {"train": order[n_valid + n_test :], "valid": order[:n_valid],
             "test": order[n_valid : n_valid + n_test]}  # fmt: skip
    rows = list(items.to_numpy())
    split = UserSplit({k: items.index.to_numpy()[np.sort(v)] for k, v in parts.items()},
                      [rows[i] for i in np.sort(parts["train"])], {}, {})  # fmt: skip
    for stage in ("valid", "test"):
        split.inputs[stage], split.targets[stage] = [], []
        for i in np.sort(parts[stage]):
            shuffled = rng.permutation(rows[i])
            n = max(1, round(held_out * len(shuffled)))
            split.targets[stage].append(np.sort(shuffled[:n]))
            split.inputs[stage].append(np.sort(shuffled[n:]))
    return split


# ------------------------------------------------------------------------------------------------
# loading by name


def load_dataset(
    name: str = "ml-100k", path: str | Path | None = None, seed: int = 0, **kwargs
) -> Dataset:
    """Load a dataset: "ml-100k", "ml-1m", "lastfm" or "synthetic".

    path: a folder or zip holding the dataset's files, or the published archive itself. Without
        it: the cached download, else a download (ML-100K: GroupLens, else the recbole wheel from
        PyPI). Offline with nothing cached, the DataError says what to download and where to put it.
    seed: for "synthetic" only.
    kwargs: for "synthetic", SyntheticConfig fields (n_users=...); for "lastfm", n_tags and
        min_tag_users.
    """
    from . import sources, synthetic  # they build on this module's Dataset

    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    options = {"synthetic": [f.name for f in fields(synthetic.SyntheticConfig)]}
    options = {**options, **sources.OPTIONS}.get(name, [])
    unknown = sorted(set(kwargs) - set(options))
    if unknown:
        raise TypeError(
            f"load_dataset({name!r}) got unknown options {', '.join(unknown)}; it takes "
            f"{', '.join(options) or 'none'}"
        )
    if name == "synthetic":
        if path is not None:
            raise DataError("the synthetic dataset is generated from `seed`, not read: drop path=")
        if not isinstance(seed, Integral) or seed < 0:
            raise DataError(f"seed = {seed!r}: the synthetic dataset's seed is an integer >= 0")
        return synthetic.synthetic_dataset(synthetic.SyntheticConfig(**kwargs), seed)
    return sources.read_source(name, path, **kwargs)
