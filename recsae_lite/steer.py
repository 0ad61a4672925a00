"""Steering sweeps: what pushing a recommender along SAE features or directions buys and costs
(chapter 5). The edits (`interventions`) are swept over strengths and scored with
`train.evaluate`, a moderate strength is chosen on validation users, and each genre gets its
directions: an SAE feature chosen without labels, a linear probe and the genre's centroid.
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

__all__ = ["sweep", "compare", "moderate", "genre_directions"]


def sweep(model: Recommender, split: Split, rows: np.ndarray, edits: dict[float, Edit],
          dataset: Dataset, share_of: np.ndarray) -> pd.DataFrame:  # fmt: skip
    """Metrics@10 on the split's `rows` (test targets) for each strength's edit: share (of the
    lists inside `share_of`), ndcg, hr, coverage, diversity, popularity. The users' hidden states
    are computed once."""
    spliced, out = Spliced(model, cache=True), []
    for strength, edit in edits.items():
        spliced.edit = edit
        m = evaluate(spliced, split, "test", dataset=dataset, share_of=share_of, rows=rows)
        out.append({"strength": strength, **{k.removesuffix("@10"): v for k, v in m.items()}})
    return pd.DataFrame(out)


def compare(model: Recommender, split: Split, dataset: Dataset,
            directions: dict[tuple[str, str], Tensor], strengths: list[float], unit: float,
            users: dict[str, np.ndarray]) -> pd.DataFrame:  # fmt: skip
    """Steering sweeps: for each (method, genre) direction (unit norm), each strength s (the
    added vector is s * unit * direction), and each named set of users: metrics@10, with the share
    of the lists in that genre. One row per (method, genre, users, strength)."""
    tables = []
    for (method, genre), direction in directions.items():
        share_of = dataset.genres[:, dataset.genre_names.index(genre)]
        edits = {s: direction_edit(direction, s * unit) for s in strengths}
        for name, rows in users.items():
            table = sweep(model, split, rows, edits, dataset, share_of)
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
def genre_directions(model, sae, split, dataset, x, items, genres, top=100, min_items=10):
    """Per genre: an SAE feature chosen without labels, the genre's best in the "predicted" view
    of chapter 4's score (the genres of the item the model ranks first), item features excluded;
    a linear probe (`probe_direction`) for "the next item has the genre"; and a reference that
    needs neither, the genre's centroid in the output space (the mean output embedding of its
    items less that of all), which raises its items most on average. x: (N, d) the states at
    every training position, items: (N,) the item each has read. Returns a table (genre, feature,
    score, cosine with probe) and the unit-norm directions {(method, genre): direction}, method
    "SAE", "probe" or "centroid"."""
    z = sparse_codes(sae, x)
    first = torch.cat([model.scores_from_hidden(c, None).argmax(1) for c in x.split(8_192)])
    scores = per_feature(interpret.genre_scores, z, dataset.genres[first.cpu().numpy()], top)
    spread = ~interpret.item_features(per_feature(interpret.top_items, z, items, top), min_items)
    following = next_items(split, model.max_len)
    emb = model.item_embeddings().detach()
    rows, directions = [], {}
    for genre in genres:
        g = dataset.genre_names.index(genre)
        feature = int(np.nanargmax(np.where(spread, scores[:, g], np.nan)))
        with torch.enable_grad():
            probe = interpret.probe_direction(x, torch.as_tensor(dataset.genres[following, g]))
        directions[("SAE", genre)] = feature_direction(sae, feature)
        directions[("probe", genre)] = probe
        centroid = emb[torch.as_tensor(dataset.genres[:, g], device=emb.device)].mean(0)
        directions[("centroid", genre)] = F.normalize(centroid - emb.mean(0), dim=0)
        cosine = float(directions[("SAE", genre)] @ probe)
        rows.append({"genre": genre, "feature": feature, "score": scores[feature, g],
                     "cosine with probe": cosine})  # fmt: skip
    return pd.DataFrame(rows), directions
