"""Benchmark: paper A's claims on SASRec, measured without the notebooks (chapters 4 and 5).

    python benchmarks/sasrec_steering.py [--profile quick] [--seeds 0 1 2] [--device auto]

Per seed: the zoo's SASRec and its book SAE (TopK, k = 8, 16 x d; `zoo.sae_settings`), and the
same SAE untrained (its initial weights: the floor of the monosemanticity claims).

1. Monosemanticity (claims A1, A2): the share of EVERY coordinate (SAE feature, untrained feature,
   raw dimension with each sign its own) whose genre score (precision above chance of its top
   100 training positions) reaches 0.5; an item feature (fewer than 10 distinct items among those
   positions) or one positive on too few positions fails. Views: "input" (the genres of the item
   at a position) and "predicted" (of the item the model ranks first there). Interval: users
   resampled (their positions with them), each share recomputed (`_measures.TopPositions`).
2. Steering (A3-A5, A7, A8): per genre of at least 50 films, its SAE feature (chosen without
   steering, on training positions) and its linear probe, pushed along their unit directions at
   strengths s x the mean state norm, on every user. The users are split in two fixed halves:
   the validation half chooses the moderate strength (the smallest at which the mean genre share
   of the top 10 at least doubles, over genres and seeds), the test half is measured: the share
   gain, what the push costs in NDCG@10, coverage@10 and diversity@10, the share left when the
   feature is lowered (minus the moderate strength) for users whose top 10 had the genre, the
   share at a very high strength, and the SAE's share gain over the probe's at equal NDCG cost.
   A user's value is the mean over seeds; the interval resamples test users.

Writes benchmarks/results/sasrec_steering.json ("figures" and "knobs" are what chapter 10 reads).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from _measures import (
    Resampled,
    TopPositions,
    at_equal_levels,
    counts_of,
    coverage,
    halves,
    over_units,
    ratio,
    untrained,
)
from common import devices_of, knob, result_path, write_report  # benchmarks/ is on the path

from recsae_lite import interpret, steer, zoo
from recsae_lite._nb import pick_device, seed_everything
from recsae_lite.activations import collect
from recsae_lite.features import position_index
from recsae_lite.interventions import Spliced, direction_edit
from recsae_lite.train import evaluate, recommend

THRESHOLD, TOP, MIN_ITEMS, MIN_GENRE_ITEMS = 0.5, 100, 10, 50
HIGH = 5.0  # the "very high" strength, x the mean state norm
# each coordinate's positions kept for the monosemanticity resamples, and how many resamples (each
# recomputes every coordinate's scores, 2 views x 3 kinds x the seeds: 1,000 keeps it to a minute)
DEPTH, MONOSEMANTICITY_RESAMPLES = 200, 1_000
SIZES = {  # per profile: the strengths swept (x the mean state norm), and how many genres
    "ci": {"strengths": [0.0, 0.5, 1.0, 2.0], "genres": 3},
    "quick": {"strengths": [0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0], "genres": None},
    "full": {"strengths": [0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0], "genres": None},
}
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


@torch.no_grad()
def sweep(spliced, split, dataset, direction, genre, strengths, unit, lists=False) -> dict:
    """Every user's NDCG@10, genre share@10 and diversity@10 (and, with lists, top 10), per
    strength. spliced: the model with a cache of its hidden states (the same for every push)."""
    share_of = dataset.genres[:, dataset.genre_names.index(genre)]
    everyone, out = np.arange(len(split.users)), {}
    for s in strengths:
        spliced.edit = direction_edit(direction, s * unit)
        table = evaluate(spliced, split, "test", dataset=dataset, share_of=share_of, per_user=True)
        out[s] = {"ndcg": table["ndcg@10"].to_numpy(), "share": table["share@10"].to_numpy(),
                  "diversity": table["diversity@10"].to_numpy()}  # fmt: skip
        if lists:
            out[s]["lists"] = recommend(spliced, split, everyone, k=10)
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["ci", "quick", "full"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/sasrec_steering.json")
    args = parser.parse_args(argv)

    device = pick_device(args.device)
    strengths = SIZES[args.profile]["strengths"]
    dataset_name = "ml-1m" if args.profile == "full" else "ml-100k"
    tops, runs, steered, chosen, counts, ran_on = {}, {}, {}, {}, [], set()
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

        # 2. steering: each genre's SAE feature and probe, swept on every user
        films = dataset.genres.sum(0)
        genres = [dataset.genre_names[g] for g in np.argsort(-films, kind="stable")
                  if films[g] >= MIN_GENRE_ITEMS][: SIZES[args.profile]["genres"]]  # fmt: skip
        chosen[seed], directions = steer.genre_directions(
            model, sae, split, dataset, x, items, genres, TOP, MIN_ITEMS
        )
        rows = halves(len(split.users))
        unit = float(collect(model, split, "test")[rows["validation"]].norm(dim=1).mean())
        spliced = Spliced(model, cache=True)  # one forward pass per batch of users, every push
        steered[seed] = (spliced, directions, unit)
        for genre in genres:
            for method, at in (("SAE", [*strengths, HIGH]), ("probe", strengths)):
                runs[seed, method, genre] = sweep(
                    spliced, split, dataset, directions[(method, genre)], genre, at, unit
                )
        print(f"seed {seed}: swept {len(genres)} genres", flush=True)

    # the moderate strength: chosen on the validation users, for the share it adds
    share = per_user(runs, args.seeds, genres, "SAE", "share", strengths)
    share = share[rows["validation"]].mean(axis=(0, 1))
    doubling = [s for s, v in zip(strengths, share, strict=True) if s > 0 and v >= 2 * share[0]]
    moderate = doubling[0] if doubling else strengths[-1]
    # then, at that strength only: the feature lowered, and every user's top 10 (for coverage)
    for seed in args.seeds:
        spliced, directions, unit = steered[seed]
        for genre in genres:
            runs[seed, "SAE", genre].update(sweep(
                spliced, split, dataset, directions[("SAE", genre)], genre,
                [0.0, moderate, -moderate], unit, lists=True))  # fmt: skip

    figures = steering_figures(runs, args.seeds, genres, rows["test"], strengths, moderate,
                               dataset.n_items)  # fmt: skip
    figures.update(monosemanticity_figures(tops, args.seeds, len(split.users)))
    print({name: np.round([f["value"], *f["ci"]], 3).tolist() for name, f in figures.items()})
    features = {g: [int(chosen[s].set_index("genre").loc[g, "feature"]) for s in args.seeds]
                for g in genres}  # fmt: skip
    knobs = {
        "genre score threshold": knob(THRESHOLD, "fixed before measuring",
                                      "chapter 4's: precision above chance of the top 100 "
                                      "positions"),
        "min items per feature": knob(MIN_ITEMS, "fixed before measuring",
                                      "a coordinate whose top 100 positions hold fewer distinct "
                                      "items is an item feature, and fails"),
        "moderate strength": knob(moderate, "validation users",
                                  "the smallest swept strength (x the mean state norm) at which "
                                  "the validation users' mean genre share@10, over genres and "
                                  "seeds, at least doubles" + ("" if doubling else
                                  " (none did: the largest swept)")),
        "high strength": knob(HIGH, "fixed before measuring",
                              "5 x the mean state norm, beyond every swept strength"),
        "genre features": knob(features, "training data",
                               "per genre and seed: the SAE feature with the best predicted-view "
                               "genre score on the training positions, item features left out "
                               "(steer.genre_directions)"),
    }  # fmt: skip
    test, where = rows["test"], strengths.index(moderate)
    steering = []
    for method in ("SAE", "probe"):
        ndcg, share = (per_user(runs, args.seeds, genres, method, m, strengths)[test]
                       for m in ("ndcg", "share"))  # fmt: skip
        steering += [{"method": method, "genre": g, "strength": moderate,
                      "share before": float(share[:, i, 0].mean()),
                      "share after": float(share[:, i, where].mean()),
                      "ndcg before": float(ndcg[:, i, 0].mean()),
                      "ndcg after": float(ndcg[:, i, where].mean())}
                     for i, g in enumerate(genres)]  # fmt: skip
    short = sum(t.ran_out for t in tops.values()) / sum(t.scored for t in tops.values())
    report = {
        "benchmark": "sasrec_steering",
        "profile": args.profile,
        "dataset": dataset_name,
        "seeds": args.seeds,
        "settings": {"threshold": THRESHOLD, "top": TOP, "min_items": MIN_ITEMS,
                     "strengths_x_mean_norm": strengths, "high": HIGH, "genres": genres,
                     "users": {k: len(v) for k, v in rows.items()},
                     "monosemanticity_scores_short_of_positions": short},
        "figures": figures,
        "knobs": knobs,
        "monosemanticity": counts,
        "chosen_features": [{"seed": s, **r} for s in args.seeds
                            for r in chosen[s].to_dict(orient="records")],
        "steering_test_users": steering,
    }  # fmt: skip
    write_report(args.out or result_path("sasrec_steering", args.profile), report, ran_on)


def per_user(runs, seeds, genres, method: str, measure: str, at: list[float]) -> np.ndarray:
    """(users, genres, strengths): a sweep's measure, each user's mean over seeds."""
    return np.mean([[[runs[seed, method, g][s][measure] for s in at] for g in genres]
                    for seed in seeds], axis=0).transpose(2, 0, 1)  # fmt: skip


def steering_figures(runs, seeds, genres, test, strengths, moderate, n_items) -> dict:
    """Claims A3-A5, A7, A8 on the test users (resampled), from the sweeps."""
    at = [0.0, moderate, -moderate, HIGH]
    share, ndcg, diversity = (per_user(runs, seeds, genres, "SAE", m, at)[test]
                              for m in ("share", "ndcg", "diversity"))  # fmt: skip
    # removal: the (user, genre, seed) whose unpushed top 10 had the genre
    before = np.array([[runs[s, "SAE", g][0.0]["share"][test] for g in genres] for s in seeds])
    lowered = np.array([[runs[s, "SAE", g][-moderate]["share"][test] for g in genres]
                        for s in seeds])  # fmt: skip
    had = before > 0
    left = ((lowered * had).mean(0).T, (before * had).mean(0).T)  # (users, genres) each

    def coverage_at(s: float, r: np.ndarray) -> float:
        return np.mean([coverage(runs[seed, "SAE", g][s]["lists"][test], r, n_items)
                        for seed in seeds for g in genres])  # fmt: skip

    # the SAE against the probe: both strength curves (NDCG@10 lost, share gained), per genre
    curves = {m: [per_user(runs, seeds, genres, m, measure, strengths)[test]
                  for measure in ("ndcg", "share")] for m in ("SAE", "probe")}  # fmt: skip

    def sae_over_probe(r: np.ndarray) -> float:
        gains = {"SAE": [], "probe": []}
        for g in range(len(genres)):
            cost, gain = {}, {}
            for m, (n, s) in curves.items():
                n, s = n[r, g].mean(0), s[r, g].mean(0)
                cost[m], gain[m] = 1 - n / n[0], s / s[0] - 1
            a, b = at_equal_levels(cost["SAE"], gain["SAE"], cost["probe"], gain["probe"])
            gains["SAE"].append(a)
            gains["probe"].append(b)
        return ratio(np.concatenate(gains["SAE"]).sum(), np.concatenate(gains["probe"]).sum())

    def on_test(statistic):
        return over_units(len(test), statistic)

    def lost(measure: np.ndarray):  # 1 - after / before at the moderate strength
        return on_test(lambda r: 1 - measure[r][..., 1].mean() / measure[r][..., 0].mean())

    return {
        "share gain": on_test(lambda r: share[r][..., 1].mean() / share[r][..., 0].mean()),
        "moderate ndcg lost": lost(ndcg),
        "moderate coverage lost": on_test(lambda r: 1 - coverage_at(moderate, r)
                                          / coverage_at(0.0, r)),
        "moderate diversity lost": lost(diversity),
        "removal share left": on_test(lambda r: left[0][r].sum() / left[1][r].sum()),
        "share at high strength": on_test(lambda r: share[r][..., 3].mean()),
        "sae over probe at equal cost": on_test(sae_over_probe),
    }  # fmt: skip


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
