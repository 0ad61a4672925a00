"""Benchmark: how long each chapter takes to execute, as a new reader would run it.

    python benchmarks/book_times.py [--profile quick] [--device auto] [--keep _build/times]

Executes every chapter with papermill (book/build.py), in the ci profile and then in `--profile`,
each profile with an empty model zoo, so every chapter trains what it needs, as on a fresh
machine (later chapters reuse what earlier ones cached, as when the book is read in order).
The chapters get DEVICE = `--device` ("auto" is resolved here, so the result names the device
they were given, which each chapter's set-up refuses when the machine lacks it). Writes
benchmarks/results/book_times.json (book_times-full.json for the full profile): seconds per
chapter and profile.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from common import result_path, write_report  # run as a script, benchmarks/ is on the path

from recsae_lite._nb import pick_device

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "book"))
import build  # noqa: E402  (book/build.py: the pipeline)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["quick", "full"])
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/book_times.json")
    parser.add_argument("--device", default="auto", help="the chapters' DEVICE")
    parser.add_argument("--keep", type=Path, help="keep the executed chapters in KEEP/PROFILE")
    args = parser.parse_args(argv)
    device = pick_device(args.device)

    seconds = {}
    for profile in ("ci", args.profile):
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["RECSAE_ZOO"] = str(Path(tmp) / "zoo")  # the kernels inherit it
            executed = args.keep / profile if args.keep else Path(tmp) / "book"
            seconds[profile] = build.execute(profile, executed, device=str(device))
    report = {
        "benchmark": "book_times",
        "profile": args.profile,
        "seed": 0,  # each chapter's default SEED
        "zoo": "empty at the start of each profile",
        "chapter_seconds": seconds,
    }
    write_report(args.out or result_path("book_times", args.profile), report, {str(device)})


if __name__ == "__main__":
    main(sys.argv[1:])
