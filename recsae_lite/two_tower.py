"""Paper B on two-tower models (MF, NCF): one SAE for user and item embeddings, trained to keep
the model's predictions; fidelity of the lists (chapter 6). Purity@K, an interpretation measure,
is in `interpret`.

- `sae_inputs`: what the SAE reads, user embeddings and every item embedding (one SAE, both),
  and the term that keeps the predictions:
- `prediction_term`: paper B's prediction-aware term, for `sae.fit`: the squared error of the
  frozen score f(u, i) on sampled user-item pairs, both embeddings reconstructed.
- `fidelity`: RBO and Kendall tau between each held-out user's top list from the original
  embeddings and from the reconstructed ones (every item reconstructed too).
Paper B's intervention, overwriting a feature (z_n <- v), is `interventions.feature_edit(...,
mode="set")`: items keep their embeddings.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import Tensor

from .data import Split
from .metrics import kendall_tau, kendall_tau_union, rbo_extrapolated, rbo_truncated
from .models.base import TwoTower
from .train import recommend

__all__ = ["embeddings", "sae_inputs", "prediction_term", "reconstruct", "fidelity"]


def embeddings(model: TwoTower) -> tuple[Tensor, Tensor]:
    """(user embeddings (n_users, d), item embeddings (n_items, d)), detached."""
    return model.user_emb.weight.detach(), model.item_emb.weight.detach()


def sae_inputs(model: TwoTower, split: Split, rows, seed: int = 0):
    """What one shared SAE is fitted on: (x, term). x: the user embeddings of the split's `rows`,
    then every item's; term: paper B's prediction-aware term on pairs of those users and items
    (`prediction_term`), for `sae.fit(x, config, settings, prediction=term)`."""
    users, items = embeddings(model)
    codes = torch.as_tensor(split.users[rows], device=users.device)
    term = prediction_term(model, users[codes], items, seed=seed, user_codes=codes)
    return torch.cat([users[codes], items]), term


def prediction_term(model: TwoTower, users: Tensor, items: Tensor, n_pairs=1024, seed=0,
                    user_codes: Tensor | None = None):  # fmt: skip
    """Paper B's prediction-aware term, a function of the SAE for `sae.fit(prediction=...)`: the
    mean over sampled user-item pairs of (f(u, i) - f(u_hat, i_hat))^2, f the model's frozen
    logit, divided by the variance of f on those pairs and multiplied by d_in: the scale of the
    SAE's own mse (a sum over d_in of normalised squared errors), so that w_pred = 1 weighs both
    alike. users, items: the embeddings the pairs are drawn from (e.g. the SAE's training users,
    and every item); user_codes: the model's codes of those users (default: 0, 1, ...), which f
    needs for their biases."""
    generator = torch.Generator(device=users.device).manual_seed(seed)
    codes = torch.arange(len(users), device=users.device) if user_codes is None else user_codes

    def term(sae) -> Tensor:
        u = torch.randint(0, len(users), (n_pairs,), device=users.device, generator=generator)
        i = torch.randint(0, len(items), (n_pairs,), device=users.device, generator=generator)
        with torch.no_grad():
            target = model.pair_logits(users[u], items[i], codes[u], i)
        reconstructed = model.pair_logits(sae(users[u]), sae(items[i]), codes[u], i)
        error = (reconstructed - target).pow(2).mean()
        return error / target.var().clamp_min(1e-12) * sae.config.d_in

    return term


@torch.no_grad()
def reconstruct(sae, x: Tensor, prefix: int | None = None) -> Tensor:
    """The SAE's reconstruction of x in the model's units (decode unscales); with `prefix`, from
    the first `prefix` features only (a Matryoshka SAE's nested prefix)."""
    z = sae.encode(x)
    if prefix is not None:
        z[:, prefix:] = 0
    return sae.decode(z, like=x)


@torch.no_grad()
def fidelity(
    model: TwoTower, sae, split: Split, rows, k: int = 30, p: float = 0.9, prefix=None
) -> dict:
    """Mean RBO (p, top-k) and Kendall tau between the original top-k list of each of the split's
    `rows` and the list from reconstructed embeddings (the user's and every item's; with
    `prefix`, reconstructed from the first `prefix` features). Two definitions of each: the
    book's ("rbo": extrapolated; "kendall_tau": over the original top-k items, their original
    scores against their reconstructed ones) and paper B's ("rbo_paper_b": truncated at k;
    "tau_paper_b": over the union of both lists, by rank)."""
    sae.eval()
    rebuilt = copy.deepcopy(model)
    for table in (rebuilt.user_emb, rebuilt.item_emb):
        table.weight.copy_(reconstruct(sae, table.weight, prefix))
    top_o, o = recommend(model, split, rows, k, scores=True)
    top_r, r = recommend(rebuilt, split, rows, k, scores=True)
    pairs = list(zip(top_o, top_r, strict=True))
    taus = [kendall_tau(o[j, top], r[j, top]) for j, top in enumerate(top_o)]
    return {
        "rbo": float(np.mean([rbo_extrapolated(a, b, p) for a, b in pairs])),
        "kendall_tau": float(np.nanmean(taus)),
        "rbo_paper_b": float(np.mean([rbo_truncated(a, b, p) for a, b in pairs])),
        "tau_paper_b": float(np.nanmean([kendall_tau_union(a, b) for a, b in pairs])),
    }
