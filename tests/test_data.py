"""Tests of recsae_lite.data: the real MovieLens-100K, every parser on small files written here,
the synthetic generator, the split, and an error for every kind of bad input. (The cache's
read-only cases are in test_storage.py.)"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pooch
import pytest
import requests

from recsae_lite.data import DataError, cache_dir, leave_one_out, load_dataset, user_split
from recsae_lite.data.sources import ML_100K_GENRES, U_ITEM_GENRES

# ------------------------------------------------------------------------------------------------
# small source files


def write(folder: Path, files: dict[str, str], encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode(encoding))
    return folder


def zip_up(folder: Path, path: Path, inside: str = "") -> Path:
    """Zip a folder's files under the folder `inside` of the zip."""
    with zipfile.ZipFile(path, "w") as z:
        for file in sorted(folder.iterdir()):
            z.write(file, inside + file.name)
    return path


# (id, title, year, genres) of a few movies, and ratings (user, item, rating, timestamp) in file
# order, with ties in time; movie 5 has no ratings
MOVIES = [
    (1, "Toy Story", "1995", ["Animation", "Children's", "Comedy"]),
    (2, "Misérables, Les", "1995", ["Drama", "Musical"]),
    (3, None, None, ["unknown"]),  # ML-100K's movie 267, which has neither title nor date
    (4, "Land Before Time III (1995)", "V", ["Animation"]),  # u.item: "... (1995) (V)"
    (5, "Never Rated", "1990", ["Drama"]),
]
RATINGS = [(10, 2, 4, 100), (10, 1, 5, 200), (10, 3, 3, 200), (7, 1, 3, 50), (7, 4, 2, 60)]
RATINGS += [(7, 2, 1, 60), (12, 1, 4, 10)]


def grouplens_100k(folder: Path) -> Path:
    """MOVIES and RATINGS as GroupLens' u.data and u.item (latin-1, `|`, genre flags)."""
    u_item = []
    for movie, title, year, genres in MOVIES:
        flags = "|".join("1" if g in genres else "0" for g in U_ITEM_GENRES)
        title = "unknown" if title is None else f"{title} ({year})"
        date = "" if year is None else "01-Jan-1995"  # not read
        u_item.append(f"{movie}|{title}|{date}||http://imdb/{movie}|{flags}\n")
    write(folder, {"u.item": "".join(u_item)}, "latin-1")
    return write(folder, {"u.data": "".join("\t".join(map(str, r)) + "\n" for r in RATINGS)})


def recbole_100k(folder: Path) -> Path:
    """MOVIES and RATINGS as recbole's ml-100k.inter and ml-100k.item (utf-8, tabs, headers)."""
    inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    inter += "".join("\t".join(map(str, r)) + "\n" for r in RATINGS)
    item = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
    for movie, title, year, genres in MOVIES:
        item += f"{movie}\t{title or 'unkonwn'}\t{year or 'unkonwn'}\t{' '.join(genres)}\n"
    return write(folder, {"ml-100k.inter": inter, "ml-100k.item": item})


def ml_1m(folder: Path) -> Path:
    movies = [
        "1::Toy Story (1995)::Animation|Children's|Comedy",
        "2::Café (1999)::Comedy|Romance",
        "3::Star Wars: Episode IV - A New Hope (1977)::Action|Sci-Fi",
        "4::Never Rated (1990)::Drama",
    ]
    ratings = ["2::3::5::978300760", "1::1::4::978300000", "1::2::3::978300100"]
    ratings += ["2::1::5::978300700", "1::3::2::978300050", "2::2::1::978300760"]
    write(folder, {"movies.dat": "\n".join(movies) + "\n"}, "latin-1")
    return write(folder, {"ratings.dat": "\n".join(ratings) + "\n"})


def lastfm(folder: Path) -> Path:
    tagged = [(2, 51, 1), (3, 51, 1), (2, 52, 2), (4, 52, 2), (2, 52, 2), (2, 53, 2), (3, 53, 3)]
    tagged += [(4, 53, 3), (2, 54, 4), (3, 54, 4), (4, 54, 4)]  # artist 54 has no plays
    tags = "tagID\ttagValue\n1\tmetal\n2\tchillout\n3\tpost-rock\n4\télectro\n"
    write(folder, {"tags.dat": tags}, "latin-1")
    return write(
        folder,
        {
            "user_artists.dat": "userID\tartistID\tweight\n"
            "2\t51\t13883\n2\t52\t11690\n3\t51\t100\n3\t53\t50\n4\t52\t7\n2\t53\t5\n",
            "artists.dat": "id\tname\turl\tpictureURL\n51\tDuran Duran\thttp://a/51\t\n"
            "52\tMorcheeba\thttp://a/52\thttp://p/52\n53\tSigur Rós\thttp://a/53\t\n"
            "54\tNobody\thttp://a/54\t\n",
            "user_taggedartists.dat": "userID\tartistID\ttagID\tday\tmonth\tyear\n"
            + "".join(f"{u}\t{a}\t{t}\t1\t5\t2008\n" for u, a, t in tagged),
        },
    )


def refused(dataset: str, path: Path, match: str) -> None:
    """load_dataset(dataset, path=path) raises a DataError whose message matches `match`."""
    with pytest.raises(DataError, match=match):
        load_dataset(dataset, path=path)


# ------------------------------------------------------------------------------------------------
# the real MovieLens-100K


def test_ml100k_real(ml100k):
    d = ml100k
    assert (d.n_users, d.n_items, len(d.interactions), d.n_genres) == (943, 1682, 100_000, 19)
    assert d.genre_names == ML_100K_GENRES
    assert (d.user_ids == np.arange(1, 944)).all() and (d.item_ids == np.arange(1, 1683)).all()
    assert d.item_titles[0] == "Toy Story (1995)"
    assert d.item_titles[266] == "unknown"
    assert d.item_titles[1411] == "Land Before Time III: The Time of the Great Giving (1995) (V)"
    toy_story = {g for g, on in zip(d.genre_names, d.genres[0], strict=True) if on}
    assert toy_story == {"Animation", "Children's", "Comedy"}
    assert d.genres[:, d.genre_names.index("Drama")].sum() == 725
    assert d.popularity.sum() == 100_000 and d.popularity[49] == 583  # Star Wars (1977)
    dtypes = d.interactions.dtypes.astype(str).to_dict()
    assert dtypes == {"user": "int64", "item": "int64", "timestamp": "int64", "rating": "float32"}
    ordered = d.interactions.sort_values(["user", "timestamp"], kind="stable")
    assert (ordered.index == d.interactions.index).all()
    # the same for GroupLens' zip and recbole's wheel, and from one run to the next
    assert d.fingerprint() == "96bb7fb7e15606d15eec907ccf6ef7181891147723333a9e754cf346eeadc159"


def test_ml100k_split(ml100k):
    split = leave_one_out(ml100k)
    assert len(split.users) == 943 and split.n_dropped == 0
    assert sum(len(t) for t in split.train) == 100_000 - 2 * 943
    sequences = ml100k.sequences()
    for k, u in enumerate(split.users[:50]):
        assert (np.r_[split.train[k], split.valid[k], split.test[k]] == sequences[u]).all()
    # the ties leave_one_out's docstring warns about
    last_two = ml100k.interactions.groupby("user")["timestamp"].apply(
        lambda t: t.iloc[-1] == t.iloc[-2]
    )
    assert last_two.sum() == 415


def test_downloaded_archive_is_used_without_network(ml100k, ml100k_cache, monkeypatch):
    monkeypatch.setattr(pooch, "retrieve", no_network)
    monkeypatch.setenv("RECSAE_CACHE", str(ml100k_cache))
    assert load_dataset("ml-100k").fingerprint() == ml100k.fingerprint()
    (archive,) = ml100k_cache.iterdir()  # GroupLens' zip or recbole's wheel, as given by path=
    assert load_dataset("ml-100k", path=archive).fingerprint() == ml100k.fingerprint()


# ------------------------------------------------------------------------------------------------
# the parsers, on small files


def test_grouplens_and_recbole_files_give_the_same_dataset(tmp_path):
    grouplens = load_dataset("ml-100k", path=grouplens_100k(tmp_path / "grouplens"))
    # recbole's files sit deep inside its wheel
    wheel = zip_up(recbole_100k(tmp_path / "recbole"), tmp_path / "rb.whl", "recbole/ml-100k/")
    recbole = load_dataset("ml-100k", path=wheel)
    pd.testing.assert_frame_equal(grouplens.interactions, recbole.interactions)
    assert (grouplens.genres == recbole.genres).all()
    for field in ("item_titles", "genre_names", "user_ids", "item_ids"):
        assert list(getattr(grouplens, field)) == list(getattr(recbole, field))
    assert grouplens.fingerprint() == recbole.fingerprint()
    titles = ["Toy Story (1995)", "Misérables, Les (1995)", "unknown"]
    assert grouplens.item_titles == [*titles, "Land Before Time III (1995) (V)"]
    assert list(grouplens.item_ids) == [1, 2, 3, 4]  # movie 5 has no ratings
    assert set(np.array(ML_100K_GENRES)[grouplens.genres[1]]) == {"Drama", "Musical"}
    assert grouplens.genres[2, ML_100K_GENRES.index("unknown")]


def test_ties_in_time_keep_file_order(tmp_path):
    d = load_dataset("ml-100k", path=grouplens_100k(tmp_path))
    assert list(d.user_ids) == [7, 10, 12]
    # user 7 rated 1 at 50, then 4 and 2 both at 60; user 10: 2 at 100, then 1 and 3 both at 200
    assert [list(d.item_ids[s]) for s in d.sequences()] == [[1, 4, 2], [2, 1, 3], [1]]
    assert d.interactions["rating"].tolist() == [3, 2, 1, 4, 5, 3, 4]
    split = leave_one_out(d)
    assert list(split.users) == [0, 1] and split.n_dropped == 1  # user 12 rated only once
    assert list(d.item_ids[split.test]) == [2, 3]
    assert list(d.item_ids[split.valid]) == [4, 1]
    assert [list(d.item_ids[h]) for h in split.history("valid")] == [[1], [2]]
    assert [list(d.item_ids[h]) for h in split.history("test")] == [[1, 4], [2, 1]]
    with pytest.raises(ValueError, match="'valid' or 'test'"):
        split.history("train")


def test_ml1m_from_a_folder_and_a_zip(tmp_path):
    folder = ml_1m(tmp_path / "ml-1m")
    d = load_dataset("ml-1m", path=folder)
    zipped = load_dataset("ml-1m", path=zip_up(folder, tmp_path / "mine.zip", "ml-1m/"))
    assert d.fingerprint() == zipped.fingerprint()
    assert list(d.item_ids) == [1, 2, 3]  # movie 4 has no ratings
    assert d.item_titles == ["Toy Story (1995)", "Café (1999)", d.item_titles[2]]
    assert d.item_titles[2] == "Star Wars: Episode IV - A New Hope (1977)"
    assert set(np.array(d.genre_names)[d.genres[2]]) == {"Action", "Sci-Fi"}
    assert d.n_genres == 18 and d.genre_names[3] == "Children's"
    assert [list(d.item_ids[s]) for s in d.sequences()] == [[1, 3, 2], [1, 3, 2]]
    assert d.interactions["rating"].dtype == np.float32


def test_lastfm(tmp_path):
    d = load_dataset("lastfm", path=lastfm(tmp_path))
    assert list(d.item_ids) == [51, 52, 53]  # artist 54 has no plays
    assert d.item_titles == ["Duran Duran", "Morcheeba", "Sigur Rós"]
    # tag usage on played artists, one vote per (user, artist, tag): chillout 3, metal 2,
    # post-rock 2 (ties go to the lower tag id); électro is only on artist 54
    assert d.genre_names == ["chillout", "metal", "post-rock"]
    # chillout on 53 has one user: below min_tag_users=2
    assert d.genres.tolist() == [[False, True, False], [True, False, False], [False, False, True]]
    assert load_dataset("lastfm", path=tmp_path, n_tags=2).genre_names == ["chillout", "metal"]
    assert (d.interactions["timestamp"] == 0).all()
    assert d.interactions["rating"].tolist() == [13883, 11690, 5, 100, 50, 7]
    # no listening times: leave-one-out follows the file's order
    split = leave_one_out(d)
    assert list(d.user_ids[split.users]) == [2] and split.n_dropped == 2
    assert (d.item_ids[split.valid], d.item_ids[split.test]) == (52, 53)


# ------------------------------------------------------------------------------------------------
# the synthetic dataset


def test_synthetic_seed_is_checked():
    with pytest.raises(DataError, match=r"seed = -1: .*an integer >= 0"):
        load_dataset("synthetic", seed=-1)


def test_synthetic_is_deterministic():
    a, b = load_dataset("synthetic", seed=1), load_dataset("synthetic", seed=1)
    assert a.fingerprint() == b.fingerprint()
    assert (a.truth.user_prefs == b.truth.user_prefs).all()
    assert load_dataset("synthetic", seed=2).fingerprint() != a.fingerprint()


def test_synthetic_truth_matches_the_interactions():
    d = load_dataset("synthetic", seed=3, n_users=300)
    truth, config = d.truth, d.truth.config
    # the hierarchy: parents first, then their children, within the configured ranges
    parents = np.flatnonzero(truth.parent < 0)
    assert list(parents) == list(range(config.n_parents))
    children_per_parent = np.bincount(truth.parent[truth.parent >= 0], minlength=config.n_parents)
    assert children_per_parent.min() >= 3 and children_per_parent.max() <= 5
    assert truth.concept_names[:5] == ["P0", "P1", "P2", "P3", "P0.C0"]
    children = np.flatnonzero(truth.parent >= 0)
    # items carry 1-3 children, and exactly the parents of their children
    per_item = truth.item_concepts[:, children].sum(axis=1)
    assert per_item.min() >= 1 and per_item.max() <= 3
    for p in parents:
        implied = truth.item_concepts[:, children[truth.parent[children] == p]].any(axis=1)
        assert (truth.item_concepts[:, p] == implied).all()
    assert (d.genres == truth.item_concepts).all() and d.genre_names == truth.concept_names
    # users prefer 2-3 children, and every item they take carries one of them
    per_user = truth.user_prefs.sum(axis=1)
    assert per_user.min() >= 2 and per_user.max() <= 3 and not truth.user_prefs[:, parents].any()
    users, items = d.interactions["user"], d.interactions["item"]
    assert (truth.item_concepts[items] & truth.user_prefs[users]).any(axis=1).all()
    lengths = np.bincount(users)
    assert lengths.min() >= 20 and lengths.max() <= 80
    assert (d.interactions.groupby("user").cumcount() == d.interactions["timestamp"]).all()
    assert not d.interactions.duplicated(["user", "item"]).any()  # no item twice


def test_synthetic_users_stay_on_one_concept_without_switching():
    d = load_dataset("synthetic", seed=4, n_users=100, switch_prob=0.0, seq_len=(5, 10))
    for sequence in d.sequences():
        assert d.truth.item_concepts[sequence].all(axis=0).any()  # a concept shared by all


def test_synthetic_parents_group_the_children_of_items_and_users():
    def same_parent_share(affinity):
        d = load_dataset("synthetic", seed=5, n_users=200, parent_affinity=affinity)
        truth, n_parents = d.truth, d.truth.config.n_parents
        rows = np.concatenate([truth.item_concepts, truth.user_prefs])[:, n_parents:]
        parents = [set(truth.parent[n_parents + np.flatnonzero(r)]) for r in rows if r.sum() > 1]
        return np.mean([len(p) == 1 for p in parents])

    # 3-5 children per parent, 1-3 concepts per item and 2-3 per user: always room for siblings
    assert same_parent_share(1.0) == 1.0
    assert same_parent_share(0.0) < 0.5


def test_synthetic_popularity_follows_the_exponent():
    def top_decile_share(exponent):
        counts = np.sort(load_dataset("synthetic", popularity_exponent=exponent).popularity)
        return counts[-60:].sum() / counts.sum()

    assert top_decile_share(1.0) > 0.2 > top_decile_share(0.0)


@pytest.mark.parametrize(
    "options, field",
    [
        ({"n_items": 0}, "n_items"),
        ({"n_items": 10}, "n_items"),  # fewer than the 4 * 5 child concepts there may be
        ({"n_parents": 0}, "n_parents"),
        ({"switch_prob": 1.5}, "switch_prob"),
        ({"parent_affinity": -0.1}, "parent_affinity"),
        ({"seq_len": (5, 2)}, "seq_len"),
        ({"prefs_per_user": (2, 50)}, "prefs_per_user"),
        ({"popularity_exponent": -1.0}, "popularity_exponent"),
        ({"n_users": 2.5}, "n_users"),
        ({"seq_len": 5}, "seq_len"),
        ({"n_children": (2, 3.5)}, "n_children"),
    ],
)
def test_synthetic_config_is_checked(options, field):
    with pytest.raises(DataError, match=f"SyntheticConfig.{field} is"):
        load_dataset("synthetic", **options)


# ------------------------------------------------------------------------------------------------
# bad input


def test_missing_file(tmp_path):
    folder = write(tmp_path, {"ratings.dat": "1::1::5::1\n"})
    with pytest.raises(
        DataError, match=r"movies\.dat not found in .*: it should hold ratings\.dat"
    ):
        load_dataset("ml-1m", path=folder)


def test_wrong_column_count(tmp_path):
    write(ml_1m(tmp_path), {"ratings.dat": "1::1::5::10\n1::2::5\n"})
    refused("ml-1m", tmp_path, r"ratings\.dat in .*, line 2: expected 4 fields .*found 3")
    write(tmp_path, {"ratings.dat": "1::1::5::10\n\n1::2::5::11\n"})  # a blank line
    refused("ml-1m", tmp_path, r"ratings\.dat in .*, line 2: expected 4 fields")
    grouplens_100k(tmp_path / "100k")
    write(tmp_path / "100k", {"u.item": "1|Toy Story (1995)|01-Jan-1995||url|0|1\n"}, "latin-1")
    refused("ml-100k", tmp_path / "100k", r"u\.item in .*, line 1: expected 24 fields")


def test_non_integer_id(tmp_path):
    write(grouplens_100k(tmp_path), {"u.data": "7\t1\t3\t50\n7\t2\t3\t50\nx\t4\t2\t60\n"})
    refused("ml-100k", tmp_path, r"u\.data in .*, line 3: user id should be an integer")
    inter = (
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t1\t5\t10\n1\t1.5\t5\t9\n"
    )
    write(recbole_100k(tmp_path / "rb"), {"ml-100k.inter": inter})
    refused("ml-100k", tmp_path / "rb", r"ml-100k\.inter in .*, line 3: item_id .*found '1\.5'")


def test_unknown_genre(tmp_path):
    write(ml_1m(tmp_path), {"movies.dat": "1::Toy Story (1995)::Comedy\n2::Alien (1979)::Sci-Fy\n"})
    with pytest.raises(
        DataError, match=r"movies\.dat in .*, line 2: unknown genre 'Sci-Fy'; .*Action"
    ):
        load_dataset("ml-1m", path=tmp_path)


def test_unknown_tag(tmp_path):
    tagged = (
        "userID\tartistID\ttagID\tday\tmonth\tyear\n2\t51\t1\t1\t5\t2008\n2\t51\t99\t1\t5\t2008\n"
    )
    write(lastfm(tmp_path), {"user_taggedartists.dat": tagged})
    refused("lastfm", tmp_path, r"user_taggedartists\.dat in .*, line 3: tag 99 is not in")


def test_empty_dataset(tmp_path):
    write(grouplens_100k(tmp_path), {"u.data": ""})
    refused("ml-100k", tmp_path, r"u\.data in .* has no interactions")
    write(recbole_100k(tmp_path / "rb"), {"ml-100k.inter": "user_id:token\titem_id:token\n"})
    refused("ml-100k", tmp_path / "rb", r"ml-100k\.inter in .* has no interactions")


def test_not_utf8(tmp_path):
    recbole_100k(tmp_path)
    write(
        tmp_path,
        {"ml-100k.item": "item_id:token\tmovie_title:token_seq\n1\tCafé\t1999\t\n"},
        "latin-1",
    )
    refused("ml-100k", tmp_path, r"ml-100k\.item in .*, line 2: this is not utf-8 text")


def test_metadata_must_cover_the_items(tmp_path):
    write(ml_1m(tmp_path), {"movies.dat": "1::Toy Story (1995)::Comedy\n"})
    with pytest.raises(
        DataError,
        match=r"ratings\.dat in .*: 2 items, such as 2, have interactions but no metadata",
    ):
        load_dataset("ml-1m", path=tmp_path)


def test_bad_names_and_options(tmp_path):
    with pytest.raises(
        DataError, match="unknown dataset 'ml-20m': choose one of ml-100k, ml-1m, lastfm"
    ):
        load_dataset("ml-20m")
    with pytest.raises(TypeError, match="unknown options n_users; it takes none"):
        load_dataset("ml-1m", n_users=3)
    with pytest.raises(TypeError, match="unknown options n_tag; it takes n_tags, min_tag_users"):
        load_dataset("lastfm", n_tag=3)
    refused("ml-1m", tmp_path / "nowhere", "does not exist")
    (tmp_path / "mine.zip").write_bytes(b"not a zip")
    refused("ml-1m", tmp_path / "mine.zip", r"mine\.zip is not a zip file")


def no_network(*args, **kwargs):
    raise requests.ConnectionError("Failed to resolve 'files.grouplens.org'")


def test_no_network_and_no_offline_copy(cache, monkeypatch):
    monkeypatch.setattr(pooch, "retrieve", no_network)
    with pytest.raises(DataError, match="no network and no offline copy") as error:
        load_dataset("ml-100k")
    message = str(error.value)
    assert "https://files.grouplens.org/datasets/movielens/ml-100k.zip" in message
    assert "recbole-1.2.1-py3-none-any.whl" in message
    assert "path=" in message and str(cache) in message and "RECSAE_CACHE" in message
    assert list(cache.iterdir()) == []


def test_damaged_archive_in_the_cache_is_deleted(cache, monkeypatch):
    monkeypatch.setattr(pooch, "retrieve", no_network)
    damaged = cache_dir() / "ml-1m.zip"
    damaged.write_bytes(b"half a download")
    with pytest.raises(DataError, match=r"ml-1m\.zip does not match the published md5 .*deleted"):
        load_dataset("ml-1m")
    assert not damaged.exists()


def test_damaged_archive_given_as_path_is_reported_and_kept(tmp_path):
    damaged = tmp_path / "hetrec2011-lastfm-2k.zip"
    damaged.write_bytes(b"half a download")
    with pytest.raises(
        DataError, match=r"hetrec2011-lastfm-2k\.zip does not match .*download it again"
    ):
        load_dataset("lastfm", path=damaged)
    assert damaged.exists()


def test_download_with_a_wrong_checksum(cache, monkeypatch):
    def wrong_checksum(*args, **kwargs):
        raise ValueError("MD5 hash of downloaded file (ml-1m.zip) does not match the known hash")

    monkeypatch.setattr(pooch, "retrieve", wrong_checksum)
    with pytest.raises(DataError, match=r"ml-1m\.zip from https://.*does not match the known hash"):
        load_dataset("ml-1m")


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSAE_CACHE", str(tmp_path / "a" / "b"))
    assert cache_dir() == tmp_path / "a" / "b" and cache_dir().is_dir()


def test_leave_one_out_needs_three_interactions(tmp_path):
    write(ml_1m(tmp_path), {"ratings.dat": "1::1::5::10\n1::2::5::11\n2::3::4::12\n"})
    with pytest.raises(DataError, match="no user has the 3 interactions"):
        leave_one_out(load_dataset("ml-1m", path=tmp_path))


# ------------------------------------------------------------------------------------------------
# repeated rows, and the split that never validates on the test target


def test_repeated_rows_are_dropped_with_a_warning_that_counts_them(tmp_path):
    clean = load_dataset("ml-100k", path=grouplens_100k(tmp_path / "clean"))
    rows = RATINGS + [RATINGS[1], RATINGS[1], RATINGS[5]]  # the repeats come after the first ones
    repeated = write(grouplens_100k(tmp_path / "repeated"), {
        "u.data": "".join("\t".join(map(str, r)) + "\n" for r in rows)})  # fmt: skip
    with pytest.warns(UserWarning, match=r"u\.data in .*: 3 rows repeat an earlier .*user 10"):
        d = load_dataset("ml-100k", path=repeated)
    assert d.fingerprint() == clean.fingerprint()
    pd.testing.assert_frame_equal(d.interactions, clean.interactions)
    # the same item at another time is not a repeat: it stays, without a warning
    rows = RATINGS + [(10, 1, 4, 300)]
    write(repeated, {"u.data": "".join("\t".join(map(str, r)) + "\n" for r in rows)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_dataset("ml-100k", path=repeated).interactions) == len(rows)


def test_leave_one_out_never_validates_on_the_test_target(tmp_path):
    # user 1 takes movie 3 three times at the end; user 2 only ever takes movie 1; user 3 takes
    # movie 2 first and last; user 4 has no repeats; user 5 takes movie 1, then movie 2 twice:
    # a validation target (1) but no training item before it
    ratings = ["1::1::5::10", "1::2::4::11", "1::3::3::12", "1::3::3::13", "1::3::3::14"]
    ratings += ["2::1::5::10", "2::1::5::11", "2::1::5::12", "3::2::4::10", "3::1::4::11"]
    ratings += ["3::2::4::12", "4::1::1::1", "4::2::1::2", "4::3::1::3"]
    ratings += ["5::1::1::1", "5::2::1::2", "5::2::1::3"]
    d = load_dataset("ml-1m", path=write(ml_1m(tmp_path), {"ratings.dat": "\n".join(ratings)}))
    split = leave_one_out(d)
    assert list(d.user_ids[split.users]) == [1, 3, 4] and split.n_dropped == 2  # users 2 and 5
    assert (split.valid != split.test).all()
    assert list(d.item_ids[split.test]) == [3, 2, 3]
    assert list(d.item_ids[split.valid]) == [2, 1, 2]
    # user 1's repeats of movie 3 after its valid target are left out, neither train nor target
    assert [list(d.item_ids[t]) for t in split.train] == [[1], [2], [1]]


# ------------------------------------------------------------------------------------------------
# ids, ratings and encodings


@pytest.mark.parametrize("dataset", ["ml-1m", "ml-100k"])
def test_a_movie_listed_twice_is_named_with_its_lines(tmp_path, dataset):
    if dataset == "ml-1m":
        movies = "1::Toy Story (1995)::Comedy\n2::Heat (1995)::Action\n3::Alien (1979)::Sci-Fi\n"
        write(ml_1m(tmp_path), {"movies.dat": movies + "2::Heat again (1995)::Action\n"}, "latin-1")
        match = r"movies\.dat in .*, line 4: MovieID 2 is listed twice \(also on line 2\)"
    else:
        u_item = (grouplens_100k(tmp_path) / "u.item").read_text("latin-1")
        write(tmp_path, {"u.item": u_item + u_item.splitlines(keepends=True)[0]}, "latin-1")
        match = r"u\.item in .*, line 6: item id 1 is listed twice \(also on line 1\)"
    refused(dataset, tmp_path, match)


def test_an_artist_or_tag_listed_twice_is_named(tmp_path):
    lastfm(tmp_path)
    tags = (tmp_path / "tags.dat").read_text("latin-1")
    write(tmp_path, {"tags.dat": tags + "2\tchill\n"}, "latin-1")
    refused("lastfm", tmp_path, r"tags\.dat in .*, line 6: tagID 2 is listed twice")


def test_an_id_too_large_for_64_bits_is_named(tmp_path):
    huge = "99999999999999999999"  # > 2**63 - 1
    write(ml_1m(tmp_path), {"ratings.dat": f"1::1::5::10\n{huge}::2::4::11\n"})
    refused("ml-1m", tmp_path, rf"ratings\.dat in .*, line 2: UserID {huge} is too large")
    write(tmp_path, {"movies.dat": f"1::Toy Story (1995)::Comedy\n{huge}::Heat (1995)::Action\n"})
    write(tmp_path, {"ratings.dat": "1::1::5::10\n"})
    refused("ml-1m", tmp_path, r"movies\.dat in .*, line 2: MovieID 9+ is too large")


def test_a_rating_off_the_scale_is_named(tmp_path):
    write(ml_1m(tmp_path), {"ratings.dat": "1::1::5::10\n1::2::99::11\n"})
    refused("ml-1m", tmp_path, r"ratings\.dat in .*, line 2: Rating 99 is off the scale")
    inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t1\t5\t10\n1\t2\t0\t9\n"
    write(recbole_100k(tmp_path / "rb"), {"ml-100k.inter": inter})
    refused("ml-100k", tmp_path / "rb", r"ml-100k\.inter in .*, line 3: rating 0 is off the scale")
    plays = "userID\tartistID\tweight\n2\t51\t10\n3\t52\t-4\n"
    write(lastfm(tmp_path / "fm"), {"user_artists.dat": plays})
    with pytest.raises(
        DataError, match=r"user_artists\.dat in .*, line 3: weight .* -4 is negative"
    ):
        load_dataset("lastfm", path=tmp_path / "fm")


def test_a_latin1_file_saved_again_as_utf8_reads_right(tmp_path):
    published = load_dataset("ml-100k", path=grouplens_100k(tmp_path / "latin-1"))
    resaved = grouplens_100k(tmp_path / "utf-8")
    text = (resaved / "u.item").read_text("latin-1")
    write(resaved, {"u.item": text}, "utf-8")
    assert (resaved / "u.item").read_bytes() != (tmp_path / "latin-1" / "u.item").read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_dataset("ml-100k", path=resaved).item_titles == published.item_titles
    assert published.item_titles[1] == "Misérables, Les (1995)"
    # and with the byte-order mark some editors add
    write(resaved, {"u.item": "\ufeff" + text}, "utf-8")
    assert load_dataset("ml-100k", path=resaved).item_titles == published.item_titles


def test_text_converted_twice_gets_a_warning_naming_the_line(tmp_path):
    folder = ml_1m(tmp_path)
    twice = (folder / "movies.dat").read_text("latin-1").encode("utf-8").decode("latin-1")
    write(folder, {"movies.dat": twice}, "utf-8")  # "Café" now reads "CafÃ©"
    with pytest.warns(UserWarning, match=r"movies\.dat in .*, line 2 looks garbled \('2::CafÃ©"):
        d = load_dataset("ml-1m", path=folder)
    assert d.item_titles[1] == "CafÃ© (1999)"  # read as it is: the warning says what to do


# ------------------------------------------------------------------------------------------------
# a copy of your own under the published file's name


def test_a_zip_you_packed_yourself_is_read_with_a_note(tmp_path):
    folder = ml_1m(tmp_path / "files")
    mine = zip_up(folder, tmp_path / "ml-1m.zip", "ml-1m/")  # not GroupLens' bytes
    with pytest.warns(UserWarning, match=r"ml-1m\.zip does not match .*read as your own copy"):
        d = load_dataset("ml-1m", path=mine)
    assert d.fingerprint() == load_dataset("ml-1m", path=folder).fingerprint()
    # a zip of that name without the dataset's files is still a broken download
    (folder / "movies.dat").unlink()
    zip_up(folder, tmp_path / "ml-1m.zip")
    refused("ml-1m", tmp_path / "ml-1m.zip", r"ml-1m\.zip does not match .*incomplete download")


@pytest.mark.parametrize(
    "options, match",
    [
        ({"held_out": 1.0}, r"held_out = 1\.0: it is a share"),
        ({"held_out": 0.0}, "held_out = 0.0"),
        ({"shares": (0.6, 0.5)}, r"shares = \(0\.6, 0\.5\): .*sum to less than 1"),
        ({"shares": (-0.1, 0.1)}, "shares"),
    ],
)
def test_user_split_checks_its_shares(options, match):
    dataset = load_dataset("synthetic", n_users=50)
    assert len(user_split(dataset).users["train"]) == 40  # the defaults: 10% and 10%
    with pytest.raises(DataError, match=match):
        user_split(dataset, **options)
