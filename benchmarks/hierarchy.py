"""Benchmark: does a Matryoshka SAE recover a planted hierarchy better than BatchTopK (chapter 7)?

    python benchmarks/hierarchy.py [--profile quick] [--seeds 0 1 2 3 4] [--device auto]

For each seed: the synthetic data of that seed (4 parent concepts, 3-5 children each), MF trained
on it (the zoo's settings), and on its item embeddings a Matryoshka SAE and a BatchTopK SAE of the
same width and k, in two settings: a first group smaller than the number of child concepts
(8 + 24 + 96, k = 4) and one as large (16 + 32 + 80, k = 8). Reported per SAE: the tree's
agreement with the planted hierarchy, the F1 of the parents' and children's best features, their
mean group, and FVU (`hierarchy.score`). Then, on MF's ML-100K item embeddings (16 + 48 + 192,
k = 4), each group's mean firing rate, genre entropy and popularity of the top 50 items.
Writes benchmarks/results/hierarchy.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from common import devices_of, result_path, write_report  # a script: benchmarks/ is on the path

from recsae_lite import hierarchy, two_tower, zoo
from recsae_lite._nb import pick_device, seed_everything
from recsae_lite.data import load_dataset
from recsae_lite.metrics import sae_metrics
from recsae_lite.sae import FitConfig, fit

SETTINGS = {"small first group": ((8, 24, 96), 4), "first group of 16": ((16, 32, 80), 8)}
VARIANTS = ("matryoshka", "batchtopk")
MF_SIZES = (16, 48, 192)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["ci", "quick", "full"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=1_500)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/hierarchy.json")
    args = parser.parse_args(argv)

    device = pick_device(args.device)
    dataset_name = "ml-1m" if args.profile == "full" else "ml-100k"
    mf = zoo.model("mf", dataset_name, args.profile, seed=0, device=device)
    x_movies = two_tower.embeddings(mf.model)[1].detach()
    planted, groups_table, ran_on = [], [], set()
    for seed in args.seeds:
        seed_everything(seed)
        synthetic = load_dataset("synthetic", seed=seed)
        truth = synthetic.truth
        trained = zoo.model("mf", synthetic, args.profile, seed=seed, device=device)
        x = two_tower.embeddings(trained.model)[1].detach()
        for setting, (sizes, k) in SETTINGS.items():
            for variant in VARIANTS:
                config = hierarchy.sae_config(x.shape[1], variant, sizes, k)
                sae = fit(x, config, FitConfig(max_steps=args.steps, seed=seed), progress=False)
                ran_on |= devices_of(trained.model, sae)
                codes = sae.encode(x).detach()
                groups = hierarchy.feature_groups(sae, codes, sizes)
                scores = hierarchy.score(codes, groups, truth.item_concepts, truth.parent)
                planted.append({"seed": seed, "setting": setting, "variant": variant,
                                **scores, "fvu": sae_metrics(sae, x)["fvu"]})  # fmt: skip
                print(planted[-1], flush=True)
        for variant in VARIANTS:
            config = hierarchy.sae_config(x_movies.shape[1], variant, MF_SIZES, 4)
            settings = FitConfig(max_steps=args.steps, seed=seed)
            sae = fit(x_movies, config, settings, progress=False)
            ran_on |= devices_of(mf.model, sae)
            codes = sae.encode(x_movies).detach().cpu()
            groups = hierarchy.feature_groups(sae, codes, MF_SIZES)
            data = mf.dataset
            items = np.arange(data.n_items)
            table = hierarchy.profile(codes, groups, items, data.genres, data.popularity, 50)
            means = table.groupby("group").mean(numeric_only=True).drop(columns="feature")
            for group, row in means.iterrows():
                groups_table.append({"seed": seed, "variant": variant, "group": int(group),
                                     **row.round(4).to_dict()})  # fmt: skip

    report = {
        "benchmark": "hierarchy",
        "profile": args.profile,
        "dataset": dataset_name,
        "seeds": args.seeds,
        "steps": args.steps,
        "planted": planted,
        "mf_groups": groups_table,
    }
    write_report(args.out or result_path("hierarchy", args.profile), report, ran_on)


if __name__ == "__main__":
    main(sys.argv[1:])
