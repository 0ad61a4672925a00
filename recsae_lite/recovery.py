"""The answer key: do an SAE's features recover planted concepts? (chapter 9)

On synthetic data (`data.SyntheticTruth`) every sample's concepts are known, so an SAE is scored
against the truth (`interpret.match_concepts`, `recovery`) instead of genres. Here: `samples` (what
the SAEs read), `score` (all measures of one SAE), `noisy_labels` (concepts with labels dropped
and swapped, as real tags would be) and how the papers' metrics fare on them (`label_metrics`),
`fit` (a variant at a target L0) and `order_agreement` (does a metric order variants as the
answer key does).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import Tensor

from . import hierarchy, interpret
from .activations import collect
from .features import sparse_codes
from .metrics import sae_metrics
from .sae import FitConfig
from .sae import fit as sae_fit


def samples(trained) -> tuple[Tensor, np.ndarray]:
    """What chapter 9's SAEs read from a `zoo.Trained` model, and the item each sample stands
    for: every position of the training histories for a sequential model (SASRec; the item
    just read), else the item embeddings (MF, ELSA; one sample per item)."""
    if trained.model.sequential:
        x, items = collect(trained.model, trained.split, "train", "all", items=True)
        return x, items.cpu().numpy()
    return trained.model.item_embeddings().detach(), np.arange(trained.dataset.n_items)


@torch.no_grad()
def score(sae, x: Tensor, concepts: np.ndarray, parent: np.ndarray, sizes, threshold=0.5, seed=0):
    """An SAE on samples x (N, d_in) whose concepts (N, C) are known: `interpret.recovery`, the F1
    of `interpret.chance_recovery`, chapter 7's hierarchy "agreement" (parent: (C,) each
    concept's, -1 for a top level; a plain SAE is given groups of `sizes` by firing frequency),
    FVU and L0."""
    codes = sparse_codes(sae, x)
    groups = hierarchy.feature_groups(sae, codes, sizes)
    stats = sae_metrics(sae, x)
    dense = codes.to_dense()  # (N, d_sae) for `interpret`'s matching; chapter 9's N is small
    return {**interpret.recovery(dense, concepts, threshold),
            "chance f1": interpret.chance_recovery(dense, concepts, threshold, seed)["f1"],
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
    (paper A, `interpret.genre_scores`); "purity@10", the mean over concepts (of at least 10
    samples) of the best feature's purity@10 (paper B); "tf-idf hits", the share of concepts
    whose "best characterizes" feature (paper C, `interpret.best_characterizes`, features firing
    on fewer than 5 samples left out) is the feature `matched` to it by the answer key;
    "recovered", `interpret.recovery` with the labels in place of the truth."""
    codes = codes.cpu()
    best = interpret.best_score(interpret.genre_scores(codes, labels, top, min_active=5))
    activity = interpret.concept_activity(codes, labels)
    mapped = interpret.best_characterizes(activity, fires=(codes > 0).sum(0), min_items=5)
    return {
        "association": float(best[np.isfinite(best)].mean()),
        "purity@10": float(np.nanmean(interpret.purity(codes, labels, 10).max(0))),
        "tf-idf hits": float((mapped[:, 0] == matched).mean()),
        "recovered": interpret.recovery(codes, labels)["recovered"],
    }


def order_agreement(a, b) -> float:
    """The share of pairs that two scores of the same things put in the same order, a tie in
    either counting half: 1 for the same order, 0 for the reverse, 0.5 when one cannot tell
    them apart (unlike Kendall's tau, defined when a score gives every thing the same value)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    upper = np.triu_indices(len(a), 1)
    product = (np.sign(a[:, None] - a[None, :]) * np.sign(b[:, None] - b[None, :]))[upper]
    return float(((product > 0) + 0.5 * (product == 0)).mean())


def fit(x: Tensor, variant: str, sizes, k: int, settings: FitConfig, l1=200.0, rounds=4, tol=0.2):
    """An SAE of `variant` on x with nested `sizes` (`hierarchy.sae_config`) and k active features
    per sample, fitted with `settings` (`zoo.fit_settings("items", ...)`); for "relu", whose L0
    follows from its L1 weight, the weight is scaled by the L0 it gave over k (at most 4x per
    round, up to `rounds` fits) until the L0 is within `tol` * k of k. Returns the SAE and the L1
    weight used (None for the others)."""
    settings = replace(settings, batch_size=min(settings.batch_size, len(x)))
    steps = settings.max_steps
    if variant != "relu":
        config = hierarchy.sae_config(x.shape[1], variant, sizes, k)
        return sae_fit(x, config, settings, progress=False), None
    for _ in range(rounds):
        used = l1
        config = hierarchy.sae_config(x.shape[1], "relu", sizes, k, l1_coefficient=used,
                                      l1_warmup_steps=steps // 4)  # fmt: skip
        sae = sae_fit(x, config, settings, progress=False)
        l0 = sae_metrics(sae, x)["l0"]
        if abs(l0 - k) <= tol * k:
            break
        l1 = used * float(np.clip(l0 / k, 0.25, 4.0))
    return sae, used
