"""Chapter set-up (no need to read): seed, device, plotly renderer, Colab; record() for the tests.

Every chapter calls `setup()` in its set-up cell and glues the numbers its prose quotes with
`record()`, which also keeps them for the tests (tests/test_book.py reads them back); no page shows
a recording.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io as pio
import torch
from plotly.io._base_renderers import MimetypeRenderer

__all__ = [
    "PROFILES", "RECORD_KEY", "seed_everything", "pick_device", "BookRenderer",
    "use_book_renderer", "setup", "LONG_CELL_SECONDS", "time_long_cells", "pick", "record",
    "recorded"
]  # fmt: skip

PROFILES = ("ci", "quick", "full")
RECORD_KEY = "recsae_record"  # output-metadata key that holds a recorded number


CUBLAS_DETERMINISTIC = (":4096:8", ":16:8")  # the workspace settings that make cuBLAS repeatable


def seed_everything(seed: int) -> None:
    """Seed every generator and make torch deterministic: same seed, same numbers (on a GPU, other
    numbers than the CPU's, repeated run to run; an op without a deterministic kernel raises)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # cuBLAS reads its workspace setting once, when CUDA first multiplies: set it before that
    if os.environ.get("CUBLAS_WORKSPACE_CONFIG") not in CUBLAS_DETERMINISTIC:
        if torch.cuda.is_initialized():
            warnings.warn(
                "CUDA was already in use when seed_everything set CUBLAS_WORKSPACE_CONFIG: if it "
                "has multiplied matrices, its products may not repeat (or torch refuses them). "
                "Restart the kernel and run the set-up cell before anything else.",
                stacklevel=2,
            )
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_DETERMINISTIC[0]
    torch.use_deterministic_algorithms(True, warn_only=False)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def pick_device(device: str = "auto") -> torch.device:
    """The device to use: for "auto", a CUDA GPU when there is one, else the CPU. A device torch
    cannot use here gets an error listing the choices."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
        torch.zeros(1, device=chosen)  # is it there, and built into this torch?
        usable = chosen.type != "meta"  # tensors without data: nothing could be computed
    except (RuntimeError, NotImplementedError, AssertionError):
        usable = False
    if not usable:
        choices = ["auto", "cpu", *(f"cuda:{i}" for i in range(torch.cuda.device_count()))]
        choices += ["mps"] if torch.backends.mps.is_available() else []
        raise ValueError(
            f"DEVICE={device!r} cannot be used on this machine (no such device here, or this "
            f"torch was built without it): choose one of {', '.join(map(repr, choices))}."
        )
    return chosen


class BookRenderer(MimetypeRenderer):
    """A figure as HTML that loads nothing from a CDN (plotly's HtmlRenderer adds MathJax): the
    book serves one plotly.min.js (_config.yml), so figures draw offline."""

    def to_mimebundle(self, fig_dict):
        html = pio.to_html(fig_dict, include_plotlyjs=False, include_mathjax=False,
                           full_html=False, default_width="100%", validate=False)  # fmt: skip
        return {"text/html": html}


def use_book_renderer() -> None:
    """Figures as offline HTML for the book, plus plotly's own JSON for JupyterLab; Colab renders
    neither, so it gets plotly's Colab renderer."""
    if "google.colab" in sys.modules:
        pio.renderers.default = "colab"
        return
    pio.renderers["book"] = BookRenderer()
    pio.renderers.default = "plotly_mimetype+book"


def setup(seed: int = 0, device: str = "auto", profile: str = "ci") -> torch.device:
    """Seed everything, choose the device, set the plotly renderer and the tables' precision;
    returns the device. Outside the ci profile, a cell that runs long says how long it took."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"SEED must be an integer, got {seed!r}.")
    if not 0 <= seed < 2**32:  # numpy's seeds
        raise ValueError(f"SEED must be from 0 to 2**32 - 1, got {seed}.")
    if not isinstance(device, str):
        raise TypeError(f"DEVICE must be a string such as 'auto', 'cpu' or 'cuda', got {device!r}.")
    pick(profile, ci=None, quick=None, full=None)  # a clear error for a wrong PROFILE
    chosen = pick_device(device)  # before anything is set: a wrong DEVICE changes nothing
    seed_everything(seed)
    use_book_renderer()
    pd.set_option("display.precision", 4)  # tables: at most 4 decimals, no float32 noise
    time_long_cells(on=profile != "ci")
    if profile == "ci":
        from IPython.display import Markdown, display

        display(Markdown(CI_NOTE))
    return chosen


CI_NOTE = (
    "**This page ran in the `ci` profile:** tiny models and SAEs trained for seconds, so its "
    "numbers (FVU, NDCG, shares, verdicts) show that the code runs, not what the methods do; "
    'the prose speaks of the `quick` profile\'s. For those, set `PROFILE = "quick"` in the '
    "parameters cell, or read the rendered book."
)


LONG_CELL_SECONDS = 5.0
_cell_timer: dict = {}  # the hooks time_long_cells registered, and when the running cell started


def time_long_cells(on: bool = True, threshold: float = LONG_CELL_SECONDS) -> None:
    """After each cell of the running kernel that took `threshold` seconds or more, print how
    long it took. Off in the ci profile: the notebook tests compare every output of two runs, and
    a cell near the threshold would print in one run and not in the other."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:  # not in a notebook
        return
    for event, hook in _cell_timer.pop("hooks", []):  # set up again: no second pair of hooks
        shell.events.unregister(event, hook)
    if not on:
        return

    def started(*_):
        _cell_timer["start"] = time.perf_counter()

    def finished(*_):
        seconds = time.perf_counter() - _cell_timer.pop("start", time.perf_counter())
        if seconds >= threshold:
            print(f"(this step: {seconds:.0f} s elapsed)")

    _cell_timer["hooks"] = [("pre_run_cell", started), ("post_run_cell", finished)]
    for event, hook in _cell_timer["hooks"]:
        shell.events.register(event, hook)


def pick(profile: str, **by_profile):
    """The value for this profile: `pick(PROFILE, ci=200, quick=2_000, full=20_000)`."""
    if profile not in PROFILES:
        raise ValueError(
            f"PROFILE={profile!r} is not one of {PROFILES}: set it in the parameters cell."
        )
    missing = [p for p in PROFILES if p not in by_profile]
    if missing:
        raise TypeError(f"pick() needs a value for every profile; missing: {missing}.")
    return by_profile[profile]


def record(name: str, value: float, fmt: str = ".4f") -> None:
    """Glue `value`, rounded by `fmt` (a word: "s"), for the prose ({glue:text}`name` in a
    markdown cell) and store it exact for the tests; nothing shows (myst-nb's hidden glue)."""
    from IPython.display import display

    if isinstance(value, (np.generic, torch.Tensor)):  # a numpy or a 0-d torch number
        value = value.item()
    hidden = "application/papermill.record/"  # the mime prefix of myst-nb's glue(display=False)
    text = repr(f"{value:{fmt}}")  # a quoted string: {glue:text} keeps its trailing zeros
    glue = {"scrapbook": {"name": name, "mime_prefix": hidden}, "strip_text_quotes": True}
    display({hidden + "text/plain": text}, raw=True, metadata={RECORD_KEY: {name: value}, **glue})


def recorded(notebook: str | Path) -> dict[str, float]:
    """Every value a chapter recorded, read back from its executed notebook."""
    values = {}
    for cell in json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]:
        for output in cell.get("outputs", []):
            values.update(output.get("metadata", {}).get(RECORD_KEY, {}))
    return values
