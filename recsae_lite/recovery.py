"""The answer key: do an SAE's features recover planted concepts? (chapter 9)

On synthetic data (`data.SyntheticTruth`) every sample's concepts are known, so an SAE can be
scored against the truth instead of against genres, which only approximate what a model uses:

- `match`: a one-to-one matching of concepts to features, the Hungarian method (`assignment`) on
  the association matrix (the F1 of "the feature fires" against "the sample has the concept",
  `hierarchy.concept_f1`), with each pair's precision and recall as a detector of its concept;
- `recovery`: the share of concepts whose matched feature reaches an F1 threshold (recovered),
  and the pairs' mean F1, precision and recall; `chance`: the same with the samples shuffled;
- `noisy_labels`: the concepts with a share of labels dropped and a share swapped, as real
  genre tags would be, to see how the papers' metrics (`label_metrics`) fare on such labels;
- `samples`: what the SAEs read, with the item each sample stands for; `score`: all of the above
  for one SAE, with chapter 7's hierarchy agreement, FVU and L0;
- `fit`: an SAE of a variant at a target L0 (ReLU's L1 weight is tuned until its L0 matches);
  `order_agreement`: whether a metric orders the variants as the answer key does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from . import features, hierarchy, knobs
from .activations import collect
from .metrics import purity, sae_metrics
from .sae import FitConfig
from .sae import fit as sae_fit


def assignment(cost: np.ndarray) -> np.ndarray:
    """(n,) the column of each row in the one-to-one assignment of least total cost, for a cost
    matrix (n, m) with n <= m: the Hungarian method with potentials (Kuhn-Munkres), O(n^2 m)."""
    cost = np.asarray(cost, dtype=float)
    n, m = cost.shape
    if n > m:
        raise ValueError(f"{n} rows cannot each get their own of {m} columns")
    u, v = np.zeros(n + 1), np.zeros(m + 1)  # the potentials of rows and columns
    row_of = np.zeros(m + 1, dtype=int)  # 1-based row of each column, 0: free; column 0 is a spare
    way = np.zeros(m + 1, dtype=int)  # the previous column on the shortest augmenting path
    for i in range(1, n + 1):
        row_of[0], j0 = i, 0
        slack, used = np.full(m + 1, np.inf), np.zeros(m + 1, dtype=bool)
        while row_of[j0]:  # grow the tree from row i until it reaches a free column
            used[j0] = True
            i0 = row_of[j0]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = ~used[1:] & (reduced < slack[1:])
            slack[1:][better], way[1:][better] = reduced[better], j0
            candidates = np.where(used[1:], np.inf, slack[1:])
            j0 = int(candidates.argmin()) + 1
            delta = candidates[j0 - 1]
            u[row_of[used]] += delta
            v[used] -= delta
            slack[1:][~used[1:]] -= delta
        while j0:  # flip the path: each column on it takes the row of the column before
            row_of[j0] = row_of[way[j0]]
            j0 = way[j0]
    columns = np.empty(n, dtype=int)
    taken = np.flatnonzero(row_of[1:])
    columns[row_of[1:][taken] - 1] = taken
    return columns


def match(codes: Tensor, concepts: np.ndarray) -> pd.DataFrame:
    """One row per concept: its feature in the one-to-one matching of largest total F1, and how
    well that feature detects it over the samples: precision (share of the feature's firings on
    samples with the concept), recall (share of the concept's samples where it fires), F1.
    codes: (N, d_sae); concepts: (N, C) bool, the truth of each sample; needs d_sae >= C."""
    f1 = hierarchy.concept_f1(codes, concepts).numpy()  # (C, d_sae)
    if f1.shape[0] > f1.shape[1]:
        raise ValueError(f"{f1.shape[0]} concepts cannot each get one of {f1.shape[1]} features")
    chosen = assignment(-f1)
    fired = (codes[:, chosen] > 0).float().cpu().numpy()  # (N, C) the matched features' firing
    truth = np.asarray(concepts, dtype=float)
    hits = (fired * truth).sum(0)
    return pd.DataFrame({
        "feature": chosen, "precision": hits / np.maximum(fired.sum(0), 1),
        "recall": hits / np.maximum(truth.sum(0), 1), "f1": f1[np.arange(len(f1)), chosen],
    })  # fmt: skip


def recovery(codes: Tensor, concepts: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """The matching's summary (`match`): "recovered", the share of concepts whose feature has an
    F1 of at least `threshold`; the mean "f1", "precision" and "recall" of the pairs."""
    pairs = match(codes, concepts)
    return {"recovered": float((pairs["f1"] >= threshold).mean()),
            **{m: float(pairs[m].mean()) for m in ("f1", "precision", "recall")}}  # fmt: skip


def chance(codes: Tensor, concepts: np.ndarray, threshold: float = 0.5, seed: int = 0):
    """`recovery` against the concepts of shuffled samples: what features with the same firing
    rates score when they know nothing of the concepts."""
    order = np.random.default_rng(seed).permutation(len(concepts))
    return recovery(codes, np.asarray(concepts)[order], threshold)


def samples(trained) -> tuple[Tensor, np.ndarray]:
    """What chapter 9's SAEs read from a `zoo.Trained` model, and the item each sample stands
    for: every position of the training histories for a model with `states` (SASRec; the item
    just read), else the item embeddings (MF, ELSA; one sample per item)."""
    if hasattr(trained.model, "states"):
        x, items = collect(trained.model, trained.split, "train", "all", items=True)
        return x, items.cpu().numpy()
    return trained.model.item_embeddings().detach(), np.arange(trained.dataset.n_items)


@torch.no_grad()
def score(sae, x: Tensor, concepts: np.ndarray, parent: np.ndarray, sizes, threshold=0.5, seed=0):
    """An SAE on samples x (N, d_in) whose concepts (N, C) are known: `recovery`, the F1 of
    `chance`, chapter 7's hierarchy "agreement" (parent: (C,) each concept's, -1 for a top
    level; a plain SAE is given groups of `sizes` by firing frequency), FVU and L0."""
    codes = torch.cat([sae.encode(chunk) for chunk in x.split(8_192)]).cpu()
    groups = hierarchy.feature_groups(sae, codes, sizes)
    stats = sae_metrics(sae, x)
    return {**recovery(codes, concepts, threshold),
            "chance f1": chance(codes, concepts, threshold, seed)["f1"],
            "agreement": hierarchy.score(codes, groups, concepts, parent)["agreement"],
            "fvu": stats["fvu"], "l0": stats["l0"]}  # fmt: skip


def noisy_labels(concepts: np.ndarray, drop: float, swap: float, seed: int = 0) -> np.ndarray:
    """(n_items, C) bool: each true label dropped with probability `drop`, or else moved to a
    concept the item does not have with probability `swap` (a wrong tag in place of a right one)."""
    if drop < 0 or swap < 0 or drop + swap > 1:
        raise ValueError(f"drop ({drop}) and swap ({swap}) must be >= 0 with a sum of at most 1")
    concepts = np.asarray(concepts, dtype=bool)
    rng = np.random.default_rng(seed)
    labels = concepts.copy()
    items, columns = np.nonzero(concepts)
    fate = rng.random(len(items))
    labels[items[fate < drop + swap], columns[fate < drop + swap]] = False
    for item in items[(fate >= drop) & (fate < drop + swap)]:
        wrong = np.flatnonzero(~concepts[item] & ~labels[item])
        if len(wrong):
            labels[item, rng.choice(wrong)] = True
    return labels


def label_metrics(codes: Tensor, labels: np.ndarray, matched: np.ndarray, top: int = 50):
    """The papers' measures of a dictionary, computed against `labels` (N, C) bool, one per
    sample: "association", the mean over features of their best precision above chance
    (paper A, `features.genre_scores`); "purity@10", the mean over concepts of the best
    feature's purity@10 (paper B); "tf-idf hits", the share of concepts whose "best
    characterizes" neuron (paper C, `knobs.mappings`) is the feature `matched` to it by the
    answer key; "recovered", `recovery` with the labels in place of the truth."""
    codes = codes.cpu()
    scores = features.genre_scores(codes, labels, top, min_active=5)
    best = features.best_score(scores)
    fires = (codes > 0).sum(0)
    mapped = knobs.mappings(knobs.concept_activity(codes, labels), fires, min_items=5)
    return {
        "association": float(best[np.isfinite(best)].mean()),
        "purity@10": float(purity(codes, labels, 10).max(0).mean()),
        "tf-idf hits": float((mapped["best characterizes"][:, 0] == matched).mean()),
        "recovered": recovery(codes, labels)["recovered"],
    }


def order_agreement(a, b) -> float:
    """The share of pairs that two scores of the same things put in the same order, a tie in
    either counting half: 1 for the same order, 0 for the reverse, 0.5 when one cannot tell
    them apart (unlike Kendall's tau, defined when a score gives every thing the same value)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    upper = np.triu_indices(len(a), 1)
    product = (np.sign(a[:, None] - a[None, :]) * np.sign(b[:, None] - b[None, :]))[upper]
    return float(((product > 0) + 0.5 * (product == 0)).mean())


def fit(x: Tensor, variant: str, sizes, k: int, steps: int, seed=0, batch_size=4_096, l1=200.0,
        rounds=4, tol=0.2):  # fmt: skip
    """An SAE of `variant` on x with nested `sizes` (`hierarchy.sae_config`) and k active features
    per sample; for "relu", whose L0 follows from its L1 weight, the weight is scaled by the
    L0 it gave over k (at most 4x per round, up to `rounds` fits) until the L0 is within
    `tol` * k of k. Returns the SAE and the L1 weight used (None for the others)."""
    settings = FitConfig(max_steps=steps, batch_size=min(batch_size, len(x)), seed=seed)
    if variant != "relu":
        return sae_fit(
            x, hierarchy.sae_config(x.shape[1], variant, sizes, k), settings, False
        ), None
    for _ in range(rounds):
        used = l1
        config = hierarchy.sae_config(x.shape[1], "relu", sizes, k, l1_coefficient=used,
                                      l1_warmup_steps=steps // 4)  # fmt: skip
        sae = sae_fit(x, config, settings, progress=False)
        with torch.no_grad():
            l0 = (sae.encode(x) > 0).float().sum(1).mean().item()
        if abs(l0 - k) <= tol * k:
            break
        l1 = used * float(np.clip(l0 / k, 0.25, 4.0))
    return sae, used
