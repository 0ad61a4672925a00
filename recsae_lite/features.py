"""Chapter 4's feature card (`feature_card`: what `viz.feature_dashboard` shows of a feature) and
where each position `activations.collect(positions="all")` returns comes from (`position_index`,
`next_items`). The measures of what a feature means are in `interpret`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from torch import Tensor

from .data import Dataset, Split

__all__ = ["position_index", "next_items", "FeatureCard", "feature_card"]


def position_index(split: Split, max_len: int | None) -> tuple[np.ndarray, np.ndarray]:
    """For the positions `collect(positions="all")` returns, in its order: the split row of each
    and its index in that row's training sequence."""
    lengths = np.array([min(len(s), max_len or len(s)) for s in split.train])
    rows = np.repeat(np.arange(len(split.train)), lengths)
    starts = np.array([len(s) for s in split.train]) - lengths
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return rows, starts[rows] + within


def next_items(split: Split, max_len: int | None) -> np.ndarray:
    """For the positions `collect(positions="all")` returns: the item that came next (the
    following one in the training history, or the validation item after the last)."""
    rows, within = position_index(split, max_len)
    lengths = np.array([len(s) for s in split.train])
    nxt = split.valid[rows].copy()
    inside = within + 1 < lengths[rows]
    nxt[inside] = [split.train[r][t + 1] for r, t in zip(rows[inside], within[inside], strict=True)]
    return nxt


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
