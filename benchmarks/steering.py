"""Benchmark: paper A's steering claims on SASRec (chapter 5), on every genre of at least 20 films.

    python benchmarks/steering.py [--profile quick] [--seeds 0 1 2] [--device auto]

Per seed: the zoo's SASRec and its book SAE (`zoo.sae_settings`) on the final state, the same SAE
on the state after the first block (`zoo.sae(layer=1)`), and per genre five directions
(`steer.genre_directions`): the SAE feature chosen by association (paper A's way), the one chosen
by output effect (no feature serving two genres), the genre's five features of largest effect
together (paper C's spread), a linear probe, and the genre's centroid. The users are split in two
fixed halves (`_measures.halves`): the validation half chooses every knob, the test half is
measured; a test user's value is the mean over seeds.

1. Units and place (validation users, at a few raised strengths: a push after the first block
   costs a pass of the last block): the effect feature pushed at the final state by s x the mean
   state norm (absolute) or by s x each state's own norm (relative), or the layer-1 SAE's effect
   feature pushed after the first block (the last block then processes the edit). The one with
   the most share gained at equal NDCG@10 cost is the SAE knob, swept on every user.
2. Sweeps: every direction at every strength (negative: lowered) on every user; share@10 of the
   genre, NDCG@10, diversity@10 per user.
3. Figures (claims A3-A5, A7-A9 of `report.CLAIMS`; test users resampled, 95% intervals): the
   share the SAE knob brings to users whose unsteered top 10 holds none of the genre at the
   moderate strength (the smallest at which the validation users' mean share@10 at least doubles),
   at the high strength and at each genre's best strength (chosen on validation users); what the
   moderate push costs; the share left when lowered for users who had the genre; the SAE knob's
   share gain over the probe's at equal NDCG cost. Per genre and method, the curves and the same
   figures with their intervals ("genres").

Writes benchmarks/results/steering.json ("figures" and "knobs" are what chapter 10 reads).
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from _measures import along, at_equal_levels, coverage, halves, over_units, ratio
from common import devices_of, knob, options, result_path, write_report  # benchmarks/: path

from recsae_lite import steer, zoo
from recsae_lite._nb import pick_device, seed_everything
from recsae_lite.activations import collect
from recsae_lite.interventions import Spliced, direction_edit, feature_direction
from recsae_lite.models.base import make_batch
from recsae_lite.train import evaluate, recommend

TOP, MIN_ITEMS, MIN_GENRE_ITEMS, HIGH, HALF = 100, 10, 20, 5.0, 0.5
METHODS = ("SAE (association)", "SAE (effect)", "SAE (spread)", "probe", "centroid")
KNOBS = ("final, absolute", "final, relative", "layer 1, absolute")  # the SAE knob's candidates
RAISED = [0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0]
SIZES = {  # per profile: the strengths swept (x the mean state norm, also lowered), those that
    # compare units and places (on validation users: a layer-1 push costs a pass of the last
    # block), and how many genres
    "ci": {"strengths": [0.0, 0.5, 1.0, 2.0, 5.0], "place": [0.0, 1.0, 5.0], "genres": 3},
    "quick": {"strengths": RAISED, "place": [0.0, 0.3, 0.75, 1.5, 3.0, 5.0], "genres": None},
    "full": {"strengths": RAISED, "place": [0.0, 0.3, 0.75, 1.5, 3.0, 5.0], "genres": None},
}  # fmt: skip


@torch.no_grad()
def sweep(spliced, split, dataset, direction, genre, strengths, unit, relative=False, rows=None):
    """The NDCG@10, genre share@10 and diversity@10 of the users `rows` (default: all) per
    strength, (strengths, users) each, NaN for the users left out. spliced: the model with a
    cache of its hidden states (the same for every push)."""
    share_of = dataset.genres[:, dataset.genre_names.index(genre)]
    rows = np.arange(len(split.users)) if rows is None else rows
    out = {m: np.full((len(strengths), len(split.users)), np.nan)
           for m in ("ndcg", "share", "diversity")}  # fmt: skip
    for i, s in enumerate(strengths):
        spliced.edit = direction_edit(direction, s * unit, relative)
        table = evaluate(spliced, split, "test", dataset=dataset, share_of=share_of, rows=rows,
                         per_user=True)  # fmt: skip
        for measure in out:
            out[measure][i, rows] = table[f"{measure}@10"].to_numpy()
    return out


def knob_direction(found: dict, genre: str):
    """A candidate's direction for a genre: the layer-1 SAE's by genre, the final state's by
    (method, genre)."""
    return found[genre] if genre in found else found[("SAE (effect)", genre)]


def sweep_knob(candidate, split, dataset, genre, strengths, rows=None) -> dict:
    """`sweep` of a units-and-place candidate (spliced model, directions, unit, relative)."""
    spliced, found, unit, relative = candidate
    return sweep(spliced, split, dataset, knob_direction(found, genre), genre, strengths, unit,
                 relative, rows)  # fmt: skip


def lists_at(spliced, split, direction, strength, unit, relative) -> np.ndarray:
    """Every user's top 10 with the push, for coverage."""
    spliced.edit = direction_edit(direction, strength * unit, relative)
    return recommend(spliced, split, np.arange(len(split.users)), k=10)


def layer_one_directions(trained, genres, profile, seed, device, validation) -> tuple:
    """The SAE on the states after SASRec's first block and, per genre, the unit direction of its
    feature chosen by output effect (through the last block, averaged over 32 validation users'
    states), none serving two genres."""
    model, split, dataset = trained.model, trained.split, trained.dataset
    config, fit_config = zoo.sae_settings(model.config.hidden_size, profile, seed)
    sae, _ = zoo.sae(trained, config, fit_config, layer=1, device=device, progress=False)
    rows = validation[:: max(1, len(validation) // 32)]
    histories = split.history("test")
    batch = make_batch(split.users[rows], [histories[r] for r in rows], model.n_items)
    decoder = torch.stack([feature_direction(sae, j) for j in range(sae.config.d_sae)])
    g_of = [dataset.genre_names.index(g) for g in genres]
    shares = steer.output_effect(Spliced(model, layer=1), decoder, dataset.genres[:, g_of],
                                 batch.to(model.device))  # fmt: skip
    chosen = steer.assign_features(shares)
    return sae, {g: decoder[chosen[i]] for i, g in enumerate(genres)}


def main(argv: list[str]) -> None:
    args = options(__doc__, "steering").parse_args(argv)

    device = pick_device(args.device)
    positive = SIZES[args.profile]["strengths"]
    strengths = [-s for s in positive[:0:-1]] + positive  # lowered, unsteered, raised
    dataset_name = "ml-1m" if args.profile == "full" else "ml-100k"
    place = SIZES[args.profile]["place"]
    runs, chosen, ran_on, candidates = {}, {}, set(), {}
    for seed in args.seeds:
        seed_everything(seed)
        trained = zoo.model("sasrec", dataset_name, args.profile, seed, device, progress=False)
        model, split, dataset = trained.model, trained.split, trained.dataset
        config, fit_config = zoo.sae_settings(model.config.hidden_size, args.profile, seed)
        sae, x = zoo.sae(trained, config, fit_config, device=device, progress=False)
        _, items = collect(model, split, "train", "all", items=True)
        films = dataset.genres.sum(0)
        genres = [
            dataset.genre_names[g]
            for g in np.argsort(-films, kind="stable")
            if films[g] >= MIN_GENRE_ITEMS and dataset.genre_names[g] != "unknown"
        ]
        genres = genres[: SIZES[args.profile]["genres"]]  # fmt: skip
        chosen[seed], directions = steer.genre_directions(
            model, sae, split, dataset, x, items.cpu().numpy(), genres, TOP, MIN_ITEMS
        )
        rows = halves(len(split.users))
        unit = float(collect(model, split, "test")[rows["validation"]].norm(dim=1).mean())
        final = Spliced(model, cache=True)  # one forward pass per batch of users, every push
        for genre in genres:
            for method in METHODS:
                runs[seed, method, genre] = sweep(final, split, dataset,
                                                  directions[(method, genre)], genre, strengths,
                                                  unit)  # fmt: skip
        sae_1, earlier = layer_one_directions(trained, genres, args.profile, seed, device,
                                              rows["validation"])  # fmt: skip
        unit_1 = float(collect(model, split, "test", layer=1)[rows["validation"]]
                       .norm(dim=1).mean())  # fmt: skip
        layer_1 = Spliced(model, layer=1, cache=True)
        candidates[seed] = {"final, absolute": (final, directions, unit, False),
                            "final, relative": (final, directions, 1.0, True),
                            "layer 1, absolute": (layer_1, earlier, unit_1, False)}  # fmt: skip
        for genre in genres:  # the units-and-place candidates, on validation users
            for name in KNOBS[1:]:
                runs[seed, name, genre] = sweep_knob(
                    candidates[seed][name], split, dataset, genre, place, rows["validation"]
                )
        ran_on |= devices_of(model, sae, sae_1, x)
        print(f"seed {seed}: swept {len(genres)} genres", flush=True)

    validation, test = rows["validation"], rows["test"]
    seeds = args.seeds
    # 1. the SAE knob: units and place, by share gained at equal NDCG cost on validation users
    at_place = [strengths.index(v) for v in place]
    for seed in seeds:
        for genre in genres:
            runs[seed, "final, absolute", genre] = {
                m: v[at_place] for m, v in runs[seed, "SAE (effect)", genre].items()
            }
    place_gain = {k: equal_cost_gain(runs, seeds, genres, k, "final, absolute", validation)
                  for k in KNOBS}  # fmt: skip
    best = max(KNOBS, key=lambda k: place_gain[k])
    for seed in seeds:  # the SAE knob on every user at every strength
        for genre in genres:
            runs[seed, "SAE knob", genre] = (
                runs[seed, "SAE (effect)", genre] if best == KNOBS[0] else
                sweep_knob(candidates[seed][best], split, dataset, genre, strengths))  # fmt: skip
    # 2. the moderate strength: chosen on validation users, for the share it adds
    share = stacked(runs, seeds, genres, "SAE knob", "share")  # (seeds, genres, strengths, users)
    mean_share = share[..., validation].mean(axis=(0, 1, 3))
    zero = strengths.index(0.0)
    doubling = [s for s, v in zip(strengths, mean_share, strict=True)
                if s > 0 and v >= 2 * mean_share[zero]]  # fmt: skip
    moderate = doubling[0] if doubling else max(strengths)
    lists = {}
    for seed in seeds:
        spliced, found, u, relative = candidates[seed][best]
        for genre in genres:
            lists[seed, genre] = {s: lists_at(spliced, split, knob_direction(found, genre), s, u,
                                              relative) for s in (0.0, moderate)}  # fmt: skip

    figures = claim_figures(runs, lists, seeds, genres, strengths, moderate, validation, test,
                            dataset.n_items)  # fmt: skip
    print({name: np.round([f["value"], *f["ci"]], 3).tolist() for name, f in figures.items()})
    per_genre = genre_table(runs, seeds, genres, strengths, moderate, validation, test)
    features = {g: {s: chosen[s].set_index("genre").loc[g].to_dict() for s in seeds}
                for g in genres}  # fmt: skip
    knobs = {
        "units and place": knob(best, "validation users",
                                "of the effect feature pushed at the final state in units of the "
                                "mean state norm (absolute) or of each state's norm (relative), "
                                "or the layer-1 SAE's effect feature after the first block: the "
                                "most share@10 gained at 5 equal NDCG@10 costs, summed over "
                                "genres and seeds; gains relative to final, absolute: "
                                + ", ".join(f"{k} {v:.3f}" for k, v in place_gain.items())),
        "moderate strength": knob(moderate, "validation users",
                                  "the smallest swept strength at which the validation users' "
                                  "mean genre share@10, over genres and seeds, at least doubles"
                                  + ("" if doubling else " (none did: the largest swept)")),
        "high strength": knob(HIGH, "fixed before measuring", "the largest swept strength"),
        "best strength per genre": knob(
            {g: v["best strength"] for g, v in per_genre["SAE knob"].items()}, "validation users",
            "per genre, the swept strength with the largest mean share@10 on validation users "
            "whose unsteered top 10 holds none of the genre"),
        "genre features": knob({g: {s: int(chosen[s].set_index("genre").loc[g, "effect feature"])
                                    for s in seeds} for g in genres}, "training data",
                               "per genre and seed: the SAE feature whose decoder direction's "
                               "10 most raised items hold the most of the genre, none serving "
                               "two genres (steer.genre_directions)"),
    }  # fmt: skip
    report = {
        "benchmark": "steering",
        "profile": args.profile,
        "dataset": dataset_name,
        "seeds": seeds,
        "settings": {"strengths": strengths, "high": HIGH, "genres": genres,
                     "min genre items": MIN_GENRE_ITEMS, "methods": list(METHODS),
                     "unit": "x the mean state norm of the validation users (relative: x each "
                             "state's own norm)",
                     "users": {k: len(v) for k, v in rows.items()}},
        "figures": figures,
        "knobs": knobs,
        # share@10 gained at equal NDCG@10 cost over the final state in absolute units
        "units_and_place": place_gain,
        "genres": per_genre,
        "chosen_features": features,
    }  # fmt: skip
    write_report(args.out or result_path("steering", args.profile), report, ran_on)


def stacked(runs, seeds, genres, method: str, measure: str) -> np.ndarray:
    """(seeds, genres, strengths, users) a measure of the sweeps."""
    return np.array([[runs[s, method, g][measure] for g in genres] for s in seeds])


def equal_cost_gain(runs, seeds, genres, method, reference, users) -> float:
    """Share@10 gained by `method` over `reference` (swept at the same raised strengths) at 5
    equal NDCG@10 costs, summed over genres and seeds, as a ratio (1: as good)."""
    gains = {method: 0.0, reference: 0.0}
    for s in seeds:
        for g in genres:
            curve = {}
            for m in (method, reference):
                n = runs[s, m, g]["ndcg"][:, users].mean(1)
                v = runs[s, m, g]["share"][:, users].mean(1)
                curve[m] = (1 - n / n[0], v - v[0])
            a, b = at_equal_levels(*curve[method], *curve[reference])
            gains[method] += np.nansum(a)
            gains[reference] += np.nansum(b)
    return ratio(gains[method], gains[reference])


def masked_share(share, mask, r) -> np.ndarray:
    """(genres,) the mean share over seeds and the resampled users r (with repeats) in mask;
    share, mask: (seeds, genres, users). NaN for a genre with no such user."""
    with np.errstate(invalid="ignore"):
        return (share[..., r] * mask[..., r]).sum((0, 2)) / mask[..., r].sum((0, 2))


def claim_figures(runs, lists, seeds, genres, strengths, moderate, validation, test, n_items):
    """The figures of claims A3-A5, A7-A9 on the test users."""
    at = {s: strengths.index(s) for s in (0.0, moderate, -moderate, HIGH)}
    share, ndcg, diversity = (stacked(runs, seeds, genres, "SAE knob", m)
                              for m in ("share", "ndcg", "diversity"))  # fmt: skip
    none = share[:, :, at[0.0]] == 0  # (seeds, genres, users): unsteered top 10 without the genre
    best = best_strengths(share, none, validation)  # (genres,) index of each genre's best
    at_best = share[:, np.arange(len(genres)), best]  # (seeds, genres, users)
    probe_n, probe_s = (stacked(runs, seeds, genres, "probe", m) for m in ("ndcg", "share"))
    up = [i for i, s in enumerate(strengths) if s >= 0]

    def sae_over_probe(r):
        ratios = []
        for g in range(len(genres)):
            n0 = ndcg[:, g, at[0.0]][:, r].mean()
            cost = 1 - ndcg[:, g, at[moderate]][:, r].mean() / n0
            gain = share[:, g, at[moderate]][:, r].mean() - share[:, g, at[0.0]][:, r].mean()
            n, s = (
                probe_n[:, g][:, up][..., r].mean((0, 2)),
                probe_s[:, g][:, up][..., r].mean((0, 2)),
            )
            theirs = along(1 - n / n[0], s - s[0], cost)
            ratios.append(ratio(gain, theirs) if np.isfinite(theirs) else np.nan)
        return float(np.nanmedian(ratios))

    def coverage_at(s, r):
        return np.mean([coverage(lists[seed, g][s], r, n_items)
                        for seed in seeds for g in genres])  # fmt: skip

    def lost(measure):
        return on_test(lambda r: 1 - measure[..., at[moderate], :][..., r].mean()
                       / measure[..., at[0.0], :][..., r].mean())  # fmt: skip

    def on_test(statistic):
        return over_units(len(test), lambda r: statistic(test[r]))

    had = ~none
    left = share[:, :, at[-moderate]] * had, share[:, :, at[0.0]] * had
    with_none = {
        "share brought at moderate, users with none": share[:, :, at[moderate]],
        "share at high strength, users with none": share[:, :, at[HIGH]],
        "best share, users with none": at_best,
    }
    figures = {name: on_test(lambda r, v=v: float(np.nanmedian(masked_share(v, none, r))))
               for name, v in with_none.items()}  # fmt: skip
    figures.update({
        "genres reaching half, users with none": on_test(
            lambda r: reaching_half(masked_share(at_best, none, r))),
        "moderate ndcg lost": lost(ndcg),
        "moderate coverage lost": on_test(lambda r: 1 - coverage_at(moderate, r)
                                          / coverage_at(0.0, r)),
        "moderate diversity lost": lost(diversity),
        "removal share left": on_test(lambda r: ratio(left[0][..., r].sum(),
                                                      left[1][..., r].sum())),
        "sae over probe at equal cost": on_test(sae_over_probe),
    })  # fmt: skip
    return figures


def reaching_half(shares: np.ndarray) -> float:
    """The share of the genres whose share reaches HALF, among those with users to measure."""
    shares = shares[~np.isnan(shares)]
    return float(np.mean(shares >= HALF)) if len(shares) else float("nan")


def best_strengths(share, none, validation) -> np.ndarray:
    """(genres,) per genre, the index of the raised strength with the largest mean share@10 on
    the validation users with none of the genre. share: (seeds, genres, strengths, users)."""
    mask = none[:, :, None, validation]
    with np.errstate(invalid="ignore"):
        mean = (share[..., validation] * mask).sum((0, 3)) / mask.sum((0, 3))  # (genres, strengths)
    mean[:, : share.shape[2] // 2 + 1] = np.nan  # the lowered strengths and the unsteered one
    mean[np.isnan(mean).all(1), -1] = 0.0  # no such user: the largest strength
    return np.nanargmax(mean, axis=1)


def genre_table(runs, seeds, genres, strengths, moderate, validation, test) -> dict:
    """Per method and genre: the curves on the test users (mean share@10 of those with none of
    the genre, of those who had it, NDCG@10 of all) and, with 95% intervals, the best share for
    users with none (strength chosen on validation users) and the share left at -moderate."""
    table = {}
    zero, lowered = strengths.index(0.0), strengths.index(-moderate)
    for method in (*METHODS, "SAE knob"):
        share, ndcg = (stacked(runs, seeds, genres, method, m) for m in ("share", "ndcg"))
        none = share[:, :, zero] == 0
        best = best_strengths(share, none, validation)
        table[method] = {
            genre: genre_row(share[:, g], ndcg[:, g], none[:, g], strengths[best[g]], best[g],
                             zero, lowered, test)
            for g, genre in enumerate(genres)
        }  # fmt: skip
    return table


def genre_row(share, ndcg, none, strength, best, zero, lowered, test) -> dict:
    """One genre and method's row of `genre_table`; share, ndcg: (seeds, strengths, users),
    none: (seeds, users)."""
    had = ~none

    def mean_over(mask, r):  # (strengths,) the mean share of the users r in mask
        return (share[..., r] * mask[:, None, r]).sum((0, 2)) / max(mask[:, r].sum(), 1)

    def best_share(r):
        return ratio((share[:, best, r] * none[:, r]).sum(), none[:, r].sum())

    def left(r):
        return ratio(
            (share[:, lowered, r] * had[:, r]).sum(), (share[:, zero, r] * had[:, r]).sum()
        )

    return {
        "share, users with none": mean_over(none, test).round(4).tolist(),
        "share, users who had it": mean_over(had, test).round(4).tolist(),
        "ndcg": ndcg[..., test].mean((0, 2)).round(4).tolist(),
        "best strength": strength,
        "best share, users with none": over_units(len(test), lambda r: best_share(test[r])),
        "share left at -moderate": over_units(len(test), lambda r: left(test[r])),
    }


if __name__ == "__main__":
    main(sys.argv[1:])
