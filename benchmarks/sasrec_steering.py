"""Benchmark: paper A's two claims on SASRec, measured without the notebooks (chapters 4 and 5).

    python benchmarks/sasrec_steering.py [--profile quick] [--seed 0] [--device auto]

1. Monosemanticity: how many coordinates pass the genre-score threshold (precision above chance of
   their top 100 positions >= 0.5; item features, with fewer than 10 distinct items among those
   positions, are not scored), for the SAE's features, SASRec's raw dimensions (both signs) and a
   random rotation of them (both signs), in the "input" and "predicted" views.
2. Steering: for each genre with at least 50 items, the SAE feature chosen without labels and a
   linear probe, each pushed along its unit direction at strengths s x the mean state norm. Half
   the users ("validation") choose the largest strength whose NDCG@10 falls by at most 10%; the
   other half ("test") report the target-genre share@10 and NDCG@10 before and after.

Uses the zoo's SASRec and SAE (trained on the first run, as chapters 4-5 do). Writes
benchmarks/results/sasrec_steering.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from common import devices_of, result_path, write_report  # a script: benchmarks/ is on the path

from recsae_lite import interpret, steer, zoo
from recsae_lite._nb import pick_device, seed_everything
from recsae_lite.activations import collect

STRENGTHS = [0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0]
THRESHOLD, TOP, MIN_ITEMS, MIN_GENRE_ITEMS = 0.5, 100, 10, 50


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["ci", "quick", "full"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/sasrec_steering.json")
    args = parser.parse_args(argv)

    device = pick_device(args.device)
    seed_everything(args.seed)
    dataset_name = "ml-1m" if args.profile == "full" else "ml-100k"
    sasrec = zoo.model("sasrec", dataset_name, args.profile, seed=args.seed, device=device)
    model, split, dataset = sasrec.model, sasrec.split, sasrec.dataset
    settings = zoo.sae_settings(model.config.hidden_size, args.profile, args.seed)
    sae, x = zoo.sae(sasrec, *settings, device=device)
    _, items = collect(model, split, "train", "all", items=True)
    items = items.cpu().numpy()

    # 1. monosemanticity
    keep = dataset.genres.sum(0) >= 10
    with torch.no_grad():
        z = torch.cat([sae.encode(c) for c in x.split(8_192)]).cpu()
        first = torch.cat([model.scores_from_hidden(c, None).argmax(1) for c in x.split(8_192)])
    centred = x.cpu() - x.cpu().mean(0)
    coordinates = {
        "SAE features": z,
        "raw dimensions": interpret.signed(centred),
        "random rotation": interpret.signed(centred @ interpret.random_rotation(x.shape[1], 0)),
    }
    genres_of = dataset.genres[:, keep]
    views = {"input": genres_of[items], "predicted": genres_of[first.cpu().numpy()]}
    scores = {
        (kind, view): interpret.genre_scores(acts, labels, TOP)
        for kind, acts in coordinates.items()
        for view, labels in views.items()
    }
    tops = {kind: interpret.top_items(acts, items, TOP) for kind, acts in coordinates.items()}
    counts = interpret.association_pass_rates(scores, tops, THRESHOLD, MIN_ITEMS)
    print(counts.round(3).to_string(index=False))

    # 2. steering, SAE feature against probe
    sizes = dict(zip(dataset.genre_names, dataset.genres.sum(0), strict=True))
    genres = [g for g, n in sizes.items() if n >= MIN_GENRE_ITEMS]
    chosen, directions = steer.genre_directions(
        model, sae, split, dataset, x, items, genres, TOP, MIN_ITEMS
    )
    order = np.random.default_rng(args.seed).permutation(len(split.users))
    users = {"validation": np.sort(order[::2]), "test": np.sort(order[1::2])}
    norm = float(collect(model, split, "test")[users["validation"]].norm(dim=1).mean())
    table = steer.compare(model, split, dataset, directions, STRENGTHS, norm, users)
    result = steer.moderate(table)
    test = result[result["users"] == "test"].drop(columns="users")
    print(test.round(3).to_string(index=False))
    summary = {
        method: {
            "genres": len(rows),
            "genres_share_tripled": int((rows["share x"] >= 3).sum()),
            "median_share_x": float(rows["share x"].median()),
            "median_ndcg_change": float(rows["ndcg change"].median()),
            "genres_tripled_within_10pct_ndcg": int(
                ((rows["share x"] >= 3) & (rows["ndcg change"] >= -0.1)).sum()
            ),
        }
        for method, rows in test.groupby("method")
    }
    print(summary)

    report = {
        "benchmark": "sasrec_steering",
        "profile": args.profile,
        "dataset": dataset_name,
        "seed": args.seed,
        "settings": {
            "threshold": THRESHOLD,
            "top": TOP,
            "min_items": MIN_ITEMS,
            "strengths_x_mean_norm": STRENGTHS,
            "mean_norm": norm,
            "max_ndcg_drop_on_validation": 0.1,
        },  # fmt: skip
        "monosemanticity": counts.to_dict(orient="records"),
        "chosen_features": chosen.to_dict(orient="records"),
        "steering_test_users": test.to_dict(orient="records"),
        "steering_summary": summary,
    }
    write_report(
        args.out or result_path("sasrec_steering", args.profile), report, devices_of(model, sae, x)
    )


if __name__ == "__main__":
    main(sys.argv[1:])
