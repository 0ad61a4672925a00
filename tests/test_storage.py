"""Files the package keeps: the download cache, the model zoo and saved SAEs. A folder that cannot
be written, a damaged or edited file, and the permissions of what is written."""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path

import pooch
import pytest
import requests
import torch

from recsae_lite import zoo
from recsae_lite.data import DataError, load_dataset
from recsae_lite.sae import SAE, SAEConfig, SAETrainConfig

ML_1M = {
    "ratings.dat": "1::1::5::10\n1::2::3::11\n1::3::4::12\n2::2::4::10\n2::3::2::11\n2::1::1::12\n",
    "movies.dat": "1::Toy Story (1995)::Comedy\n2::Heat (1995)::Action\n3::Alien (1979)::Sci-Fi\n",
}


def ml_1m_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, text in ML_1M.items():
            z.writestr(f"ml-1m/{name}", text)
    return path


@pytest.fixture
def read_only(monkeypatch):
    """read_only(folder): from then on, creating, replacing or deleting anything inside `folder`
    fails with PermissionError, as in a folder the user cannot write. (A chmod would do for a
    normal user, but tests often run as root, in CI containers, whom a chmod does not stop.)"""
    folders = []

    def inside(*paths) -> bool:
        paths = [Path(os.fsdecode(p)).resolve() for p in paths if isinstance(p, (str, os.PathLike))]
        return any(p.is_relative_to(f) for p in paths for f in folders)

    def refuse(path):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))

    def guard(module, name, writes=lambda *args: True):
        real = getattr(module, name)

        def call(*args, **kwargs):
            n_paths = 2 if name in ("replace", "rename") else 1
            if inside(*args[:n_paths]) and writes(*args[n_paths:], **kwargs):
                refuse(args[0])
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, call)

    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    guard(os, "open", lambda flags, *a, **k: bool(flags & write_flags))
    guard(io, "open", lambda mode="r", *a, **k: any(c in mode for c in "wax+"))
    for name in ("mkdir", "unlink", "remove", "rmdir", "replace", "rename", "chmod"):
        guard(os, name)
    return lambda folder: folders.append(Path(folder).resolve())


def test_the_read_only_fixture_refuses_writes_and_allows_reads(tmp_path, read_only):
    (tmp_path / "kept.txt").write_text("data")
    read_only(tmp_path)
    assert (tmp_path / "kept.txt").read_text() == "data"
    for write in (
        lambda: (tmp_path / "new.txt").write_text("x"),
        lambda: (tmp_path / "folder").mkdir(),
        lambda: (tmp_path / "kept.txt").unlink(),
        lambda: tempfile.mkstemp(dir=tmp_path),
    ):
        with pytest.raises(PermissionError):
            write()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


# ------------------------------------------------------------------------------------------------
# the download cache


def test_a_cache_that_cannot_be_created_names_RECSAE_CACHE_and_path(tmp_path, monkeypatch):
    (tmp_path / "a file").write_text("")
    monkeypatch.setenv("RECSAE_CACHE", str(tmp_path / "a file" / "cache"))
    with pytest.raises(DataError, match=r"cannot create the download cache .*RECSAE_CACHE.*path="):
        load_dataset("ml-1m")


def test_a_read_only_cache_names_RECSAE_CACHE_and_path(cache, read_only, monkeypatch):
    def offline(*args, **kwargs):
        raise requests.ConnectionError("the test must fail before downloading")

    monkeypatch.setattr(pooch.core, "stream_download", offline)
    cache.mkdir()
    read_only(cache)
    with pytest.raises(DataError) as error:
        load_dataset("ml-1m")
    message = str(error.value)
    assert f"cannot download ml-1m.zip into {cache}" in message
    assert "RECSAE_CACHE" in message and "path='the/file'" in message
    assert "https://files.grouplens.org/datasets/movielens/ml-1m.zip" in message


def test_a_damaged_file_in_a_read_only_cache_reports_the_checksum(cache, read_only):
    cache.mkdir()
    (cache / "ml-1m.zip").write_bytes(b"half a download")
    read_only(cache)
    with pytest.raises(DataError) as error:
        load_dataset("ml-1m")
    message = str(error.value)
    assert "ml-1m.zip does not match the published md5 checksum" in message
    assert "cannot be deleted" in message and "RECSAE_CACHE" in message and "path=" in message
    assert (cache / "ml-1m.zip").exists()


def test_a_download_gets_the_mode_the_umask_gives(cache, umask, monkeypatch, tmp_path):
    packed = ml_1m_zip(tmp_path / "packed.zip")

    def retrieve(url, known_hash, fname, path):  # as pooch does: a temporary file, moved
        fd, tmp = tempfile.mkstemp(dir=path)  # mode 0600
        with os.fdopen(fd, "wb") as file:
            file.write(packed.read_bytes())
        os.replace(tmp, Path(path) / fname)
        return str(Path(path) / fname)

    monkeypatch.setattr(pooch, "retrieve", retrieve)
    assert load_dataset("ml-1m").n_users == 2
    assert mode(cache / "ml-1m.zip") == 0o666 & ~umask


# ------------------------------------------------------------------------------------------------
# the model zoo


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("synthetic", seed=1, n_users=60, n_items=40, seq_len=(5, 25))


@pytest.fixture
def zoo_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSAE_ZOO", str(tmp_path / "zoo"))
    return tmp_path / "zoo"


def small_sae(trained):
    config = SAEConfig(d_in=16, d_sae=32, variant="topk", k=4)
    train_config = SAETrainConfig(steps=3, batch_size=64)
    return zoo.sae(trained, config, train_config, positions="last", progress=False)


def test_a_read_only_zoo_still_returns_the_trained_model(dataset, zoo_folder, read_only):
    zoo_folder.mkdir()
    read_only(zoo_folder)
    with pytest.warns(UserWarning, match=r"returned but not saved: .*RECSAE_ZOO"):
        trained = zoo.model("mf", dataset, profile="ci", progress=False)
    assert not trained.loaded and len(trained.history.epoch) > 0
    with pytest.warns(UserWarning, match=r"returned but not saved: .*RECSAE_ZOO"):
        sae, x = small_sae(trained)
    assert sae.encode(x[:5]).shape == (5, 32)
    assert list(zoo_folder.iterdir()) == []  # nothing half-written


def test_zoo_files_get_the_mode_the_umask_gives(dataset, zoo_folder, umask):
    trained = zoo.model("mf", dataset, profile="ci", progress=False)
    small_sae(trained)
    files = [p for p in zoo_folder.rglob("*") if p.is_file()]
    folders = [p for p in zoo_folder.rglob("*") if p.is_dir()]
    assert len(files) == 5 and len(folders) == 2  # model + card; the SAE's weights, cfg, card
    for file in files:
        assert mode(file) == 0o666 & ~umask, file
    for folder in folders:
        assert mode(folder) == 0o777 & ~umask, folder


def test_an_edited_card_is_noticed_and_the_model_retrained(dataset, zoo_folder):
    first = zoo.model("mf", dataset, profile="ci", progress=False)
    card_path = first.path.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["history"]["valid_ndcg"][0] = 0.99  # a better-looking history
    card_path.write_text(json.dumps(card, indent=1))
    with pytest.warns(UserWarning, match=r"retraining: .*\.json was edited or is damaged"):
        again = zoo.model("mf", dataset, profile="ci", progress=False)
    assert not again.loaded and again.history.valid_ndcg == first.history.valid_ndcg
    assert zoo.model("mf", dataset, profile="ci", progress=False).loaded  # the card was rewritten

    small_sae(first)
    (sae_card,) = zoo_folder.glob("sae/*/card.json")
    sae_card.write_text(sae_card.read_text().replace('"layer": null', '"layer": 1'))
    with pytest.warns(UserWarning, match=r"retraining: the SAE in .*card\.json was edited"):
        small_sae(first)


def test_the_zoo_refuses_an_sae_whose_files_are_damaged(dataset, zoo_folder):
    trained = zoo.model("mf", dataset, profile="ci", progress=False)
    small_sae(trained)
    (weights,) = zoo_folder.glob("sae/*/sae.safetensors")
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.warns(UserWarning, match=r"retraining: .*sae\.safetensors does not match"):
        small_sae(trained)
    assert not list(zoo_folder.glob("sae/.*")), "a staging folder was left behind"


# ------------------------------------------------------------------------------------------------
# saved SAEs


@pytest.fixture
def saved(tmp_path) -> Path:
    torch.manual_seed(0)
    SAE(SAEConfig(d_in=8, d_sae=32, variant="topk", k=4)).save(tmp_path / "sae")
    return tmp_path / "sae"


def test_a_flipped_byte_in_the_weights_is_refused(saved):
    blob = bytearray((saved / "sae.safetensors").read_bytes())
    blob[-7] ^= 0x01  # one bit of one weight: still a valid file, with another number
    (saved / "sae.safetensors").write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"sae\.safetensors does not match the sha256 saved"):
        SAE.load(saved)


def test_a_truncated_weights_file_is_refused(saved):
    (saved / "sae.safetensors").write_bytes((saved / "sae.safetensors").read_bytes()[:100])
    with pytest.raises(ValueError, match=r"sae/sae\.safetensors does not match .*truncated"):
        SAE.load(saved)


def test_a_broken_or_edited_cfg_json_is_named(saved):
    text = (saved / "cfg.json").read_text()
    (saved / "cfg.json").write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match=r"sae/cfg\.json is damaged"):
        SAE.load(saved)
    (saved / "cfg.json").write_text(text.replace('"k": 4', '"k": 5'))
    with pytest.raises(ValueError, match=r"sae/cfg\.json does not match the sha256 saved"):
        SAE.load(saved)
    (saved / "cfg.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"sae/cfg\.json is damaged"):
        SAE.load(saved)


def test_an_sae_saved_without_checksums_loads_with_a_warning(saved):
    fields = json.loads((saved / "cfg.json").read_text())
    del fields["sha256"]  # as saved before files carried one
    (saved / "cfg.json").write_text(json.dumps(fields))
    with pytest.warns(UserWarning, match="no checksum"):
        loaded = SAE.load(saved)
    assert loaded.config.k == 4
    fields["d_sae"] = 33
    (saved / "cfg.json").write_text(json.dumps(fields))
    with (
        pytest.warns(UserWarning),
        pytest.raises(ValueError, match=r"does not match its cfg\.json"),
    ):
        SAE.load(saved)
