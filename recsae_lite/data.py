"""Datasets: load, validate, split, and a synthetic dataset with planted concepts (chapter 1).

`load_dataset(name)` returns one `Dataset` whatever the source:

- "ml-100k" (the default): the GroupLens zip or, where only PyPI can be reached, the copy of
  MovieLens-100K inside the `recbole==1.2.1` wheel; both give the same `Dataset`;
- "ml-1m", and "lastfm" (hetrec2011-lastfm-2k, with artist tags as concepts): GroupLens zips;
- "synthetic": planted concepts with a known hierarchy, generated from a seed.

Downloads are checked against their published checksums and cached in `cache_dir()`; `path=` reads
a folder or zip you downloaded yourself. `leave_one_out(dataset)` is the book's one evaluation
split. Every rating counts as an interaction (implicit feedback, as in the papers).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import pooch
import requests

DATASETS = ("ml-100k", "ml-1m", "lastfm", "synthetic")

# the 18 MovieLens genres in ML-1M's order. ML-100K adds "unknown" (2 movies), which u.item lists
# first: we list it last, so that the genres both datasets share keep the same columns
ML_GENRES = [
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
    "Western",
]  # fmt: skip
ML_100K_GENRES = [*ML_GENRES, "unknown"]
U_ITEM_GENRES = ["unknown", *ML_GENRES]  # the order of the genre flags in u.item


class DataError(ValueError):
    """Bad input: the message names the file (and line), the problem and what to do."""


def cache_dir() -> Path:
    """Where downloads are kept: $RECSAE_CACHE if set, else the user cache; created on demand."""
    path = Path(os.environ.get("RECSAE_CACHE") or pooch.os_cache("recsae-lite")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


# ------------------------------------------------------------------------------------------------
# the dataset and the split


@dataclass
class SyntheticConfig:
    """The synthetic generator's settings; every (low, high) range includes both ends."""

    n_users: int = 1000  # users, one sequence each
    n_items: int = 600  # items; enough for every child concept to have some
    n_parents: int = 4  # top-level concepts
    n_children: tuple[int, int] = (3, 5)  # child concepts per parent, drawn for each parent
    concepts_per_item: tuple[int, int] = (1, 3)  # child concepts per item, and so their parents
    prefs_per_user: tuple[int, int] = (2, 3)  # child concepts each user prefers
    seq_len: tuple[int, int] = (20, 80)  # interactions per user
    popularity_exponent: float = 1.0  # Zipf-like: the item of popularity rank r has weight r^-a
    switch_prob: float = 0.2  # chance, each step, that a user moves to another preferred concept
    parent_affinity: float = 0.8  # chance that an item's or a user's next child concept is a
    #                               sibling of its first (what makes the parents real: without it
    #                               a parent would only be a label over unrelated children)

    def __post_init__(self):
        def fail(name, problem):
            raise DataError(f"SyntheticConfig.{name} is {getattr(self, name)!r}: {problem}")

        for name in ("n_users", "n_items", "n_parents"):
            if getattr(self, name) < 1:
                fail(name, "it must be at least 1")
        for name in ("n_children", "concepts_per_item", "prefs_per_user", "seq_len"):
            low, high = getattr(self, name)
            if not 1 <= low <= high:
                fail(name, "it must be a range (low, high) with 1 <= low <= high")
        fewest = self.n_parents * self.n_children[0]  # the fewest child concepts there can be
        for name in ("concepts_per_item", "prefs_per_user"):
            if getattr(self, name)[1] > fewest:
                fail(name, f"there may be only {fewest} child concepts (n_parents * n_children[0])")
        if self.n_items < self.n_parents * self.n_children[1]:
            fail(
                "n_items",
                "every child concept needs an item: use n_parents * n_children[1] or more",
            )
        if self.popularity_exponent < 0:
            fail("popularity_exponent", "it must be 0 or more")
        for name in ("switch_prob", "parent_affinity"):
            if not 0 <= getattr(self, name) <= 1:
                fail(name, "it is a probability: it must be in [0, 1]")


@dataclass
class SyntheticTruth:
    """What the synthetic generator planted: the answer key that real genres only approximate."""

    item_concepts: np.ndarray  # (n_items, n_concepts) bool: each item's child concepts and parents
    concept_names: list[str]  # parents "P0", "P1", ..., then children "P0.C0", "P0.C1", ...
    parent: np.ndarray  # (n_concepts,) int: the index of each concept's parent, -1 for top level
    user_prefs: np.ndarray  # (n_users, n_concepts) bool: the child concepts each user prefers
    config: SyntheticConfig  # the settings it was generated with (the seed is the other input)


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


def _dataset(name, where, *, user, item, timestamp, rating, item_ids, titles, genres, genre_names):
    """Code users and items, keeping the items with interactions, and sort by (user, time).

    user, item, timestamp, rating: the raw interactions in file order (`where` names the file);
    item_ids, titles, genres: every item the metadata lists, in any order."""
    if len(user) == 0:
        raise DataError(f"{where} has no interactions: is it the right file?")
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


@dataclass(repr=False)
class Split:
    """Leave-one-out by time: per user, the last item is the test target, the second-to-last the
    validation target, and the rest is training data."""

    users: np.ndarray  # (n,) the user codes kept: those with at least 3 interactions
    train: list[np.ndarray]  # per kept user, its item codes but the last two, in time order
    valid: np.ndarray  # (n,) the second-to-last item of each kept user
    test: np.ndarray  # (n,) the last item of each kept user
    n_dropped: int  # users dropped for having fewer than 3 interactions

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

    Interactions at the same timestamp keep the order of the source file. It matters: in
    MovieLens-100K, 415 users have their last two interactions at the same second. RecBole, which
    stores timestamps as float32, can break such ties differently, so its published numbers may
    come from a slightly different split.
    Last.fm has no listening times (every timestamp is 0): its time order is the file's order.
    """
    sequences = dataset.sequences()
    users = np.array([u for u, s in enumerate(sequences) if len(s) >= 3], dtype=np.int64)
    if len(users) == 0:
        raise DataError(
            f"{dataset.name}: no user has the 3 interactions leave-one-out needs (train, "
            "validation, test): use more data"
        )
    return Split(
        users=users,
        train=[sequences[u][:-2] for u in users],
        valid=np.array([sequences[u][-2] for u in users], dtype=np.int64),
        test=np.array([sequences[u][-1] for u in users], dtype=np.int64),
        n_dropped=len(sequences) - len(users),
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
# finding the files: the path you give, else the cache, else a download


@dataclass(frozen=True)
class _Archive:
    url: str  # where it is published
    known_hash: str  # its checksum, as pooch takes it: "md5:..." or "sha256:..."
    checksums: dict[str, str] = field(default_factory=dict)  # sha256 of the files read from it

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


_GROUPLENS = "https://files.grouplens.org/datasets"
_ARCHIVES = {
    "ml-100k": (
        _Archive(f"{_GROUPLENS}/movielens/ml-100k.zip", "md5:0e33842e24a9c977be4e0107933c0723"),
        # the same data inside a wheel on PyPI, for machines that reach PyPI but not GroupLens
        _Archive(
            "https://files.pythonhosted.org/packages/ab/fe/"
            "7d606cb7cd2b166a36b100cb9435d21014ceee16c192d972deb0976967a8/"
            "recbole-1.2.1-py3-none-any.whl",
            "sha256:9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
            {
                "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
                "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
            },
        ),
    ),
    "ml-1m": (
        _Archive(f"{_GROUPLENS}/movielens/ml-1m.zip", "md5:c4d9eecfca2ab87c1945afe126590906"),
    ),
    "lastfm": (
        _Archive(
            f"{_GROUPLENS}/hetrec2011/hetrec2011-lastfm-2k.zip",
            "sha256:6738f48195667ff03caaab4d32ca9a3133d8cc026b7c3cdaf6ce1010e913c59c",
        ),
    ),
}
_EXPECTED = {  # what a folder or zip given as path= should hold
    "ml-100k": "u.data and u.item (GroupLens' ml-100k.zip), or ml-100k.inter and ml-100k.item "
    "(the recbole-1.2.1 wheel)",
    "ml-1m": "ratings.dat and movies.dat (GroupLens' ml-1m.zip)",
    "lastfm": "user_artists.dat, artists.dat, tags.dat and user_taggedartists.dat "
    "(GroupLens' hetrec2011-lastfm-2k.zip)",
}


class _Files:
    """The files of a dataset in a folder or zip, found by file name at any depth."""

    def __init__(self, path: Path, dataset: str, archive: _Archive | None = None):
        self.path, self.dataset = path, dataset
        self.checksums = archive.checksums if archive else {}
        if path.is_dir():
            found = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        else:
            try:
                with zipfile.ZipFile(path) as z:
                    found = sorted(n for n in z.namelist() if not n.endswith("/"))
            except zipfile.BadZipFile:
                raise DataError(
                    f"{path} is not a zip file, or it is damaged: pass a folder or a zip holding "
                    f"{_EXPECTED[dataset]}"
                ) from None
        self.members = {}  # file name -> path inside; the shallowest one wins
        for member in sorted(found, key=lambda m: m.count("/")):
            self.members.setdefault(member.rsplit("/", 1)[-1], member)

    def has(self, name: str) -> bool:
        return name in self.members

    def read(self, name: str, encoding: str = "utf-8") -> tuple[str, str]:
        """The text of file `name`, and how errors name it ("u.data in /path/ml-100k.zip")."""
        where = f"{name} in {self.path}"
        if name not in self.members:
            raise DataError(
                f"{name} not found in {self.path}: it should hold {_EXPECTED[self.dataset]}"
            )
        if self.path.is_dir():
            data = (self.path / self.members[name]).read_bytes()
        else:
            with zipfile.ZipFile(self.path) as z:
                data = z.read(self.members[name])
        if name in self.checksums and hashlib.sha256(data).hexdigest() != self.checksums[name]:
            raise DataError(
                f"{where} does not match its published checksum: the archive is damaged"
            )
        try:
            return data.decode(encoding), where
        except UnicodeDecodeError as e:
            line = data.count(b"\n", 0, e.start) + 1
            raise DataError(f"{where}, line {line}: this is not {encoding} text") from None


def _check(path: Path, archive: _Archive, cached: bool) -> None:
    """Compare a file with its published checksum; a damaged copy in the cache is deleted."""
    algorithm, expected = archive.known_hash.split(":")
    if pooch.file_hash(str(path), alg=algorithm) == expected:
        return
    problem = f"{path} does not match the published {algorithm} checksum of {archive.file_name}"
    if cached:
        path.unlink()
        raise DataError(f"{problem}, so it has been deleted: run again to download it again")
    raise DataError(
        f"{problem}: it may be an incomplete download; download it again ({archive.url})"
    )


def _download(archive: _Archive, folder: Path) -> str:
    """Download into the cache. pooch writes to a temporary file and moves it into place only once
    its checksum matches: the cache never holds a partial download."""
    # quietly: a "Downloading ..." line only on the first run would make a chapter's outputs
    # differ between runs, and the notebook tests compare them
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        return pooch.retrieve(archive.url, archive.known_hash, fname=archive.file_name, path=folder)
    finally:
        logger.setLevel(level)


def _find(dataset: str, path: str | Path | None) -> _Files:
    """The files of `dataset`: at `path`, else in the cache, else downloaded into the cache."""
    archives = _ARCHIVES[dataset]
    if path is not None:
        path = Path(path).expanduser()
        if not path.exists():
            raise DataError(
                f"{path} does not exist: pass a folder or a zip holding {_EXPECTED[dataset]}"
            )
        archive = next((a for a in archives if a.file_name == path.name), None)
        if archive:  # the published file itself: check it, it may be a partial download
            _check(path, archive, cached=False)
        return _Files(path, dataset, archive)
    cache = cache_dir()
    for archive in archives:
        if (cache / archive.file_name).exists():
            _check(cache / archive.file_name, archive, cached=True)
            return _Files(cache / archive.file_name, dataset, archive)
    failures = []
    for archive in archives:
        try:
            file = _download(archive, cache)
            return _Files(Path(file), dataset, archive)
        except requests.RequestException as e:
            failures.append(f"  {archive.url} ({type(e).__name__})")
        except ValueError as e:  # pooch: the download does not match its checksum (it is dropped)
            raise DataError(
                f"{archive.file_name} from {archive.url}: {e}. Try again later."
            ) from None
    raise DataError(
        f"cannot get {dataset}: there is no network and no offline copy in {cache}. Tried:\n"
        + "\n".join(failures)
        + "\nDownload one of these files where there is internet, then pass "
        f"load_dataset({dataset!r}, path='the/file') or copy it, keeping its name, into {cache} "
        "(set the RECSAE_CACHE environment variable to use another folder)."
    )


# ------------------------------------------------------------------------------------------------
# parsing, with errors that name the file and line


def _rows(text: str, where: str, sep: str, columns: tuple[str, ...], header: bool):
    """Split text into rows of exactly len(columns) fields: (the first row's line number, rows)."""
    # not splitlines(): latin-1 text may hold "\x85", which splitlines takes for a line break
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    first = 1 + header
    rows = [line.split(sep) for line in lines[header:]]
    for number, row in enumerate(rows, first):
        if len(row) != len(columns):
            raise DataError(
                f"{where}, line {number}: expected {len(columns)} fields separated by {sep!r} "
                f"({', '.join(columns)}), found {len(row)}: {lines[number - 1][:80]!r}"
            )
    return first, rows


def _ints(values, where: str, first: int, column: str) -> np.ndarray:
    """A column of integer strings as int64; a bad value is named with its line."""
    try:
        return np.array(values, dtype=str).astype(np.int64)
    except ValueError:
        for number, value in enumerate(values, first):
            try:
                int(value)
            except ValueError:
                raise DataError(
                    f"{where}, line {number}: {column} should be an integer, found {value!r}"
                ) from None
        raise


def _int_table(text: str, where: str, sep: str, columns: tuple[str, ...], header: bool):
    """A table of integers, one int64 array per column. pandas' C parser reads it fast (ML-1M has
    a million lines); when anything looks wrong, a line-by-line pass names the first bad line."""
    try:
        table = pd.read_csv(
            io.StringIO(text.replace(sep, "\t")),  # the C parser splits on one character only
            sep="\t",
            header=None,
            skiprows=int(header),
            dtype=np.int64,
            skip_blank_lines=False,  # a blank line is an error, found below
            quoting=csv.QUOTE_NONE,
        )
        if table.shape[1] == len(columns):
            return [table[k].to_numpy() for k in range(len(columns))]
    except (ValueError, OverflowError):  # pandas' ParserError and EmptyDataError are ValueErrors
        pass
    first, rows = _rows(text, where, sep, columns, header)
    values = list(zip(*rows, strict=True)) or [()] * len(columns)
    return [_ints(v, where, first, c) for v, c in zip(values, columns, strict=True)]


def _multi_hot(cells: list[str], sep: str, names: list[str], where: str, first: int) -> np.ndarray:
    """Genre cells such as "Animation|Comedy" as a (len(cells), len(names)) bool matrix."""
    index = {name: k for k, name in enumerate(names)}
    hot = np.zeros((len(cells), len(names)), dtype=bool)
    for row, cell in enumerate(cells):
        for genre in filter(None, cell.split(sep)):
            if genre not in index:
                raise DataError(
                    f"{where}, line {first + row}: unknown genre {genre!r}; the known genres are "
                    f"{', '.join(names)}"
                )
            hot[row, index[genre]] = True
    return hot


# ------------------------------------------------------------------------------------------------
# the sources


def _movielens_100k(files: _Files) -> Dataset:
    """MovieLens-100K: 943 users, 1,682 movies, 100,000 ratings, 19 genres; from GroupLens' u.data
    and u.item, or from recbole's ml-100k.inter and ml-100k.item, which give the same Dataset."""
    if files.has("u.data"):
        text, where = files.read("u.data")
        columns = ("user id", "item id", "rating", "timestamp")
        user, item, rating, timestamp = _int_table(text, where, "\t", columns, header=False)
        text, item_where = files.read("u.item", "latin-1")
        columns = ("movie id", "title", "release date", "video release date", "IMDb URL")
        first, rows = _rows(text, item_where, "|", (*columns, *U_ITEM_GENRES), header=False)
        flags = {
            genre: _ints([r[len(columns) + k] for r in rows], item_where, first, genre)
            for k, genre in enumerate(U_ITEM_GENRES)
        }
        genres = np.stack([flags[genre] != 0 for genre in ML_100K_GENRES], axis=1)
        titles = [r[1].strip() for r in rows]
    else:
        text, where = files.read("ml-100k.inter")
        columns = ("user_id", "item_id", "rating", "timestamp")
        user, item, rating, timestamp = _int_table(text, where, "\t", columns, header=True)
        text, item_where = files.read("ml-100k.item")
        columns = ("item_id", "movie_title", "release_year", "class")
        first, rows = _rows(text, item_where, "\t", columns, header=True)
        genres = _multi_hot([r[3] for r in rows], " ", ML_100K_GENRES, item_where, first)
        # recbole split u.item's "Toy Story (1995)" into title and year: join them again. Its one
        # movie without either (267) reads "unkonwn" in both, where u.item says "unknown"
        titles = ["unknown" if r[2] == "unkonwn" else f"{r[1]} ({r[2]})" for r in rows]
    return _dataset(
        "ml-100k",
        where,
        user=user,
        item=item,
        timestamp=timestamp,
        rating=rating,
        item_ids=_ints([r[0] for r in rows], item_where, first, "item id"),
        titles=titles,
        genres=genres,
        genre_names=ML_100K_GENRES,
    )


def _movielens_1m(files: _Files) -> Dataset:
    """MovieLens-1M: 6,040 users, 1,000,209 ratings, 18 genres. movies.dat lists 3,883 movies, but
    only the 3,706 with ratings are items."""
    text, where = files.read("ratings.dat")
    columns = ("UserID", "MovieID", "Rating", "Timestamp")
    user, item, rating, timestamp = _int_table(text, where, "::", columns, header=False)
    text, item_where = files.read("movies.dat", "latin-1")
    first, rows = _rows(text, item_where, "::", ("MovieID", "Title", "Genres"), header=False)
    return _dataset(
        "ml-1m",
        where,
        user=user,
        item=item,
        timestamp=timestamp,
        rating=rating,
        item_ids=_ints([r[0] for r in rows], item_where, first, "MovieID"),
        titles=[r[1].strip() for r in rows],
        genres=_multi_hot([r[2] for r in rows], "|", ML_GENRES, item_where, first),
        genre_names=ML_GENRES,
    )


def _lastfm(files: _Files, n_tags: int = 30, min_tag_users: int = 2) -> Dataset:
    """hetrec2011-lastfm-2k: 1,892 users, 17,632 artists, 92,834 (user, artist, plays) rows.

    Items are the artists with plays, and rating is the play count. The concepts ("genres") are
    the `n_tags` most used tags (by tag assignments on those artists, ties to the lower tag id);
    an artist carries a tag when at least `min_tag_users` users gave it that tag. There are no
    listening times: every timestamp is 0, so a user's "time order" is user_artists.dat's order.
    """
    if n_tags < 1 or min_tag_users < 1:
        raise DataError(f"n_tags ({n_tags}) and min_tag_users ({min_tag_users}) must be at least 1")
    text, where = files.read("user_artists.dat")
    user, item, plays = _int_table(text, where, "\t", ("userID", "artistID", "weight"), True)
    text, artist_where = files.read("artists.dat")
    columns = ("id", "name", "url", "pictureURL")
    first, artists = _rows(text, artist_where, "\t", columns, header=True)
    artist_ids = _ints([r[0] for r in artists], artist_where, first, "id")
    text, tag_where = files.read("tags.dat", "latin-1")
    first, tags = _rows(text, tag_where, "\t", ("tagID", "tagValue"), header=True)
    tag_names = pd.Series(
        [r[1] for r in tags], _ints([r[0] for r in tags], tag_where, first, "tagID")
    )
    text, tagged_where = files.read("user_taggedartists.dat")
    columns = ("userID", "artistID", "tagID", "day", "month", "year")
    tagged = pd.DataFrame(
        dict(zip(columns, _int_table(text, tagged_where, "\t", columns, True), strict=True))
    )
    unknown = np.flatnonzero(~tagged["tagID"].isin(tag_names.index))
    if len(unknown):
        raise DataError(
            f"{tagged_where}, line {unknown[0] + 2}: tag {tagged['tagID'][unknown[0]]} is not in "
            "tags.dat: are the files from the same download?"
        )
    # one vote per (user, artist, tag), on artists with plays
    tagged = tagged[tagged["artistID"].isin(item)].drop_duplicates(["userID", "artistID", "tagID"])
    usage = tagged["tagID"].value_counts().sort_index()
    top = usage.sort_values(ascending=False, kind="stable").index[:n_tags]
    votes = tagged[tagged["tagID"].isin(top)].groupby(["artistID", "tagID"]).size()
    carried = votes[votes >= min_tag_users].index
    genres = np.zeros((len(artist_ids), len(top)), dtype=bool)
    artist_rows = pd.Index(artist_ids).get_indexer(carried.get_level_values("artistID"))
    genres[artist_rows, pd.Index(top).get_indexer(carried.get_level_values("tagID"))] = True
    return _dataset(
        "lastfm",
        where,
        user=user,
        item=item,
        timestamp=np.zeros(len(user), dtype=np.int64),
        rating=plays,
        item_ids=artist_ids,
        titles=[r[1] for r in artists],
        genres=genres,
        genre_names=list(tag_names.loc[top]),
    )


def _synthetic(config: SyntheticConfig, seed: int) -> Dataset:
    """Users who move between a few preferred concepts and pick popular items carrying them.

    An item's child concepts, and a user's preferred ones, are mostly siblings (`parent_affinity`),
    so that the parents shape behaviour: items of one parent are taken by the same users.

    Each step, a user moves to another of their preferred child concepts with probability
    `switch_prob`, then draws by popularity an item they have not had yet among those carrying the
    current concept (when there is none left, among those carrying another preferred concept; when
    none is left at all, the sequence ends early). Timestamps are step numbers."""
    c, rng = config, np.random.default_rng(seed)
    # the hierarchy: parents first, then each parent's children
    n_children = rng.integers(c.n_children[0], c.n_children[1] + 1, size=c.n_parents)
    child_parent = np.repeat(np.arange(c.n_parents), n_children)  # (n_child,)
    n_child = len(child_parent)
    child_names = [f"P{p}.C{k}" for p in range(c.n_parents) for k in range(n_children[p])]
    names = [f"P{p}" for p in range(c.n_parents)] + child_names

    def draw(counts, first):
        """(n_rows, n_child) bool: counts[i] child concepts in row i, first[i] among them; each
        further one a sibling of first[i] with probability parent_affinity (if one is left)."""
        rows = np.zeros((len(counts), n_child), dtype=bool)
        for row, count, f in zip(rows, counts, first, strict=True):
            row[f] = True
            for _ in range(count - 1):
                pool = np.flatnonzero(~row & (child_parent == child_parent[f]))
                if len(pool) == 0 or rng.random() >= c.parent_affinity:
                    pool = np.flatnonzero(~row)
                row[rng.choice(pool)] = True
        return rows

    # deal the items' first concepts round-robin, so that every child concept has items
    first = rng.permutation(np.arange(c.n_items) % n_child)
    low, high = c.concepts_per_item
    item_child = draw(rng.integers(low, high + 1, size=c.n_items), first)
    item_parent = item_child @ np.eye(c.n_parents, dtype=bool)[child_parent]  # (n_items, n_parents)
    low, high = c.prefs_per_user
    user_child = draw(
        rng.integers(low, high + 1, size=c.n_users), rng.integers(n_child, size=c.n_users)
    )
    log_weight = -c.popularity_exponent * np.log1p(rng.permutation(c.n_items))

    users, items, steps = [], [], []
    for u in range(c.n_users):
        prefs = np.flatnonzero(user_child[u])
        # Gumbel top-k: sorting log popularity plus Gumbel noise gives the order in which the
        # user would draw the items by popularity without replacement
        order = np.argsort(-(log_weight + rng.gumbel(size=c.n_items)))
        queues = [iter(order[item_child[order, p]].tolist()) for p in prefs]
        length = rng.integers(c.seq_len[0], c.seq_len[1] + 1)
        switch = rng.random(length) < c.switch_prob
        hop = rng.integers(1, max(len(prefs), 2), size=length)  # to another preferred concept
        current, seen = rng.integers(len(prefs)), set()
        for step in range(length):
            if switch[step]:
                current = (current + hop[step]) % len(prefs)
            unseen = (i for queue in (queues[current], *queues) for i in queue if i not in seen)
            item = next(unseen, None)
            if item is None:
                break
            seen.add(item)
            users.append(u)
            items.append(item)
            steps.append(step)

    concepts = np.concatenate([item_parent, item_child], axis=1)
    titles = [
        f"item {i} ({' '.join(child_names[k] for k in np.flatnonzero(row))})"
        for i, row in enumerate(item_child)
    ]
    dataset = _dataset(
        "synthetic",
        "the synthetic generator",
        user=np.array(users),
        item=np.array(items),
        timestamp=np.array(steps),
        rating=np.full(len(users), np.nan),
        item_ids=np.arange(c.n_items),
        titles=titles,
        genres=concepts,
        genre_names=names,
    )
    user_prefs = np.concatenate([np.zeros((c.n_users, c.n_parents), bool), user_child], axis=1)
    dataset.truth = SyntheticTruth(
        item_concepts=concepts[dataset.item_ids],
        concept_names=names,
        parent=np.concatenate([np.full(c.n_parents, -1), child_parent]),
        user_prefs=user_prefs[dataset.user_ids],
        config=c,
    )
    return dataset


_READERS = {"ml-100k": _movielens_100k, "ml-1m": _movielens_1m, "lastfm": _lastfm}
_OPTIONS = {
    "synthetic": [f.name for f in fields(SyntheticConfig)],
    "lastfm": ["n_tags", "min_tag_users"],
}


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
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    unknown = sorted(set(kwargs) - set(_OPTIONS.get(name, [])))
    if unknown:
        raise TypeError(
            f"load_dataset({name!r}) got unknown options {', '.join(unknown)}; it takes "
            f"{', '.join(_OPTIONS.get(name, [])) or 'none'}"
        )
    if name == "synthetic":
        if path is not None:
            raise DataError("the synthetic dataset is generated from `seed`, not read: drop path=")
        return _synthetic(SyntheticConfig(**kwargs), seed)
    return _READERS[name](_find(name, path), **kwargs)
