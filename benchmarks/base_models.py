"""Benchmark: train every base model on ML-100K with a profile's settings and evaluate it.

    python benchmarks/base_models.py [--profile quick] [--seed 0]

Writes benchmarks/results/base_models.json: per model, test metrics (full ranking, seen items
masked), the epoch whose weights were kept, epochs run, and training wall time; plus the machine,
versions, seed and peak memory. Trains from scratch (the zoo's cache is not used): the times are
training times.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common import devices_of, result_path, write_report  # a script: benchmarks/ is on the path

from recsae_lite import zoo
from recsae_lite._nb import pick_device, seed_everything
from recsae_lite.data import leave_one_out, load_dataset
from recsae_lite.models import REGISTRY
from recsae_lite.train import TrainConfig, evaluate, train


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["ci", "quick", "full"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/base_models.json")
    args = parser.parse_args(argv)

    device = pick_device(args.device)
    dataset = load_dataset("ml-1m" if args.profile == "full" else "ml-100k")
    split = leave_one_out(dataset)
    results, ran_on = {}, set()
    for name in zoo.MODELS:
        seed_everything(args.seed)
        model_config, train_fields = REGISTRY[name].settings[args.profile]
        model = zoo.build(name, dataset, split, **model_config).to(device)
        start = time.perf_counter()
        history = train(model, split, TrainConfig(**train_fields, seed=args.seed), progress=False)
        seconds = time.perf_counter() - start
        metrics = evaluate(model, split, "test", ks=(10, 20), dataset=dataset)
        ran_on |= devices_of(model)
        results[name] = {
            "config": model.describe(),
            "test": metrics,
            "best_epoch": history.best_epoch,
            "epochs_run": history.epoch[-1],
            "train_seconds": round(seconds, 1),
        }
        print(
            f"{name:>7}: NDCG@10 {metrics['ndcg@10']:.4f}  HR@10 {metrics['hr@10']:.4f}  "
            f"epochs {history.epoch[-1]} (best {history.best_epoch})  {seconds:.0f} s",
            flush=True,
        )
    report = {
        "benchmark": "base_models",
        "profile": args.profile,
        "dataset": dataset.name,
        "protocol": "leave-one-out by time; full ranking over all items; seen items masked",
        "seed": args.seed,
        "models": results,
    }
    write_report(args.out or result_path("base_models", args.profile), report, ran_on)


if __name__ == "__main__":
    main(sys.argv[1:])
