"""Neural collaborative filtering (He et al., WWW 2017), as in paper B (Arviv et al.), chapter 2.

User and item embeddings are concatenated and passed through an MLP [64, 32, 16] to one logit;
sigmoid(f) is the probability of an interaction. Trained like MF: sampled negatives, logistic loss.
Reference: DeltaLabTLV/Monosemanticity4Rec.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .base import Batch, TwoTower, register

__all__ = ["NCFConfig", "NCF"]


@dataclass
class NCFConfig:
    n_users: int
    n_items: int
    hidden_size: int = 64  # embedding size: what an SAE reads
    mlp: tuple[int, ...] = (64, 32, 16)  # widths of the MLP's hidden layers
    n_negatives: int = 4  # sampled negatives per positive


@register("ncf")
class NCF(TwoTower):
    config_class = NCFConfig
    settings = {
        "ci": ({"hidden_size": 16}, {"epochs": 2, "lr": 1e-2}),
        "quick": ({"hidden_size": 64}, {"lr": 1e-2, "weight_decay": 1.0}),
        "full": ({"hidden_size": 64}, {"lr": 1e-2, "weight_decay": 1.0, "batch_size": 512}),
    }

    def __init__(self, config: NCFConfig):
        super().__init__()
        self.config, self.n_users, self.n_items = config, config.n_users, config.n_items
        d = config.hidden_size
        self.user_emb = nn.Embedding(config.n_users, d)
        self.item_emb = nn.Embedding(config.n_items, d)
        for emb in (self.user_emb, self.item_emb):
            nn.init.normal_(emb.weight, std=0.1)
        widths = (2 * d, *config.mlp)
        layers = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.mlp = nn.Sequential(*layers, nn.Linear(widths[-1], 1))

    def pair_logits(self, u: Tensor, i: Tensor, users: Tensor, items: Tensor) -> Tensor:
        u, i = torch.broadcast_tensors(u, i)
        return self.mlp(torch.cat([u, i], dim=-1))[..., 0]

    def scores_from_hidden(self, h: Tensor, batch: Batch, layer: int | None = None) -> Tensor:
        # the first layer acts on [u, i] as W_u u + W_i i: compute each part once, then broadcast
        # to every (user, item) pair in one pass instead of concatenating B x n_items inputs
        first, rest = self.mlp[0], self.mlp[1:]
        d = self.config.hidden_size
        user_part = h @ first.weight[:, :d].T + first.bias  # (B, w)
        item_part = self.item_emb.weight @ first.weight[:, d:].T  # (n_items, w)
        return rest(user_part[:, None] + item_part[None])[..., 0]  # (B, n_items)
