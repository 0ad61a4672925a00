"""Benchmark: paper B on MF and NCF, measured without the notebooks (chapter 6).

    python benchmarks/two_tower.py [--profile quick] [--seeds 0 1 2] [--device auto]

A fixed fifth of the users is held out (the same for every seed), in two halves: validation
users choose w_pred, test users are measured. Per model and seed, one SAE reads the other users'
embeddings and every item's, with paper B's prediction-aware term at each w_pred, in two regimes:

- the book's: TopK, 16 of 256 features, on the zoo's model (64 dimensions);
- paper B's (like for like): ReLU + KL sparsity (rho = .05), 22 features, on the same model
  trained with 20 dimensions; and that SAE untrained (the control). Paper B's code trains its
  SAE with reconstruction weight .1 (F.mse_loss: a mean over dimensions), KL weight .01 (summed
  over features) and L1 weight 0 (code/ML1M/training.ipynb, `autoencoder_loss` as called); the
  package's reconstruction term sums over the d = 20 dimensions, so KL_B = .01 x 20 / .1 = 2.
  Its w_pred values (1 for MF, 10 for NCF) are in its own units; the package's prediction term
  is scaled by the logits' variance (`two_tower.prediction_term`), so they are taken as a grid
  and the value is chosen on validation users.

Measured (claims B1-B7, B9-B11): fidelity of each test user's top-30 list (`two_tower.fidelity`:
the book's RBO and tau, and paper B's); genre purity@10 of the features and their popularity
purity, against the untrained SAE (items resampled); MF's purest Horror feature overwritten with
-1.5 (paper B's filter) and promoted items' strongest features overwritten for users with no film
of their genres. A user's value is the mean over seeds. Also, as before, the fidelity and purity
tables of the book's SAEs (and its TopK with 22 features) for chapter 6.
Writes benchmarks/results/two_tower.json.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from _measures import Resampled, fidelity_per_user, fit_settings, halves, over_units, untrained
from common import bootstrap_interval, devices_of, knob, options, result_path, write_report

from recsae_lite import interpret, two_tower, zoo
from recsae_lite._nb import pick_device, seed_everything
from recsae_lite.interventions import Spliced, feature_edit
from recsae_lite.metrics import sae_metrics
from recsae_lite.sae import SAEConfig, fit
from recsae_lite.train import evaluate, recommend

GENRES = ["Comedy", "Horror", "Drama", "Action", "Children's", "Romance", "Sci-Fi", "Documentary"]
W_PRED = {"ci": [0.0, 10.0], "quick": [0.0, 1.0, 10.0], "full": [0.0, 1.0, 2.0, 5.0, 10.0]}
W_PRED_B = [0.0, 1.0, 10.0]  # paper B's: none, its code's MF setting, its NCF setting
D_B, FEATURES_B, KL_B, L1_B = 20, 22, 2.0, 0.0  # paper B's regime (its code: no L1)
FILTER, PROMOTED, MIN_RATINGS = -1.5, 10, 20


def paper_b_config(w_pred: float) -> SAEConfig:
    return SAEConfig(D_B, FEATURES_B, "relu", l1_coefficient=L1_B, kl_coefficient=KL_B,
                     kl_target=0.05, pred_coefficient=w_pred)  # fmt: skip


def ranked_items(acts: torch.Tensor, draws: np.ndarray, k: int = 100) -> np.ndarray:
    """(B, k, F) for each resample of items (draws: (B, n), an item drawn twice counting twice),
    each feature's k most activating items (rows of acts (n_items, F)), most activating first."""
    top = acts[torch.as_tensor(draws)].topk(k, dim=1).indices.numpy()  # places in the draws
    return np.take_along_axis(draws[:, :, None], top, axis=1)


def top_shares(items: np.ndarray, concepts: np.ndarray, k: int) -> np.ndarray:
    """(B, F, C) the share of each feature's k most activating items (`ranked_items`) that carry
    each concept: `interpret.purity`, also for a concept of fewer than k items."""
    return np.asarray(concepts, dtype=float)[items[:, :k]].mean(1)


def purest(items: np.ndarray, concepts: np.ndarray, ks=(10, 50, 100)) -> np.ndarray:
    """(B, C) each concept's purest feature, as `interpret.purity_table` picks it: the highest
    purity at the smallest k, ties broken by the larger ones (the shares counted in items)."""
    key = sum(np.rint(top_shares(items, concepts, k) * k) * 1_000 ** (len(ks) - i)
              for i, k in enumerate(ks))  # fmt: skip
    return key.argmax(1)


def main(argv: list[str]) -> None:
    args = options(__doc__, "two_tower").parse_args(argv)

    device = pick_device(args.device)
    dataset_name = "ml-1m" if args.profile == "full" else "ml-100k"
    w_grid = W_PRED[args.profile]
    fidelity, fidelity_b, purity, ran_on = [], [], [], set()
    users, codes, filtered, promoted = {}, {}, {}, {}
    for name in ("mf", "ncf"):
        for seed in args.seeds:
            seed_everything(seed)
            book = zoo.model(name, dataset_name, args.profile, seed, device, progress=False)
            paper = zoo.model(name, dataset_name, args.profile, seed, device, progress=False,
                              hidden_size=D_B)  # fmt: skip
            split, dataset = book.split, book.dataset
            order = np.random.default_rng(0).permutation(len(split.users))
            train_rows, held = np.sort(order[len(order) // 5 :]), np.sort(order[: len(order) // 5])
            rows = {part: held[r] for part, r in halves(len(held)).items()}
            scored = np.concatenate([rows["validation"], rows["test"]])  # in this order

            # the book's TopK SAE at each w_pred (and one of 22 features at the largest)
            x, term = two_tower.sae_inputs(book.model, split, train_rows, seed)
            settings = fit_settings("two_tower", args.profile, seed)  # chapter 6's
            saes = {}
            for w in w_grid:
                config = SAEConfig(x.shape[1], 256, "topk", 16, pred_coefficient=w)
                saes[w] = sae = fit(x, config, settings, prediction=term, progress=False)
                found = users[name, "topk", w, seed] = fidelity_per_user(book.model, sae, split,
                                                                         scored)  # fmt: skip
                fidelity.append(fidelity_row(found, sae, x, len(rows["test"]), model=name,
                                             seed=seed, w_pred=w, l0=16))  # fmt: skip
            config = SAEConfig(x.shape[1], 22, "topk", 8, pred_coefficient=w_grid[-1])
            small = fit(x, config, settings, prediction=term, progress=False)

            # paper B's regime, and its untrained control
            x_b, term_b = two_tower.sae_inputs(paper.model, split, train_rows, seed)
            saes_b = {}
            for w in W_PRED_B:
                saes_b[w] = sae = fit(x_b, paper_b_config(w), settings, prediction=term_b,
                                      progress=False)  # fmt: skip
                found = users[name, "paper b", w, seed] = fidelity_per_user(paper.model, sae, split,
                                                                            scored)  # fmt: skip
                fidelity_b.append(fidelity_row(found, sae, x_b, len(rows["test"]), model=name,
                                               seed=seed, w_pred=w))  # fmt: skip
            control = untrained(paper_b_config(0.0), x_b, seed)
            ran_on |= devices_of(book.model, paper.model, small, control, *saes.values(),
                                 *saes_b.values())  # fmt: skip
            items = two_tower.embeddings(book.model)[1]
            items_b = two_tower.embeddings(paper.model)[1]
            for kind, acts in (
                ("SAE 256", saes[w_grid[-1]].encode(items)),
                ("SAE 22", small.encode(items)),
                ("raw dims", interpret.signed(items - items.mean(0))),
            ):
                table = interpret.purity_table(acts.detach().cpu(), dataset, GENRES)
                for record in table.to_dict(orient="records"):
                    purity.append({"model": name, "seed": seed, "coordinates": kind, **record})
            codes[name, seed] = {w: saes_b[w].encode(items_b).detach().cpu() for w in W_PRED_B}
            codes[name, seed]["untrained"] = control.encode(items_b).detach().cpu()
            if name == "mf":  # paper B's interventions, on MF: at every w_pred, chosen later
                filtered[seed] = {w: horror_filter(paper.model, saes_b[w], split, dataset,
                                                   rows["test"]) for w in W_PRED_B}  # fmt: skip
                promoted[seed] = {w: promotion(paper.model, saes_b[w], x_b, split, dataset,
                                               rows["test"]) for w in W_PRED_B}  # fmt: skip
            print(f"{name} seed {seed}: {len(w_grid)} TopK and {len(W_PRED_B)} paper-B SAEs",
                  flush=True)  # fmt: skip

    n_valid = len(rows["validation"])

    def user_means(name, regime, w, measure, part) -> np.ndarray:
        """Each validation or test user's measure, the mean over seeds."""
        values = np.mean([users[name, regime, w, s][measure] for s in args.seeds], axis=0)
        return values[:n_valid] if part == "validation" else values[n_valid:]

    def best_w(name, regime, grid, measure) -> float:  # chosen on the validation users
        return max(grid, key=lambda w: np.nanmean(user_means(name, regime, w, measure,
                                                             "validation")))  # fmt: skip

    chosen = {n: best_w(n, "topk", w_grid, "rbo") for n in ("mf", "ncf")}
    chosen_b = {n: best_w(n, "paper b", W_PRED_B, "rbo_paper_b") for n in ("mf", "ncf")}
    figures = {}
    for name in ("mf", "ncf"):
        gain = [user_means(name, "paper b", w, "rbo_paper_b", "test") for w in (10.0, 0.0)]
        figures[f"rbo gain, {name}"] = bootstrap_interval(*gain)
        for measure, field in (("rbo", "rbo"), ("kendall_tau", "tau")):
            values = user_means(name, "topk", chosen[name], measure, "test")
            figures[f"{name} {field}"] = over_units(
                len(values), lambda r, v=values: np.nanmean(v[r])
            )
        for measure, field in (("rbo_paper_b", "rbo"), ("tau_paper_b", "tau")):
            values = user_means(name, "paper b", chosen_b[name], measure, "test")
            figures[f"{name} {field}, paper b"] = over_units(
                len(values), lambda r, v=values: np.nanmean(v[r])
            )
        figures.update(feature_figures(name, codes, chosen_b[name], args.seeds, dataset))
    figures.update(intervention_figures(filtered, promoted, chosen_b["mf"], args.seeds))
    print({name: np.round([f["value"], *f["ci"]], 3).tolist() for name, f in figures.items()})

    chosen_items = promoted_items(dataset, split.history("test"))
    knobs = {
        "w_pred (TopK)": knob(chosen, "validation users",
                              f"per model, of {w_grid}: the best mean RBO (the book's) of the "
                              "validation users' lists, over seeds"),
        "w_pred (paper B regime)": knob(chosen_b, "validation users",
                                        f"per model, of paper B's {W_PRED_B}: the best mean "
                                        "paper-B RBO of the validation users' lists, over seeds"),
        "filter value": knob(FILTER, "fixed before measuring", "paper B's value (MF, Horror)"),
        "promoted items": knob([dataset.item_titles[i] for i in chosen_items],
                               "fixed before measuring",
                               f"{PROMOTED} items drawn at random (seed 0) among those with at "
                               f"least {MIN_RATINGS} ratings of which a fifth of the users has "
                               "no film of any of its genres"),
        "promotion value": knob("each promoted item's strongest feature's largest activation",
                                "training data", "the largest activation of that feature on the "
                                "SAE's training embeddings (users and items): a value the "
                                "feature reaches on its own"),
    }  # fmt: skip
    report = {
        "benchmark": "two_tower",
        "profile": args.profile,
        "dataset": dataset_name,
        "seeds": args.seeds,
        "users": {part: len(r) for part, r in rows.items()},
        "paper_b_regime": {"d": D_B, "features": FEATURES_B, "kl_coefficient": KL_B,
                           "kl_target": 0.05, "l1_coefficient": L1_B, "w_pred": W_PRED_B},
        "figures": figures,
        "knobs": knobs,
        "fidelity": fidelity,
        "fidelity_paper_b_regime": fidelity_b,
        "purity": purity,
    }  # fmt: skip
    write_report(args.out or result_path("two_tower", args.profile), report, ran_on)


def fidelity_row(per_user: dict, sae, x, n_test: int, **fields) -> dict:
    """A row of the fidelity tables: `fields`, the SAE's FVU and L0 (unless fields give it) on its
    training embeddings x, and each fidelity measure's mean over the test users (the last n_test
    of `per_user`)."""
    fit_of = sae_metrics(sae, x)
    means = {m: float(np.nanmean(v[-n_test:])) for m, v in per_user.items()}
    return {"l0": fit_of["l0"], **fields, "fvu": fit_of["fvu"], **means}


def unrelated(dataset, histories) -> np.ndarray:
    """(users, items) bool: whether a user of `histories` has no film of any of the item's
    genres."""
    seen = np.array([dataset.genres[h].any(0) for h in histories], dtype=float)  # (users, G)
    return seen @ dataset.genres.T.astype(float) == 0


def promoted_items(dataset, histories) -> np.ndarray:
    """The items paper B's promotion is tried on: drawn at random (seed 0) among those with
    MIN_RATINGS ratings or more of which at least a fifth of the users (`histories`) has no film
    of any of its genres (an item of a genre nearly everyone watches has no unrelated users)."""
    rare = (dataset.popularity >= MIN_RATINGS) & (unrelated(dataset, histories).mean(0) >= 0.2)
    return np.sort(np.random.default_rng(0).choice(np.flatnonzero(rare), PROMOTED, replace=False))


@torch.no_grad()
def horror_filter(model, sae, split, dataset, rows) -> dict[str, np.ndarray]:
    """The Horror share@30 of each of the rows before and after MF's purest Horror feature is
    overwritten with FILTER (paper B's filter)."""
    horror = dataset.genres[:, [dataset.genre_names.index("Horror")]]
    codes = sae.encode(two_tower.embeddings(model)[1]).cpu()
    feature = int(purest(ranked_items(codes, np.arange(len(horror))[None]), horror)[0, 0])
    edited = Spliced(model, feature_edit(sae, feature, FILTER, "set"))
    share = {}
    for when, scorer in (("before", model), ("after", edited)):
        table = evaluate(scorer, split, "test", ks=(30,), share_of=horror[:, 0], rows=rows,
                         per_user=True)  # fmt: skip
        share[when] = table["share@30"].to_numpy()
    return share


@torch.no_grad()
def promotion(model, sae, x, split, dataset, rows) -> np.ndarray:
    """(rows, items): 1 when a promoted item enters the user's top 30 after its strongest feature
    is overwritten with that feature's largest activation on the SAE's training data x, 0 when
    not, NaN for a user who has a film of one of its genres."""
    codes = sae.encode(two_tower.embeddings(model)[1])
    peaks = sae.encode(x).max(0).values
    histories = split.history("test")
    reached = np.full((len(rows), PROMOTED), np.nan)
    apart = unrelated(dataset, [histories[r] for r in rows])
    for j, item in enumerate(promoted_items(dataset, histories)):
        eligible = apart[:, item]
        if not eligible.any():
            continue
        feature = int(codes[item].argmax())
        edit = feature_edit(sae, feature, float(peaks[feature]), "set")
        top = recommend(Spliced(model, edit), split, rows[eligible], k=30)
        reached[eligible, j] = (top == item).any(1)
    return reached


def feature_figures(name, codes, w, seeds, dataset) -> dict:
    """Purity@10 of the paper-B SAE's features (at w_pred w) over 8 genres and for the most
    popular items, against the untrained SAE; for MF also the Comedy and Horror purity over K;
    items resampled, each figure the mean over seeds."""
    genres = dataset.genres[:, [dataset.genre_names.index(g) for g in GENRES]]
    popular = (dataset.popularity >= np.quantile(dataset.popularity, 0.9))[:, None]
    pure = dataset.genres[:, [dataset.genre_names.index(g) for g in ("Comedy", "Horror")]]
    n_items = len(genres)

    def measures(acts, draws) -> dict:  # (B,) each measure of one SAE's features, per resample
        items = ranked_items(acts, draws)
        out = {"purity@10": top_shares(items, genres, 10).max(1).mean(1),
               "popularity purity@10": top_shares(items, popular, 10).max(1)[:, 0]}  # fmt: skip
        chosen = purest(items, pure)  # (B, 2)
        films = pure[draws].sum(1)  # (B, 2), an item drawn twice counting twice
        ratios = [np.take_along_axis(top_shares(items, pure, k), chosen[:, None], 1)[:, 0]
                  / np.minimum(1, films / k) for k in (10, 50, 100)]  # fmt: skip
        out["comedy"], out["horror"] = np.min(ratios, axis=0).T
        return out

    def batch(draws: np.ndarray) -> list[dict]:  # per resample: {which: {measure: seed mean}}
        found = {which: [measures(codes[name, s][which], draws) for s in seeds]
                 for which in (w, "untrained")}  # fmt: skip
        means = {which: {m: np.mean([f[m] for f in per_seed], axis=0) for m in per_seed[0]}
                 for which, per_seed in found.items()}  # fmt: skip
        return [{which: {m: float(v[b]) for m, v in means[which].items()} for which in means}
                for b in range(len(draws))]  # fmt: skip

    resampled = Resampled(n_items, batch)
    fields = ["purity@10"] + (["popularity purity@10"] if name == "mf" else [])
    centred = {"centred": True}  # statistics of each feature's top items: common.bootstrap_interval
    figures = {}
    for field in fields:
        figures[f"{name} {field}"] = over_units(
            n_items, lambda r, f=field: resampled(r)[w][f], **centred
        )
        figures[f"{name} {field} over untrained"] = over_units(
            n_items, lambda r, f=field: resampled(r)[w][f] / resampled(r)["untrained"][f], **centred
        )
    if name == "mf":
        for genre in ("comedy", "horror"):
            figures[f"mf {genre} purity"] = over_units(
                n_items, lambda r, g=genre: resampled(r)[w][g], **centred
            )
    return figures


def intervention_figures(filtered, promoted, w, seeds) -> dict:
    """Paper B's filter (the Horror share left, over users whose list had Horror) and promotion
    (the share of users reached, the mean over promoted items), MF at w_pred w; test users
    resampled, each user's value the mean over seeds."""
    had = [filtered[s][w]["before"] > 0 for s in seeds]
    after = np.mean([filtered[s][w]["after"] * h for s, h in zip(seeds, had, strict=True)], 0)
    before = np.mean([filtered[s][w]["before"] * h for s, h in zip(seeds, had, strict=True)], 0)
    reached = np.mean([promoted[s][w] for s in seeds], axis=0)  # (users, items)
    return {
        "mf horror share left": over_units(len(after), lambda r: after[r].sum() / before[r].sum()),
        "mf promotion reach": over_units(len(reached),
                                         lambda r: np.nanmean(np.nanmean(reached[r], axis=0))),
    }  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
