"""Chapter 4's exercise checks (no need to read): item features, genre scores, feature effects."""

import numpy as np
import torch

from .. import interpret
from ..interventions import feature_direction
from ._common import judge, randn, tiny_sae, tiny_sasrec

__all__ = ["check_item_features", "check_genre_score", "check_feature_effect"]


def check_item_features(fn) -> None:
    """Exercise 4.1: fn(acts, items, top, min_items) -> (U,) bool, True for item features."""
    rng = np.random.default_rng(0)
    n, top, min_items = 80, 10, 4
    items = rng.integers(0, 30, n)
    items[:12] = [1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2]
    acts = torch.zeros(n, 4)
    acts[:12, 0] = torch.linspace(1, 2, 12)  # fires on two films: an item feature
    acts[:, 1] = torch.as_tensor(rng.random(n), dtype=torch.float32)  # broad
    acts[40:43, 2] = 1.0  # positive on three positions only
    acts[:, 3] = -torch.as_tensor(rng.random(n), dtype=torch.float32)
    acts[:12, 3] = 1.0  # ten top positions, two films
    tops = interpret.top_items(acts, items, top)
    expected = interpret.item_features(tops, min_items)
    all_tops = [items[i] for i in acts.topk(top, dim=0).indices.T.numpy()]
    mistakes = {
        "count distinct items (len(set(...))), not positions: a feature that fires on one film "
        "at many positions is an item feature.": np.array([len(t) < min_items for t in tops]),
        "only the coordinate's positive positions count among its top ones.": np.array(
            [len(set(t)) < min_items for t in all_tops]
        ),
        "True marks an item feature: fewer than min_items distinct items.": ~expected,
    }
    got = fn(acts, items, top, min_items)
    judge("4.1", got, expected, mistakes, "distinct items among the top positive positions.")


def check_genre_score(fn) -> None:
    """Exercise 4.2: fn(acts (N,), labels (N,) bool, top) -> one coordinate's genre score."""
    rng = np.random.default_rng(1)
    n, top = 200, 20
    labels = rng.random(n) < 0.3
    coordinates = [
        torch.as_tensor(rng.random(n) + labels, dtype=torch.float32),  # about the genre
        torch.as_tensor(rng.random(n), dtype=torch.float32),  # chance
        torch.as_tensor(np.where(np.arange(n) < 12, labels + 1.0, -1.0)),
    ]  # 12 positives
    expected = [interpret.genre_scores(u[:, None].float(), labels[:, None], top, 1)[0, 0]
                for u in coordinates]  # fmt: skip
    b = labels.mean()

    def precision(u, positive=True):
        order = u.topk(top).indices.numpy()
        kept = order[u.numpy()[order] > 0] if positive else order
        return labels[kept].mean()

    mistakes = {
        "subtract the base rate b, the share of all positions with the genre: (p - b) / (1 - b)."
        : [precision(u) for u in coordinates],
        "divide p - b by 1 - b, so that 1 means every top position has the genre.": [
            precision(u) - b for u in coordinates
        ],
        "only the coordinate's positive positions among its top ones count: p is the share of "
        "those.": [
            (precision(u, False) - b) / (1 - b) for u in coordinates
        ],
    }  # fmt: skip
    got = [fn(u, labels, top) for u in coordinates]
    judge("4.2", got, expected, mistakes, "precision above chance of the top positions.")


def check_feature_effect(fn) -> None:
    """Exercise 4.3: fn(model, sae, j) -> (n_items,) the score change of feature j's direction."""
    model = tiny_sasrec()
    sae, _ = tiny_sae(d_in=8, d_sae=32)
    j = 5
    with torch.no_grad():
        h = randn(1, 8, seed=3)
        direction = sae.W_dec[j] * sae.input_scale
        expected = (model.scores_from_hidden(h + direction, None)
                    - model.scores_from_hidden(h, None))[0]  # fmt: skip
        one_hot = torch.zeros(1, sae.config.d_sae)
        one_hot[0, j] = 1.0
        mistakes = {
            "W_dec is in the SAE's normalised units: multiply the row by sae.input_scale.": (
                model.scores_from_hidden(sae.W_dec[j : j + 1], None)[0]
            ),
            "sae.decode(e_j) adds the decoder bias and the input mean: the direction alone is "
            "W_dec[j] * input_scale (or decode(e_j) - decode(0)).": (
                model.scores_from_hidden(sae.decode(one_hot), None)[0]
            ),
            "use the decoder row as it is (times input_scale), not normalised to unit length.": (
                model.scores_from_hidden(feature_direction(sae, j)[None], None)[0]
            ),
        }
        got = fn(model, sae, j)
    judge("4.3", got, expected, mistakes, "the decoder direction through the frozen model.")
