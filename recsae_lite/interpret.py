"""What an SAE feature means: the interpretation measures of chapters 4-9, in one place.

A *feature* is a column of activations (samples x features): an SAE feature or, as a baseline, a
raw hidden dimension (each sign its own column, `signed`). A *concept* is a set of items (genre,
tag, planted concept), given as a bool matrix (samples or items x concepts). Sections: genre
association (paper A, ch. 4), purity@K (paper B, ch. 6), concept maps and concentration (paper
C, ch. 8), the supervised probe (ch. 5), planted concepts (ch. 9).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import Tensor

__all__ = [
    "signed", "random_rotation", "genre_scores", "top_items", "item_features", "best_genres",
    "best_score", "label", "association_pass_rates", "purity", "purity_ceiling", "purity_table",
    "concept_activity", "tfidf", "best_characterizes", "most_unique", "entropy",
    "concept_entropy_kl", "probe_direction", "concept_f1", "assignment", "match_concepts",
    "recovery", "chance_recovery",
]  # fmt: skip


# -- association with genres (paper A, chapter 4) ------------------------------------------------
#
# Feature f's score for genre g is the precision above chance of its top positions: of the `top`
# positions where f is largest (and positive), the share p whose item has g, against the share b
# of all positions: (p - b) / (1 - b); 0 is chance, 1 "every top position is g". An AUC would
# count an SAE feature's silence on most positions against it; a precision asks what it means
# when it fires. Subtracting the base rate keeps frequent genres (Drama) from winning by default.


def signed(x: Tensor) -> Tensor:
    """(N, 2d): each raw dimension as two columns, its positive and its negative side."""
    return torch.cat([x, -x], dim=1)


def random_rotation(d: int, seed: int = 0) -> Tensor:
    """(d, d) a random orthogonal matrix: a basis with no reason to align with anything."""
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=g))
    return q * r.diagonal().sign()  # the sign fix makes the draw uniform over rotations


@torch.no_grad()
def _top_positions(acts: Tensor, top: int) -> tuple[Tensor, Tensor]:
    """Per feature (column of acts (N, F)): its `top` largest positions (F, top), and how many of
    them are positive (F,)."""
    values, index = acts.topk(min(top, len(acts)), dim=0)  # (top, F)
    return index.T, (values > 0).sum(0)


def genre_scores(
    acts: Tensor, labels: np.ndarray, top: int = 100, min_active: int = 20
) -> np.ndarray:
    """(F, G) precision above chance of each feature for each genre (see above).

    acts: (N, F) activations at N positions; labels: (N, G) bool, the genres of each position's
    item. Features positive on fewer than `min_active` positions get NaN (too rare to judge)."""
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.float32)
    if labels.shape[0] != acts.shape[0]:
        raise ValueError(f"{acts.shape[0]} positions of activations but {labels.shape[0]} labels")
    index, active = _top_positions(acts.cpu(), top)
    base = labels.mean(0)  # (G,)
    hits = labels[index]  # (F, top, G)
    # only the positive ones of a feature's top positions count
    kept = (torch.arange(index.shape[1])[None, :] < active[:, None]).float()  # (F, top)
    precision = (hits * kept[..., None]).sum(1) / active.clamp_min(1)[:, None]
    score = (precision - base) / (1 - base).clamp_min(1e-9)
    score[active < min_active] = float("nan")
    return score.numpy()


def top_items(acts: Tensor, items: np.ndarray, top: int = 100) -> list[np.ndarray]:
    """Per feature, the items (codes) at its top positive positions; items: (N,) per position."""
    index, active = _top_positions(acts, top)
    return [items[p[:n]] for p, n in zip(index.numpy(), active.numpy(), strict=True)]


def item_features(tops: list[np.ndarray], min_items: int = 10) -> np.ndarray:
    """(F,) bool: the *item features*, with fewer than `min_items` distinct items among their top
    positions (`top_items`). Such a feature is about those few films, so it scores high on their
    genres for a reason that has nothing to do with genres; the counts leave it out."""
    return np.array([len(set(top)) < min_items for top in tops], dtype=bool)


def best_genres(scores: np.ndarray, genre_names: list[str]) -> pd.DataFrame:
    """Per feature: its best genre and score, and the second, for auto-labels."""
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), axis=1)[:, :2]  # (F, 2)
    names, best = np.array(genre_names, dtype=object)[order], np.take_along_axis(scores, order, 1)
    return pd.DataFrame({"best genre": names[:, 0], "score": best[:, 0],
                         "second genre": names[:, 1], "second score": best[:, 1]})  # fmt: skip


def best_score(scores: np.ndarray) -> np.ndarray:
    """(F,) each feature's best genre score (-inf for a feature with none)."""
    return np.nanmax(np.where(np.isnan(scores), -np.inf, scores), axis=1)


def label(row: pd.Series, threshold: float) -> str:
    """An auto-label from a row of `best_genres`: 'Horror (0.83)', 'Horror+Thriller (0.83)' when
    the second genre is close, or 'mixed' below the threshold."""
    if not row["score"] >= threshold:
        return "mixed"
    if row["second score"] >= 0.8 * row["score"]:
        return f"{row['best genre']}+{row['second genre']} ({row['score']:.2f})"
    return f"{row['best genre']} ({row['score']:.2f})"


def association_pass_rates(
    scores: dict, tops: dict, threshold: float = 0.5, min_items: int = 10
) -> pd.DataFrame:
    """How many features are about one genre: a feature passes when its best genre score reaches
    `threshold`; item features (`item_features`) are counted apart and not scored.
    scores: (kind, view) -> (F, G) genre scores; tops: kind -> each feature's top items. One row
    per (kind, view)."""
    rows = []
    for (kind, view), s in scores.items():
        scored = ~item_features(tops[kind], min_items)
        best = best_score(s)
        passing = (best >= threshold) & scored
        rows.append(
            {"kind": kind, "view": view, "count": len(s), "item features": int((~scored).sum()),
             "scored": int(scored.sum()), "pass": int(passing.sum()),
             "pass share": passing.sum() / max(scored.sum(), 1),
             "median best score": float(np.median(best[scored])) if scored.any() else np.nan}
        )  # fmt: skip
    return pd.DataFrame(rows)


# -- purity@K (paper B, chapter 6) ---------------------------------------------------------------


def purity_ceiling(concepts, k: int) -> np.ndarray:
    """(C,) the highest purity@k a concept allows: the share of k items it can fill, min(1, n / k)
    for a concept of n items (a genre of 92 films reaches at most .92 at k = 100)."""
    return np.minimum(1.0, np.asarray(concepts).sum(0) / k)


def purity(acts, concepts, k: int = 10) -> np.ndarray:
    """(F, C) semantic purity@k (paper B): for each feature (column of acts (n_items, F)) and
    concept (column of concepts (n_items, C), bool), the share of the feature's k most activated
    items that carry the concept. NaN for a concept of fewer than k items, which cannot reach 1
    (`purity_ceiling` says how far it can go)."""
    acts = torch.as_tensor(acts if isinstance(acts, Tensor) else np.asarray(acts)).float()
    concepts = torch.as_tensor(np.asarray(concepts), dtype=torch.float32, device=acts.device)
    if acts.shape[0] != concepts.shape[0]:
        raise ValueError(f"{acts.shape[0]} items of activations, {concepts.shape[0]} of concepts")
    if not 1 <= k <= acts.shape[0]:
        raise ValueError(f"k = {k} must be between 1 and the number of items ({acts.shape[0]})")
    top = acts.topk(k, dim=0).indices.T  # (F, k), on acts' device
    shares = concepts[top].mean(1).cpu().numpy()
    shares[:, concepts.sum(0).cpu().numpy() < k] = np.nan
    return shares


def purity_table(acts, dataset, genres: list[str], ks=(10, 50, 100)) -> pd.DataFrame:
    """Per genre, its best feature (highest purity@k at the smallest k, then the larger ones)
    among the columns of acts (n_items, F), that feature's purity@k for each k (paper B's table;
    NaN where the genre has fewer than k items) and the genre's ceiling@k (`purity_ceiling`)."""
    g_index = [dataset.genre_names.index(g) for g in genres]
    concepts = dataset.genres[:, g_index]
    per_k = {k: purity(acts, concepts, k) for k in ks}  # (F, G) each
    rows = []
    for c, genre in enumerate(genres):
        key = np.lexsort([per_k[k][:, c] for k in reversed(ks)])  # ascending, first k last
        best = int(key[-1])
        rows.append({"genre": genre, "feature": best,
                     **{f"purity@{k}": float(per_k[k][best, c]) for k in ks}})  # fmt: skip
    table = pd.DataFrame(rows)
    for k in ks:
        table[f"ceiling@{k}"] = purity_ceiling(concepts, k)
    return table


# -- concept maps and concentration (paper C, chapter 8) -----------------------------------------
#
# A concept's activity is the mean code of its items; A (C, F) holds them all. TF-IDF weighs A in
# two ways, as paper C's code does (`compute_tfidf` of matospiso/Disentangling-user-embeddings-
# using-SAE). Our departure, an option: features that fire on fewer than `min_items` items can be
# left out (`fires`: (F,) the items each fires on). Such a feature is about those few items, and
# TF-IDF can favour it; paper C leaves none out, and neither do the defaults.


def concept_activity(codes: Tensor, concepts: np.ndarray) -> Tensor:
    """(C, F) A = P S: each concept's mean item code (S: codes (n_items, F); P: the concept-item
    matrix with rows normalised to sum 1; concepts: (n_items, C) bool)."""
    P = torch.as_tensor(np.asarray(concepts).T, dtype=torch.float32)
    return (P / P.sum(1, keepdim=True).clamp_min(1)) @ codes.cpu()


def tfidf(x: Tensor) -> Tensor:
    """TF-IDF of a (terms, documents) matrix, as paper C computes it: tf divides each document
    (column) by its sum (an empty document: 0); idf_t = ln((D + 1) / (df_t + 1)) + 1, with D
    documents and df_t the documents where term t is nonzero (smoothed: never 0 or infinite)."""
    tf = x / x.sum(0, keepdim=True).clamp_min(1e-12)
    df = (x != 0).sum(1)
    idf = torch.log((x.shape[1] + 1) / (df + 1.0)) + 1
    return tf * idf[:, None]


def _top_features(weights: Tensor, n: int, fires, min_items: int) -> np.ndarray:
    """(C, n) the n features of largest weight per concept (weights: (C, F)), features that fire
    on fewer than `min_items` items left out."""
    if min_items:
        if fires is None:
            raise ValueError("min_items needs fires: (F,) how many items each feature fires on")
        weights = weights.masked_fill(torch.as_tensor(fires) < min_items, -1.0)
    return weights.topk(n, dim=1).indices.numpy()


def best_characterizes(activity: Tensor, n: int = 1, fires=None, min_items: int = 0):
    """(C, n) paper C's "best characterizes" map, the one it steers with: for concept t, the
    features f of largest A[t, f] / sum_f' A[t, f'] * idf_f (idf over the concepts on which f is
    active): `tfidf(A.T)`, features as terms, concepts as documents."""
    return _top_features(tfidf(activity.T).T, n, fires, min_items)


def most_unique(activity: Tensor, n: int = 1, fires=None, min_items: int = 0):
    """(C, n) paper C's "most unique" map: for concept t, the features whose firing is most
    specific to it, largest A[t, f] / sum_t' A[t', f] (its idf, over features, is the same for
    every f of t): `tfidf(A)`, concepts as terms, features as documents."""
    return _top_features(tfidf(activity), n, fires, min_items)


def entropy(weights: Tensor, dim: int = 0) -> Tensor:
    """The entropy (bits) of the distributions `weights` normalised along dim."""
    q = weights / weights.sum(dim, keepdim=True)
    return -torch.where(q > 0, q * q.clamp_min(1e-12).log2(), 0.0).sum(dim)


def concept_entropy_kl(activity: Tensor) -> dict[str, np.ndarray]:
    """Per active feature: the entropy (bits) of its distribution over concepts (its column of A,
    normalised), low when one concept dominates; and its KL divergence (bits) from the average
    feature's distribution, high when it departs from the catalogue's mix."""
    active = activity[:, activity.sum(0) > 0]
    q = active / active.sum(0, keepdim=True)  # (C, features)
    average = q.mean(1, keepdim=True)
    kl = torch.where(q > 0, q * (q.clamp_min(1e-12) / average.clamp_min(1e-12)).log2(), 0.0)
    return {"entropy": entropy(q).numpy(), "kl": kl.sum(0).numpy()}


# -- the supervised baseline (chapter 5) ---------------------------------------------------------


def probe_direction(x: Tensor, labels: Tensor, steps: int = 300, l2: float = 1e-3) -> Tensor:
    """A logistic regression of labels (N,) bool on states x (N, d), fitted on standardised x;
    returns the direction in x's units along which its logit grows fastest (unit norm)."""
    x = x.detach().float()
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    xs, y = (x - mean) / std, labels.float().to(x.device)
    w = torch.zeros(x.shape[1], device=x.device, requires_grad=True)
    b = torch.zeros((), device=x.device, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xs @ w + b, y)
        loss = loss + l2 * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    direction = w.detach() / std  # d logit / d x
    return direction / direction.norm()


# -- planted concepts (chapter 9) ----------------------------------------------------------------


def concept_f1(codes: Tensor, concepts: np.ndarray) -> Tensor:
    """(C, F) how well each feature's firing matches each concept: the F1 of "fires" against
    "has the concept" over the samples. concepts: (N, C) bool, the truth of each sample."""
    fired = (codes > 0).float().cpu()
    truth = torch.as_tensor(np.asarray(concepts), dtype=torch.float32)
    hits = truth.T @ fired  # (C, F) samples with the concept where the feature fires
    return 2 * hits / (truth.sum(0)[:, None] + fired.sum(0)[None, :]).clamp_min(1)


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


def match_concepts(codes: Tensor, concepts: np.ndarray) -> pd.DataFrame:
    """One row per concept: its feature in the one-to-one matching of largest total F1
    (`assignment` on `concept_f1`), and how well that feature detects it over the samples:
    precision (share of the feature's firings on samples with the concept), recall (share of the
    concept's samples where it fires), F1. codes: (N, F); concepts: (N, C) bool; needs F >= C."""
    f1 = concept_f1(codes, concepts).numpy()  # (C, F)
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
    """The matching's summary (`match_concepts`): "recovered", the share of concepts whose feature
    has an F1 of at least `threshold`; the mean "f1", "precision" and "recall" of the pairs."""
    pairs = match_concepts(codes, concepts)
    return {"recovered": float((pairs["f1"] >= threshold).mean()),
            **{m: float(pairs[m].mean()) for m in ("f1", "precision", "recall")}}  # fmt: skip


def chance_recovery(codes: Tensor, concepts: np.ndarray, threshold: float = 0.5, seed: int = 0):
    """`recovery` against the concepts of shuffled samples: what features with the same firing
    rates score when they know nothing of the concepts."""
    order = np.random.default_rng(seed).permutation(len(concepts))
    return recovery(codes, np.asarray(concepts)[order], threshold)
