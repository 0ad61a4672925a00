"""Logistic matrix factorization, the two-tower MF of paper B (Arviv et al. 2025), chapter 2.

f(u, i) = b + b_u + b_i + p_u . q_i, and sigmoid(f) is the probability of an interaction. We train
it with sampled negatives and the logistic loss rather than BPR: BPR only learns differences of
scores, while paper B's prediction-aware SAE compares the values f(u, i) themselves.
Reference: DeltaLabTLV/Monosemanticity4Rec.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Batch, TwoTower, TwoTowerConfig, register, two_tower_settings

__all__ = ["MFConfig", "MF"]


class MFConfig(TwoTowerConfig):
    """MF has nothing beyond a two-tower model's sizes."""


@register("mf", MFConfig, two_tower_settings(lr=2e-2))
class MF(TwoTower):
    def __init__(self, config: MFConfig):
        super().__init__(config)
        self.user_emb = nn.Embedding(config.n_users, config.hidden_size)
        self.item_emb = nn.Embedding(config.n_items, config.hidden_size)
        self.user_bias = nn.Embedding(config.n_users, 1)
        self.item_bias = nn.Embedding(config.n_items, 1)
        self.bias = nn.Parameter(torch.zeros(()))
        for emb in (self.user_emb, self.item_emb):
            nn.init.normal_(emb.weight, std=0.1)
        for emb in (self.user_bias, self.item_bias):
            nn.init.zeros_(emb.weight)

    def pair_logits(self, u: Tensor, i: Tensor, users: Tensor, items: Tensor) -> Tensor:
        biases = self.bias + self.user_bias(users)[..., 0] + self.item_bias(items)[..., 0]
        return biases + (u * i).sum(-1)

    def scores_from_hidden(self, h: Tensor, batch: Batch | None, layer: int | None = None):
        biases = self.bias + self.item_bias.weight[:, 0]  # (n_items,)
        if batch is not None:  # the user's bias shifts all their scores alike
            biases = biases + self.user_bias(batch.users)  # (B, n_items)
        return biases + h @ self.item_emb.weight.T  # (B, n_items)
