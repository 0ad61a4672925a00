"""Paper B on two-tower models (MF, NCF): one SAE for user and item embeddings, trained to keep
the model's predictions; fidelity of the lists, interventions (chapter 6). Purity@K, an
interpretation measure, is in `interpret`.

- `embeddings`: what the SAE reads: the user embeddings and the item embeddings (one SAE, both).
- `pair_losses`: paper B's loss, as a `losses` function for `sae.train_sae`: the SAE's own terms
  (reconstruction, L1 or TopK sparsity, KL) on a batch of stacked rows, plus w_pred times the
  squared error of the frozen score f(u, i) on sampled user-item pairs, both reconstructed.
- `fidelity`: RBO and Kendall tau between each held-out user's top list from the original
  embeddings and from the reconstructed ones (every item reconstructed too).
- `overwrite`: intervene on a neuron, z_n <- v, for a user's code, and re-rank.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .data import Split
from .metrics import kendall_tau, mask_seen, rbo_extrapolated
from .models.base import TwoTower, make_batch


def embeddings(model: TwoTower) -> tuple[Tensor, Tensor]:
    """(user embeddings (n_users, d), item embeddings (n_items, d)), detached."""
    return model.user_emb.weight.detach(), model.item_emb.weight.detach()


def pair_losses(model: TwoTower, users: Tensor, items: Tensor, w_pred: float, n_pairs=1024, seed=0):
    """A `losses` function (see `sae.SAETrainer`): the SAE's own terms (reconstruction, sparsity,
    KL) on a batch of stacked rows, plus paper B's prediction term, w_pred times the mean over
    sampled user-item pairs of (f(u, i) - f(u_hat, i_hat))^2, f the model's frozen logit, divided
    by the variance of f on those pairs and multiplied by d_in (the scale of the SAE's mse).
    users, items: the embeddings the pairs are drawn from (e.g. the SAE's training users, and
    every item)."""
    generator = torch.Generator(device=users.device).manual_seed(seed)

    def losses(sae, x, dead=None, step=0, predict=None):
        out = type(sae).losses(sae, x, dead, step)
        if w_pred:
            u = torch.randint(0, len(users), (n_pairs,), device=users.device, generator=generator)
            i = torch.randint(0, len(items), (n_pairs,), device=users.device, generator=generator)
            with torch.no_grad():
                target = model.pair_logits(users[u], items[i], u, i)
            u_hat, i_hat = sae_forward(sae, users[u]), sae_forward(sae, items[i])
            error = (model.pair_logits(u_hat, i_hat, u, i) - target).pow(2).mean()
            # as a share of the logits' variance, times d_in: the scale of the SAE's own mse
            # (a sum over d_in of normalised squared errors), so that w_pred = 1 weighs both alike
            out["pred"] = error / target.var().clamp_min(1e-12) * sae.config.d_in
            out["loss"] = out["loss"] + w_pred * out["pred"]
        return out

    return losses


def sae_forward(sae, x: Tensor) -> Tensor:
    """The reconstruction of x with gradient, in the model's units, as training computes it."""
    return type(sae).losses(sae, x)["x_hat"] * sae.input_scale + sae.input_mean


@torch.no_grad()
def user_scores(model: TwoTower, split: Split, rows, users: Tensor, items: Tensor, chunk=32):
    """(len(rows), n_items) scores f(u, i) of the split's `rows` (their user embeddings `users`,
    indexed by user code) for every item (embeddings `items`), seen items masked."""
    rows = np.atleast_1d(rows)
    n, out = len(items), []
    for start in range(0, len(rows), chunk):
        codes = torch.as_tensor(split.users[rows[start : start + chunk]], device=users.device)
        every = torch.arange(n, device=users.device)[None].expand(len(codes), -1)
        out.append(model.pair_logits(users[codes][:, None], items[None],
                                     codes[:, None].expand(-1, n), every))  # fmt: skip
    histories = split.history("test")
    batch = make_batch(split.users[rows], [histories[r] for r in rows], model.n_items)
    return mask_seen(torch.cat(out), batch.history.to(users.device), pad=model.n_items)


@torch.no_grad()
def reconstruct(sae, x: Tensor, prefix: int | None = None) -> Tensor:
    """The SAE's reconstruction of x in the model's units (decode unscales); with `prefix`, from
    the first `prefix` latents only (a Matryoshka SAE's nested prefix)."""
    z = sae.encode(x)
    if prefix is not None:
        z[:, prefix:] = 0
    return sae.decode(z)


@torch.no_grad()
def fidelity(
    model: TwoTower, sae, split: Split, rows, k: int = 30, p: float = 0.9, prefix=None
) -> dict:
    """Mean RBO (p, top-k) and Kendall tau between the original top-k list of each of the split's
    `rows` and the list from reconstructed embeddings (the user's and every item's; with
    `prefix`, reconstructed from the first `prefix` latents). Tau is over the original top-k
    items, their original scores against their reconstructed ones."""
    users, items = embeddings(model)
    sae.eval()
    users_hat, items_hat = reconstruct(sae, users, prefix), reconstruct(sae, items, prefix)
    original = user_scores(model, split, rows, users, items)
    rebuilt = user_scores(model, split, rows, users_hat, items_hat)
    top_o = original.topk(k, dim=1).indices.cpu().numpy()
    top_r = rebuilt.topk(k, dim=1).indices.cpu().numpy()
    o, r = original.cpu().numpy(), rebuilt.cpu().numpy()
    rbos = [rbo_extrapolated(a, b, p) for a, b in zip(top_o, top_r, strict=True)]
    taus = [kendall_tau(o[j, top], r[j, top]) for j, top in enumerate(top_o)]
    return {"rbo": float(np.mean(rbos)), "kendall_tau": float(np.nanmean(taus))}


@torch.no_grad()
def overwrite(model: TwoTower, sae, split: Split, rows, neuron, value, k: int = 30):
    """(len(rows), k) top lists after setting neuron `neuron` of each user's code to `value`
    (paper B's intervention; several at once when both are sequences), keeping the SAE's error
    term; items keep their embeddings."""
    users, items = embeddings(model)
    neurons = torch.as_tensor(np.atleast_1d(neuron), device=users.device)
    values = torch.as_tensor(np.atleast_1d(value), dtype=users.dtype, device=users.device)
    codes = torch.as_tensor(split.users[np.atleast_1d(rows)], device=users.device)
    u = users[codes]
    change = (values - sae.encode(u)[:, neurons]) @ sae.W_dec[neurons] * sae.input_scale
    edited = users.clone()
    edited[codes] = u + change
    return user_scores(model, split, rows, edited, items).topk(k, dim=1).indices.cpu().numpy()


def train_shared(model: TwoTower, split: Split, rows, w_pred: float, d_sae: int = 256, k: int = 16,
                 steps: int = 1_500, seed: int = 0, variant: str = "topk", groups=()):  # fmt: skip
    """The chapter's SAE: TopK (k of d_sae; or another variant, e.g. "matryoshka" with nested
    `groups`), one for the user embeddings of the split's `rows` and every item embedding, with
    the prediction term at weight w_pred."""
    from .sae import SAE, SAEConfig, SAETrainConfig, train_sae

    users, items = embeddings(model)
    train_users = users[torch.as_tensor(split.users[rows], device=users.device)]
    x = torch.cat([train_users, items])
    torch.manual_seed(seed)
    config = SAEConfig(d_in=x.shape[1], d_sae=d_sae, variant=variant, k=k, groups=groups)
    sae = SAE(config).to(users.device)
    losses = pair_losses(model, train_users, items, w_pred, seed=seed)
    config = SAETrainConfig(steps=steps, batch_size=512, lr=1e-3, seed=seed)
    train_sae(sae, x, config, progress=False, losses=losses)
    return sae
