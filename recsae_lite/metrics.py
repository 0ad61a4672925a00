"""Ranking metrics: full ranking over every item, the items a user has seen masked (chapter 2).

    scores = mask_seen(model_scores, history, pad=n_items)   # (B, n_items)
    metrics = RankingMetrics(k=(10, 20), n_items=n_items, genres=genres, popularity=popularity)
    metrics.add(scores, targets)                              # once per batch
    metrics.result()  # {"ndcg@10": ..., "ndcg@20": ..., "hr@10": ..., ...}

A relevant item's 0-based rank is the number of other items scored at least as high (ties count
against it). Everything runs in torch on the scores' device: evaluation on a GPU never copies the
(B, n_items) scores to the host. Also here: how well an SAE fits (`sae_metrics`, chapter 3), and
how far two top lists agree (chapter 6): the book's RBO and Kendall tau beside paper B's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "mask_seen", "target_ranks", "top_k", "RankingMetrics", "sae_metrics", "direction_recovery",
    "rbo_extrapolated", "rbo_truncated", "kendall_tau", "kendall_tau_union",
]  # fmt: skip


def _check_scores(scores: Tensor, n_items: int | None = None) -> None:
    if scores.ndim != 2 or (n_items is not None and scores.shape[1] != n_items):
        want = "(B, n_items)" if n_items is None else f"(B, {n_items}), one column per item"
        raise ValueError(f"scores has shape {tuple(scores.shape)}; expected {want}")


def _check_codes(name: str, codes: Tensor, shape: tuple[int, ...]) -> None:
    if codes.shape != shape or codes.dtype.is_floating_point:
        raise ValueError(
            f"{name} is a {codes.dtype} tensor of shape {tuple(codes.shape)}; expected integer "
            f"item codes of shape {shape}"
        )


def mask_seen(scores: Tensor, history: Tensor, pad: int) -> Tensor:
    """A copy of scores (B, n_items) with every item in the row's history (B, L) set to -inf.

    Entries equal to `pad` are padding, wherever they sit (the book pads on the left with n_items).
    """
    _check_scores(scores)
    B, n_items = scores.shape
    _check_codes("history", history, (B, history.shape[-1]))
    is_pad = history == pad  # (B, L)
    if (~is_pad & ((history < 0) | (history >= n_items))).any():
        raise ValueError(
            f"history holds item codes outside 0..{n_items - 1} that are not the padding "
            f"value {pad}; pass the pad the batches were built with"
        )
    # scatter into one spare column that padding can hit, then drop it
    index = history.masked_fill(is_pad, n_items).long()  # (B, L)
    masked = torch.cat([scores, scores.new_zeros(B, 1)], dim=1)  # (B, n_items + 1)
    masked.scatter_(1, index, float("-inf"))
    return masked[:, :n_items]


def target_ranks(scores: Tensor, targets: Tensor) -> Tensor:
    """(B,) long: the 0-based rank of each target, the number of other items scored at least as
    high.

    Ties count against the target: a target tied with others ranks below all of them. So a model
    that gives every item the same score (a collapsed one) ranks every target last, never first.
    Raises when a target's score is -inf (it is among the masked history items) or NaN.
    """
    _check_scores(scores)
    B, n_items = scores.shape
    _check_codes("targets", targets, (B,))
    in_range = (targets >= 0) & (targets < n_items)
    target_scores = scores.gather(1, targets.clamp(0, n_items - 1).long()[:, None])  # (B, 1)
    bad = ~in_range | torch.isneginf(target_scores[:, 0]) | torch.isnan(target_scores[:, 0])
    # one host sync for all three checks; the messages are worked out only when one fails
    if bad.any():
        if not in_range.all():
            raise ValueError(f"targets hold item codes outside 0..{n_items - 1}")
        if torch.isnan(target_scores).any():
            raise ValueError("a target's score is NaN: check the model for NaN outputs")
        raise ValueError(
            "a target is among the masked history items (its score is -inf): the target must not "
            "be part of the history the scores were masked with"
        )
    return relevant_ranks(scores, target_scores)[:, 0]


def relevant_ranks(scores: Tensor, relevant_scores: Tensor, chunk: int = 16) -> Tensor:
    """(B, T) long: for each of T scores per row, the number of the row's scores at least as high,
    less one (the item itself): its 0-based rank with ties counted against it. Compared in
    chunks of T, so that a (B, chunk, n_items) comparison is the most that exists at once."""
    parts = [
        (scores[:, None, :] >= part[:, :, None]).sum(-1) - 1  # (B, chunk)
        for part in relevant_scores.split(chunk, dim=1)
    ]
    return torch.cat(parts, dim=1)


def top_k(scores: Tensor, k: int) -> Tensor:
    """(B, k) item codes of the k highest scores of each row, best first (ties in any order)."""
    _check_scores(scores)
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(f"k is {k}; it must be between 1 and n_items ({scores.shape[1]})")
    return scores.topk(k, dim=1).indices


PER_USER = ("ndcg", "hr", "recall", "mrr")


@dataclass
class RankingMetrics:
    """One accumulator for a whole evaluation, fed batch by batch with `add`, read with `result`
    (means over users) or `per_user` (one row per user, for confidence intervals).

    Targets are one item per user (leave-one-out) or a set per user (the user split: a share of
    each test user's items held out). With T relevant items, at cut-off K: NDCG = DCG / the ideal
    DCG of min(K, T) hits; recall = hits / min(K, T); HR = any hit; MRR = 1 / (rank of the first
    hit + 1). With one target per user, recall equals HR. `k` is one cut-off or several, e.g.
    (10, 20). result() keys are "name@K": ndcg, hr, recall, mrr and coverage, and diversity,
    popularity and share when genres, popularity and share_of are given.
    """

    k: int | tuple[int, ...]  # the cut-off(s) K
    n_items: int  # columns of the scores
    genres: Tensor | None = None  # (n_items, n_genres) multi-hot, bool or float: for diversity
    popularity: Tensor | None = None  # (n_items,) interaction counts: for mean popularity
    share_of: Tensor | None = None  # (n_items,) bool, a set of items (a genre): "share@K" is the
    #                                 mean fraction of a top-K list inside it
    ks: tuple[int, ...] = field(init=False)  # k as a sorted tuple
    # per batch, name -> (B, n_ks) per-user values; and the items in any top-K list, (n_ks, n_items)
    _values: dict[str, list[Tensor]] = field(init=False, default_factory=dict, repr=False)
    _covered: Tensor | None = field(init=False, default=None, repr=False)

    def __post_init__(self):
        self.ks = tuple(sorted({self.k} if isinstance(self.k, int) else set(self.k)))
        if not self.ks or not 1 <= self.ks[0] <= self.ks[-1] <= self.n_items:
            raise ValueError(
                f"k is {self.k!r}; each K must be between 1 and n_items ({self.n_items})"
            )
        for name, ndim in (("genres", 2), ("popularity", 1), ("share_of", 1)):
            value = getattr(self, name)
            if value is None:
                continue
            value = torch.as_tensor(value, dtype=torch.float32)
            if value.ndim != ndim or value.shape[0] != self.n_items:
                want = "(n_items, n_genres)" if ndim == 2 else "(n_items,)"
                raise ValueError(
                    f"{name} has shape {tuple(value.shape)}; expected {want} with n_items = "
                    f"{self.n_items}"
                )
            setattr(self, name, value)

    def add(self, scores: Tensor, targets: Tensor) -> None:
        """Add a batch: scores (B, n_items), already masked with mask_seen; targets (B,) item
        codes, one per user, or (B, n_items) bool, each user's relevant items."""
        _check_scores(scores, self.n_items)
        device = scores.device
        if self._covered is None:
            self._covered = torch.zeros(len(self.ks), self.n_items, dtype=torch.bool, device=device)
        if targets.ndim == 1:
            ranks, valid = target_ranks(scores, targets)[:, None], None  # (B, 1)
        else:
            relevant = targets.to(device=device, dtype=torch.bool)
            n_max = max(int(relevant.sum(1).max()), 1)
            flags, codes = relevant.float().topk(n_max, dim=1)  # relevant items first
            ranks, valid = relevant_ranks(scores, scores.gather(1, codes)), flags > 0
        n_relevant = ranks.new_ones(len(ranks)) if valid is None else valid.sum(1)  # (B,)
        top = top_k(scores, self.ks[-1])  # (B, K_max)
        dissimilarity = None if self.genres is None else self._dissimilarity(top)
        out = {name: [] for name in self._names()}
        for i, k in enumerate(self.ks):
            hit = ranks < k if valid is None else (ranks < k) & valid  # (B, T)
            # the ideal DCG of min(k, T) hits, summed without cumsum (not deterministic on CUDA)
            places = torch.arange(k, device=device)
            ideal = ((places < n_relevant.clamp(min=1)[:, None]) / torch.log2(places + 2.0)).sum(1)
            first = torch.where(hit, ranks, k).min(1).values  # (B,) k when nothing hits
            out["ndcg"].append((hit / torch.log2(ranks + 2.0)).sum(1) / ideal)
            out["hr"].append(hit.any(1).float())
            out["recall"].append(hit.sum(1) / n_relevant.clamp(1, k))
            out["mrr"].append(torch.where(first < k, 1 / (first + 1.0), 0.0))
            self._covered[i, top[:, :k].flatten()] = True
            if dissimilarity is not None:
                # mean over the k (k - 1) / 2 pairs; NaN for k = 1, which has no pairs
                pair_sums = dissimilarity[:, :k, :k].sum(dim=(1, 2))  # (B,)
                out["diversity"].append(pair_sums / (k * (k - 1) / 2))
            for name in ("popularity", "share_of"):
                if getattr(self, name) is not None:
                    values = getattr(self, name).to(device)[top[:, :k]]
                    out[name.removesuffix("_of")].append(values.mean(dim=1))
        for name, per_k in out.items():
            self._values.setdefault(name, []).append(torch.stack(per_k, dim=1))  # (B, n_ks)

    def _names(self) -> list[str]:
        optional = {"diversity": self.genres, "popularity": self.popularity,
                    "share": self.share_of}  # fmt: skip
        return [*PER_USER, *(name for name, v in optional.items() if v is not None)]

    def _dissimilarity(self, top: Tensor) -> Tensor:
        """(B, K, K): 1 - Jaccard similarity of the genre sets of items i and j, kept for i < j.

        Two items that both have no genres count as similarity 0 (dissimilarity 1): nothing is
        known to make them alike.
        """
        G = self.genres.to(top.device)[top]  # (B, K, n_genres)
        inter = G @ G.transpose(1, 2)  # (B, K, K) genres in common
        sizes = G.sum(dim=2)  # (B, K)
        union = sizes[:, :, None] + sizes[:, None, :] - inter  # (B, K, K)
        jaccard = inter / union.clamp(min=1)  # an empty union has inter = 0, so similarity 0
        return (1 - jaccard).triu(diagonal=1)

    def per_user(self) -> dict[str, np.ndarray]:
        """{"name@K": (n_users,)} each user's value, in the order the users were added."""
        if self._covered is None:
            raise ValueError("no users were added: call add(scores, targets) before reading")
        return {
            f"{name}@{k}": torch.cat(batches)[:, i].cpu().numpy()
            for name, batches in self._values.items()
            for i, k in enumerate(self.ks)
        }

    def result(self) -> dict[str, float]:
        """The metrics over every user added so far, as {"name@K": value}."""
        values = {name: float(v.mean()) for name, v in self.per_user().items()}
        coverage = (self._covered.sum(dim=1) / self.n_items).tolist()
        return {**values, **{f"coverage@{k}": c for k, c in zip(self.ks, coverage, strict=True)}}


# ------------------------------------------------------------------------------------------------
# SAE metrics (chapter 3)


@torch.no_grad()
def sae_metrics(sae, x: Tensor, batch_size: int = 8192) -> dict:
    """How well an SAE fits hidden states x (N, d_in), measured on unscaled data.

    fvu: fraction of variance unexplained, sum ||x - x_hat||^2 / sum ||x - mean(x)||^2 over the
        whole set (a ratio of sums, about the mean: 1 for the mean predictor, 0 for a perfect fit);
    l0: mean number of active features per sample; dead_fraction: features that never fire on x;
    density: (d_sae,) the share of samples on which each feature fires."""
    sae.eval()
    mean = x.mean(0)
    error = total = l0 = 0.0
    fires = torch.zeros(sae.config.d_sae, device=x.device)
    for chunk in x.split(batch_size):
        z = sae.encode(chunk)
        error += (sae.decode(z) - chunk).pow(2).sum()
        total += (chunk - mean).pow(2).sum()
        active = z > 0
        l0 += active.sum()
        fires += active.sum(0)
    density = fires / len(x)
    return {
        "fvu": (error / total).item(),
        "l0": (l0 / len(x)).item(),
        "dead_fraction": (density == 0).float().mean().item(),
        "density": density.cpu(),
    }


def direction_recovery(directions: Tensor, W_dec: Tensor) -> Tensor:
    """(n_directions,) for each planted direction, its best cosine with a decoder row."""
    cos = F.normalize(directions, dim=-1) @ F.normalize(W_dec.detach(), dim=-1).T
    return cos.max(-1).values


# ------------------------------------------------------------------------------------------------
# rank agreement of two top lists (chapter 6): ours, and paper B's as its code computes them


def _overlaps(a: list, b: list) -> np.ndarray:
    """(k,) X_d, d = 1..k (the longer length): how many items the first d of a and of b share."""
    return np.array([len(set(a[:d]) & set(b[:d])) for d in range(1, max(len(a), len(b)) + 1)])


def rbo_extrapolated(a, b, p: float = 0.9) -> float:
    """Rank-biased overlap of two top lists of the same length k, extrapolated (Webber et al.
    2010, eq. 32): X_k / k p^k + (1 - p) / p sum_d p^d X_d / d, 1 for identical lists, 0 for
    disjoint ones. p weighs the top: with p = 0.9 the first 10 ranks carry about 86% of the
    weight. The book's fidelity uses this form."""
    a, b = list(a), list(b)
    if len(a) != len(b) or not a:
        raise ValueError(f"rbo needs two non-empty lists of one length: got {len(a)}, {len(b)}")
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    x, d = _overlaps(a, b), np.arange(1, len(a) + 1)
    return float(x[-1] / len(a) * p ** len(a) + (1 - p) / p * (p**d * x / d).sum())


def rbo_truncated(a, b, p: float = 0.9) -> float:
    """Paper B's RBO (DeltaLabTLV/Monosemanticity4Rec): (1 - p) sum_d p^(d - 1) X_d / d over
    depths d up to the longer list's length k, without extrapolation: identical lists score
    1 - p^k (.958 at k = 30, p = .9), disjoint ones 0."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    x = _overlaps(list(a), list(b))
    return float((1 - p) * (p ** np.arange(len(x)) * x / np.arange(1, len(x) + 1)).sum())


def kendall_tau(x, y) -> float:
    """Kendall's tau-b between two score vectors over the same items (ties handled): 1 when they
    order the items alike, -1 when reversed. The book's fidelity compares the original top-k
    items' scores before and after."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"kendall_tau needs 1-d arrays of one length >= 2: {x.shape} {y.shape}")
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    upper = np.triu_indices(len(x), 1)
    dx, dy = dx[upper], dy[upper]
    denominator = np.sqrt((dx != 0).sum() * (dy != 0).sum())
    return float((dx * dy).sum() / denominator) if denominator else float("nan")


def kendall_tau_union(a, b) -> float:
    """Paper B's Kendall tau of two top lists (DeltaLabTLV/Monosemanticity4Rec): over the union
    of their items, each item's rank in each list (1 = first), an item missing from a list
    ranked just below its end (len + 1, tied with the other missing ones); then tau-b of the two
    rank vectors, as scipy's `kendalltau` computes it."""
    a, b = list(a), list(b)
    rank_a = {item: r for r, item in enumerate(a, 1)}
    rank_b = {item: r for r, item in enumerate(b, 1)}
    union = list(dict.fromkeys(a + b))
    return kendall_tau([rank_a.get(i, len(a) + 1) for i in union],
                       [rank_b.get(i, len(b) + 1) for i in union])  # fmt: skip
