"""Benchmark: how long each chapter takes to execute, as a new reader would run it.

    python benchmarks/book_times.py [--profile quick] [--device auto] [--keep _build/times]

Executes every chapter with papermill (book/build.py) in the ci profile and then in `--profile`,
each profile from an empty model zoo and in the book's order, as on a fresh machine: a chapter
then finds what earlier chapters cached (its prerequisites, e.g. the base models of chapter 2)
and trains the rest ("in order": also the time of the whole book). Then, in `--profile`, each
chapter that loads something from the zoo runs again alone, from an empty zoo, as a reader who
opens only that chapter ("alone"). The chapters get DEVICE = `--device` ("auto" is resolved here,
so the result names the device they were given). Writes benchmarks/results/book_times.json
(book_times-full.json for the full profile): seconds per chapter, both ways.
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

# the chapters that load nothing from the zoo, or only what they train themselves first
ALONE_NEEDS_NOTHING = ("01_", "02_", "10_")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["quick", "full"])
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/book_times.json")
    parser.add_argument("--device", default="auto", help="the chapters' DEVICE")
    parser.add_argument("--keep", type=Path, help="keep the executed chapters in KEEP/PROFILE")
    parser.add_argument("--no-alone", action="store_true", help="skip the chapters run alone")
    args = parser.parse_args(argv)
    device = pick_device(args.device)

    seconds, alone = {}, {}
    for profile in ("ci", args.profile):
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["RECSAE_ZOO"] = str(Path(tmp) / "zoo")  # the kernels inherit it
            executed = args.keep / profile if args.keep else Path(tmp) / "book"
            seconds[profile] = build.execute(profile, executed, device=str(device))
    for chapter in [] if args.no_alone else seconds[args.profile]:
        if chapter.startswith(ALONE_NEEDS_NOTHING):
            alone[chapter] = seconds[args.profile][chapter]  # the same run: nothing to load
            continue
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["RECSAE_ZOO"] = str(Path(tmp) / "zoo")
            only = [chapter]
            alone |= build.execute(args.profile, Path(tmp) / "book", device=str(device), only=only)
    report = {
        "benchmark": "book_times",
        "profile": args.profile,
        "seed": 0,  # each chapter's default SEED
        "zoo": "in order: empty at the start of each profile; alone: empty for each chapter",
        "chapter_seconds": seconds,  # in order, per profile
        "book_seconds": {profile: round(sum(s.values()), 1) for profile, s in seconds.items()},
        "alone_seconds": {args.profile: alone} if alone else "not measured (--no-alone)",
    }
    write_report(args.out or result_path("book_times", args.profile), report, {str(device)})


if __name__ == "__main__":
    main(sys.argv[1:])
