"""Chapter 7's exercise checks (no need to read): frequency groups, the tree, Matryoshka loss."""

import numpy as np
import torch

from .. import hierarchy
from ._common import judge, tiny_sae

__all__ = ["check_frequency_groups", "check_tree", "check_matryoshka_loss"]


def _firing_codes(seed: int = 7) -> torch.Tensor:
    """(60, 8) codes whose firing counts all differ, with magnitudes that fall as counts rise."""
    rng = np.random.default_rng(seed)
    counts = rng.permutation([4, 8, 13, 19, 24, 30, 37, 45])
    codes = np.zeros((60, 8), dtype=np.float32)
    for j, c in enumerate(counts):
        codes[rng.choice(60, c, replace=False), j] = 50.0 / c
    return torch.as_tensor(codes)


def check_frequency_groups(fn) -> None:
    """Exercise 7.1: fn(codes, sizes) -> (d_sae,) each feature's group, most frequent first."""
    codes, sizes = _firing_codes(), (2, 2, 4)
    expected = hierarchy.frequency_groups(codes, sizes)
    by_rate = np.argsort(-(codes > 0).sum(0).numpy(), kind="stable")
    by_total = np.argsort(-codes.sum(0).numpy(), kind="stable")

    def groups(order):
        out = np.empty(len(order), dtype=int)
        out[order] = hierarchy.group_of(sizes)
        return out

    mistakes = {
        "the most frequently firing features come first, not the rarest.": groups(by_rate[::-1]),
        "order by how often a feature fires, (codes > 0).sum(0), not by its total activation.": (
            groups(by_total)
        ),
        "order the features by firing frequency before giving out the groups; these are the "
        "groups of the features in index order.": hierarchy.group_of(sizes),
        "groups[feature] is the group of that feature: assign groups[order] = group_of(sizes), "
        "not groups = group_of(sizes)[order].": hierarchy.group_of(sizes)[by_rate],
    }
    judge("7.1", fn(codes, sizes), expected, mistakes, "groups by firing frequency.")


def check_tree(fn) -> None:
    """Exercise 7.2: fn(codes, groups) -> (d_sae,) each feature's parent (-1 for none)."""
    codes = _firing_codes()
    codes[:, 7] = 0.0  # a feature that never fires: a root
    codes[codes[:, 0] > 0, 6] = 0.0
    codes[codes[:, 6] > 0, 0] = 0.0  # ... and one that never fires with the first group
    codes[:20, 5] = 5.0  # a strong group-2 feature, so that magnitudes and counts disagree
    groups = np.array([0, 0, 1, 1, 1, 2, 2, 2])
    expected = hierarchy.tree(codes, groups)
    fired = (codes > 0).float()

    def parents(together, earlier_only=True, roots=True):
        g = torch.as_tensor(groups)
        allowed = g[None, :] < g[:, None] if earlier_only else ~torch.eye(len(g), dtype=bool)
        best, parent = torch.where(allowed, together, -1.0).max(1)
        return torch.where(best > 0, parent, -1) if roots else parent

    mistakes = {
        "a parent must come from an earlier group (first-group features are roots, -1).": (
            parents(fired.T @ fired, earlier_only=False)
        ),
        "count the samples where both fire, (codes > 0) as 0/1, not the product of their "
        "activations.": parents(codes.T @ codes),
        "a feature that never fires together with an earlier one is a root: its parent is -1.": (
            parents(fired.T @ fired, roots=False)
        ),
    }
    judge("7.2", fn(codes, groups), expected, mistakes, "parents from co-firing counts.")


def check_matryoshka_loss(fn) -> None:
    """Exercise 7.3: fn(sae, z, x_norm) -> the Matryoshka loss, summed over the prefixes."""
    sae, x = tiny_sae("matryoshka", d_in=8, d_sae=24, k=4, groups=(4, 8, 12))
    x = x[:64]
    with torch.no_grad():
        sae.train()
        out = sae.losses(x)
        sae.eval()
        rows, cols, values = out["codes"]
        z = torch.zeros(len(x), sae.config.d_sae).index_put_((rows, cols), values)
        x_norm = sae.normalise(x)
        expected = out["mse"]
        ends = np.cumsum(sae.config.groups)
        starts = ends - np.array(sae.config.groups)

        def error(part, bias=True, per="sample"):
            e = (part + (sae.b_dec if bias else 0) - x_norm).pow(2)
            return e.sum(-1).mean() if per == "sample" else e.mean()

        prefixes = [z[:, :end] @ sae.W_dec[:end] for end in ends]
        alone = [z[:, s:e] @ sae.W_dec[s:e] for s, e in zip(starts, ends, strict=True)]
        mistakes = {
            "sum the error of every prefix (the first group, the first two, ..., all), not only "
            "the full reconstruction.": error(prefixes[-1]),
            "prefix g decodes groups 0..g together, not group g alone.": sum(map(error, alone)),
            "sum over the prefixes, do not average them.": sum(map(error, prefixes)) / len(ends),
            "every prefix's reconstruction adds the decoder bias b_dec.": sum(
                error(p, bias=False) for p in prefixes
            ),
            "sum the squared error over the d_in dimensions, then average over samples.": sum(
                error(p, per="element") for p in prefixes
            ),
        }
        got = fn(sae, z, x_norm)
    judge("7.3", got, expected, mistakes, "every prefix reconstructs x on its own.")
