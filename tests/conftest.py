"""Shared fixtures: an empty download cache and the real MovieLens-100K (data tests), every
chapter executed once per test session (the book's tests), and the `device` a test runs on: the
CPU, a virtual CUDA device (tests/virtual_cuda.py), and a real GPU where there is one."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import torch
import virtual_cuda  # tests/virtual_cuda.py (pytest puts tests/ on the path)

from recsae_lite import _nb
from recsae_lite.data import load_dataset

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book"))
import build  # noqa: E402  (book/build.py: the pipeline)

DEVICES = ["cpu", "virtual-cuda", *(["cuda"] if torch.cuda.is_available() else [])]
if "cuda" in DEVICES:  # cuBLAS reads it at its first product: before any test multiplies
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", _nb.CUBLAS_DETERMINISTIC[0])


@pytest.fixture(params=DEVICES)
def device(request):
    """The device a test runs on, in turn: the CPU; a virtual CUDA device whose tensors keep
    their values on the CPU but raise what CUDA raises (mixed devices, .numpy() of a device
    tensor, ...), so that code which would fail on a GPU fails here; and a real GPU where there
    is one, deterministic as in the chapters. A test moves what it makes to `device`; a
    module-scoped model is copied first (`.to()` moves a module in place)."""
    if request.param == "cpu":
        yield torch.device("cpu")
    elif request.param == "virtual-cuda":
        with virtual_cuda.virtual_cuda():
            yield torch.device("cuda")
    else:
        torch.use_deterministic_algorithms(True)
        try:
            yield torch.device("cuda")
        finally:
            torch.use_deterministic_algorithms(False)


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


@pytest.fixture(scope="session")
def ci_notebooks() -> Path:
    """Every chapter executed with PROFILE=ci into _build/ci, once per test session (where the
    second step of `make test` re-executes them with nbval)."""
    out = ROOT / "_build" / "ci"
    # an empty model zoo: the chapters train their models, as nbval's re-run will (make test)
    zoo = ROOT / "_build" / "ci-zoo"
    shutil.rmtree(zoo, ignore_errors=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECSAE_ZOO", str(zoo))
        build.execute("ci", out, timeout=900)
    return out
