"""What a unit means: its association with item genres, auto-labels, and a feature's card (ch. 4).

A *unit* is anything that gives each hidden state a number: an SAE feature, a raw dimension of the
model's hidden state (each sign taken as a unit of its own), a direction of a random rotation.

The association score of unit u with genre g is the **precision above chance** of the unit's
top-activating positions: among the `top` positions where u is largest (and positive), the share
p whose item has genre g, against the share b of all positions whose item has it,

    score = (p - b) / (1 - b)        0: no better than chance, 1: every top position is g.

We chose it over an AUC because an SAE feature is silent on most positions by design: an AUC
counts those silent positions against it, while a precision asks what a unit means *when it fires*,
which is the question a reader asks of a feature. Subtracting the base rate keeps frequent genres
(Drama is ~40% of ML-100K's positions) from scoring well by default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from .data import Dataset, Split


def signed(x: Tensor) -> Tensor:
    """(N, 2d): each raw dimension as two units, its positive and its negative side."""
    return torch.cat([x, -x], dim=1)


def random_rotation(d: int, seed: int = 0) -> Tensor:
    """(d, d) a random orthogonal matrix: a basis with no reason to align with anything."""
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=g))
    return q * r.diagonal().sign()  # the sign fix makes the draw uniform over rotations


@torch.no_grad()
def top_positions(acts: Tensor, top: int = 100) -> tuple[Tensor, Tensor]:
    """For each unit (column of acts (N, U)): its `top` largest positions (U, top) and how many of
    them are positive (U,)."""
    values, index = acts.topk(min(top, len(acts)), dim=0)  # (top, U)
    return index.T, (values > 0).sum(0)


def genre_scores(
    acts: Tensor, labels: np.ndarray, top: int = 100, min_active: int = 20
) -> np.ndarray:
    """(U, G) precision above chance (see the module doc) of each unit for each genre.

    acts: (N, U) activations at N positions; labels: (N, G) bool, the genres of each position's
    item. Units positive on fewer than `min_active` positions get NaN (too rare to judge)."""
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.float32)
    if labels.shape[0] != acts.shape[0]:
        raise ValueError(f"{acts.shape[0]} positions of activations but {labels.shape[0]} labels")
    index, active = top_positions(acts.cpu(), top)
    base = labels.mean(0)  # (G,)
    hits = labels[index]  # (U, top, G)
    # only the positive ones of a unit's top positions count
    kept = (torch.arange(index.shape[1])[None, :] < active[:, None]).float()  # (U, top)
    precision = (hits * kept[..., None]).sum(1) / active.clamp_min(1)[:, None]
    score = (precision - base) / (1 - base).clamp_min(1e-9)
    score[active < min_active] = float("nan")
    return score.numpy()


def top_items(acts: Tensor, items: np.ndarray, top: int = 100) -> list[np.ndarray]:
    """Per unit, the items (codes) at its top positive positions; items: (N,) per position."""
    index, active = top_positions(acts, top)
    return [items[p[:n]] for p, n in zip(index.numpy(), active.numpy(), strict=True)]


def best_genres(scores: np.ndarray, genre_names: list[str]) -> pd.DataFrame:
    """Per unit: its best genre and score, and the second, for auto-labels."""
    filled = np.nan_to_num(scores, nan=-np.inf)
    order = np.argsort(-filled, axis=1)
    rows = np.arange(len(scores))
    first, second = order[:, 0], order[:, 1]
    return pd.DataFrame(
        {
            "best genre": [genre_names[g] for g in first],
            "score": scores[rows, first],
            "second genre": [genre_names[g] for g in second],
            "second score": scores[rows, second],
        }
    )


def best_score(scores: np.ndarray) -> np.ndarray:
    """(U,) each unit's best genre score (-inf for a unit with none)."""
    return np.nanmax(np.where(np.isnan(scores), -np.inf, scores), axis=1)


def monosemanticity(
    scores: dict, tops: dict, threshold: float = 0.5, min_items: int = 10
) -> pd.DataFrame:
    """How many units are about one genre. scores: (kind, view) -> (U, G) genre scores; tops:
    kind -> each unit's top items (`top_items`). A unit with fewer than `min_items` distinct items
    among its top positions is an *item feature* and is not scored; a scored unit passes when its
    best score reaches `threshold`. One row per (kind, view)."""
    rows = []
    for (kind, view), s in scores.items():
        spread = np.array([len(set(top)) >= min_items for top in tops[kind]])
        best = best_score(s)
        passing = (best >= threshold) & spread
        rows.append(
            {"units": kind, "view": view, "n units": len(s),
             "item features": int((~spread).sum()), "scored units": int(spread.sum()),
             "pass": int(passing.sum()), "pass share": passing.sum() / max(spread.sum(), 1),
             "median best score": float(np.median(best[spread])) if spread.any() else np.nan}
        )  # fmt: skip
    return pd.DataFrame(rows)


def position_index(split: Split, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """For the positions `collect(positions="all")` returns, in its order: the split row of each
    and its index in that row's training sequence."""
    lengths = np.array([min(len(s), max_len) for s in split.train])
    rows = np.repeat(np.arange(len(split.train)), lengths)
    starts = np.array([len(s) for s in split.train]) - lengths
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return rows, starts[rows] + within


def next_items(split: Split, max_len: int) -> np.ndarray:
    """For the positions `collect(positions="all")` returns: the item that came next (the
    following one in the training history, or the validation item after the last)."""
    rows, within = position_index(split, max_len)
    lengths = np.array([len(s) for s in split.train])
    nxt = split.valid[rows].copy()
    inside = within + 1 < lengths[rows]
    nxt[inside] = [split.train[r][t + 1] for r, t in zip(rows[inside], within[inside], strict=True)]
    return nxt


def label(row: pd.Series, threshold: float) -> str:
    """An auto-label: 'Horror (0.83)', 'Horror+Thriller' when the second genre is close, or
    'mixed' below the threshold."""
    if not row["score"] >= threshold:
        return "mixed"
    if row["second score"] >= 0.8 * row["score"]:
        return f"{row['best genre']}+{row['second genre']} ({row['score']:.2f})"
    return f"{row['best genre']} ({row['score']:.2f})"


@dataclass
class FeatureCard:
    """What a feature dashboard shows (see `viz.feature_dashboard`)."""

    feature: int
    title: str  # its auto-label
    activations: np.ndarray  # its positive activations over the positions
    firing_rate: float  # share of positions where it is positive
    top_contexts: pd.DataFrame  # the top-activating positions: activation, recent items, item
    genre_lift: pd.Series  # per genre: share among top positions / share among all positions
    boosted: pd.DataFrame  # items whose scores the decoder direction raises most, and lowers most
    popularity_deciles: np.ndarray  # share of its top positions' items per popularity decile


def feature_card(
    feature: int,
    acts: Tensor,
    items: np.ndarray,
    context: tuple[np.ndarray, np.ndarray],
    split: Split,
    dataset: Dataset,
    item_effect: np.ndarray,
    title: str = "",
    top: int = 100,
    show: int = 8,
) -> FeatureCard:
    """The dashboard of one feature.

    acts: (N,) its activations at N positions; items: (N,) the item at each position; context: the
    split row and sequence index of each position (`position_index`); item_effect: (n_items,) the
    change of every item's score when the feature's decoder direction is added to a state."""
    acts = acts.detach().cpu()
    order = acts.topk(min(top, len(acts))).indices.numpy()
    order = order[acts[order].numpy() > 0]
    names = np.asarray(dataset.item_titles)
    genres = dataset.genres

    def genre_text(item: int) -> str:
        return ", ".join(n for n, on in zip(dataset.genre_names, genres[item], strict=True) if on)

    rows, within = context
    contexts = []
    for p in order[:show]:
        sequence = split.train[rows[p]][: within[p] + 1]
        recent = " → ".join(names[i].split(" (")[0] for i in sequence[-4:-1])
        contexts.append(
            {
                "activation": round(float(acts[p]), 3),
                "read before": recent,
                "item": names[items[p]],
                "genres": genre_text(items[p]),
            }
        )
    base = genres[items].mean(0)
    top_share = genres[items[order]].mean(0) if len(order) else np.zeros(len(base))
    lift = pd.Series(top_share / np.maximum(base, 1e-9), index=dataset.genre_names)
    item_effect = np.asarray(item_effect, dtype=np.float64)  # float32 would print 0.910000026
    ranked = np.argsort(-item_effect)
    boosted = pd.DataFrame(
        {
            "boosted": names[ranked[:show]],
            "by": item_effect[ranked[:show]].round(2),
            "suppressed": names[ranked[::-1][:show]],
            "by ": item_effect[ranked[::-1][:show]].round(2),
        }
    )
    popularity = dataset.popularity
    ranks = np.argsort(np.argsort(-popularity))  # 0 = most popular
    deciles = ranks * 10 // len(popularity)
    counts = np.bincount(deciles[items[order]], minlength=10) / max(len(order), 1)
    positive = acts[acts > 0].numpy()
    return FeatureCard(
        feature=feature,
        title=title or f"feature {feature}",
        activations=positive,
        firing_rate=len(positive) / len(acts),
        top_contexts=pd.DataFrame(contexts),
        genre_lift=lift,
        boosted=boosted,
        popularity_deciles=counts,
    )
