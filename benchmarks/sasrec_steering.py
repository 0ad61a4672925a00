"""Benchmark: paper A's monosemanticity claims on SASRec, without the notebooks (chapter 4).

    python benchmarks/sasrec_steering.py [--profile quick] [--seeds 0 1 2] [--device auto]

Per seed: the zoo's SASRec and its book SAE (TopK, k = 8, 16 x d; `zoo.sae_settings`), and the
same SAE untrained (its initial weights: the floor of the monosemanticity claims).

1. Monosemanticity (claims A1, A2): the share of EVERY coordinate (SAE feature, untrained feature,
   raw dimension with each sign its own) whose genre score (precision above chance of its top
   100 training positions) reaches 0.5; an item feature (fewer than 10 distinct items among those
   positions) or one positive on too few positions fails. Views: "input" (the genres of the item
   at a position) and "predicted" (of the item the model ranks first there). Interval: users
   resampled (their positions with them), each share recomputed (`_measures.TopPositions`).
Steering (claims A3-A5, A7-A9) is measured by benchmarks/steering.py.

Writes benchmarks/results/sasrec_steering.json ("figures" and "knobs" are what chapter 10 reads).
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from _measures import Resampled, TopPositions, counts_of, over_units, untrained
from common import devices_of, knob, options, result_path, write_report  # benchmarks/: path

from recsae_lite import interpret, zoo
from recsae_lite._nb import pick_device, seed_everything
from recsae_lite.activations import collect
from recsae_lite.features import position_index

THRESHOLD, TOP, MIN_ITEMS = 0.5, 100, 10
# each coordinate's positions kept for the monosemanticity resamples, and how many resamples (each
# recomputes every coordinate's scores, 2 views x 3 kinds x the seeds: 1,000 keeps it to a minute)
DEPTH, MONOSEMANTICITY_RESAMPLES = 200, 1_000
KINDS = ("SAE features", "untrained SAE", "raw dimensions")
VIEWS = ("input", "predicted")


@torch.no_grad()
def activations(kind: str, sae, control, x: torch.Tensor, chunk: int = 8_192):
    """The coordinates of a kind at every position, chunk by chunk."""
    mean = x.mean(0)
    for part in x.split(chunk):
        if kind == "raw dimensions":
            yield interpret.signed(part - mean)
        else:
            yield (sae if kind == "SAE features" else control).encode(part)


def main(argv: list[str]) -> None:
    args = options(__doc__, "sasrec_steering").parse_args(argv)

    device = pick_device(args.device)
    dataset_name = "ml-1m" if args.profile == "full" else "ml-100k"
    tops, counts, ran_on = {}, [], set()
    for seed in args.seeds:
        seed_everything(seed)
        trained = zoo.model("sasrec", dataset_name, args.profile, seed, device, progress=False)
        model, split, dataset = trained.model, trained.split, trained.dataset
        config, fit_config = zoo.sae_settings(model.config.hidden_size, args.profile, seed)
        sae, _ = zoo.sae(trained, config, fit_config, device=device, progress=False)
        x, items = collect(model, split, "train", "all", items=True)
        items = items.cpu().numpy()
        control = untrained(config, x, seed)
        ran_on |= devices_of(model, sae, control, x)

        # 1. monosemanticity: each kind's top positions, to be scored again per resample of users
        keep = dataset.genres.sum(0) >= 10
        first = torch.cat([model.scores_from_hidden(c, None).argmax(1) for c in x.split(8_192)])
        labels = {"input": dataset.genres[:, keep][items],
                  "predicted": dataset.genres[:, keep][first.cpu().numpy()]}  # fmt: skip
        users_of = position_index(split, model.max_len)[0]
        for kind in KINDS:
            found = TopPositions(activations(kind, sae, control, x), users_of, items, labels, DEPTH)
            tops[seed, kind] = found
            shares = found.pass_shares(np.ones(len(split.users)), THRESHOLD, MIN_ITEMS)
            for view, share in shares.items():
                counts.append({"seed": seed, "kind": kind, "view": view,
                               "count": int(found.positive.shape[0]),
                               "pass share": float(share[0])})  # fmt: skip

    figures = monosemanticity_figures(tops, args.seeds, len(split.users))
    print({name: np.round([f["value"], *f["ci"]], 3).tolist() for name, f in figures.items()})
    knobs = {
        "genre score threshold": knob(THRESHOLD, "fixed before measuring",
                                      "chapter 4's: precision above chance of the top 100 "
                                      "positions"),
        "min items per feature": knob(MIN_ITEMS, "fixed before measuring",
                                      "a coordinate whose top 100 positions hold fewer distinct "
                                      "items is an item feature, and fails"),
    }  # fmt: skip
    short = sum(t.ran_out for t in tops.values()) / sum(t.scored for t in tops.values())
    report = {
        "benchmark": "sasrec_steering",
        "profile": args.profile,
        "dataset": dataset_name,
        "seeds": args.seeds,
        "settings": {"threshold": THRESHOLD, "top": TOP, "min_items": MIN_ITEMS,
                     "monosemanticity_scores_short_of_positions": short},
        "figures": figures,
        "knobs": knobs,
        "monosemanticity": counts,
    }  # fmt: skip
    write_report(args.out or result_path("sasrec_steering", args.profile), report, ran_on)


def monosemanticity_figures(tops, seeds, n_users) -> dict:
    """Claims A1, A2: the SAE's pass share over the raw dimensions' and the untrained SAE's, per
    view, each the mean over seeds; every user's positions, users resampled."""

    def pass_shares(draws: np.ndarray) -> list[dict]:
        """Per resample, {kind: {view: the pass share, mean over seeds}}."""
        weights = counts_of(draws, n_users)
        found = {(seed, kind): tops[seed, kind].pass_shares(weights, THRESHOLD, MIN_ITEMS)
                 for seed in seeds for kind in KINDS}  # fmt: skip
        means = {kind: {view: np.mean([found[s, kind][view] for s in seeds], axis=0)
                        for view in VIEWS} for kind in KINDS}  # fmt: skip
        return [{k: {v: float(means[k][v][b]) for v in VIEWS} for k in KINDS}
                for b in range(len(draws))]  # fmt: skip

    resampled = Resampled(n_users, pass_shares, MONOSEMANTICITY_RESAMPLES)
    figures = {}
    for view in VIEWS:
        for over, kind in (("raw", "raw dimensions"), ("untrained", "untrained SAE")):
            figures[f"monosemantic over {over}, {view}"] = over_units(
                n_users,
                lambda r, v=view, k=kind: resampled(r)["SAE features"][v] / resampled(r)[k][v],
                resamples=MONOSEMANTICITY_RESAMPLES,
                centred=True,  # top-100 statistics: see common.bootstrap_interval
            )
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
