"""Benchmark: which SAE variant recovers planted concepts best, on SASRec, MF and ELSA (chapter 9)?

    python benchmarks/recovery.py [--profile quick] [--seeds 0 1 2] [--device auto]

For each seed: the synthetic data of that seed (a different planted hierarchy each: 4 parent
concepts, 3-5 children each), SASRec, MF and ELSA trained on it (the zoo's settings, hidden size
64), and for each model the four SAE variants at the same L0 (128 features in groups of 8, 24 and
96, k = 4; ReLU's L1 weight tuned to an L0 within 20% of 4) on what chapter 9 reads: SASRec's
states at every training position, MF's and ELSA's item embeddings. Reported per model and variant
(`recovery.score`): the share of planted concepts recovered (the matched feature's F1 >= 0.5, in
a one-to-one matching of concepts to features), the matched pairs' mean F1, precision and recall,
chance F1, chapter 7's hierarchy agreement, FVU and L0; and per model, the mean over seeds, the
winning variant, and its margin over the runner-up.

Figures (claims book2, book3), over the planted concepts of every seed (one unit a concept, the
same units for every model and variant, resampled): the smallest, over the 3 models x 4 variants,
of the matched features' mean F1 over the chance F1 (the same matching on shuffled samples); and
per model, the concepts Matryoshka recovers over those the best other variant recovers.
Writes benchmarks/results/recovery.json.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import torch
from _measures import over_units, ratio
from common import devices_of, knob, options, result_path, write_report  # benchmarks/: path

from recsae_lite import interpret, recovery, zoo
from recsae_lite._nb import pick_device, seed_everything
from recsae_lite.data import load_dataset

MODELS = ("sasrec", "mf", "elsa")
VARIANTS = ("relu", "topk", "batchtopk", "matryoshka")
SIZES, K, HIDDEN, THRESHOLD = (8, 24, 96), 4, 64, 0.5
MEASURES = ["recovered", "f1", "precision", "recall", "chance f1", "agreement", "fvu", "l0"]


def main(argv: list[str]) -> None:
    args = options(__doc__, "recovery").parse_args(argv)

    device = pick_device(args.device)
    hidden = 16 if args.profile == "ci" else HIDDEN
    rows, concepts, ran_on = [], [], set()
    for seed in args.seeds:
        seed_everything(seed)
        data = load_dataset("synthetic", seed=seed)
        truth = data.truth
        units = {}  # per (model, variant): each planted concept's matched F1, chance F1
        for name in MODELS:
            trained = zoo.model(name, data, args.profile, seed=seed, device=device,
                                progress=False, hidden_size=hidden)  # fmt: skip
            x, items = recovery.samples(trained)
            for variant in VARIANTS:
                settings = zoo.fit_settings("items", args.profile, seed)  # chapter 9's
                sae, l1 = recovery.fit(x, variant, SIZES, K, settings)
                ran_on |= devices_of(trained.model, sae, x)
                truths = truth.item_concepts[items]
                scores = recovery.score(sae, x, truths, truth.parent, SIZES, seed=seed)
                with torch.no_grad():
                    codes = torch.cat([sae.encode(chunk) for chunk in x.split(8_192)]).cpu()
                shuffled = truths[np.random.default_rng(seed).permutation(len(truths))]
                units[name, variant] = (
                    interpret.match_concepts(codes, truths)["f1"].to_numpy(),
                    interpret.match_concepts(codes, shuffled)["f1"].to_numpy(),
                )
                rows.append({"seed": seed, "model": name, "variant": variant, **scores,
                             "l1 weight": l1})  # fmt: skip
                print({k: round(v, 3) if isinstance(v, float) else v for k, v in rows[-1].items()},
                      flush=True)  # fmt: skip
        for c in range(truth.item_concepts.shape[1]):
            concepts.append({key: (f1[c], chance[c]) for key, (f1, chance) in units.items()})

    table = pd.DataFrame(rows)
    means = table.groupby(["model", "variant"], sort=False)[MEASURES].mean()
    summary = {}
    for name in MODELS:
        by_variant = means.loc[name].sort_values(["recovered", "f1"], ascending=False)
        first, second = by_variant.index[:2]
        summary[name] = {
            "winner": first,
            "runner-up": second,
            "recovered margin": round(float(by_variant.loc[first, "recovered"]
                                             - by_variant.loc[second, "recovered"]), 4),
            "f1 margin": round(float(by_variant.loc[first, "f1"] - by_variant.loc[second, "f1"]),
                               4),
            "mean over seeds": {v: row.round(4).to_dict() for v, row in by_variant.iterrows()},
        }  # fmt: skip
        print(name, summary[name]["winner"], summary[name]["recovered margin"], flush=True)

    figures = {}
    keys = list(concepts[0])
    f1 = np.array([[c[key][0] for key in keys] for c in concepts])  # (concepts, models x variants)
    chance = np.array([[c[key][1] for key in keys] for c in concepts])
    figures["f1 over chance, smallest"] = over_units(
        len(f1), lambda r: (f1[r].mean(0) / chance[r].mean(0)).min()
    )
    recovered = f1 >= THRESHOLD
    for name in MODELS:
        mine = keys.index((name, "matryoshka"))
        others = [keys.index((name, v)) for v in VARIANTS if v != "matryoshka"]
        figures[f"matryoshka over best other, {name}"] = over_units(
            len(f1),
            lambda r, m=mine, o=others: ratio(
                recovered[r, m].sum(), recovered[r][:, o].sum(0).max()
            ),
        )
    print({name: np.round([f["value"], *f["ci"]], 3).tolist() for name, f in figures.items()})

    report = {
        "benchmark": "recovery",
        "profile": args.profile,
        "seeds": args.seeds,
        "fit": zoo.FITS[args.profile]["items"],  # chapter 9's
        "sae": {"groups": SIZES, "k": K, "hidden_size": hidden, "threshold": THRESHOLD},
        "figures": figures,
        "knobs": {
            "match threshold": knob(
                THRESHOLD,
                "fixed before measuring",
                "a concept is recovered when its matched feature's F1 reaches it (chapter 9)",
            )
        },  # fmt: skip
        "summary": summary,
        "runs": [
            {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in rows
        ],  # fmt: skip
    }
    write_report(args.out or result_path("recovery", args.profile), report, ran_on)


if __name__ == "__main__":
    main(sys.argv[1:])
