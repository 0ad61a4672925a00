"""Benchmark: every base model on ML-100K (ML-1M in the full profile), over seeds, evaluated.

    python benchmarks/base_models.py [--profile quick] [--seeds 0 1 2]

Each model of the zoo, and SASRec with paper A's own recipe ("sasrec_plus": SASREC_PLUS),
trained with the profile's settings once per seed (`zoo.model`: a model the zoo already holds is
loaded, with the training time and history it was trained with, so the benchmarks after this one
and the chapters reuse it), is scored on the test users (leave-one-out, full ranking, seen items
masked). Writes benchmarks/results/base_models.json: per model, the test metrics (means over
seeds, and each seed's), the epoch whose weights were kept, the epochs run and the training time;
"figures": each model's NDCG@10 and HR@10 with a 95% interval over users (a user's value is the
mean over seeds); "knobs": the epochs, chosen by early stopping on validation
users.
"""

from __future__ import annotations

import sys

import numpy as np
from _measures import over_units
from common import devices_of, knob, options, result_path, write_report  # benchmarks/: path

from recsae_lite import zoo
from recsae_lite._nb import pick_device, seed_everything
from recsae_lite.train import evaluate

# paper A's own SASRec recipe (SASRec+, ../shared/PAPERS.md) where the profile departs from it:
# the book trains SASRec with dropout 0.2 (and lr 2e-3 in quick); the row "sasrec_plus" measures
# the recipe as the paper gives it, so that the departure is measured, not only named
SASREC_PLUS = {"dropout": 0.1, "max_len": 200, "training": {"lr": 1e-3, "batch_size": 128}}


def main(argv: list[str]) -> None:
    args = options(__doc__, "base_models").parse_args(argv)

    device = pick_device(args.device)
    dataset_name = "ml-1m" if args.profile == "full" else "ml-100k"
    results, figures, epochs, ran_on = {}, {}, {}, set()
    rows = {name: (name, {}) for name in zoo.MODELS} | {"sasrec_plus": ("sasrec", SASREC_PLUS)}
    for name, (kind, recipe) in rows.items():
        runs, per_user = [], []
        for seed in args.seeds:
            seed_everything(seed)
            trained = zoo.model(kind, dataset_name, args.profile, seed, device, progress=False,
                                **recipe)  # fmt: skip
            table = evaluate(trained.model, trained.split, "test", ks=(10, 20),
                             dataset=trained.dataset, per_user=True)  # fmt: skip
            metrics = evaluate(trained.model, trained.split, "test", ks=(10, 20),
                               dataset=trained.dataset)  # fmt: skip
            ran_on |= devices_of(trained.model)
            history = trained.history
            runs.append({"seed": seed, "test": metrics, "best_epoch": history.best_epoch,
                         "epochs_run": history.epoch[-1],
                         "train_seconds": round(history.seconds, 1)})  # fmt: skip
            per_user.append(table)
        mean = {m: float(np.mean([r["test"][m] for r in runs])) for m in runs[0]["test"]}
        results[name] = {
            "config": trained.model.describe(),
            "test": mean,
            "seeds": runs,
            "best_epoch": [r["best_epoch"] for r in runs],
            "epochs_run": [r["epochs_run"] for r in runs],
            "train_seconds": float(np.mean([r["train_seconds"] for r in runs])),
        }
        epochs[name] = [r["best_epoch"] for r in runs]
        for metric in ("ndcg@10", "hr@10"):
            users = np.mean([t[metric].to_numpy() for t in per_user], axis=0)
            figures[f"{name} {metric}"] = over_units(len(users), lambda r, u=users: u[r].mean())
        print(f"{name:>7}: NDCG@10 {mean['ndcg@10']:.4f} {figures[f'{name} ndcg@10']['ci']}  "
              f"HR@10 {mean['hr@10']:.4f}  best epochs {epochs[name]}", flush=True)  # fmt: skip
    report = {
        "benchmark": "base_models",
        "profile": args.profile,
        "dataset": dataset_name,
        "protocol": "leave-one-out by time; full ranking over all items; seen items masked",
        "seeds": args.seeds,
        "models": results,
        "figures": figures,
        "knobs": {
            "SASRec epochs": knob(
                epochs["sasrec"],
                "validation users",
                "per seed, the epoch of best validation NDCG@10 (early stopping, patience 10)",
            ),
        },  # fmt: skip
    }
    write_report(args.out or result_path("base_models", args.profile), report, ran_on)


if __name__ == "__main__":
    main(sys.argv[1:])
