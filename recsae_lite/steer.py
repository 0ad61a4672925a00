"""Steering sweeps (chapter 5): edits (`interventions`) swept over strengths and scored with
`train.evaluate`, a moderate strength chosen on validation users, and each genre's directions:
SAE features chosen by what they fire on or by what they do to the output, a probe, a centroid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from . import interpret
from .data import Dataset, Split
from .features import next_items, per_feature, sparse_codes
from .interventions import Edit, Spliced, direction_edit, feature_direction
from .models.base import Recommender
from .train import evaluate

__all__ = ["sweep", "compare", "moderate", "output_effect", "assign_features", "genre_directions"]


def sweep(model: Recommender, split: Split, rows: np.ndarray, edits: dict[float, Edit],
          dataset: Dataset, share_of: np.ndarray) -> pd.DataFrame:  # fmt: skip
    """Metrics@10 on the split's `rows` (test targets) for each strength's edit: share (of the
    lists inside `share_of`), ndcg, hr, coverage, diversity, popularity. The users' hidden states
    are computed once (or taken from `model`'s cache, when it is a caching `Spliced`)."""
    cached = isinstance(model, Spliced) and model.cached is not None
    spliced, out = (model if cached else Spliced(model, cache=True)), []
    for strength, edit in edits.items():
        spliced.edit = edit
        m = evaluate(spliced, split, "test", dataset=dataset, share_of=share_of, rows=rows)
        out.append({"strength": strength, **{k.removesuffix("@10"): v for k, v in m.items()}})
    return pd.DataFrame(out)


def compare(model: Recommender, split: Split, dataset: Dataset,
            directions: dict[tuple[str, str], Tensor], strengths: list[float], unit: float,
            users: dict[str, np.ndarray]) -> pd.DataFrame:  # fmt: skip
    """Steering sweeps: for each (method, genre) direction (unit norm), each strength s (the
    added vector is s * unit * direction), and each named set of users: metrics@10, with the
    share of the lists in that genre. One row per (method, genre, users, strength)."""
    tables, spliced = [], Spliced(model, cache=True)  # each user's state computed once
    for (method, genre), direction in directions.items():
        share_of = dataset.genres[:, dataset.genre_names.index(genre)]
        edits = {s: direction_edit(direction, s * unit) for s in strengths}
        for name, rows in users.items():
            table = sweep(spliced, split, rows, edits, dataset, share_of)
            tables.append(table.assign(method=method, genre=genre, users=name))
    return pd.concat(tables, ignore_index=True)


def moderate(table: pd.DataFrame, max_drop: float = 0.1, choose_on: str = "validation"):
    """Per (method, genre): the largest strength whose NDCG@10 falls by at most `max_drop` (a
    share of the unsteered value) on the `choose_on` users, and the metrics at that strength on
    every set of users, next to the unsteered ones (relative changes of NDCG, coverage and
    diversity; the share as a multiple)."""
    out = []
    for (method, genre), rows in table.groupby(["method", "genre"], sort=False):
        chosen = rows[rows["users"] == choose_on].set_index("strength")
        base = chosen.loc[0.0, "ndcg"]
        fine = chosen.index[chosen["ndcg"] >= (1 - max_drop) * base]
        strength = float(fine.max())
        for users, group in rows.groupby("users", sort=False):
            at = group.set_index("strength")
            out.append(
                {"method": method, "genre": genre, "users": users, "strength": strength,
                 "share before": at.loc[0.0, "share"], "share after": at.loc[strength, "share"],
                 "ndcg before": at.loc[0.0, "ndcg"], "ndcg after": at.loc[strength, "ndcg"],
                 **{f"{m} change": at.loc[strength, m] / max(at.loc[0.0, m], 1e-9) - 1
                    for m in ("coverage", "diversity") if m in at}}
            )  # fmt: skip
    result = pd.DataFrame(out)
    result["share x"] = result["share after"] / result["share before"].clip(lower=1e-9)
    result["ndcg change"] = result["ndcg after"] / result["ndcg before"].clip(lower=1e-9) - 1
    return result


@torch.no_grad()
def output_effect(model, directions: Tensor, concepts: np.ndarray, batch=None, top: int = 10,
                  strength: float = 1.0) -> np.ndarray:  # fmt: skip
    """(n_directions, C): each concept's share among the `top` items whose scores a direction
    raises most, its effect being the mean over the states h of `batch` of scores(h + strength *
    d) - scores(h) (`scores_from_hidden`; for a Spliced model at an earlier layer, through its
    remaining layers). batch=None: one state h = 0, exact for a head linear in h (SASRec's last
    layer, MF, ELSA), where the effect is strength * d E^T whatever h. concepts: (n_items, C)."""
    if batch is None:  # one state, h = 0: every direction at once
        zero = torch.zeros(1, directions.shape[1], device=directions.device)
        base = model.scores_from_hidden(zero, None)
        effect = model.scores_from_hidden(zero + strength * directions, None) - base
    else:
        h = model.hidden(batch)  # (B, d)
        base = model.scores_from_hidden(h, batch)
        effect = torch.stack([(model.scores_from_hidden(h + strength * d, batch) - base).mean(0)
                              for d in directions])  # fmt: skip
    raised = effect.topk(top, dim=1).indices.cpu().numpy()  # (n_directions, top)
    return np.asarray(concepts, dtype=float)[raised].mean(1)


def assign_features(shares: np.ndarray) -> np.ndarray:
    """(C,) one feature per concept, none serving two: in the order of the largest effect share
    (`output_effect`, (F, C)), each concept takes its best feature no other concept holds."""
    chosen = np.full(shares.shape[1], -1)
    for flat in np.argsort(-shares, axis=None, kind="stable"):
        feature, concept = np.unravel_index(flat, shares.shape)
        if chosen[concept] < 0 and feature not in chosen:
            chosen[concept] = feature
    return chosen


@torch.no_grad()
def genre_directions(model, sae, split, dataset, x, items, genres, top=100, min_items=10,
                     effect_top=10, spread=5):  # fmt: skip
    """Per genre, unit-norm directions {(method, genre): direction} and a table of the choices.
    x: (N, d) the states at every training position, items: (N,) the item each has read.

    - "SAE (association)": paper A's way, by what a feature fires on: the genre's best feature in
      chapter 4's "predicted" view (the genres of the item the model ranks first at the
      feature's top positions), item features excluded;
    - "SAE (effect)": by what a feature does: its decoder direction's share of the genre among
      the `effect_top` items it raises most (`output_effect`), one feature per genre, none
      serving two (`assign_features`);
    - "SAE (spread)": the sum of the genre's `spread` features of largest effect share (paper C);
    - "probe": a linear probe (`probe_direction`) for "the next item has the genre";
    - "centroid": the genre's mean output embedding less that of all items, which raises its
      items most on average."""
    z = sparse_codes(sae, x)
    first = torch.cat([model.scores_from_hidden(c, None).argmax(1) for c in x.split(8_192)])
    scores = per_feature(interpret.genre_scores, z, dataset.genres[first.cpu().numpy()], top)
    spread_out = ~interpret.item_features(
        per_feature(interpret.top_items, z, items, top), min_items
    )
    g_of = [dataset.genre_names.index(genre) for genre in genres]
    decoder = torch.stack([feature_direction(sae, j) for j in range(sae.config.d_sae)])
    shares = output_effect(model, decoder, dataset.genres[:, g_of], top=effect_top)
    by_effect = assign_features(shares)
    following = next_items(split, model.max_len)
    emb = model.item_embeddings().detach()
    rows, directions = [], {}
    for i, (genre, g) in enumerate(zip(genres, g_of, strict=True)):
        feature = int(np.nanargmax(np.where(spread_out, scores[:, g], np.nan)))
        several = np.argsort(-shares[:, i], kind="stable")[:spread]
        with torch.enable_grad():
            probe = interpret.probe_direction(x, torch.as_tensor(dataset.genres[following, g]))
        centroid = emb[torch.as_tensor(dataset.genres[:, g], device=emb.device)].mean(0)
        directions.update({
            ("SAE (association)", genre): decoder[feature],
            ("SAE (effect)", genre): decoder[by_effect[i]],
            ("SAE (spread)", genre): F.normalize(decoder[torch.as_tensor(several)].sum(0), dim=0),
            ("probe", genre): probe,
            ("centroid", genre): F.normalize(centroid - emb.mean(0), dim=0),
        })  # fmt: skip
        rows.append({"genre": genre, "association feature": feature,
                     "association score": scores[feature, g],
                     "association effect share": shares[feature, i],
                     "effect feature": int(by_effect[i]), "effect share": shares[by_effect[i], i],
                     "spread features": several.tolist()})  # fmt: skip
    return pd.DataFrame(rows), directions
