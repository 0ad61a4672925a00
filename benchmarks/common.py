"""What every benchmark shares (no need to read): where results go, and the report's header.

Each benchmark is a script, `python benchmarks/NAME.py [--profile quick]`, that writes
benchmarks/results/NAME.json (NAME-full.json for the full profile, which wants a GPU) through
`write_report`, which adds the machine, the versions, the wall time and the peak memory. The
device a result names is read off the work (`devices_of` the models, SAEs and tensors it computed
with), never taken from a --device flag: a result labelled "cuda" ran there. `make bench` runs
them all.

The report (recsae_lite/report.py, chapter 10) judges each claim from a result file's "figures",
each a value with its 95% interval (`bootstrap_interval`), and "knobs", each choice a verdict
depends on and where it was made (`knob`); report.CLAIMS names the fields each claim reads.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np
import torch

import recsae_lite
from recsae_lite import report

RESULTS = Path(__file__).resolve().parent / "results"
START = time.perf_counter()  # the benchmark's wall time counts from here: imports come first


def result_path(name: str, profile: str) -> Path:
    """benchmarks/results/NAME.json, or NAME-full.json for the full profile."""
    return RESULTS / (f"{name}-full.json" if profile == "full" else f"{name}.json")


def options(doc: str, name: str, seeds=(0, 1, 2)) -> argparse.ArgumentParser:
    """The options of a seeded benchmark `name`: --profile, --seeds, --device, --out (its
    description: the first line of `doc`, the script's docstring). Add a script's own to it."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["ci", "quick", "full"])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(seeds))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help=f"default: benchmarks/results/{name}.json")
    return parser


def devices_of(*work) -> set[str]:
    """Where a benchmark's work ran, read off what it computed with: the devices of tensors, and
    of modules' parameters and buffers, e.g. {"cuda:0"}."""
    found = set()
    for thing in work:
        if isinstance(thing, torch.nn.Module):
            found.update(
                str(t.device) for t in itertools.chain(thing.parameters(), thing.buffers())
            )
        else:
            found.add(str(thing.device))
    return found


def bootstrap_interval(
    a, b=None, statistic=None, resamples=2000, level=report.LEVEL, seed=0, centred=False
) -> dict:
    """A figure and its bootstrap interval over users, in the shape the report reads:
    {"value": statistic on every user, "ci": [low, high], "n": users}.

    `a` holds one row per user (a row may hold several numbers: one per genre, seed, ...); `b`,
    when given, the same users in the same order, scored by another method (paired). The figure
    is statistic(a) or statistic(a, b); by default a's mean, or the difference of means a - b.
    The interval is the percentile interval of the statistic over `resamples` resamplings of the
    users with replacement (the same users for a and b), drawn from a generator seeded by `seed`.

    centred=True is for statistics of top positions or items (a top 100, the best feature's top
    10), which a resample shifts: a user drawn twice puts the same positions twice in a top list,
    so fewer distinct items pass and the draws sit below the figure, often all of them. The
    interval keeps the spread of the draws and is centred on the figure: the percentile interval
    moved by (figure - median of the draws).
    """
    arrays = [np.asarray(a, dtype=float)] + ([] if b is None else [np.asarray(b, dtype=float)])
    if len(arrays) == 2 and len(arrays[1]) != len(arrays[0]):
        raise ValueError(
            f"bootstrap_interval: a and b must hold the same users (one row each, same order); "
            f"got {len(arrays[0])} and {len(arrays[1])} rows"
        )
    if statistic is None:
        statistic = np.mean if b is None else lambda x, y: np.mean(x) - np.mean(y)
    users = np.random.default_rng(seed).integers(0, len(arrays[0]), (resamples, len(arrays[0])))
    draws = [statistic(*(x[rows] for x in arrays)) for rows in users]
    value = float(statistic(*arrays))
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    if centred:
        shift = value - np.median(draws)
        low, high = low + shift, high + shift
    return {"value": value, "ci": [float(low), float(high)],
            "n": len(arrays[0])}  # fmt: skip


def knob(value, chosen_on: str, how: str) -> dict:
    """A choice a verdict depends on, in the shape the report reads: its value, where it was made
    ("validation users", "validation splits", "training data", "fixed before measuring") and how."""
    return {"value": value, "chosen on": chosen_on, "how": how}


def machine(ran_on: set[str]) -> dict:
    gpus = sorted(d for d in ran_on if d.startswith("cuda"))
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        # what the work ran on: "cpu", the GPU's name, or both
        "device": ", ".join(
            ["cpu"] * ("cpu" in ran_on) + [torch.cuda.get_device_name(d) for d in gpus]
        ),
        "ran_on": sorted(ran_on),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "recsae_lite": recsae_lite.__version__,
    }


def write_report(path: Path, report: dict, ran_on: set[str]) -> None:
    """Write a benchmark's results as JSON (it must name its profile and its seed or seeds), with
    the machine and the devices the work ran on (`devices_of`), the wall time since the script
    started and the process's peak memory (and the GPU's)."""
    missing = [key for key in ("benchmark", "profile") if key not in report]
    if missing or not {"seed", "seeds"} & set(report):
        raise ValueError(
            f"a benchmark report needs benchmark, profile and seed(s); missing {missing}"
        )
    if not ran_on:
        raise ValueError("a benchmark report needs the devices its work ran on: devices_of(...)")
    for name, figure in report.get("figures", {}).items():
        if not (isinstance(figure, dict) and len(figure.get("ci", ())) == 2 and "value" in figure):
            raise ValueError(
                f"figures[{name!r}] of {path.name} must be {{'value': v, 'ci': [low, high]}} "
                f"(what bootstrap_interval returns), got {figure!r}"
            )
    for name, choice in report.get("knobs", {}).items():
        if not (isinstance(choice, dict) and {"value", "chosen on", "how"} <= set(choice)):
            raise ValueError(
                f"knobs[{name!r}] of {path.name} must say its value, where it was chosen and how "
                f"(what knob(value, chosen_on, how) returns), got {choice!r}"
            )
    report["machine"] = machine(ran_on)
    report["seconds"] = round(time.perf_counter() - START, 1)
    report["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if gpus := [d for d in ran_on if d.startswith("cuda")]:
        peak = max(torch.cuda.max_memory_allocated(d) for d in gpus)
        report["peak_gpu_memory_mb"] = round(peak / 2**20)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {path}")
