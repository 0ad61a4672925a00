"""Chapter 3's exercise checks (no need to read): FVU, L0 and dead features, the TopK encoder."""

import torch
import torch.nn.functional as F

from ..metrics import sae_metrics
from ._common import fail, judge, same, tiny_sae

__all__ = ["check_fvu", "check_sparsity", "check_topk_encode"]


def check_fvu(fn) -> None:
    """Exercise 3.1: fn(x, x_hat) -> the fraction of variance unexplained."""
    sae, x = tiny_sae()
    with torch.no_grad():
        x_hat = sae(x)
    expected = sae_metrics(sae, x)["fvu"]
    error = (x - x_hat).pow(2)
    about_mean = (x - x.mean(0)).pow(2)
    mistakes = {
        "FVU divides by the variance about the mean, sum ||x - mean(x)||^2, not about zero "
        "(sum ||x||^2).": error.sum() / x.pow(2).sum(),
        "FVU is one ratio of sums over the whole set, not the mean of per-sample ratios.": (
            error.sum(1) / about_mean.sum(1)
        ).mean(),
        "FVU is one ratio of sums over every dimension, not the mean of per-dimension ratios.": (
            error.sum(0) / about_mean.sum(0)
        ).mean(),
        "that is the fraction of variance explained, 1 - FVU.": 1 - expected,
    }
    judge("3.1", fn(x, x_hat), expected, mistakes, "FVU is a ratio of sums about the mean.")
    if not same(fn(x, x.mean(0).expand_as(x)), 1.0) or not same(fn(x, x), 0.0):
        fail("3.1", "the mean predictor must give 1 and x itself 0.")


def check_sparsity(fn) -> None:
    """Exercise 3.2: fn(z) -> (l0, dead_fraction) of codes z (N, d_sae)."""
    sae, x = tiny_sae("relu")
    with torch.no_grad():
        sae.b_enc[:6] = -100.0  # six features that can never fire
        z = sae.encode(x)
    stats = sae_metrics(sae, x)
    expected = (stats["l0"], stats["dead_fraction"])
    active = z > 0
    mistakes = {
        "a feature is dead when it fires on no sample at all, (z > 0).any(0) is False; not the "
        "share of zero entries of z.": (stats["l0"], (~active).float().mean()),
        "L0 is the number of active features per sample: divide by the number of samples.": (
            active.sum(),
            stats["dead_fraction"],
        ),
        "L0 counts active features per sample (sum over dim 1), then averages over samples; you "
        "averaged over features.": (active.sum(0).float().mean(), stats["dead_fraction"]),
    }
    judge("3.2", fn(z), expected, mistakes, "L0 per sample, and features that never fire.")


def check_topk_encode(fn) -> None:
    """Exercise 3.3: fn(sae, x) -> the codes of a TopK SAE, z (B, d_sae)."""
    sae, x = tiny_sae("topk", d_in=8, d_sae=16, k=6)
    with torch.no_grad():
        sae.b_enc.sub_(0.8)  # some of the k largest pre-activations are negative
        expected = sae.encode(x)
        x_norm = sae.normalise(x)
        pre = sae.pre_acts(x_norm)

        def keep(values, by=None, relu=True):
            """values' k largest entries (of `by`, if given) per row, the rest zeroed."""
            index = (values if by is None else by).topk(sae.config.k, dim=1).indices
            kept = values.gather(1, index)
            return torch.zeros_like(values).scatter(1, index, F.relu(kept) if relu else kept)

        mistakes = {
            "did you standardise x first? sae.normalise(x): the SAE stores its input mean and "
            "scale.": keep(sae.pre_acts(x)),
            "subtract b_dec before the encoder: (x_norm - b_dec) W_enc + b_enc.": keep(
                x_norm @ sae.W_enc + sae.b_enc
            ),
            "a kept feature whose pre-activation is negative must be 0: apply ReLU to the k kept "
            "values.": keep(pre, relu=False),
            "keep the k largest pre-activations, not the k largest in absolute value.": keep(
                pre, by=pre.abs()
            ),
            "keep only the k largest pre-activations of each sample, and zero the rest.": F.relu(
                pre
            ),
        }
    judge("3.3", fn(sae, x), expected, mistakes, "standardise, encode, keep the top k, ReLU.")
