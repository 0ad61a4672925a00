"""Ranking metrics for the book's one protocol: leave-one-out, full ranking over every item, the
items a user has already seen masked (chapter 2, with the base models' evaluation).

    scores = mask_seen(model_scores, history, pad=n_items)   # (B, n_items)
    metrics = RankingMetrics(k=(10, 20), n_items=n_items, genres=genres, popularity=popularity)
    metrics.add(scores, targets)                              # once per batch
    metrics.result()  # {"ndcg@10": ..., "ndcg@20": ..., "hr@10": ..., ...}

Each user has one relevant item, the target, and its 0-based rank is the number of other items
scored at least as high (ties count against it). Everything runs in torch on the scores' device,
so evaluation on a GPU never copies the (B, n_items) scores to the host.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


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
            "be in the history passed to mask_seen"
        )
    return (scores >= target_scores).sum(dim=1) - 1  # - 1: the target itself


def top_k(scores: Tensor, k: int) -> Tensor:
    """(B, k) item codes of the k highest scores of each row, best first (ties in any order)."""
    _check_scores(scores)
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(f"k is {k}; it must be between 1 and n_items ({scores.shape[1]})")
    return scores.topk(k, dim=1).indices


@dataclass
class RankingMetrics:
    """One accumulator for a whole evaluation, fed batch by batch with `add`, read with `result`.

    `k` is one cut-off or several, e.g. (10, 20): the top lists are computed once, at the largest.
    result() keys are "name@K" for each K: ndcg, hr, mrr and coverage, and diversity, popularity
    and share when genres, popularity and share_of are given. Sums stay on the scores' device;
    only result() syncs.
    """

    k: int | tuple[int, ...]  # the cut-off(s) K
    n_items: int  # columns of the scores
    genres: Tensor | None = None  # (n_items, n_genres) multi-hot, bool or float: for diversity
    popularity: Tensor | None = None  # (n_items,) interaction counts: for mean popularity
    share_of: Tensor | None = None  # (n_items,) bool, a set of items (a genre): "share@K" is the
    #                                 mean fraction of a top-K list inside it
    ks: tuple[int, ...] = field(init=False)  # k as a sorted tuple
    _n_users: int = field(init=False, default=0, repr=False)
    # per-user sums, name -> (n_ks,), and the items in any top-K list, (n_ks, n_items) bool
    _sums: dict[str, Tensor] = field(init=False, default_factory=dict, repr=False)
    _covered: Tensor | None = field(init=False, default=None, repr=False)

    def __post_init__(self):
        self.ks = tuple(sorted({self.k} if isinstance(self.k, int) else set(self.k)))
        if not self.ks or not 1 <= self.ks[0] <= self.ks[-1] <= self.n_items:
            raise ValueError(
                f"k is {self.k!r}; each K must be between 1 and n_items ({self.n_items})"
            )
        if self.genres is not None:
            self.genres = torch.as_tensor(self.genres, dtype=torch.float32)
            if self.genres.ndim != 2 or self.genres.shape[0] != self.n_items:
                raise ValueError(
                    f"genres has shape {tuple(self.genres.shape)}; expected (n_items, n_genres) "
                    f"with n_items = {self.n_items}"
                )
        if self.popularity is not None:
            self.popularity = torch.as_tensor(self.popularity, dtype=torch.float32)
            if self.popularity.shape != (self.n_items,):
                raise ValueError(
                    f"popularity has shape {tuple(self.popularity.shape)}; expected "
                    f"({self.n_items},), one count per item"
                )

        if self.share_of is not None:
            self.share_of = torch.as_tensor(self.share_of, dtype=torch.float32)
            if self.share_of.shape != (self.n_items,):
                raise ValueError(
                    f"share_of has shape {tuple(self.share_of.shape)}; expected "
                    f"({self.n_items},), one flag per item"
                )

    def _start(self, device: torch.device) -> None:
        """Make the sums on the first batch's device, and move genres and popularity there."""
        names = ["ndcg", "hr", "mrr"]
        if self.genres is not None:
            self.genres = self.genres.to(device)
            names.append("diversity")
        if self.popularity is not None:
            self.popularity = self.popularity.to(device)
            names.append("popularity")
        if self.share_of is not None:
            self.share_of = self.share_of.to(device)
            names.append("share")
        self._sums = {name: torch.zeros(len(self.ks), device=device) for name in names}
        self._covered = torch.zeros(len(self.ks), self.n_items, dtype=torch.bool, device=device)

    def add(self, scores: Tensor, targets: Tensor) -> None:
        """Add a batch: scores (B, n_items), already masked with mask_seen; targets (B,) codes."""
        _check_scores(scores, self.n_items)
        if self._covered is None:
            self._start(scores.device)
        ranks = target_ranks(scores, targets)  # (B,)
        top = top_k(scores, self.ks[-1])  # (B, K_max)
        dissimilarity = None if self.genres is None else self._dissimilarity(top)
        for i, k in enumerate(self.ks):
            hit = ranks < k  # (B,)
            self._sums["ndcg"][i] += (hit / torch.log2(ranks + 2.0)).sum()
            self._sums["hr"][i] += hit.sum()
            self._sums["mrr"][i] += (hit / (ranks + 1.0)).sum()
            self._covered[i, top[:, :k].flatten()] = True
            if dissimilarity is not None:
                # mean over the k (k - 1) / 2 pairs; NaN for k = 1, which has no pairs
                pair_sums = dissimilarity[:, :k, :k].sum(dim=(1, 2))  # (B,)
                self._sums["diversity"][i] += (pair_sums / (k * (k - 1) / 2)).sum()
            if self.popularity is not None:
                self._sums["popularity"][i] += self.popularity[top[:, :k]].mean(dim=1).sum()
            if self.share_of is not None:
                self._sums["share"][i] += self.share_of[top[:, :k]].mean(dim=1).sum()
        self._n_users += len(targets)

    def _dissimilarity(self, top: Tensor) -> Tensor:
        """(B, K, K): 1 - Jaccard similarity of the genre sets of items i and j, kept for i < j.

        Two items that both have no genres count as similarity 0 (dissimilarity 1): nothing is
        known to make them alike.
        """
        G = self.genres[top]  # (B, K, n_genres)
        inter = G @ G.transpose(1, 2)  # (B, K, K) genres in common
        sizes = G.sum(dim=2)  # (B, K)
        union = sizes[:, :, None] + sizes[:, None, :] - inter  # (B, K, K)
        jaccard = inter / union.clamp(min=1)  # an empty union has inter = 0, so similarity 0
        return (1 - jaccard).triu(diagonal=1)

    def result(self) -> dict[str, float]:
        """The metrics over every user added so far, as {"name@K": value}."""
        if self._covered is None:
            raise ValueError("no users were added: call add(scores, targets) before result()")
        values = {name: sums / self._n_users for name, sums in self._sums.items()}
        values["coverage"] = self._covered.sum(dim=1) / self.n_items
        return {
            f"{name}@{k}": value
            for name, per_k in values.items()
            for k, value in zip(self.ks, per_k.tolist(), strict=True)
        }


# ------------------------------------------------------------------------------------------------
# SAE metrics (chapter 3)


@torch.no_grad()
def sae_metrics(sae, x: Tensor, batch_size: int = 8192) -> dict:
    """How well an SAE fits hidden states x (N, d_in), measured on unscaled data.

    fvu: fraction of variance unexplained, sum ||x - x_hat||^2 / sum ||x - mean(x)||^2 over the
        whole set (a ratio of sums, about the mean: 1 for the mean predictor, 0 for a perfect fit);
    l0: mean number of active latents per sample; dead_fraction: latents that never fire on x;
    density: (d_sae,) the share of samples on which each latent fires."""
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
# list fidelity and concept purity (chapter 6, paper B)


def rbo(a, b, p: float = 0.9) -> float:
    """Rank-biased overlap of two top lists of the same length k, extrapolated (Webber et al.
    2010, eq. 32): 1 for identical lists, 0 for disjoint ones. p weighs the top: with p = 0.9 the
    first 10 ranks carry about 86% of the weight."""
    a, b = list(a), list(b)
    if len(a) != len(b) or not a:
        raise ValueError(f"rbo needs two non-empty lists of one length: got {len(a)}, {len(b)}")
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    seen_a, seen_b, overlap, total = set(), set(), 0, 0.0
    for depth, (x, y) in enumerate(zip(a, b, strict=True), 1):
        overlap += (x in seen_b) + (y in seen_a) + (x == y)
        seen_a.add(x)
        seen_b.add(y)
        total += overlap / depth * p**depth
    k = len(a)
    return overlap / k * p**k + (1 - p) / p * total


def kendall_tau(x, y) -> float:
    """Kendall's tau-b between two score vectors over the same items (ties handled): 1 when they
    order the items alike, -1 when reversed."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"kendall_tau needs 1-d arrays of one length >= 2: {x.shape} {y.shape}")
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    upper = np.triu_indices(len(x), 1)
    dx, dy = dx[upper], dy[upper]
    denominator = np.sqrt((dx != 0).sum() * (dy != 0).sum())
    return float((dx * dy).sum() / denominator) if denominator else float("nan")


def _as_float(x) -> Tensor:
    """x (a tensor on any device, an array, a list) as a float32 tensor, on its own device."""
    return torch.as_tensor(x if isinstance(x, Tensor) else np.asarray(x), dtype=torch.float32)


def purity(acts, concepts, k: int = 10) -> np.ndarray:
    """Semantic purity@k (paper B): for each unit (column of acts (n_items, U)) and concept
    (column of concepts (n_items, C), bool), the share of the unit's k most activated items that
    carry the concept. (U, C), computed on acts' device."""
    acts = _as_float(acts)
    concepts = _as_float(concepts).to(acts.device)
    if acts.shape[0] != concepts.shape[0]:
        raise ValueError(f"{acts.shape[0]} items of activations, {concepts.shape[0]} of concepts")
    if not 1 <= k <= acts.shape[0]:
        raise ValueError(f"k = {k} must be between 1 and the number of items ({acts.shape[0]})")
    top = acts.topk(k, dim=0).indices.T  # (U, k)
    return concepts[top].mean(1).cpu().numpy()
