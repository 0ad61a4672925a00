"""The synthetic dataset: planted concepts with a known hierarchy, generated from a seed.

Items carry child concepts (and so their parents); users prefer a few child concepts and move
between them. What was planted (`SyntheticTruth`) is the answer key that real genres only
approximate (chapter 9). `load_dataset("synthetic", seed=...)` calls `synthetic_dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np

from .core import DataError, Dataset, make_dataset

__all__ = ["SyntheticConfig", "SyntheticTruth", "synthetic_dataset"]


@dataclass
class SyntheticConfig:
    """The synthetic generator's settings; every (low, high) range includes both ends."""

    n_users: int = 1000  # users, one sequence each
    n_items: int = 600  # items; enough for every child concept to have some
    n_parents: int = 4  # top-level concepts
    n_children: tuple[int, int] = (3, 5)  # child concepts per parent, drawn for each parent
    concepts_per_item: tuple[int, int] = (1, 3)  # child concepts per item, and so their parents
    prefs_per_user: tuple[int, int] = (2, 3)  # child concepts each user prefers
    seq_len: tuple[int, int] = (20, 80)  # interactions per user
    popularity_exponent: float = 1.0  # Zipf-like: the item of popularity rank r has weight r^-a
    switch_prob: float = 0.2  # chance, each step, that a user moves to another preferred concept
    parent_affinity: float = 0.8  # chance that an item's or a user's next child concept is a
    #                               sibling of its first (what makes the parents real: without it
    #                               a parent would only be a label over unrelated children)

    def __post_init__(self):
        def fail(name, problem):
            raise DataError(f"SyntheticConfig.{name} is {getattr(self, name)!r}: {problem}")

        for name in ("n_users", "n_items", "n_parents"):
            if not isinstance(getattr(self, name), Integral) or getattr(self, name) < 1:
                fail(name, "it must be an integer, at least 1")
        for name in ("n_children", "concepts_per_item", "prefs_per_user", "seq_len"):
            pair = getattr(self, name)
            integers = isinstance(pair, (tuple, list)) and len(pair) == 2
            integers = integers and all(isinstance(n, Integral) for n in pair)
            if not integers or not 1 <= pair[0] <= pair[1]:
                fail(name, "it must be a range (low, high) of integers with 1 <= low <= high")
        fewest = self.n_parents * self.n_children[0]  # the fewest child concepts there can be
        for name in ("concepts_per_item", "prefs_per_user"):
            if getattr(self, name)[1] > fewest:
                fail(name, f"there may be only {fewest} child concepts (n_parents * n_children[0])")
        if self.n_items < self.n_parents * self.n_children[1]:
            fail(
                "n_items",
                "every child concept needs an item: use n_parents * n_children[1] or more",
            )
        if self.popularity_exponent < 0:
            fail("popularity_exponent", "it must be 0 or more")
        for name in ("switch_prob", "parent_affinity"):
            if not 0 <= getattr(self, name) <= 1:
                fail(name, "it is a probability: it must be in [0, 1]")


@dataclass
class SyntheticTruth:
    """What the synthetic generator planted: the answer key that real genres only approximate."""

    item_concepts: np.ndarray  # (n_items, n_concepts) bool: each item's child concepts and parents
    concept_names: list[str]  # parents "P0", "P1", ..., then children "P0.C0", "P0.C1", ...
    parent: np.ndarray  # (n_concepts,) int: the index of each concept's parent, -1 for top level
    user_prefs: np.ndarray  # (n_users, n_concepts) bool: the child concepts each user prefers
    config: SyntheticConfig  # the settings it was generated with (the seed is the other input)


def synthetic_dataset(config: SyntheticConfig, seed: int) -> Dataset:
    """Users who move between a few preferred concepts and pick popular items carrying them.

    An item's child concepts, and a user's preferred ones, are mostly siblings (`parent_affinity`),
    so that items of one parent are taken by the same users. Each step, a user moves to another
    preferred child concept with probability `switch_prob`, then draws by popularity an unseen
    item carrying the current concept (else another preferred one; else the sequence ends).
    Timestamps are step numbers."""
    c, rng = config, np.random.default_rng(seed)
    # the hierarchy: parents first, then each parent's children
    n_children = rng.integers(c.n_children[0], c.n_children[1] + 1, size=c.n_parents)
    child_parent = np.repeat(np.arange(c.n_parents), n_children)  # (n_child,)
    n_child = len(child_parent)
    child_names = [f"P{p}.C{k}" for p in range(c.n_parents) for k in range(n_children[p])]
    names = [f"P{p}" for p in range(c.n_parents)] + child_names

    def draw(counts, first):
        """(n_rows, n_child) bool: counts[i] child concepts in row i, first[i] among them; each
        further one a sibling of first[i] with probability parent_affinity (if one is left)."""
        rows = np.zeros((len(counts), n_child), dtype=bool)
        for row, count, f in zip(rows, counts, first, strict=True):
            row[f] = True
            for _ in range(count - 1):
                pool = np.flatnonzero(~row & (child_parent == child_parent[f]))
                if len(pool) == 0 or rng.random() >= c.parent_affinity:
                    pool = np.flatnonzero(~row)
                row[rng.choice(pool)] = True
        return rows

    # deal the items' first concepts round-robin, so that every child concept has items
    first = rng.permutation(np.arange(c.n_items) % n_child)
    low, high = c.concepts_per_item
    item_child = draw(rng.integers(low, high + 1, size=c.n_items), first)
    item_parent = item_child @ np.eye(c.n_parents, dtype=bool)[child_parent]  # (n_items, n_parents)
    low, high = c.prefs_per_user
    user_child = draw(
        rng.integers(low, high + 1, size=c.n_users), rng.integers(n_child, size=c.n_users)
    )
    log_weight = -c.popularity_exponent * np.log1p(rng.permutation(c.n_items))

    users, items, steps = [], [], []
    for u in range(c.n_users):
        prefs = np.flatnonzero(user_child[u])
        # Gumbel top-k: sorting log popularity plus Gumbel noise gives the order in which the
        # user would draw the items by popularity without replacement
        order = np.argsort(-(log_weight + rng.gumbel(size=c.n_items)))
        queues = [iter(order[item_child[order, p]].tolist()) for p in prefs]
        length = rng.integers(c.seq_len[0], c.seq_len[1] + 1)
        switch = rng.random(length) < c.switch_prob
        hop = rng.integers(1, max(len(prefs), 2), size=length)  # to another preferred concept
        current, seen = rng.integers(len(prefs)), set()
        for step in range(length):
            if switch[step]:
                current = (current + hop[step]) % len(prefs)
            unseen = (i for queue in (queues[current], *queues) for i in queue if i not in seen)
            item = next(unseen, None)
            if item is None:
                break
            seen.add(item)
            users.append(u)
            items.append(item)
            steps.append(step)

    concepts = np.concatenate([item_parent, item_child], axis=1)
    titles = [
        f"item {i} ({' '.join(child_names[k] for k in np.flatnonzero(row))})"
        for i, row in enumerate(item_child)
    ]
    dataset = make_dataset(
        "synthetic",
        "the synthetic generator",
        user=np.array(users),
        item=np.array(items),
        timestamp=np.array(steps),
        rating=np.full(len(users), np.nan),
        item_ids=np.arange(c.n_items),
        titles=titles,
        genres=concepts,
        genre_names=names,
    )
    user_prefs = np.concatenate([np.zeros((c.n_users, c.n_parents), bool), user_child], axis=1)
    dataset.truth = SyntheticTruth(
        item_concepts=concepts[dataset.item_ids],
        concept_names=names,
        parent=np.concatenate([np.full(c.n_parents, -1), child_parent]),
        user_prefs=user_prefs[dataset.user_ids],
        config=c,
    )
    return dataset
