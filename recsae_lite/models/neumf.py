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

from .base import Batch, TwoTower


@dataclass
class NeuMFConfig:
    n_users: int
    n_items: int
    hidden_size: int = 64  # size of each tower's embedding; the user embedding is twice this
    mlp: tuple[int, ...] = (128, 64)  # widths of the MLP's hidden layers (RecBole's default)
    n_negatives: int = 4  # sampled negatives per positive


class NeuMF(TwoTower):
    def __init__(self, config: NeuMFConfig):
        super().__init__()
        self.config, self.n_users, self.n_items = config, config.n_users, config.n_items
        d = config.hidden_size
        self.user_emb = nn.Embedding(config.n_users, 2 * d)  # [GMF | MLP]
        self.item_emb = nn.Embedding(config.n_items, 2 * d)
        for emb in (self.user_emb, self.item_emb):
            nn.init.normal_(emb.weight, std=0.1)
        widths = (2 * d, *config.mlp)
        layers = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.mlp = nn.Sequential(*layers)
        self.predict = nn.Linear(d + widths[-1], 1)  # h: joins the GMF and MLP towers

    def pair_logits(self, u: Tensor, i: Tensor, users: Tensor, items: Tensor) -> Tensor:
        u, i = torch.broadcast_tensors(u, i)
        d = self.config.hidden_size
        gmf = u[..., :d] * i[..., :d]
        mlp = self.mlp(torch.cat([u[..., d:], i[..., d:]], dim=-1))
        return self.predict(torch.cat([gmf, mlp], dim=-1))[..., 0]

    def scores_from_hidden(self, h: Tensor, batch: Batch, layer: int | None = None) -> Tensor:
        # as in NCF, the MLP's first layer acts on [u, i] as W_u u + W_i i: each part once, then
        # broadcast to every (user, item) pair; the GMF tower is one matrix product
        d, q = self.config.hidden_size, self.item_emb.weight
        first, rest = self.mlp[0], self.mlp[1:]
        user_part = h[:, d:] @ first.weight[:, :d].T + first.bias  # (B, w)
        item_part = q[:, d:] @ first.weight[:, d:].T  # (n_items, w)
        mlp = rest(user_part[:, None] + item_part[None])  # (B, n_items, mlp[-1])
        w = self.predict.weight[0]  # (d + mlp[-1],)
        gmf = (h[:, :d] * w[:d]) @ q[:, :d].T  # (B, n_items): h_G . (p_G * q_G)
        return gmf + mlp @ w[d:] + self.predict.bias  # (B, n_items)
