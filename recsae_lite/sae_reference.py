"""The SAE losses written the plain way (no need to read), to check the fast ones in `sae.py`
against.

Dense codes z (B, d_sae), dense decode z @ W_dec, one matmul per Matryoshka prefix, the exact
top-k of the whole batch for BatchTopK: the way the papers write them, and the way most
implementations compute them. `SAE.losses` must give the same values and gradients (tests), and
the same FVU after the same number of steps (benchmarks/sae_speed.py); it is only faster.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .sae import SAE

__all__ = ["losses"]


def losses(sae: SAE, x: Tensor, dead: Tensor | None = None, step: int = 0, predict=None) -> dict:
    """Same arguments and keys as `SAE.losses` ("mse", "loss", "aux", "l1", "x_hat", "fired",
    "l0"), without the optional KL and prediction-aware terms."""
    c = sae.config
    if c.kl_coefficient or c.pred_coefficient:
        raise ValueError("the reference losses have no KL or prediction-aware term: set both to 0")
    x_norm = sae.normalise(x)
    pre = (x_norm - sae.b_dec) @ sae.W_enc + sae.b_enc
    if c.variant == "relu":
        z = F.relu(pre)
    elif c.variant == "topk":
        values, cols = pre.topk(c.k, dim=-1)
        z = torch.zeros_like(pre).scatter(1, cols, F.relu(values))
    else:  # batchtopk, matryoshka: the k * B largest of the batch
        values, flat = pre.flatten().topk(c.k * len(x))
        z = torch.zeros_like(pre).flatten().scatter(0, flat, F.relu(values)).view_as(pre)
    x_hat = z @ sae.W_dec + sae.b_dec
    if c.variant == "matryoshka":
        ends = torch.tensor(c.groups).cumsum(0).tolist()
        prefixes = [z[:, :end] @ sae.W_dec[:end] + sae.b_dec for end in ends]
        mse = sum((p - x_norm).pow(2).sum(-1).mean() for p in prefixes)
    else:
        mse = (x_hat - x_norm).pow(2).sum(-1).mean()
    out = {"mse": mse, "loss": mse, "x_hat": x_hat}
    if c.variant == "relu":
        warm = min(1.0, (step + 1) / max(1, c.l1_warmup_steps))
        out["l1"] = (z * sae.W_dec.norm(dim=-1)).sum(-1).mean()
        out["loss"] = mse + warm * c.l1_coefficient * out["l1"] / c.d_in
    elif dead is not None:  # AuxK: the top dead features reconstruct the residual
        residual = (x_norm - x_hat).detach()
        k_aux = min(c.aux_k or c.d_in // 2, c.d_sae)
        values, cols = pre.masked_fill(~dead, float("-inf")).topk(k_aux, dim=-1)
        z_aux = torch.zeros_like(pre).scatter(1, cols, F.relu(values))
        variance = (residual - residual.mean(0)).pow(2).sum(-1).mean()
        out["aux"] = (z_aux @ sae.W_dec - residual).pow(2).sum(-1).mean() / variance * dead.any()
        out["loss"] = mse + c.aux_coefficient * out["aux"]
    active = z > 0
    out["fired"], out["l0"] = active.any(0), active.float().sum(-1).mean()
    return out
