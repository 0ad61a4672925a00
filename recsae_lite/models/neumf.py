"""NeuMF (He et al., WWW 2017): generalized MF and an MLP side by side, chapter 2.

f(u, i) = h . [p_G * q_G, MLP([p_M, q_M])], and sigmoid(f) is the probability of an interaction:
a GMF tower (the element-wise product of a user's and an item's GMF embeddings) and an MLP tower
(their MLP embeddings concatenated, through ReLU layers), joined by one linear layer h. The
book's NCF is paper B's MLP tower alone; NeuMF is the counterpart of RecBole's NeuMF, which
chapter 10 cites on our protocol. Trained like MF and NCF: sampled negatives, logistic loss;
like RecBole's default, without pretraining the towers apart, and here without dropout.
The user embedding, what an SAE reads, is [p_G, p_M]; an item's is [q_G, q_M].
Reference: RecBole's NeuMF (RUCAIBox/RecBole, recbole/model/general_recommender/neumf.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .base import Batch, TwoTower, TwoTowerConfig, register, two_tower_settings
from .ncf import all_pairs, relu_mlp, towers

__all__ = ["NeuMFConfig", "NeuMF"]


@dataclass
class NeuMFConfig(TwoTowerConfig):  # hidden_size: each tower's; the user embedding is twice this
    mlp: tuple[int, ...] = (128, 64)  # widths of the MLP's hidden layers (RecBole's default)


@register("neumf", NeuMFConfig, two_tower_settings(lr=1e-2))  # NCF's, not tuned for NeuMF
class NeuMF(TwoTower):
    def __init__(self, config: NeuMFConfig):
        super().__init__(config)
        d = config.hidden_size
        self.user_emb, self.item_emb = towers(config, 2 * d)  # each row [GMF | MLP]
        self.mlp = nn.Sequential(*relu_mlp((2 * d, *config.mlp)))
        self.predict = nn.Linear(d + config.mlp[-1], 1)  # h: joins the GMF and MLP towers

    def pair_logits(self, u: Tensor, i: Tensor, users: Tensor, items: Tensor) -> Tensor:
        u, i = torch.broadcast_tensors(u, i)
        d = self.config.hidden_size
        gmf = u[..., :d] * i[..., :d]
        mlp = self.mlp(torch.cat([u[..., d:], i[..., d:]], dim=-1))
        return self.predict(torch.cat([gmf, mlp], dim=-1))[..., 0]

    def scores_from_hidden(self, h: Tensor, batch: Batch, layer: int | None = None) -> Tensor:
        d, q = self.config.hidden_size, self.item_emb.weight
        mlp = all_pairs(self.mlp, h[:, d:], q[:, d:])  # (B, n_items, mlp[-1])
        w = self.predict.weight[0]  # (d + mlp[-1],)
        gmf = (h[:, :d] * w[:d]) @ q[:, :d].T  # (B, n_items): h_G . (p_G * q_G)
        return gmf + mlp @ w[d:] + self.predict.bias  # (B, n_items)
