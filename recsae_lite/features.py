"""An SAE's codes at every position, and chapter 4's feature card (`feature_card`, what the
dashboards of `widgets.atlas` show) with where each position of `collect(positions="all")` comes
from (`position_index`, `next_items`). The measures of what a feature means are in `interpret`.

At ML-1M's scale (a million positions x 1,024 features) dense codes take 4 GB, on the device and
again on the host: `sparse_codes` keeps the active features only, and `per_feature` computes a
statistic of the features on dense blocks of a few of them at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from .data import Dataset, Split

__all__ = ["sparse_codes", "per_feature", "firing_counts", "position_index", "next_items",
           "FeatureCard", "feature_card"]  # fmt: skip


@torch.no_grad()
def sparse_codes(sae, x: Tensor, chunk: int = 8_192) -> Tensor:
    """(N, d_sae) the SAE's codes of states x, encoded `chunk` at a time, on the host and sparse
    (a torch COO tensor: the values and indices of the active features)."""
    return torch.cat([sae.encode(c).cpu().to_sparse() for c in x.split(chunk)]).coalesce()


def per_feature(statistic, codes: Tensor, *args, size: int = 2**26, **kwargs):
    """statistic(block, *args, **kwargs) on dense blocks (N, b) of consecutive features of codes
    (N, F), sparse or dense, of at most `size` entries (256 MB), joined along the features: for a
    statistic of each feature on its own (`interpret.genre_scores`, a maximum), the same as on
    the dense codes. It returns an array or tensor, features first, or a list, one per feature."""
    width, parts = max(1, size // max(len(codes), 1)), []
    if codes.is_sparse:
        codes = codes.coalesce()
        (rows, cols), values = codes.indices(), codes.values()
    for start in range(0, codes.shape[1], width):
        if codes.is_sparse:  # feature-major: a feature's values are contiguous, as topk wants
            block = torch.zeros(min(width, codes.shape[1] - start), len(codes), dtype=values.dtype)
            inside = (cols >= start) & (cols < start + width)
            block = block.index_put_((cols[inside] - start, rows[inside]), values[inside]).T
        else:
            block = codes[:, start : start + width]
        parts.append(statistic(block, *args, **kwargs))
    if isinstance(parts[0], list):
        return sum(parts, [])
    return torch.cat(parts) if isinstance(parts[0], Tensor) else np.concatenate(parts)


def firing_counts(codes: Tensor) -> Tensor:
    """(F,) on how many of the N samples each feature of codes (N, F), sparse or dense, fires."""
    if not codes.is_sparse:
        return (codes > 0).sum(0).cpu()
    codes = codes.coalesce()
    return torch.bincount(codes.indices()[1][codes.values() > 0], minlength=codes.shape[1])


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
    """What a feature dashboard shows (see `widgets.atlas`)."""

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
        contexts.append({"activation": round(float(acts[p]), 3), "read before": recent,
                         "item": names[items[p]], "genres": genre_text(items[p])})  # fmt: skip
    base = genres[items].mean(0)
    top_share = genres[items[order]].mean(0) if len(order) else np.zeros(len(base))
    lift = pd.Series(top_share / np.maximum(base, 1e-9), index=dataset.genre_names)
    item_effect = np.asarray(item_effect, dtype=np.float64)  # float32 would print 0.910000026
    ranked = np.argsort(-item_effect)
    up, down = ranked[:show], ranked[::-1][:show]
    boosted = pd.DataFrame({"boosted": names[up], "by": item_effect[up].round(2),
                            "suppressed": names[down],
                            "by ": item_effect[down].round(2)})  # fmt: skip
    popularity = dataset.popularity
    ranks = np.argsort(np.argsort(-popularity))  # 0 = most popular
    deciles = ranks * 10 // len(popularity)
    counts = np.bincount(deciles[items[order]], minlength=10) / max(len(order), 1)
    positive = acts[acts > 0].numpy()
    return FeatureCard(feature, title or f"feature {feature}", positive, len(positive) / len(acts),
                       pd.DataFrame(contexts), lift, boosted, counts)  # fmt: skip
