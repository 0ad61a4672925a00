"""Chapter 9's exercise checks (no need to read): precision and recall, noisy tags, matching."""

import numpy as np
import torch.nn.functional as F

from .. import interpret
from ._common import fail, judge, randn

__all__ = ["check_precision_recall", "check_noisy_labels", "check_matching"]


def check_precision_recall(fn) -> None:
    """Exercise 9.1: fn(acts (N,), has (N,) bool) -> (precision, recall) of one feature."""
    codes = F.relu(randn(80, 4, seed=13) - 0.3)  # many exact zeros
    codes[:, 3] = 0.0  # a feature that never fires: one concept must be matched to it
    noise = randn(80, 4, seed=14)
    concepts = (codes[:, [1, 2, 0, 3]] + 0.6 * noise > 0.5).numpy()  # (80, 4) bool
    pairs = interpret.match_concepts(codes, concepts)
    expected = pairs[["precision", "recall"]].to_numpy()
    acts = codes.numpy()[:, pairs["feature"]]  # (N, C) the activations of each concept's feature
    truth = concepts.astype(float)
    fired = (acts > 0).astype(float)

    def ratio(top, bottom):
        return top / np.maximum(bottom, 1e-12)

    hits = (fired * truth).sum(0)
    weighted = (acts * truth).sum(0)
    mistakes = {
        "precision and recall are swapped: precision divides the hits by the feature's firings, "
        "recall by the concept's samples.": expected[:, ::-1],
        "divide the hits by the feature's firings (precision) and by the concept's samples "
        "(recall), not by the number of samples.": np.stack([hits / len(acts)] * 2, 1),
        "a feature fires where its activation is > 0: a zero is no firing.": np.stack(
            [truth.mean(0), np.ones(len(hits))], 1
        ),
        "count the firings (acts > 0) as 0/1; do not weigh them by the activation.": np.stack(
            [ratio(weighted, acts.sum(0)), ratio(weighted, truth.sum(0))], 1
        ),
        "a feature that never fires has no firings: its precision is 0 / 0; count it as 0 "
        "(divide by at least 1), as interpret.match_concepts does.": None,
    }
    got = [fn(codes[:, j], concepts[:, c]) for c, j in enumerate(pairs["feature"])]
    judge("9.1", got, expected, mistakes, "precision over firings, recall over the concept.")


def _moved(concepts: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_items,) per item: the true labels that are gone, and the wrong ones that appeared."""
    return (concepts & ~labels).sum(1), (labels & ~concepts).sum(1)


def check_noisy_labels(fn) -> None:
    """Exercise 9.2: fn(concepts, drop, swap, seed) -> (n_items, C) bool noisy tags. Any order of
    random draws is right: this checks properties on a large matrix, not draws."""
    n, n_concepts, tol = 8_000, 6, 0.02  # 24,000 labels: a share's std is at most 0.0033
    rng = np.random.default_rng(15)
    concepts = np.zeros((n, n_concepts), dtype=bool)
    concepts[np.arange(n)[:, None], rng.random((n, n_concepts)).argsort(1)[:, :3]] = True
    truth = concepts.copy()
    n_labels = truth.sum()

    def tags(drop, swap, seed=0):
        labels = np.asarray(fn(concepts, drop, swap, seed))
        if not np.array_equal(concepts, truth):
            fail("9.2", "your function changed the matrix it was given: the truth must stay as "
                 "it was; work on a copy (np.array(concepts, dtype=bool)).")  # fmt: skip
        if labels.shape != truth.shape or not np.isin(labels, (0, 1)).all():
            fail("9.2", f"return a bool matrix of the shape of concepts, {truth.shape}; yours has "
                 f"shape {labels.shape}.")  # fmt: skip
        return labels.astype(bool)

    def shares(labels):
        gone, wrong = _moved(truth, labels)
        return gone.sum() / n_labels, wrong.sum() / n_labels

    if not np.array_equal(tags(0.0, 0.0), truth):
        fail("9.2", "with drop = swap = 0 the tags must be the truth itself.")
    both = tags(0.3, 0.2)
    if not np.array_equal(both, tags(0.3, 0.2)):
        fail("9.2", "the same seed must give the same tags: draw from "
             "np.random.default_rng(seed).")  # fmt: skip
    if np.array_equal(both, tags(0.3, 0.2, seed=1)):
        fail("9.2", "another seed must give other tags: pass seed to np.random.default_rng.")
    dropped, wrong = shares(tags(0.3, 0.0))
    if wrong > 0:
        fail("9.2", "with swap = 0 no wrong label may appear: did you exchange drop and swap?")
    if abs(dropped - 0.3) > tol:
        fail("9.2", f"with drop = 0.3 and swap = 0 you dropped {dropped:.3f} of the true "
             "labels.")  # fmt: skip
    only_swaps = tags(0.0, 0.3)
    for labels in (only_swaps, both):
        gone, added = _moved(truth, labels)
        if (added > gone).any():
            fail("9.2", "a swap moves a label: the true one goes when the wrong one comes; some "
                 "items got more wrong labels than they lost true ones.")  # fmt: skip
    gone, added = _moved(truth, only_swaps)
    if (added < gone).any():
        fail("9.2", "with drop = 0 every label that goes is swapped, so it must land on a concept "
             "the item neither has nor was already given (choose among ~concepts[item] & "
             "~labels[item]): some of yours did not.")  # fmt: skip
    swapped, _ = shares(only_swaps)
    if abs(swapped - 0.3) > tol:
        fail("9.2", f"with drop = 0 and swap = 0.3 you swapped {swapped:.3f} of the true "
             "labels.")  # fmt: skip
    gone, moved = shares(both)
    if abs(gone - 0.5) > tol:
        fail("9.2", "a label is dropped with probability drop or else swapped with probability "
             "swap, never both: one draw u per label, dropped if u < drop, swapped if drop <= u "
             f"< drop + swap. With 0.3 and 0.2, {gone:.3f} of the true labels went instead of "
             "0.5.")  # fmt: skip
    if abs(moved - 0.2) > tol:
        fail("9.2", f"with drop = 0.3 and swap = 0.2, {moved:.3f} of the labels moved to a "
             "wrong concept instead of 0.2.")  # fmt: skip
    print("Exercise 9.2 passed: dropped or else swapped, each swap to a concept the item lacks.")


def _greedy(f1: np.ndarray, by_value: bool) -> np.ndarray:
    """One-to-one by greedy choices: concept by concept, or the largest free pair first."""
    f1, chosen = f1.copy(), np.full(len(f1), -1)
    for concept in range(len(f1)):
        if by_value:
            concept, feature = np.unravel_index(f1.argmax(), f1.shape)
        else:
            feature = f1[concept].argmax()
        chosen[concept] = feature
        f1[:, feature] = -np.inf
        f1[concept] = -np.inf
    return chosen


def check_matching(fn) -> None:
    """Exercise 9.3: fn(f1 (C, d_sae)) -> (C,) the one-to-one matching of largest total F1."""
    trap = np.array([[0.9, 0.8, 0.1, 0.0], [0.85, 0.2, 0.1, 0.05], [0.3, 0.7, 0.6, 0.1]])
    codes = F.relu(randn(60, 6, seed=16))
    concepts = (codes[:, [2, 0, 0, 5]] + randn(60, 4, seed=17) > 0.6).numpy()
    cases = [(trap, interpret.assignment(-trap)),
             (interpret.concept_f1(codes, concepts).numpy(),
              interpret.match_concepts(codes, concepts)["feature"].to_numpy())]  # fmt: skip
    for f1, expected in cases:
        got = np.asarray(fn(f1))
        n_concepts, n_features = f1.shape
        if got.shape != (n_concepts,):
            fail("9.3", f"return one feature per concept, shape ({n_concepts},); yours has "
                 f"shape {got.shape}.")  # fmt: skip
        if not np.isin(got, np.arange(n_features)).all():
            fail("9.3", f"features are 0..{n_features - 1}; you gave {got}.")
        got = got.astype(int)
        if len(set(got)) < n_concepts:
            fail("9.3", "two concepts got the same feature (is it each concept's argmax?): the "
                 "matching is one-to-one, each feature for one concept at most.")  # fmt: skip
        rows = np.arange(n_concepts)
        total, best = f1[rows, got].sum(), f1[rows, expected].sum()
        if total < best - 1e-6:
            if np.array_equal(got, interpret.assignment(f1)):
                fail("9.3", "interpret.assignment finds the least total cost: pass -f1 to get "
                     "the largest total F1.")  # fmt: skip
            hint = "Compare whole one-to-one assignments."
            if any(np.array_equal(got, _greedy(f1, v)) for v in (False, True)):
                hint = ("A greedy choice (each concept, or the largest F1 first, takes its best "
                        "free feature) can take a pair that costs more later: compare whole "
                        "one-to-one assignments.")  # fmt: skip
            fail("9.3", f"your matching's total F1 is {total:.3f}, the best one's {best:.3f}. "
                 f"{hint}")  # fmt: skip
    print("Exercise 9.3 passed: the one-to-one matching of largest total F1.")
