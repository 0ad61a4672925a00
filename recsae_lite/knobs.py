"""Paper C (Spišák et al. 2025): an SAE between ELSA's encoder and decoder, and steering by mixing
a user's code with a neuron (chapter 8); its concept-to-feature maps are in `interpret`.

    u = x A                     ELSA's user embedding of the interaction row x
    s = (u - mean(u)) / std(u)  each embedding standardised on its own
    z = SAE.encode(s)           TopK, trained post hoc on s of random subsets of the training
                                users' rows (`views`), with a cosine loss + L1
    u_hat = SAE.decode(z) * std(u) + mean(u),  scores = u_hat A^T

Evaluation follows paper C's protocol (`data.user_split`): Recall@20 = hits / min(20, |targets|)
and NDCG@20 against a test user's held-out items, with the input items masked.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from .data import UserSplit
from .models.elsa import ELSA, ELSAConfig
from .sae import SAE, SAEConfig, SAETrainConfig, train_sae


def rows(item_lists: list[np.ndarray], n_items: int) -> Tensor:
    """(len(item_lists), n_items) binary interaction rows."""
    x = torch.zeros(len(item_lists), n_items)
    for row, items in zip(x, item_lists, strict=True):
        row[torch.tensor(items, dtype=torch.long)] = 1.0
    return x


def ranking(scores: Tensor, inputs: Tensor, targets: Tensor, k: int = 20) -> dict[str, Tensor]:
    """Per user: Recall@k (hits / min(k, |targets|)) and NDCG@k of the top k of `scores`, with
    the input items masked. inputs, targets: (B, n_items) binary."""
    top = scores.masked_fill(inputs > 0, float("-inf")).topk(k, dim=1).indices  # (B, k)
    hits = targets.gather(1, top)  # (B, k) 1 where the item is a target
    discount = 1 / torch.log2(torch.arange(2, k + 2, dtype=torch.float32))
    n_relevant = targets.sum(1).clamp(max=k)
    ideal = torch.stack([discount[: int(n)].sum() for n in n_relevant])
    return {"recall": hits.sum(1) / n_relevant.clamp_min(1),
            "ndcg": (hits * discount).sum(1) / ideal.clamp_min(1e-8)}  # fmt: skip


def train_elsa(
    split: UserSplit, n_items: int, hidden_size=256, epochs=100, lr=1e-3, batch_size=128, seed=0
) -> tuple[ELSA, list[float]]:
    """ELSA trained on the training users' rows, keeping the epoch with the best validation
    NDCG@20 (stopping after 10 epochs without a better one); returns it and the NDCG per epoch."""
    torch.manual_seed(seed)
    model = ELSA(ELSAConfig(n_items, hidden_size))
    x = rows(split.train, n_items)
    inputs, targets = rows(split.inputs["valid"], n_items), rows(split.targets["valid"], n_items)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history, best = [], None
    for _ in range(epochs):
        for index in torch.randperm(len(x), generator=generator).split(batch_size):
            optimizer.zero_grad()
            model.row_loss(x[index]).backward()
            optimizer.step()
        with torch.no_grad():
            history.append(ranking(scores(model, inputs), inputs, targets)["ndcg"].mean().item())
        if history[-1] >= max(history):
            best = copy.deepcopy(model.state_dict())
        elif len(history) - 1 - int(np.argmax(history)) >= 10:
            break
    model.load_state_dict(best)
    return model.eval(), history


def standardise(u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Each row on its own: (u - mean) / std, with the means and stds (B, 1) to undo it."""
    mean, std = u.mean(-1, keepdim=True), u.std(-1, keepdim=True).clamp_min(1e-8)
    return (u - mean) / std, mean, std


def scores(model: ELSA, x: Tensor, sae: SAE | None = None, edit=None) -> Tensor:
    """ELSA's scores for interaction rows x (B, n_items): u A^T, or with the SAE spliced in
    between encoder and decoder, its code changed by `edit` (z -> z') when given."""
    A = model.item_embeddings()
    u = x @ A
    if sae is not None:
        s, mean, std = standardise(u)
        z = sae.encode(s)
        u = sae.decode(edit(z) if edit else z) * std + mean
    return u @ A.T


def cosine_losses(sae: SAE, x: Tensor, dead=None, step: int = 0, predict=None, l1=1e-3):
    """`SAE.losses` with paper C's reconstruction term: d_in * (1 - cos(x, x_hat)) in place of
    the squared error (both in the SAE's normalised units), plus l1 * the mean L1 norm of the
    codes; AuxK is kept. For `SAETrainer(losses=...)`, TopK and BatchTopK SAEs."""
    out = SAE.losses(sae, x, dead, step, predict)
    cosine = F.cosine_similarity(out["x_hat"], sae.normalise(x), dim=-1).mean()
    values = out["codes"][2]
    out["loss"] = (out["loss"] - out["mse"] + sae.config.d_in * (1 - cosine)
                   + l1 * values.sum() / len(x))  # fmt: skip
    return out


def views(x: Tensor, n: int, keep: float, seed: int = 0) -> Tensor:
    """(n * len(x), n_items) n random subsets of each row, each item kept with probability keep:
    what a test user's row looks like (they show the model 80% of their items)."""
    g = torch.Generator().manual_seed(seed)
    many = x.repeat(n, 1)
    return many * (torch.rand(many.shape, generator=g) < keep)


def train_knob_sae(
    model: ELSA, x: Tensor, d_sae: int, k: int, steps: int, seed=0, n_views=50, keep=0.8
) -> SAE:
    """A TopK SAE on the standardised ELSA embeddings of `n_views` random subsets (`views`) of
    each training row x, with the cosine loss + L1. One embedding per training user is too few:
    a wide SAE learns them by heart and does not carry over to new users."""
    rows_seen = views(x, n_views, keep, seed) if n_views > 1 else x
    s = standardise(rows_seen @ model.item_embeddings().detach())[0]
    torch.manual_seed(seed)
    sae = SAE(SAEConfig(d_in=s.shape[1], d_sae=d_sae, variant="topk", k=k))
    config = SAETrainConfig(steps=steps, batch_size=min(1_024, len(s)), lr=1e-3, seed=seed)
    train_sae(sae, s, config, progress=False, losses=cosine_losses)
    return sae


# -- item codes ----------------------------------------------------------------------------------


@torch.no_grad()
def item_codes(model: ELSA, sae: SAE) -> Tensor:
    """(n_items, d_sae) each item's code: its one-hot row through the encoder and the SAE."""
    return sae.encode(standardise(model.item_embeddings())[0])


# -- steering ------------------------------------------------------------------------------------


def mix(z: Tensor, neurons, alpha: float) -> Tensor:
    """Paper C's steering: z' = (1 - alpha) z + alpha ||z||_1 e, with e the one-hot of a neuron,
    or spread evenly over several neurons; the L1 norm of a non-negative code is kept."""
    e = torch.zeros(z.shape[-1], device=z.device)
    e[torch.as_tensor(np.atleast_1d(neurons), device=z.device)] = 1.0
    e /= e.sum()
    return (1 - alpha) * z + alpha * z.abs().sum(-1, keepdim=True) * e


@torch.no_grad()
def steering_curve(model: ELSA, sae: SAE, inputs, targets, segment, neurons, alphas, k=20):
    """The users' lists steered with `mix` towards `neurons`, at each alpha: mean personal
    NDCG@k (against each user's targets), segment NDCG@k (against every item of the concept,
    segment: (n_items,) binary) and the concept's share of the top 10."""
    out = []
    for alpha in alphas:
        s = scores(model, inputs, sae, lambda z, a=alpha: mix(z, neurons, a))
        top10 = s.masked_fill(inputs > 0, float("-inf")).topk(10, dim=1).indices
        out.append({
            "alpha": alpha,
            "personal ndcg": ranking(s, inputs, targets, k)["ndcg"].mean().item(),
            "personal ndcg@10": ranking(s, inputs, targets, 10)["ndcg"].mean().item(),
            "segment ndcg": ranking(s, inputs, segment.expand_as(inputs), k)["ndcg"].mean().item(),
            "share@10": segment[top10].mean().item(),
        })  # fmt: skip
    return out


def steerable(inputs: Tensor, concepts: np.ndarray, candidates) -> list[tuple[int, np.ndarray]]:
    """For each candidate concept: the users (rows of inputs) none of whose input items has it,
    as (concept, users), leaving out concepts every user has seen."""
    unseen = ~((inputs.numpy() @ np.asarray(concepts, dtype=float)) > 0)  # (users, concepts)
    return [(int(c), np.flatnonzero(unseen[:, c])) for c in candidates if unseen[:, c].any()]


def steering_summary(model, sae, inputs, targets, concepts, pairs, maps, alphas, counts=(1, 5)):
    """`steering_curve` for every (concept, users) of `pairs`, every mapping of `maps` (concept ->
    its top neurons) and number of neurons pushed; averaged with each (user, concept) pair
    weighing the same. One row per (mapping, neurons, alpha)."""
    rows = []
    for name, top in maps.items():
        for n in counts:
            for c, users in pairs:
                segment = torch.as_tensor(concepts[:, c], dtype=torch.float32)
                curve = steering_curve(model, sae, inputs[users], targets[users], segment,
                                       top[c, :n], alphas)  # fmt: skip
                rows += [{"mapping": name, "neurons": n, "users": len(users), **p} for p in curve]
    table = pd.DataFrame(rows)
    measures = ["personal ndcg", "segment ndcg", "share@10", "personal ndcg@10"]
    table[measures] = table[measures].mul(table["users"], axis=0)
    sums = table.groupby(["mapping", "neurons", "alpha"])[[*measures, "users"]].sum()
    return sums[measures].div(sums["users"], axis=0)
