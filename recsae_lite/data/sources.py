"""Published datasets (no need to read): download, checksum, find and parse MovieLens and Last.fm.

`read_source(name, path)` reads the folder or zip at `path`, else the cached download, else a
download into `cache_dir()`, checked against its published checksum, and parses it into a
`Dataset`. Every problem is a `DataError` naming the file and line. Downloads and the files
`write_atomic` writes (the zoo's) appear complete or not at all, as readable as the umask says.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pooch
import requests

from .core import DataError, Dataset, cache_dir, make_dataset

__all__ = [
    "ML_100K_GENRES", "ML_GENRES", "OPTIONS", "U_ITEM_GENRES", "read_source", "respect_umask",
    "write_atomic"
]  # fmt: skip

# the 18 MovieLens genres in ML-1M's order. ML-100K adds "unknown" (2 movies), which u.item lists
# first: we list it last, so that the genres both datasets share keep the same columns
ML_GENRES = [
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
    "Western",
]  # fmt: skip
ML_100K_GENRES = [*ML_GENRES, "unknown"]
U_ITEM_GENRES = ["unknown", *ML_GENRES]  # the order of the genre flags in u.item
ML_RATINGS = (1, 5)  # MovieLens' scale: 1 to 5 whole stars

OPTIONS = {"lastfm": ["n_tags", "min_tag_users"]}  # what each reader takes besides the files


# ------------------------------------------------------------------------------------------------
# writing files: complete or not at all, readable as the umask says


def respect_umask(path: str | Path) -> None:
    """Give a file (or folder) the mode a plain open() (or mkdir) would: 0666 (0777) less the
    umask. Temporary files are made 0600 (folders 0700), which would hide them from the other
    users of a shared cache."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if Path(path).is_dir() else 0o666) & ~umask)


def write_atomic(path: Path, write) -> None:
    """Call write(temporary path), then rename the file to `path`: a crash leaves no half-written
    file, only (at worst) a hidden temporary one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        respect_umask(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ------------------------------------------------------------------------------------------------
# finding the files: the path you give, else the cache, else a download


@dataclass(frozen=True)
class _Archive:
    url: str  # where it is published
    known_hash: str  # its checksum, as pooch takes it: "md5:..." or "sha256:..."
    files: tuple[str, ...]  # the files read from it (a folder or zip given as path= holds them)

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


_GROUPLENS = "https://files.grouplens.org/datasets"
_ARCHIVES = {
    "ml-100k": (
        _Archive(
            f"{_GROUPLENS}/movielens/ml-100k.zip",
            "md5:0e33842e24a9c977be4e0107933c0723",
            ("u.data", "u.item"),
        ),
        # the same data inside a wheel on PyPI, for machines that reach PyPI but not GroupLens
        _Archive(
            "https://files.pythonhosted.org/packages/ab/fe/"
            "7d606cb7cd2b166a36b100cb9435d21014ceee16c192d972deb0976967a8/"
            "recbole-1.2.1-py3-none-any.whl",
            "sha256:9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
            ("ml-100k.inter", "ml-100k.item"),
        ),
    ),
    "ml-1m": (
        _Archive(
            f"{_GROUPLENS}/movielens/ml-1m.zip",
            "md5:c4d9eecfca2ab87c1945afe126590906",
            ("ratings.dat", "movies.dat"),
        ),
    ),
    "lastfm": (
        _Archive(
            f"{_GROUPLENS}/hetrec2011/hetrec2011-lastfm-2k.zip",
            "sha256:6738f48195667ff03caaab4d32ca9a3133d8cc026b7c3cdaf6ce1010e913c59c",
            ("user_artists.dat", "artists.dat", "tags.dat", "user_taggedartists.dat"),
        ),
    ),
}


def _expected(dataset: str) -> str:
    """What a dataset's folder should hold, in words: "ratings.dat and movies.dat (as in ...)"."""
    sets = [f"{', '.join(a.files[:-1])} and {a.files[-1]} (as in {a.file_name})"
            for a in _ARCHIVES[dataset]]  # fmt: skip
    return ", or ".join(sets)


# "é" stored as UTF-8 and read as latin-1 reads "Ã©": the sign of text converted twice
_MOJIBAKE = re.compile("[\u00c2\u00c3][\u0080-\u00bf]")


class _Files:
    """The files of a dataset in a folder or zip, found by file name at any depth."""

    def __init__(self, path: Path, dataset: str):
        self.path, self.dataset = path, dataset
        if path.is_dir():
            found = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
        else:
            try:
                with zipfile.ZipFile(path) as z:
                    found = [n for n in z.namelist() if not n.endswith("/")]
            except zipfile.BadZipFile:
                raise DataError(
                    f"{path} is not a zip file, or it is damaged: pass a folder or a zip holding "
                    f"{_expected(dataset)}"
                ) from None
        self.members = {}  # file name -> path inside; the shallowest one wins
        for member in sorted(found, key=lambda m: (m.count("/"), m)):
            self.members.setdefault(member.rsplit("/", 1)[-1], member)

    def complete(self) -> bool:
        """Whether it holds the files of one of the dataset's archives."""
        return any(all(f in self.members for f in a.files) for a in _ARCHIVES[self.dataset])

    def read(self, name: str, encoding: str = "utf-8") -> tuple[str, str]:
        """The text of file `name`, and how errors name it ("u.data in /path/ml-100k.zip").

        encoding: "utf-8" or "latin-1". A file published in latin-1 (u.item, movies.dat,
        tags.dat) may have been re-saved as UTF-8, perhaps with a byte-order mark: text that is
        valid UTF-8 is read as UTF-8 (latin-1 text with accents almost never is). Text that
        still looks garbled ("Ã©" for "é") gets a warning naming the line."""
        where = f"{name} in {self.path}"
        if name not in self.members:
            expected = _expected(self.dataset)
            raise DataError(f"{name} not found in {self.path}: it should hold {expected}")
        try:
            if self.path.is_dir():
                data = (self.path / self.members[name]).read_bytes()
            else:
                with zipfile.ZipFile(self.path) as z:
                    data = z.read(self.members[name])
        except OSError as e:
            raise DataError(f"cannot read {where}: {e.strerror or e}") from None
        try:
            text = data.decode("utf-8-sig")  # an editor's byte-order mark is not text
        except UnicodeDecodeError as e:
            if encoding == "utf-8":
                line = data.count(b"\n", 0, e.start) + 1
                raise DataError(f"{where}, line {line}: this is not utf-8 text") from None
            text = data.decode(encoding)
        if garbled := _MOJIBAKE.search(text):
            line = text.count("\n", 0, garbled.start()) + 1
            start = text.rfind("\n", 0, garbled.start()) + 1
            warnings.warn(
                f"{where}, line {line} looks garbled ({text[start:].split(chr(10))[0][:80]!r}): "
                "'Ã©' is how 'é' reads when text is converted between encodings twice. The "
                "published file reads right: download it again, or convert this copy back",
                stacklevel=2,
            )
        return text, where


def _mismatch(path: Path, archive: _Archive) -> str | None:
    """None when a file matches its published checksum, else the problem in words."""
    algorithm, expected = archive.known_hash.split(":")
    try:
        if pooch.file_hash(str(path), alg=algorithm) == expected:
            return None
    except OSError as e:
        raise DataError(
            f"cannot read {path} ({e.strerror}): make it readable (its owner can run chmod a+r), "
            "or set RECSAE_CACHE to a folder of your own"
        ) from None
    return f"{path} does not match the published {algorithm} checksum of {archive.file_name}"


def _given(dataset: str, path: Path) -> _Files:
    """The files at `path`. The published archive itself (by its name) is checked, as it may be a
    partial download; one whose checksum differs but which is a zip holding the dataset's files
    is someone's own packing of them, and is read (with a note) like any other zip."""
    if not path.exists():
        raise DataError(
            f"{path} does not exist: pass a folder or a zip holding {_expected(dataset)}"
        )
    archive = next((a for a in _ARCHIVES[dataset] if a.file_name == path.name), None)
    problem = None if archive is None or path.is_dir() else _mismatch(path, archive)
    if problem is None:
        return _Files(path, dataset)
    try:
        files = _Files(path, dataset)
    except DataError:  # not a zip: a broken download
        files = None
    if files is None or not files.complete():
        raise DataError(
            f"{problem}: it may be an incomplete download; download it again ({archive.url})"
        )
    warnings.warn(
        f"{problem}, but it is a zip holding the dataset's files: it is read as your own copy, "
        "not the published file",
        stacklevel=2,
    )
    return files


def _cached(dataset: str, archive: _Archive, file: Path) -> _Files:
    """The files of a download in the cache; a damaged one is deleted, so the next run gets it
    again."""
    problem = _mismatch(file, archive)
    if problem is None:
        return _Files(file, dataset)
    try:
        file.unlink()
    except OSError as e:
        raise DataError(
            f"{problem} (a damaged download), and it cannot be deleted ({e.strerror}): delete it "
            "yourself and run again, set the RECSAE_CACHE environment variable to a folder you "
            "can write, or pass load_dataset(name, path='a/good/copy')"
        ) from None
    raise DataError(f"{problem}, so it has been deleted: run again to download it again")


def _download(archive: _Archive, folder: Path) -> Path:
    """Download into the cache. pooch writes to a temporary file and moves it into place only once
    its checksum matches: the cache never holds a partial download."""
    # quietly: a "Downloading ..." line only on the first run would make a chapter's outputs
    # differ between runs, and the notebook tests compare them
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        file = pooch.retrieve(archive.url, archive.known_hash, fname=archive.file_name, path=folder)
    finally:
        logger.setLevel(level)
    respect_umask(file)
    return Path(file)


def _find(dataset: str, path: str | Path | None) -> _Files:
    """The files of `dataset`: at `path`, else in the cache, else downloaded into the cache."""
    if path is not None:
        return _given(dataset, Path(path).expanduser())
    cache = cache_dir()
    for archive in _ARCHIVES[dataset]:
        if (cache / archive.file_name).exists():
            return _cached(dataset, archive, cache / archive.file_name)
    failures = []
    for archive in _ARCHIVES[dataset]:
        try:
            file = _download(archive, cache)
        except requests.RequestException as e:  # (an OSError too: caught before the next one)
            failures.append(f"  {archive.url} ({type(e).__name__})")
        except OSError as e:  # the cache cannot be written
            raise DataError(
                f"cannot download {archive.file_name} into {cache} ({type(e).__name__}: the "
                "folder cannot be written): set the RECSAE_CACHE environment variable to a folder "
                f"you can write, or download {archive.url} yourself and pass "
                f"load_dataset({dataset!r}, path='the/file')"
            ) from None
        except ValueError as e:  # pooch: the download does not match its checksum (it is dropped)
            raise DataError(
                f"{archive.file_name} from {archive.url}: {e}. Try again later."
            ) from None
        else:
            return _Files(file, dataset)
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


_INT64 = np.iinfo(np.int64)


def _ints(values, where: str, first: int, column: str) -> np.ndarray:
    """A column of integer strings as int64; a bad value is named with its line."""
    try:
        return np.array(values, dtype=str).astype(np.int64)
    except (ValueError, OverflowError):
        for number, value in enumerate(values, first):
            try:
                number_value = int(value)
            except ValueError:
                raise DataError(
                    f"{where}, line {number}: {column} should be an integer, found {value!r}"
                ) from None
            if not _INT64.min <= number_value <= _INT64.max:
                raise DataError(
                    f"{where}, line {number}: {column} {value.strip()} is too large: ids and "
                    "counts must fit in 64 bits (|n| < 9.2e18)"
                ) from None
        raise


def _ids(values, where: str, first: int, column: str) -> np.ndarray:
    """A metadata file's id column: integers, each listed once."""
    ids = _ints(values, where, first, column)
    repeated = pd.Index(ids).duplicated()
    if repeated.any():
        second = int(np.argmax(repeated))
        earlier = int(np.argmax(ids == ids[second]))
        raise DataError(
            f"{where}, line {first + second}: {column} {ids[second]} is listed twice (also on "
            f"line {first + earlier}): each must be listed once; is the file from one download?"
        )
    return ids


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


def _refuse(
    bad, values, where: str, first: int, what: str, rule: str, hint="is it the right file?"
):
    """Refuse the first row where `bad` holds, naming its line and value."""
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"{where}, line {first + row}: {what} {values[row]} {rule}: {hint}")


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


def _movielens_ratings(files: _Files, name: str, sep: str, columns: tuple[str, ...], header: bool):
    """A MovieLens ratings file (user, item, rating, timestamp) as (where, the columns by name);
    every rating must be on MovieLens' scale."""
    text, where = files.read(name)
    user, item, rating, timestamp = _int_table(text, where, sep, columns, header)
    low, high = ML_RATINGS
    off_scale = (rating < low) | (rating > high)
    _refuse(
        off_scale, rating, where, 1 + header, columns[2], f"is off the scale of {low} to {high}"
    )
    return where, {"user": user, "item": item, "rating": rating, "timestamp": timestamp}


def _movielens_100k(files: _Files) -> Dataset:
    """MovieLens-100K: 943 users, 1,682 movies, 100,000 ratings, 19 genres; from GroupLens' u.data
    and u.item, or from recbole's ml-100k.inter and ml-100k.item, which give the same Dataset."""
    if "u.data" in files.members:
        columns = ("user id", "item id", "rating", "timestamp")
        where, interactions = _movielens_ratings(files, "u.data", "\t", columns, header=False)
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
        columns = ("user_id", "item_id", "rating", "timestamp")
        where, interactions = _movielens_ratings(files, "ml-100k.inter", "\t", columns, header=True)
        text, item_where = files.read("ml-100k.item")
        columns = ("item_id", "movie_title", "release_year", "class")
        first, rows = _rows(text, item_where, "\t", columns, header=True)
        genres = _multi_hot([r[3] for r in rows], " ", ML_100K_GENRES, item_where, first)
        # recbole split u.item's "Toy Story (1995)" into title and year: join them again. Its one
        # movie without either (267) reads "unkonwn" in both, where u.item says "unknown"
        titles = ["unknown" if r[2] == "unkonwn" else f"{r[1]} ({r[2]})" for r in rows]
    item_ids = _ids([r[0] for r in rows], item_where, first, "item id")
    return make_dataset("ml-100k", where, **interactions, item_ids=item_ids, titles=titles,
                        genres=genres, genre_names=ML_100K_GENRES)  # fmt: skip


def _movielens_1m(files: _Files) -> Dataset:
    """MovieLens-1M: 6,040 users, 1,000,209 ratings, 18 genres. movies.dat lists 3,883 movies, but
    only the 3,706 with ratings are items."""
    columns = ("UserID", "MovieID", "Rating", "Timestamp")
    where, interactions = _movielens_ratings(files, "ratings.dat", "::", columns, header=False)
    text, item_where = files.read("movies.dat", "latin-1")
    first, rows = _rows(text, item_where, "::", ("MovieID", "Title", "Genres"), header=False)
    item_ids = _ids([r[0] for r in rows], item_where, first, "MovieID")
    genres = _multi_hot([r[2] for r in rows], "|", ML_GENRES, item_where, first)
    return make_dataset("ml-1m", where, **interactions, item_ids=item_ids,
                        titles=[r[1].strip() for r in rows], genres=genres,
                        genre_names=ML_GENRES)  # fmt: skip


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
    _refuse(plays < 0, plays, where, 2, "weight (plays)", "is negative")
    text, artist_where = files.read("artists.dat")
    columns = ("id", "name", "url", "pictureURL")
    first, artists = _rows(text, artist_where, "\t", columns, header=True)
    artist_ids = _ids([r[0] for r in artists], artist_where, first, "id")
    text, tag_where = files.read("tags.dat", "latin-1")
    first, tags = _rows(text, tag_where, "\t", ("tagID", "tagValue"), header=True)
    tag_names = pd.Series(
        [r[1] for r in tags], _ids([r[0] for r in tags], tag_where, first, "tagID")
    )
    text, tagged_where = files.read("user_taggedartists.dat")
    columns = ("userID", "artistID", "tagID", "day", "month", "year")
    tagged = pd.DataFrame(
        dict(zip(columns, _int_table(text, tagged_where, "\t", columns, True), strict=True))
    )
    unknown = ~tagged["tagID"].isin(tag_names.index).to_numpy()
    _refuse(unknown, tagged["tagID"].to_numpy(), tagged_where, 2, "tag", "is not in tags.dat",
            "are the files from the same download?")  # fmt: skip
    # one vote per (user, artist, tag), on artists with plays
    tagged = tagged[tagged["artistID"].isin(item)].drop_duplicates(["userID", "artistID", "tagID"])
    usage = tagged["tagID"].value_counts().sort_index()
    top = usage.sort_values(ascending=False, kind="stable").index[:n_tags]
    votes = tagged[tagged["tagID"].isin(top)].groupby(["artistID", "tagID"]).size()
    carried = votes[votes >= min_tag_users].index
    genres = np.zeros((len(artist_ids), len(top)), dtype=bool)
    artist_rows = pd.Index(artist_ids).get_indexer(carried.get_level_values("artistID"))
    genres[artist_rows, pd.Index(top).get_indexer(carried.get_level_values("tagID"))] = True
    return make_dataset(
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


_READERS = {"ml-100k": _movielens_100k, "ml-1m": _movielens_1m, "lastfm": _lastfm}


def read_source(name: str, path: str | Path | None = None, **options) -> Dataset:
    """The published dataset `name` ("ml-100k", "ml-1m" or "lastfm"), from `path` (a folder or
    zip) or the cache or a download; options: `OPTIONS[name]` (lastfm: n_tags, min_tag_users)."""
    return _READERS[name](_find(name, path), **options)
