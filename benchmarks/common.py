"""What every benchmark shares (no need to read): where results go, and the report's header.

Each benchmark is a script, `python benchmarks/NAME.py [--profile quick]`, that writes
benchmarks/results/NAME.json (NAME-full.json for the full profile, which wants a GPU) through
`write_report`, which adds the machine, the versions, the wall time and the peak memory. The
device a result names is read off the work (`devices_of` the models, SAEs and tensors it computed
with), never taken from a --device flag: a result labelled "cuda" ran there. `make bench` runs
them all.
"""

from __future__ import annotations

import itertools
import json
import platform
import resource
import time
from pathlib import Path

import torch

import recsae_lite

RESULTS = Path(__file__).resolve().parent / "results"
START = time.perf_counter()  # the benchmark's wall time counts from here: imports come first


def result_path(name: str, profile: str) -> Path:
    """benchmarks/results/NAME.json, or NAME-full.json for the full profile."""
    return RESULTS / (f"{name}-full.json" if profile == "full" else f"{name}.json")


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
    report["machine"] = machine(ran_on)
    report["seconds"] = round(time.perf_counter() - START, 1)
    report["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if gpus := [d for d in ran_on if d.startswith("cuda")]:
        peak = max(torch.cuda.max_memory_allocated(d) for d in gpus)
        report["peak_gpu_memory_mb"] = round(peak / 2**20)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {path}")
