"""Chapter 2's exercise checks (no need to read): popularity counts, NDCG@K, list diversity."""

import numpy as np
import torch

from ..data import Split
from ..metrics import RankingMetrics, mask_seen, top_k
from ..models.pop import PopConfig, Popularity
from ._common import judge, randn

__all__ = ["check_popularity", "check_ndcg", "check_diversity"]


def check_popularity(fn) -> None:
    """Exercise 2.1: fn(split, n_items) -> (n_items,) the popularity model's counts."""
    train = [np.array([0, 1, 1, 2]), np.array([2, 3]), np.array([2]), np.array([4, 2, 0])]
    split = Split(np.arange(4), train, valid=np.array([5, 5, 5, 3]), test=np.array([6, 6, 1, 5]),
                  n_dropped=0)  # fmt: skip
    n_items = 8
    expected = Popularity(PopConfig(n_items), split.train).counts

    def count(histories):
        return np.bincount(np.concatenate(histories), minlength=n_items)

    mistakes = {
        "you counted the validation items too (split.history('test')): the popularity model "
        "learns from split.train only.": count(split.history("test")),
        "you counted the held-out test items: that leaks the answer into the model; count "
        "split.train only.": count([*split.history("test"), split.test]),
        "you counted each item once per user: count every interaction, repeats included.": count(
            [np.unique(h) for h in split.train]
        ),
    }
    judge("2.1", fn(split, n_items), expected, mistakes, "every training interaction counted.")


def _ndcg(scores, history, targets, k, mask=True, strict=False, inclusive=False) -> float:
    """NDCG@k of one target per user, and the usual mistakes when the flags are turned on."""
    pad = scores.shape[1]
    scores = mask_seen(scores, history, pad) if mask else scores
    target = scores.gather(1, targets[:, None])
    ranks = (scores > target).sum(1) if strict else (scores >= target).sum(1) - 1
    hit = ranks <= k if inclusive else ranks < k
    return (hit / torch.log2(ranks + 2.0)).mean().item()


def check_ndcg(fn) -> None:
    """Exercise 2.2: fn(scores, history, targets, k) -> mean NDCG@k, seen items masked."""
    n_items, k = 12, 3
    scores = torch.randint(0, 6, (40, n_items), generator=torch.Generator().manual_seed(0)).float()
    history = torch.full((40, 4), n_items)  # left-padded with n_items
    targets = torch.zeros(40, dtype=torch.long)
    rng = np.random.default_rng(0)
    for row in range(40):
        items = rng.choice(n_items, 4, replace=False)
        targets[row] = int(items[0])
        seen = items[1 : 1 + rng.integers(1, 4)]
        history[row, 4 - len(seen) :] = torch.as_tensor(seen)
        scores[row, seen] += 3.0  # seen items score high: masking them matters
        if row % 8 == 0:
            scores[row, targets[row]] = 20.0  # a target ranked first
    metrics = RankingMetrics(k, n_items)
    metrics.add(mask_seen(scores, history, n_items), targets)
    expected = metrics.result()[f"ndcg@{k}"]
    args = (scores, history, targets, k)
    mistakes = {
        "did you mask the items each user has seen? Set their scores to -inf "
        "(recsae_lite.metrics.mask_seen) before ranking.": _ndcg(*args, mask=False),
        "ties: an item scored equal to the target counts as ranked above it (rank = number of "
        "other items with score >= the target's).": _ndcg(*args, strict=True),
        "the top K are the 0-based ranks 0..K-1: a hit is rank < K.": _ndcg(*args, inclusive=True),
        "with 0-based ranks the gain of a hit is 1 / log2(rank + 2): rank 0 gains 1.": None,
    }
    judge("2.2", fn(*args), expected, mistakes, "NDCG@K with seen items masked, ties against.")


def _diversity(top, genres, pairs="upper", divide="pairs", similarity=False) -> float:
    G = genres[top].float()  # (B, k, n_genres)
    inter = G @ G.transpose(1, 2)
    sizes = G.sum(2)
    union = sizes[:, :, None] + sizes[:, None, :] - inter
    jaccard = inter / (union if similarity is None else union.clamp(min=1))
    value = jaccard if similarity else 1 - jaccard
    k = top.shape[1]
    value = value.triu(diagonal=1) if pairs == "upper" else value
    count = k * (k - 1) / 2 if divide == "pairs" else k * k
    return (value.sum((1, 2)) / count).mean().item()


def check_diversity(fn) -> None:
    """Exercise 2.3: fn(top, genres) -> the mean over lists of their pairs' genre 1 - Jaccard."""
    n_items, k = 10, 4
    genres = torch.rand(n_items, 4, generator=torch.Generator().manual_seed(1)) < 0.5
    genres[:2] = False  # two items without genres
    genres[2:, 0] |= ~genres[2:].any(1)  # every other item has one at least
    scores = randn(6, n_items, seed=2)
    scores[0, :2] += 10.0  # the first user's list holds both items without genres
    top = top_k(scores, k)
    metrics = RankingMetrics(k, n_items, genres=genres)
    metrics.add(scores, top[:, 0])
    expected = metrics.result()[f"diversity@{k}"]
    mistakes = {
        "did you pair each item with itself too? Average over the k (k - 1) / 2 pairs i < j.": (
            _diversity(top, genres, pairs="all", divide="square")
        ),
        "divide the sum over pairs i < j by their number, k (k - 1) / 2, not by k * k.": (
            _diversity(top, genres, divide="square")
        ),
        "diversity is the dissimilarity, 1 - Jaccard, not the Jaccard similarity.": (
            _diversity(top, genres, similarity=True)
        ),
        "two items without genres have an empty union: count their similarity as 0 (clamp the "
        "union to at least 1).": None,
    }
    judge("2.3", fn(top, genres), expected, mistakes, "mean pairwise genre dissimilarity.")
