"""Matryoshka hierarchies: what each nested group of features holds, and a tree of features (ch. 7).

A Matryoshka SAE's first groups must reconstruct the input on their own, so they should hold the
broad directions and later groups the refinements. Measured on any codes (samples x features,
dense or `features.sparse_codes`) and groups: `profile` (per feature, the genre entropy and
popularity of the items it fires most on), `tree` (each feature under the earlier-group feature it
fires with most), `agreement` (with a planted hierarchy). A plain SAE gets groups of the same
sizes by firing frequency (`frequency_groups`), so that both are compared the same way.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from .features import firing_counts, per_feature
from .interpret import concept_f1, entropy, top_items
from .sae import SAE, SAEConfig

__all__ = ["sae_config", "group_of", "feature_groups", "frequency_groups", "profile", "tree",
           "ancestors", "best_features", "agreement", "score"]  # fmt: skip


def sae_config(d_in: int, variant: str, sizes, k: int, **options) -> SAEConfig:
    """A Matryoshka SAE with nested groups of `sizes`, or a plain one (e.g. "batchtopk") of the
    same width, with k active features per sample on average; options: further `SAEConfig`
    fields (e.g. a ReLU SAE's l1_coefficient)."""
    groups = tuple(sizes) if variant == "matryoshka" else ()
    return SAEConfig(d_in, sum(sizes), variant, k=k, groups=groups, **options)


def group_of(sizes) -> np.ndarray:
    """(sum(sizes),) the group of each feature when the groups are consecutive blocks of `sizes`."""
    return np.repeat(np.arange(len(sizes)), sizes)


def feature_groups(sae: SAE, codes: Tensor, sizes) -> np.ndarray:
    """(d_sae,) the group of each feature: a Matryoshka SAE's own, else `frequency_groups`."""
    if sae.config.variant == "matryoshka":
        return group_of(sae.config.groups)
    return frequency_groups(codes, sizes)


def frequency_groups(codes: Tensor, sizes) -> np.ndarray:
    """(d_sae,) groups of `sizes` for an SAE without them: the most frequently firing features
    form the first group, the next ones the second, and so on."""
    if sum(sizes) != codes.shape[1]:
        raise ValueError(f"group sizes {tuple(sizes)} must sum to the {codes.shape[1]} features")
    order = np.argsort(-firing_counts(codes).numpy(), kind="stable")
    groups = np.empty(codes.shape[1], dtype=int)
    groups[order] = group_of(sizes)
    return groups


def profile(
    codes: Tensor, groups: np.ndarray, items: np.ndarray, genres: np.ndarray, popularity, top=50
) -> pd.DataFrame:
    """One row per feature that fires: its group, firing rate, and, over the items at its `top`
    strongest samples, the entropy (bits) of their genre distribution and their mean popularity
    percentile (1: the most popular item). items: (N,) the item of each sample (for item
    embeddings, arange(n_items)); genres: (n_items, G) bool; popularity: (n_items,) counts."""
    rank = pd.Series(np.asarray(popularity)).rank(pct=True).to_numpy()
    genres = np.asarray(genres, dtype=float)
    rate = firing_counts(codes) / len(codes)
    rows = []
    for feature, tops in enumerate(per_feature(top_items, codes, np.asarray(items), top)):
        if len(tops) == 0:
            continue
        counts = torch.as_tensor(genres[tops].sum(0))
        rows.append({
            "feature": feature, "group": int(groups[feature]), "firing rate": float(rate[feature]),
            "genre entropy": float(entropy(counts)),
            "popularity": float(rank[tops].mean()), "distinct items": len(np.unique(tops)),
        })  # fmt: skip
    return pd.DataFrame(rows)


@torch.no_grad()
def tree(codes: Tensor, groups: np.ndarray) -> np.ndarray:
    """(d_sae,) the parent of each feature: among the features of earlier groups, the one that
    fires on the most samples where it fires; -1 for the first group, for a feature that never
    fires, and for one that never fires together with an earlier feature."""
    codes = codes.cpu().to_sparse().coalesce()  # sparse, the product is fast
    fired = torch.sparse_coo_tensor(codes.indices(), (codes.values() > 0).float(), codes.shape,
                                    is_coalesced=True, check_invariants=False)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's note that sparse products are a beta feature
        together = torch.sparse.mm(fired.T, fired).to_dense()  # (d_sae, d_sae): both fire
    groups = torch.as_tensor(groups)
    earlier = groups[None, :] < groups[:, None]  # earlier[j, i]: i is in an earlier group than j
    together = torch.where(earlier, together, -1.0)
    best, parent = together.max(1)
    return torch.where(best > 0, parent, -1).numpy()


def ancestors(parent: np.ndarray, feature: int) -> list[int]:
    """The chain of parents above `feature`, nearest first."""
    chain = []
    while parent[feature] >= 0:
        feature = int(parent[feature])
        chain.append(feature)
    return chain


def best_features(codes: Tensor, concepts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each concept: the feature whose firing matches it best (`concept_f1`), and that F1."""
    score, best = per_feature(lambda block: concept_f1(block, concepts).T, codes).T.max(1)
    return best.numpy(), score.numpy()


def agreement(parent: np.ndarray, best: np.ndarray, concept_parent: np.ndarray) -> float:
    """The share of child concepts (concept_parent >= 0) whose best feature hangs, at any depth,
    under the best feature of their parent concept (and is not that feature itself)."""
    children = np.flatnonzero(concept_parent >= 0)
    if len(children) == 0:
        raise ValueError("no concept has a parent: agreement needs a two-level hierarchy")
    under = [best[concept_parent[c]] in ancestors(parent, best[c]) for c in children]
    return float(np.mean(under))


def score(codes: Tensor, groups: np.ndarray, concepts: np.ndarray, concept_parent: np.ndarray):
    """Against a planted two-level hierarchy (`data.SyntheticTruth`: concepts (N, C) per sample,
    concept_parent (C,)): the tree's agreement, the mean F1 of the best feature of the parent
    concepts and of the child concepts, and the mean group of those features."""
    best, f1 = best_features(codes, concepts)
    top = concept_parent < 0
    return {
        "agreement": agreement(tree(codes, groups), best, concept_parent),
        "parent f1": float(f1[top].mean()), "child f1": float(f1[~top].mean()),
        "parent group": float(groups[best[top]].mean()),
        "child group": float(groups[best[~top]].mean()),
    }  # fmt: skip
