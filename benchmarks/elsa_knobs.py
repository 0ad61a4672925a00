"""Benchmark: paper C, an SAE inside ELSA, measured without the notebooks (chapter 8).

    python benchmarks/elsa_knobs.py [--profile quick] [--device auto]

Paper C's protocol (`data.user_split`: paper C's split, the users and held-out items its code
draws from the same data: ratings >= 4, users with 5+ positives, 80/10/10 users, 20% of each
validation and test user's positives held out) over several user splits: seed 42 (paper C's, the
split chapter 8 uses) and four more. Per split (its index the seed of its models): ELSA trained
on its training users (the epoch of best validation NDCG@20), and paper C's SAE (`knobs.sae_config`:
standardised input, cosine loss; TopK of d_sae features) at k = 16 and 64 on the training users'
embeddings, no views, stopped by the fit's held-out check; and that SAE untrained (the control).

Measured (claims C1-C6): test Recall@20 and NDCG@20 with and without the SAE; steering by paper
C's mix (`interventions.feature_edit(..., "mix", error_term=False)`) of each test user its rule
can steer (`knobs.desired_concepts` over all genres: towards the genre with the most held-out
films beyond their input films) with the best-characterizes map (1 and 5 features) and the
most-unique map (1 feature), at each alpha: personal NDCG@20 (their held-out items) and segment
NDCG@20 (`knobs.segment`: every listed film of the genre), each user weighing the same; the
entropy and KL of the features' genre distributions against ELSA's raw dimensions and the
untrained SAE (items resampled). Features firing on fewer than `min items per
feature` films are left out of the maps and the entropy; that knob is chosen on the validation
users (the segment NDCG@20 at personal .28 of their steering). A user tested in several splits
counts once, with the mean (or sum, for steering pairs) of their values; intervals resample users.
Also, on the first split, the book's recipe (views of each training row) at k = 16, 32, 64, for
chapter 8's table of costs. Writes benchmarks/results/elsa_knobs.json.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from _measures import (
    Resampled,
    WeightedActivity,
    along,
    at_equal_levels,
    counts_of,
    fit_settings,
    over_units,
    ratio,
    untrained,
)
from common import devices_of, knob, result_path, write_report  # benchmarks/ is on the path

from recsae_lite import interpret, knobs
from recsae_lite._nb import pick_device, seed_everything
from recsae_lite.data import load_dataset, user_split
from recsae_lite.interventions import Spliced, feature_edit
from recsae_lite.models import ELSA, ELSAConfig
from recsae_lite.sae import fit
from recsae_lite.train import evaluate, train

ALPHAS = [0.0, 0.1, 0.2, 0.3, 0.5]
MIN_ITEMS = [0, 5, 20, 50]  # the candidates for "min items per feature"
PERSONAL = 0.28  # the book's goal: segment NDCG@20 >= .20 at personal NDCG@20 >= .28
SIZES = {  # per profile: the splits, ELSA's d, the SAE's width, ELSA's epochs, the views' SAEs
    "ci": {"splits": [42, 0], "hidden": 32, "d_sae": 256, "epochs": 2, "views": {16: 5}},
    "quick": {"splits": [42, 0, 1, 2, 3], "hidden": 256, "d_sae": 2_048, "epochs": None,
              "views": {16: 50, 32: 50, 64: 50}},
    "full": {"splits": [42, 0, 1, 2, 3], "hidden": 256, "d_sae": 2_048, "epochs": None,
             "views": {16: 50, 32: 50, 64: 50}},
}  # fmt: skip
CONFIGS = [("best characterizes", 1), ("best characterizes", 5), ("most unique", 1)]
MEASURES = ["personal", "personal@10", "share@10", "segment"]


class Steering:
    """Paper C's steering of one split's users, per user: each (genre, features, alpha) scored
    once (maps that agree share it)."""

    def __init__(self, elsa, sae, split, dataset):
        self.elsa, self.sae, self.split, self.dataset, self.done = elsa, sae, split, dataset, {}

    def scores(self, stage, genre, features, rows, alpha) -> pd.DataFrame:
        """Per user of `rows`: personal NDCG@20 and @10, share@10, segment NDCG@20."""
        key = (stage, genre, tuple(features), alpha)
        if key not in self.done:
            segment = knobs.segment(self.split, self.dataset.genres, genre)
            pushed = Spliced(self.elsa, feature_edit(self.sae, features, alpha, "mix", False))
            own = evaluate(pushed, self.split, stage, (10, 20), share_of=segment, rows=rows,
                           per_user=True)  # fmt: skip
            seg = evaluate(pushed, self.split, stage, (20,), rows=rows, targets=segment,
                           per_user=True)  # fmt: skip
            self.done[key] = pd.DataFrame({
                "personal": own["ndcg@20"], "personal@10": own["ndcg@10"],
                "share@10": own["share@10"], "segment": seg["ndcg@20"]})  # fmt: skip
        return self.done[key]

    def sums(self, stage, pairs, top, n) -> pd.DataFrame:
        """Per user (code) and alpha: each measure pushing the first n features of the map `top`
        of the user's genre in `pairs`, and the number of pairs (1)."""
        tables = [self.scores(stage, g, top[g, :n], rows, a).assign(alpha=a, pairs=1)
                  for g, rows in pairs for a in ALPHAS]  # fmt: skip
        return pd.concat(tables).groupby(["user", "alpha"]).sum()


def per_user_sums(sums: pd.DataFrame, users) -> np.ndarray:
    """(users, alphas, measures + 1): `Steering.sums` of each of `users` (0 for one without
    pairs), the last column the number of pairs."""
    index = pd.MultiIndex.from_product([users, ALPHAS], names=["user", "alpha"])
    table = sums.reindex(index, fill_value=0)[[*MEASURES, "pairs"]]
    return table.to_numpy(dtype=float).reshape(len(users), len(ALPHAS), -1)


def curves(sums: np.ndarray, rows) -> dict[str, np.ndarray]:
    """Per measure, its value at each alpha over the pairs of the users `rows` of `sums`
    (`per_user_sums`), each pair weighing the same."""
    total = sums[rows].sum(0)
    return dict(zip(MEASURES, (total[:, :-1] / total[:, -1:]).T, strict=True))


def segment_at(curve: dict, level: float) -> float:
    """Segment NDCG@20 where personal NDCG@20 falls to `level` along the alpha curve; the
    unpushed segment when personal starts below it, the last alpha's when it never falls."""
    found = along(-curve["personal"], curve["segment"], -level)
    return curve["segment"][-1] if np.isnan(found) else found


def score(model, split, quality: list, **fields) -> pd.DataFrame:
    """Each test user's Recall@20 and NDCG@20 (of ELSA, or ELSA with an SAE: `fields` say which),
    their means added to `quality`."""
    table = evaluate(model, split, "test", ks=(20,), per_user=True)
    quality.append({**fields, **table.mean().to_dict()})
    return table.assign(sae=fields["sae"], views=fields["views"])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["ci", "quick", "full"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/elsa_knobs.json")
    args = parser.parse_args(argv)

    device = pick_device(args.device)
    sizes = SIZES[args.profile]
    dataset = load_dataset("ml-1m" if args.profile == "full" else "ml-100k")
    quality, per_user, runs, epochs, steps, ran_on = [], [], [], [], {}, set()
    for seed, split_seed in enumerate(sizes["splits"]):
        seed_everything(seed)
        split = user_split(dataset, seed=split_seed)
        elsa = ELSA(ELSAConfig(dataset.n_items, sizes["hidden"])).to(device)
        recipe = replace(knobs.TRAIN_ELSA, seed=seed, epochs=sizes["epochs"] or 100)
        epochs.append(train(elsa, split, recipe, progress=False).best_epoch)
        which = {"seed": seed, "split seed": split_seed}
        per_user.append(score(elsa, split, quality, **which, sae="none", views=np.nan))
        x = knobs.views(elsa, split, 1, keep=0.8, seed=seed)  # the training users' embeddings
        saes = {}
        for k in (16, 64):
            saes[k] = fit(x, knobs.sae_config(sizes["hidden"], sizes["d_sae"], k),
                          fit_settings("elsa", args.profile, seed), progress=False)  # fmt: skip
            steps[f"split {split_seed}, k {k}"] = saes[k].history.best_step
            per_user.append(score(Spliced(elsa, saes[k]), split, quality, **which, sae=f"k{k}",
                                  views=1))  # fmt: skip
        if seed == 0:  # the book's recipe, for chapter 8's table of costs
            for k, n_views in sizes["views"].items():
                x_views = knobs.views(elsa, split, n_views, keep=0.8, seed=seed)
                settings = fit_settings("elsa", args.profile, seed)
                sae = fit(x_views, knobs.sae_config(sizes["hidden"], sizes["d_sae"], k),
                          settings, progress=False)  # fmt: skip
                per_user.append(score(Spliced(elsa, sae), split, quality, **which,
                                      sae=f"k{k}", views=n_views))  # fmt: skip
        sae = saes[16]
        control = untrained(knobs.sae_config(sizes["hidden"], sizes["d_sae"], 16), x, seed)
        ran_on |= devices_of(elsa, sae, control)
        codes = {"SAE": knobs.item_codes(elsa, sae).cpu(),
                 "untrained": knobs.item_codes(elsa, control).cpu()}  # fmt: skip
        emb = elsa.item_embeddings().detach().cpu()
        codes["raw"] = interpret.signed(emb - emb.mean(0)).clamp_min(0)
        steering = Steering(elsa, sae, split, dataset)
        pairs = {stage: knobs.desired_concepts(split, dataset.genres, stage)
                 for stage in ("valid", "test")}  # fmt: skip
        runs.append({"split seed": split_seed, "codes": codes, "steering": steering,
                     "pairs": pairs, "test users": len(split.users["test"])})  # fmt: skip
        print(f"split {split_seed}: {quality[-1]}", flush=True)

    def maps(run, min_items) -> dict:
        activity = interpret.concept_activity(run["codes"]["SAE"], dataset.genres)
        fires = (run["codes"]["SAE"] > 0).sum(0)
        return {"best characterizes": interpret.best_characterizes(activity, 5, fires, min_items),
                "most unique": interpret.most_unique(activity, 5, fires, min_items)}  # fmt: skip

    def steered(stage, min_items, mapping, n) -> pd.DataFrame:
        """Per user (code) and alpha, sums over all splits of their steering pairs."""
        tables = [run["steering"].sums(stage, run["pairs"][stage], maps(run, min_items)[mapping],
                                       n) for run in runs]  # fmt: skip
        return pd.concat(tables).groupby(["user", "alpha"]).sum()

    # the knob, on the validation users: the segment NDCG@20 at personal .28 of their steering
    on_validation = {}
    for m in MIN_ITEMS:
        sums = steered("valid", m, "best characterizes", 1)
        everyone = per_user_sums(sums, sums.index.unique("user"))
        on_validation[m] = float(segment_at(curves(everyone, slice(None)), PERSONAL))
    min_items = max(MIN_ITEMS, key=lambda m: on_validation[m])
    print(f"min items per feature: {min_items} (validation: {on_validation})", flush=True)

    figures = {}
    quality_of = pd.concat(per_user).reset_index()
    by_user = quality_of.groupby(["user", "sae", "views"], dropna=False).mean(numeric_only=True)
    clean = by_user.xs("none", level="sae").droplevel("views")
    for k in (16, 64):
        spliced = by_user.xs((f"k{k}", 1), level=("sae", "views"))["ndcg@20"]
        a, b = spliced.to_numpy(), clean.loc[spliced.index, "ndcg@20"].to_numpy()
        figures[f"sae cost k{k}"] = over_units(len(a), lambda r, a=a, b=b: 1 - a[r].mean()
                                               / b[r].mean())  # fmt: skip
    for metric in ("recall@20", "ndcg@20"):
        values = clean[metric].to_numpy()
        figures[f"elsa {metric}"] = over_units(len(values), lambda r, v=values: v[r].mean())

    tables = {config: steered("test", min_items, *config) for config in CONFIGS}
    users = np.array(sorted(set.union(*(set(t.index.unique("user")) for t in tables.values()))))
    sums = {config: per_user_sums(table, users) for config, table in tables.items()}

    def curve(config, r) -> dict:
        return curves(sums[config], r)

    best, five, unique = CONFIGS[0], CONFIGS[1], CONFIGS[2]

    def five_over_one(r) -> float:
        one, spread = curve(best, r), curve(five, r)
        a, b = at_equal_levels(-spread["personal"], spread["segment"], -one["personal"],
                               one["segment"])  # fmt: skip
        return ratio(a.sum(), b.sum())

    figures["segment at personal .28"] = over_units(
        len(users), lambda r: segment_at(curve(best, r), PERSONAL)
    )
    half = ALPHAS.index(0.5)
    figures["most unique over best, alpha .5"] = over_units(
        len(users), lambda r: curve(unique, r)["segment"][half] / curve(best, r)["segment"][half]
    )
    figures["five over one at equal personal"] = over_units(len(users), five_over_one)
    figures.update(monosemanticity(runs, dataset, min_items))
    print({name: np.round([f["value"], *f["ci"]], 3).tolist() for name, f in figures.items()})

    steering_table = [
        {"mapping": m, "features": n, "alpha": alpha,
         **{measure: float(v[i]) for measure, v in curve((m, n), slice(None)).items()}}
        for m, n in CONFIGS for i, alpha in enumerate(ALPHAS)
    ]  # fmt: skip
    report = {
        "benchmark": "elsa_knobs",
        "profile": args.profile,
        "dataset": dataset.name,
        "seeds": list(range(len(sizes["splits"]))),
        "split seeds": sizes["splits"],
        "sae": {"hidden": sizes["hidden"], "d_sae": sizes["d_sae"]},
        "splits": [
            {
                "split seed": r["split seed"],
                "test users": r["test users"],
                "steerable test users": len({u for _, rows in r["pairs"]["test"] for u in rows}),
            }
            for r in runs
        ],
        "steering users": len(users),
        "figures": figures,
        "knobs": {
            "min items per feature": knob(
                min_items,
                "validation users",
                f"of {MIN_ITEMS}: the best segment NDCG@20 at personal "
                f"NDCG@20 {PERSONAL} of the validation users' steering "
                "(best characterizes, 1 feature), over the splits",
            ),
            "SAE steps": knob(
                steps,
                "training data",
                "the fit's check of best loss on a held-out tenth of the "
                "training users' embeddings",
            ),
            "ELSA epochs": knob(
                epochs, "validation users", "per split, the epoch of best validation NDCG@20"
            ),
        },  # fmt: skip
        "min items per feature on validation": {str(k): v for k, v in on_validation.items()},
        "quality": quality,
        "steering": steering_table,
    }
    write_report(args.out or result_path("elsa_knobs", args.profile), report, ran_on)


def monosemanticity(runs, dataset, min_items) -> dict:
    """Paper C's entropy and KL of each feature's genre distribution (its column of A = P S, the
    genres as the maps read them), the mean over the features that fire on at least min_items
    films, averaged over the splits: the SAE's over the raw dimensions' (each sign its own,
    centred) and over the untrained SAE's; items resampled."""
    concepts = dataset.genres
    activities = {}
    for i, run in enumerate(runs):
        for kind, codes in run["codes"].items():
            kept = codes[:, (codes > 0).sum(0) >= max(min_items, 1)]
            activities[i, kind] = WeightedActivity(kept, concepts)

    def batch(draws: np.ndarray) -> list[dict]:
        out = []
        for weights in counts_of(draws, len(concepts)):
            found = {key: interpret.concept_entropy_kl(activity(weights))
                     for key, activity in activities.items()}  # fmt: skip
            out.append(
                {
                    kind: {
                        m: np.mean([found[i, kind][m].mean() for i in range(len(runs))])
                        for m in ("entropy", "kl")
                    }
                    for kind in ("SAE", "raw", "untrained")
                }
            )
        return out

    resampled = Resampled(len(concepts), batch)
    return {f"{m} over {kind}": over_units(len(concepts), lambda r, m=m, k=kind:
                                           resampled(r)["SAE"][m] / resampled(r)[k][m])
            for m in ("entropy", "kl") for kind in ("raw", "untrained")}  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
