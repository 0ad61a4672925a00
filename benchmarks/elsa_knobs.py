"""Benchmark: paper C, an SAE inside ELSA, measured without the notebooks (chapter 8).

    python benchmarks/elsa_knobs.py [--profile quick] [--seeds 0 1 2]

Paper C's protocol (`data.user_split`: ratings >= 4, users with 5+ positives, 80/10/10 users with
seed 42, 20% of each test user's positives held out). Per seed: ELSA (d = 256) trained on the
training users; TopK SAEs of 2048 features for k in 8, 16, 32, 64, trained on 50 random 80%
subsets of each training row (and, at k = 16, on the training rows alone, to show why the subsets
are needed); test Recall@20 and NDCG@20 with and without the SAE; at k = 16, steering curves
(personal and segment NDCG@20, share@10) for both TF-IDF mappings with 1 and 5 features.
Writes benchmarks/results/elsa_knobs.json.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import devices_of, result_path, write_report  # a script: benchmarks/ is on the path

from recsae_lite import interpret, knobs
from recsae_lite._nb import pick_device, seed_everything
from recsae_lite.data import load_dataset, user_split
from recsae_lite.interventions import Spliced
from recsae_lite.models import ELSA, ELSAConfig
from recsae_lite.sae import FitConfig, fit
from recsae_lite.train import evaluate, train

ALPHAS = [0.0, 0.1, 0.2, 0.3, 0.5]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["quick", "full"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=2_000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/elsa_knobs.json")
    args = parser.parse_args(argv)

    device = pick_device(args.device)
    dataset = load_dataset("ml-1m" if args.profile == "full" else "ml-100k")
    split = user_split(dataset)
    films = dataset.genres.sum(0)
    genres = [g for g in np.argsort(-films) if films[g] >= 50]
    pairs = knobs.steerable(split, dataset.genres, genres)
    quality, steering, ran_on = [], [], set()
    for seed in args.seeds:
        seed_everything(seed)
        elsa = ELSA(ELSAConfig(dataset.n_items, 256)).to(device)
        train(elsa, split, replace(knobs.TRAIN_ELSA, seed=seed), progress=False)
        quality.append({"seed": seed, "sae": "none", **evaluate(elsa, split, "test", ks=(20,))})
        print(quality[-1], flush=True)
        for k, n_views in [(8, 50), (16, 50), (32, 50), (64, 50), (16, 1)]:
            x = knobs.views(elsa, split, n_views, keep=0.8, seed=seed)
            settings = FitConfig(max_steps=args.steps, batch_size=1_024, seed=seed)
            sae = fit(x, knobs.sae_config(256, 2_048, k), settings, progress=False)
            ran_on |= devices_of(elsa, sae)
            result = evaluate(Spliced(elsa, sae), split, "test", ks=(20,))
            quality.append({"seed": seed, "sae": f"k{k}", "views": n_views, **result})
            print(quality[-1], flush=True)
            if k == 16 and n_views > 1:
                codes = knobs.item_codes(elsa, sae)
                activity = interpret.concept_activity(codes, dataset.genres)
                fires = (codes > 0).sum(0)
                maps = {
                    "best characterizes": interpret.best_characterizes(activity, 5, fires, 20),
                    "most unique": interpret.most_unique(activity, 5, fires, 20),
                }
                summary = knobs.steering_summary(elsa, sae, split, dataset, pairs, maps, ALPHAS)
                for record in summary.reset_index().to_dict(orient="records"):
                    steering.append({"seed": seed, "k": k, **record})

    report = {
        "benchmark": "elsa_knobs",
        "profile": args.profile,
        "dataset": dataset.name,
        "seeds": args.seeds,
        "steps": args.steps,
        "split": {part: len(users) for part, users in split.users.items()},
        "steerable_test_users": int(len(np.unique(np.concatenate([u for _, u in pairs])))),
        "quality": quality,
        "steering": steering,
    }
    write_report(args.out or result_path("elsa_knobs", args.profile), report, ran_on)


if __name__ == "__main__":
    main(sys.argv[1:])
