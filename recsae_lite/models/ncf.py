"""Neural collaborative filtering (He et al., WWW 2017), as in paper B (Arviv et al.), chapter 2.

User and item embeddings are concatenated and passed through an MLP [64, 32, 16] to one logit;
sigmoid(f) is the probability of an interaction. Trained like MF: sampled negatives, logistic loss.
Reference: DeltaLabTLV/Monosemanticity4Rec.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .base import Batch, TwoTower, TwoTowerConfig, register, two_tower_settings

__all__ = ["NCFConfig", "NCF"]


def towers(config, width: int) -> tuple[nn.Embedding, nn.Embedding]:
    """A user and an item embedding table of `width` for config's users and items, N(0, 0.1)."""
    tables = nn.Embedding(config.n_users, width), nn.Embedding(config.n_items, width)
    for table in tables:
        nn.init.normal_(table.weight, std=0.1)
    return tables


def relu_mlp(widths: tuple[int, ...]) -> list[nn.Module]:
    """Linear + ReLU layers from widths[0] through each later width."""
    layers = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return layers


def all_pairs(mlp: nn.Sequential, u: Tensor, q: Tensor) -> Tensor:
    """(B, n_items, out) mlp([u_b, q_i]) for every user b (u: (B, d)) and item i (q: (n_items, d))
    without the B x n_items concatenations: the first layer acts on [u, q] as W_u u + W_q q, so
    each part is computed once and broadcast to every pair."""
    first, d = mlp[0], u.shape[-1]
    user_part = u @ first.weight[:, :d].T + first.bias  # (B, w)
    item_part = q @ first.weight[:, d:].T  # (n_items, w)
    return mlp[1:](user_part[:, None] + item_part[None])


@dataclass
class NCFConfig(TwoTowerConfig):
    mlp: tuple[int, ...] = (64, 32, 16)  # widths of the MLP's hidden layers


@register("ncf", NCFConfig, two_tower_settings(lr=1e-2))
class NCF(TwoTower):
    def __init__(self, config: NCFConfig):
        super().__init__(config)
        d = config.hidden_size
        self.user_emb, self.item_emb = towers(config, d)
        self.mlp = nn.Sequential(*relu_mlp((2 * d, *config.mlp)), nn.Linear(config.mlp[-1], 1))

    def pair_logits(self, u: Tensor, i: Tensor, users: Tensor, items: Tensor) -> Tensor:
        u, i = torch.broadcast_tensors(u, i)
        return self.mlp(torch.cat([u, i], dim=-1))[..., 0]

    def scores_from_hidden(self, h: Tensor, batch: Batch, layer: int | None = None) -> Tensor:
        return all_pairs(self.mlp, h, self.item_emb.weight)[..., 0]  # (B, n_items)
