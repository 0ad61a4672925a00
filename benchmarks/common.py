"""What every benchmark shares (no need to read): where results go, and the report's header.

Each benchmark is a script, `python benchmarks/NAME.py [--profile quick]`, that writes
benchmarks/results/NAME.json (NAME-full.json for the full profile, which wants a GPU) through
`write_report`, which adds the machine, the versions, the wall time and the peak memory.
`make bench` runs them all.
"""

from __future__ import annotations

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


def machine(device: torch.device) -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "recsae_lite": recsae_lite.__version__,
    }


def write_report(path: Path, report: dict, device: torch.device) -> None:
    """Write a benchmark's results as JSON (it must name its profile and its seed or seeds), with
    the machine, the wall time since the script started and the process's peak memory."""
    missing = [key for key in ("benchmark", "profile") if key not in report]
    if missing or not {"seed", "seeds"} & set(report):
        raise ValueError(
            f"a benchmark report needs benchmark, profile and seed(s); missing {missing}"
        )
    report["machine"] = machine(device)
    report["seconds"] = round(time.perf_counter() - START, 1)
    report["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if device.type == "cuda":
        report["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {path}")
