"""What several benchmarks measure the same way (no need to read): SAE fit settings, the untrained
SAE control, validation and test users, curves compared at equal levels, per-unit terms of the
package's means (`fidelity_per_user`, `child_agreement`), and figures whose bootstrap resamples
users (or items) and recomputes something heavier than a mean.

A figure of a result file is `common.bootstrap_interval` of a statistic; where the statistic is
not a function of per-user numbers alone (a share of coordinates that pass a test on their top
positions, the coverage of all lists, a concept-feature activity matrix) it reads the resampled
units' indices (`over_units`) and recomputes from them: `TopPositions` (paper A's genre scores
with users resampled; `Resampled` computes a statistic for many resamples at once), `coverage`,
`WeightedActivity` (paper C's A = P S with items resampled).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from common import bootstrap_interval  # a script's module: benchmarks/ is on the path

from recsae_lite import hierarchy, two_tower, zoo
from recsae_lite.interpret import best_score
from recsae_lite.metrics import kendall_tau, kendall_tau_union, rbo_extrapolated, rbo_truncated
from recsae_lite.sae import SAE, FitConfig, SAEConfig
from recsae_lite.train import recommend


def fit_settings(kind: str, profile: str, seed: int, **changes) -> FitConfig:
    """The fit of the book's SAEs of `kind` in a profile (`zoo.fit_settings`), with `changes`
    (FitConfig fields) on top."""
    return zoo.fit_settings(kind, profile, seed, **changes)


@torch.no_grad()
def untrained(config: SAEConfig, x: torch.Tensor, seed: int) -> SAE:
    """The control of every interpretation claim: an SAE of `config` as `sae.fit` initialises it
    from `seed` (the same weights the trained one started from), with only its input
    standardisation (and BatchTopK's threshold) measured on x: no training step."""
    sae = SAE(config, torch.Generator().manual_seed(seed)).to(x.device)
    sae.fit_normalisation(x)
    if sae.variant.batch_wide:
        sae.calibrate_threshold(x)
    return sae.eval()


def halves(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Rows 0..n-1 in two fixed halves, "validation" (chooses knobs) and "test" (is measured): the
    same for every seed of the models, so that a test user's value is a mean over seeds."""
    order = np.random.default_rng(seed).permutation(n)
    return {"validation": np.sort(order[::2]), "test": np.sort(order[1::2])}


def over_units(n: int, statistic, **options) -> dict:
    """`bootstrap_interval` over n units (users, items, concepts) for a statistic of the resampled
    units' indices (an int array, with repeats), which reads their data itself."""
    return bootstrap_interval(np.arange(n), statistic=lambda rows: statistic(rows.astype(int)),
                              **options)  # fmt: skip


def ratio(a: float, b: float) -> float:
    """a / b for a figure "a over b" of two counts or sums: inf when only b is 0, and 1 (a tie)
    when both are, so that no resample makes the interval NaN."""
    if a == b == 0:
        return 1.0
    with np.errstate(divide="ignore"):
        return float(np.float64(a) / b)


# -- curves compared at equal levels -------------------------------------------------------------


def along(x: np.ndarray, y: np.ndarray, level: float) -> float:
    """y where the curve (x, y), followed from its first point, first reaches x = level
    (linearly between its points); y[0] when it starts there or beyond, NaN when it never does."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if level <= x[0]:
        return float(y[0])
    reached = np.flatnonzero(x >= level)
    if len(reached) == 0:
        return float("nan")
    j = reached[0]
    t = (level - x[j - 1]) / (x[j] - x[j - 1])
    return float(y[j - 1] + t * (y[j] - y[j - 1]))


def at_equal_levels(x_a, y_a, x_b, y_b, n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Two curves that start at the same x (the unedited model) compared at n levels of x evenly
    over the range both reach (the start left out: both are equal there): (y_a, y_b) there.
    x grows along both curves (a cost; pass minus a quality that falls)."""
    start = x_a[0]
    reach = min(np.max(x_a), np.max(x_b))
    if not reach > start:
        return np.array([]), np.array([])
    levels = np.linspace(start, reach, n + 1)[1:]  # the last exactly `reach`: always reached
    return (np.array([along(x_a, y_a, v) for v in levels]),
            np.array([along(x_b, y_b, v) for v in levels]))  # fmt: skip


# -- paper A's genre scores with users resampled -------------------------------------------------


class TopPositions:
    """Each coordinate's genre score and item-feature test (`interpret.genre_scores`,
    `interpret.item_features`) recomputed for resamples of users, without recomputing any
    activation: a user drawn c times counts each of their positions c times.

    Each coordinate keeps its `depth` largest positions; a resample's top `top` are the first of
    them, counted with their users' weights. A coordinate whose kept positions, so weighted, fill
    fewer than `top` places while it is positive beyond them is scored on those it has
    (`ran_out` counts them: the depth should make that rare)."""

    def __init__(self, acts, users, items, labels: dict, depth=400, top=100, min_active=20):
        """acts: (N, F) activations at N positions, or an iterable of (n, F) chunks of them;
        users, items: (N,) the user row and item of each position; labels: view -> (N, G) bool."""
        chunks = [acts] if isinstance(acts, torch.Tensor) else acts
        values = index = None
        offset = 0
        for chunk in chunks:  # a running top-depth over chunks of positions
            chunk = chunk.detach().float().cpu()
            here = torch.arange(offset, offset + len(chunk))[:, None].expand_as(chunk)
            offset += len(chunk)
            values = chunk if values is None else torch.cat([values, chunk])
            index = here if index is None else torch.cat([index, here])
            values, order = values.topk(min(depth, len(values)), dim=0)
            index = index.gather(0, order)
        self.top, self.min_active = top, min_active
        self.ran_out = self.scored = 0
        self.positive = (values > 0).T  # (F, depth)
        index = index.T.numpy()
        n_users = int(np.max(users)) + 1
        # the user of each kept position; a position that is not positive reads user n_users,
        # who weighs 0: it takes no place in the top
        user = torch.as_tensor(np.asarray(users)[index]).masked_fill(~self.positive, n_users)
        self.user = user.flatten()
        self.labels = {view: torch.as_tensor(np.asarray(v)[index], dtype=torch.float32)
                       for view, v in labels.items()}  # fmt: skip
        # each kept position's item, as its rank among the coordinate's distinct items
        kept_items = np.asarray(items)[index]
        self.item_group = torch.as_tensor(
            np.stack([np.unique(row, return_inverse=True)[1] for row in kept_items])
        )
        self.positions = np.bincount(users, minlength=n_users).astype(float)  # per user
        self.label_sums = {view: np.stack([np.bincount(users, v[:, g].astype(float), n_users)
                                           for g in range(v.shape[1])], axis=1)
                           for view, v in labels.items()}  # fmt: skip

    def scores(self, weights: np.ndarray, min_items: int = 10) -> tuple[dict, np.ndarray]:
        """For B resamples that draw user u weights[b, u] times: per view, the (B, F, G) genre
        scores; and the (B, F) item features. Counts the (resample, coordinate) pairs scored, and
        those that ran out of kept positions."""
        weights = np.atleast_2d(weights)
        padded = torch.as_tensor(np.pad(weights, ((0, 0), (0, 1))), dtype=torch.float32)
        w = padded.index_select(1, self.user).view(len(weights), *self.positive.shape)
        before = w.cumsum(2) - w
        take = torch.minimum((self.top - before).clamp_min(0), w)  # copies in the top places
        active = take.sum(2)  # (B, F)
        taken = (take > 0).float()
        group = self.item_group.expand_as(take)
        distinct = torch.zeros_like(take).scatter_reduce(2, group, taken, "amax").sum(2)
        item_features = (distinct < min_items).numpy()
        self.ran_out += int((self.positive[:, -1] & (active < self.top)).sum())
        self.scored += active.numel()
        scores = {}
        for view, labels in self.labels.items():
            hits = torch.bmm(take.transpose(0, 1), labels).transpose(0, 1)  # (B, F, G)
            precision = hits / active.clamp_min(1)[..., None]
            base = weights @ self.label_sums[view] / (weights @ self.positions)[:, None]
            base = torch.as_tensor(base, dtype=torch.float32)[:, None, :]  # (B, 1, G)
            score = (precision - base) / (1 - base).clamp_min(1e-9)
            score[active < self.min_active] = float("nan")
            scores[view] = score.numpy()
        return scores, item_features

    def pass_shares(self, weights, threshold: float, min_items: int = 10) -> dict[str, np.ndarray]:
        """Per view, (B,) the share of EVERY coordinate whose best genre score reaches the
        threshold (an item feature, or one positive too rarely to score, fails)."""
        scores, item_features = self.scores(weights, min_items)
        return {view: ((best_score(s.reshape(-1, s.shape[-1])).reshape(s.shape[:2]) >= threshold)
                       & ~item_features).mean(1) for view, s in scores.items()}  # fmt: skip


def counts_of(rows: np.ndarray, n: int) -> np.ndarray:
    """(B, n) how many times each resample of rows (B, m) draws each of n units."""
    rows = np.atleast_2d(rows)
    counts = np.zeros((len(rows), n))
    np.add.at(counts, (np.arange(len(rows))[:, None], rows), 1)
    return counts


class Resampled:
    """A statistic of resampled units that costs too much to compute one resample at a time, or
    that several figures read: batch(rows (B, n)) gives the results of B resamples at once. It is
    computed ahead for the draws `bootstrap_interval` will make (the same seed draws the same
    rows), in blocks; called with rows, it returns that draw's result (computing one it does not
    know: always right, only slower)."""

    def __init__(self, n: int, batch, resamples: int = 2000, seed: int = 0, block: int = 50):
        self.batch, self.memo = batch, {}
        draws = np.random.default_rng(seed).integers(0, n, (resamples, n))  # bootstrap_interval's
        for start in range(0, resamples, block):
            rows = draws[start : start + block]
            for r, result in zip(rows, batch(rows), strict=True):
                self.memo[r.tobytes()] = result

    def __call__(self, rows: np.ndarray):
        key = rows.tobytes()
        if key not in self.memo:
            self.memo[key] = self.batch(rows[None])[0]
        return self.memo[key]


# -- lists and activities under resampling -------------------------------------------------------


def coverage(lists: np.ndarray, rows: np.ndarray, n_items: int) -> float:
    """The share of the catalogue in the top lists (users, k) of the users `rows`."""
    return np.count_nonzero(np.bincount(lists[rows].ravel(), minlength=n_items)) / n_items


class WeightedActivity:
    """Paper C's concept activity A = P S (`interpret.concept_activity`) for a resample of items,
    an item drawn c times counting c times: A[t, f] = sum_i w_i S[i, f] over the items of concept
    t / sum_i w_i over them. codes: (n_items, F) S, kept sparse; concepts: (n_items, C) bool."""

    def __init__(self, codes, concepts):
        self.codes_T = torch.as_tensor(codes, dtype=torch.float64).cpu().T.to_sparse()
        self.concepts = torch.as_tensor(np.asarray(concepts), dtype=torch.float64)

    def __call__(self, weights: np.ndarray) -> torch.Tensor:
        weighted = self.concepts * torch.as_tensor(weights, dtype=torch.float64)[:, None]
        totals = weighted.sum(0).clamp_min(1)  # as concept_activity: an empty concept is 0
        return (torch.sparse.mm(self.codes_T, weighted).T / totals[:, None]).float()


@torch.no_grad()
def fidelity_per_user(model, sae, split, rows, k: int = 30, p: float = 0.9) -> dict:
    """`two_tower.fidelity`'s four measures for each of the split's rows, measure -> (len(rows),)
    (its figures are their means): the model's top-k list against the list from reconstructed
    embeddings, by the book's RBO and tau and by paper B's."""
    sae.eval()
    rebuilt = copy.deepcopy(model)
    for table in (rebuilt.user_emb, rebuilt.item_emb):
        table.weight.copy_(two_tower.reconstruct(sae, table.weight))
    top_o, o = recommend(model, split, rows, k, scores=True)
    top_r, r = recommend(rebuilt, split, rows, k, scores=True)
    pairs = list(zip(top_o, top_r, strict=True))
    return {
        "rbo": np.array([rbo_extrapolated(a, b, p) for a, b in pairs]),
        "kendall_tau": np.array([kendall_tau(o[j, top], r[j, top]) for j, top in enumerate(top_o)]),
        "rbo_paper_b": np.array([rbo_truncated(a, b, p) for a, b in pairs]),
        "tau_paper_b": np.array([kendall_tau_union(a, b) for a, b in pairs]),
    }


def child_agreement(codes, groups, concepts, concept_parent) -> np.ndarray:
    """(C,) for each child concept (NaN for a parent), whether its best feature hangs, at any
    depth, under its parent concept's best feature in the feature tree: `hierarchy.agreement`'s
    terms (its value is their mean)."""
    parent = hierarchy.tree(codes, groups)
    best = hierarchy.best_features(codes, concepts)[0]
    return np.array([np.nan if p < 0 else float(best[p] in hierarchy.ancestors(parent, best[c]))
                     for c, p in enumerate(concept_parent)])  # fmt: skip
