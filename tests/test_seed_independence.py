"""The same seed gives the same numbers whatever the model zoo holds: chapter 3 executed with an
empty zoo (it trains SASRec) and again with that zoo filled (it loads it) records the same numbers.

Chapter 3 is the one that showed it (issue 20): it builds an SAE from the global generator right
after its zoo call, and training leaves that generator elsewhere than loading did.
"""

from __future__ import annotations

import os
from pathlib import Path

import papermill

from recsae_lite import _nb

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "book" / "03_training_saes.ipynb"


def execute(out: Path) -> dict[str, float]:
    papermill.execute_notebook(
        CHAPTER, out, parameters={"PROFILE": "ci"}, kernel_name="python3", cwd=str(CHAPTER.parent),
        progress_bar=False,
    )  # fmt: skip
    return _nb.recorded(out)


def test_chapter_3_records_the_same_numbers_from_an_empty_and_a_filled_zoo(
    tmp_path, monkeypatch, ml100k_cache
):
    zoo = tmp_path / "zoo"
    monkeypatch.setenv("RECSAE_ZOO", str(zoo))
    monkeypatch.setenv("RECSAE_CACHE", str(ml100k_cache))
    # the kernel imports this checkout's package, whatever is installed
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )

    trained = execute(tmp_path / "empty-zoo.ipynb")
    checkpoints = {p: p.stat().st_mtime_ns for p in zoo.rglob("*") if p.is_file()}
    assert any(p.suffix == ".safetensors" for p in checkpoints), "it trained nothing into the zoo"
    loaded = execute(tmp_path / "filled-zoo.ipynb")
    # the second run loaded what the first saved: nothing was trained or written again
    assert {p: p.stat().st_mtime_ns for p in zoo.rglob("*") if p.is_file()} == checkpoints

    assert len(trained) > 10 and set(trained) == set(loaded)
    different = {
        name: (trained[name], loaded[name]) for name in trained if trained[name] != loaded[name]
    }
    assert not different, f"numbers that depend on the zoo (empty, filled): {different}"
