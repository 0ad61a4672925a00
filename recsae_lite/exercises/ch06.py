"""Chapter 6's exercise checks (no need to read): semantic purity@K, overwriting a feature, RBO."""

import numpy as np
import torch
import torch.nn.functional as F

from ..interpret import purity
from ..metrics import rbo_extrapolated, rbo_truncated
from ._common import judge, judge_edit, randn, tiny_sae

__all__ = ["check_purity", "check_overwrite", "check_rbo"]


def check_purity(fn) -> None:
    """Exercise 6.1: fn(acts (n_items, F), concepts (n_items, C) bool, k) -> (F, C) purity@k."""
    acts = F.relu(randn(50, 6, seed=4))  # many items at 0 for each feature
    concepts = (randn(50, 3, seed=5) > 0.3).numpy()
    k = 5
    expected = purity(acts, concepts, k)
    c = torch.as_tensor(concepts, dtype=torch.float32)
    fired = (acts > 0).float()
    bottom = acts.topk(k, dim=0, largest=False).indices.T  # (F, k)
    mistakes = {
        "take each feature's k *most* activated items (topk along the items, largest=True).": (
            c[bottom].mean(1)
        ),
        "purity reads only the feature's k most activated items, not every item it fires on.": (
            (fired.T @ c) / fired.sum(0)[:, None]
        ),
    }
    judge("6.1", fn(acts, concepts, k), expected, mistakes, "the share of the top k with it.")


def check_overwrite(fn) -> None:
    """Exercise 6.2: fn(sae, u, feature, value) -> u' with z_n <- v, the error term kept."""
    sae, x = tiny_sae()
    u = x[:10]
    z = sae.encode(u).detach()
    n = int((z > 0).sum(0).argmax())
    constant = ("setting z_n <- v adds (v - z_n) W_dec[n], not v W_dec[n]: subtract the current "
                "activation.")  # fmt: skip
    no_op = (u[:1], float(z[0, n]), "setting z_n to its current value")
    judge_edit("6.2", fn, sae, u, n, 2.0, "set", no_op, "z_n set, the error term kept.", constant)


def check_rbo(fn) -> None:
    """Exercise 6.3: fn(a, b, p) -> the extrapolated RBO of two top lists of one length."""
    rng = np.random.default_rng(6)
    base = list(rng.permutation(40)[:10])
    pairs = [
        (base, base),
        (base, list(range(100, 110))),
        (base, base[::-1]),
        (base, base[:5] + list(range(100, 105))),
        (base, list(rng.permutation(base))),
    ]
    p = 0.9  # fmt: skip
    expected = [rbo_extrapolated(a, b, p) for a, b in pairs]

    def parts(a, b):
        """Per depth d: the overlap of the two prefixes of length d."""
        return np.array([len(set(a[:d]) & set(b[:d])) for d in range(1, len(a) + 1)])

    mistakes = {
        "RBO of two identical lists must be 1: add the extrapolation term overlap_k / k * p^k "
        "(Webber et al. 2010, eq. 32) to (1 - p) / p * sum_d p^d overlap_d / d (without it, "
        "this is paper B's truncated RBO, metrics.rbo_truncated).": [
            rbo_truncated(a, b, p) for a, b in pairs
        ],
        "weigh depth d by p^d: a plain average of the overlaps at each depth weighs the bottom "
        "of the lists as much as the top.": [
            (parts(a, b) / np.arange(1, len(a) + 1)).mean() for a, b in pairs
        ],
        "that is the overlap of the whole lists; RBO looks at every depth, the top first.": [
            len(set(a) & set(b)) / len(a) for a, b in pairs
        ],
    }
    got = [fn(a, b, p) for a, b in pairs]
    judge("6.3", got, expected, mistakes, "rank-biased overlap, extrapolated.")
