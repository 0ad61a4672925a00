"""Fixtures for the data tests: an empty download cache, and the real MovieLens-100K."""

from __future__ import annotations

import pytest

from recsae_lite.data import load_dataset


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty download cache, so that a test neither reads nor fills the user's own."""
    path = tmp_path / "cache"
    monkeypatch.setenv("RECSAE_CACHE", str(path))
    return path


@pytest.fixture(scope="session")
def ml100k_cache(tmp_path_factory):
    """A cache holding the real MovieLens-100K archive, downloaded once per test session (2 MB).

    Offline, this fails with the DataError that says what to do: the tests need the real data."""
    path = tmp_path_factory.mktemp("ml100k-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECSAE_CACHE", str(path))
        load_dataset("ml-100k")
    return path


@pytest.fixture(scope="session")
def ml100k(ml100k_cache):
    """The real MovieLens-100K, from the session's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECSAE_CACHE", str(ml100k_cache))
        return load_dataset("ml-100k")
