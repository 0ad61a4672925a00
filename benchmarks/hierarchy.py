"""Benchmark: does a Matryoshka SAE recover a planted hierarchy better than BatchTopK, and are its
early features broad (chapter 7)?

    python benchmarks/hierarchy.py [--profile quick] [--seeds 0 1 2 3 4] [--device auto]

For each seed: the synthetic data of that seed (4 parent concepts, 3-5 children each), MF trained
on it (the zoo's settings), and on its item embeddings a Matryoshka SAE and a BatchTopK SAE of the
same width and k, in two settings: a first group smaller than the number of child concepts
(8 + 24 + 96, k = 4) and one as large (16 + 32 + 80, k = 8). Per SAE (`hierarchy.score`): the
tree's agreement with the planted hierarchy, the F1 of the parents' and children's best features,
their mean group, and FVU. Then, on the zoo's MF of that seed on ML-100K (item embeddings;
16 + 48 + 192, k = 4), each feature's firing rate, and the genre entropy and popularity of its top
50 items (`hierarchy.profile`); BatchTopK's features grouped by firing frequency in groups of the
same sizes (the control).

Figures (claims B8, book1): Matryoshka's agreement over BatchTopK's, per setting (planted parents
of every seed resampled, each with its children); Matryoshka's first group over its last (mean
popularity, mean genre entropy of the features) over the same for the control (features
resampled). Writes benchmarks/results/hierarchy.json.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from _measures import child_agreement, fit_settings, over_units, ratio
from common import devices_of, knob, options, result_path, write_report  # benchmarks/: path

from recsae_lite import hierarchy, two_tower, zoo
from recsae_lite._nb import pick_device, seed_everything
from recsae_lite.data import load_dataset
from recsae_lite.metrics import sae_metrics
from recsae_lite.sae import fit

SETTINGS = {"small first group": ((8, 24, 96), 4), "first group of 16": ((16, 32, 80), 8)}
VARIANTS = ("matryoshka", "batchtopk")
MF_SIZES = (16, 48, 192)


def main(argv: list[str]) -> None:
    args = options(__doc__, "hierarchy", seeds=(0, 1, 2, 3, 4)).parse_args(argv)

    device = pick_device(args.device)
    dataset_name = "ml-1m" if args.profile == "full" else "ml-100k"
    planted, parents, groups_table, features, ran_on = [], [], [], [], set()
    for seed in args.seeds:
        seed_everything(seed)
        synthetic = load_dataset("synthetic", seed=seed)
        truth = synthetic.truth
        trained = zoo.model("mf", synthetic, args.profile, seed, device, progress=False)
        x = two_tower.embeddings(trained.model)[1]
        terms = {}
        for setting, (sizes, k) in SETTINGS.items():
            for variant in VARIANTS:
                config = hierarchy.sae_config(x.shape[1], variant, sizes, k)
                sae = fit(x, config, fit_settings("items", args.profile, seed), progress=False)
                ran_on |= devices_of(trained.model, sae)
                codes = sae.encode(x).detach()
                groups = hierarchy.feature_groups(sae, codes, sizes)
                scores = hierarchy.score(codes, groups, truth.item_concepts, truth.parent)
                planted.append({"seed": seed, "setting": setting, "variant": variant,
                                **scores, "fvu": sae_metrics(sae, x)["fvu"]})  # fmt: skip
                terms[setting, variant] = child_agreement(
                    codes.cpu(), groups, truth.item_concepts, truth.parent
                )
                print(planted[-1], flush=True)
        for p in np.flatnonzero(truth.parent < 0):  # one unit per planted parent: its children
            children = truth.parent == p
            parents.append(
                {key: terms[key][children].sum() for key in terms}
                | {"children": int(children.sum())}
            )

        mf = zoo.model("mf", dataset_name, args.profile, seed, device, progress=False)
        x_movies, data = two_tower.embeddings(mf.model)[1], mf.dataset
        for variant in VARIANTS:
            config = hierarchy.sae_config(x_movies.shape[1], variant, MF_SIZES, 4)
            sae = fit(x_movies, config, fit_settings("items", args.profile, seed), progress=False)
            ran_on |= devices_of(mf.model, sae)
            codes = sae.encode(x_movies).detach().cpu()
            groups = hierarchy.feature_groups(sae, codes, MF_SIZES)
            items = np.arange(data.n_items)
            table = hierarchy.profile(codes, groups, items, data.genres, data.popularity, 50)
            features.append(table.assign(seed=seed, variant=variant))
            means = table.groupby("group").mean(numeric_only=True).drop(columns="feature")
            for group, row in means.iterrows():
                groups_table.append({"seed": seed, "variant": variant, "group": int(group),
                                     **row.round(4).to_dict()})  # fmt: skip

    figures = {}
    units = pd.DataFrame(parents)
    for setting in SETTINGS:
        hits = units[[(setting, v) for v in VARIANTS]].to_numpy()
        figures[f"agreement over batchtopk, {setting}"] = over_units(
            len(hits), lambda r, h=hits: ratio(h[r, 0].sum(), h[r, 1].sum())
        )
    # first over last group, Matryoshka's over the frequency-grouped BatchTopK's
    table = pd.concat(features)
    table = table[table["group"].isin([0, len(MF_SIZES) - 1])]
    matryoshka = (table["variant"] == "matryoshka").to_numpy()
    first = (table["group"] == 0).to_numpy()
    for measure in ("popularity", "genre entropy"):
        values = table[measure].to_numpy()

        def first_over_last(r, values=values):
            def ratio(of):
                return values[r][of & first[r]].mean() / values[r][of & ~first[r]].mean()

            return ratio(matryoshka[r]) / ratio(~matryoshka[r])

        figures[f"{measure}, first over last, over control"] = over_units(
            len(values), first_over_last
        )
    print({name: np.round([f["value"], *f["ci"]], 3).tolist() for name, f in figures.items()})

    report = {
        "benchmark": "hierarchy",
        "profile": args.profile,
        "dataset": dataset_name,
        "seeds": args.seeds,
        "figures": figures,
        "knobs": {
            "group sizes": knob(
                {
                    "synthetic": {s: list(v[0]) for s, v in SETTINGS.items()},
                    dataset_name: list(MF_SIZES),
                },
                "fixed before measuring",
                "chapter 7's groups: a first group smaller than the "
                "planted children and one as large; on ML-100K, 16 + 48 + "
                "192",
            )
        },  # fmt: skip
        "planted": planted,
        "mf_groups": groups_table,
    }
    write_report(args.out or result_path("hierarchy", args.profile), report, ran_on)


if __name__ == "__main__":
    main(sys.argv[1:])
