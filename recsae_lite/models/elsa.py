"""ELSA: a shallow linear collaborative autoencoder (Vančura et al., RecSys 2022), chapter 2.

The base model of paper C (Spišák et al. 2025). A user's binary interaction row x is encoded as
u = x A, where A (n_items, d) has unit-norm rows, and decoded as x_hat = ReLU(u A^T - x); the loss
is || x / ||x|| - x_hat / ||x_hat|| ||^2.
Reference: matospiso/Disentangling-user-embeddings-using-SAE.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Batch, Recommender, register

__all__ = ["ELSAConfig", "ELSA"]


@dataclass
class ELSAConfig:
    n_items: int
    hidden_size: int = 256  # d: the size of the user embedding u = x A, what an SAE reads


ELSA_SETTINGS = {
    "ci": ({"hidden_size": 32}, {"epochs": 2}),
    "quick": ({"hidden_size": 256}, {"lr": 1e-3}),
    "full": ({"hidden_size": 512}, {"lr": 1e-3, "batch_size": 512}),
}


@register("elsa", ELSAConfig, ELSA_SETTINGS)
class ELSA(Recommender):
    def __init__(self, config: ELSAConfig):
        super().__init__()
        self.config, self.n_items = config, config.n_items
        self.A = nn.Parameter(torch.empty(config.n_items, config.hidden_size))
        nn.init.xavier_uniform_(self.A)

    def interactions(self, batch: Batch) -> Tensor:
        """(B, n_items) the binary interaction rows x of the batch's histories."""
        x = torch.zeros(len(batch), self.n_items + 1, device=batch.history.device)
        return x.scatter_(1, batch.history, 1.0)[:, : self.n_items]  # drop the padding column

    def hidden(self, batch: Batch, layer: int | None = None) -> Tensor:
        if layer is not None:
            raise ValueError("ELSA has one hidden layer, the user embedding u = x A")
        self.check(batch)
        return self.interactions(batch) @ self.item_embeddings()  # (B, d)

    def scores_from_hidden(self, h: Tensor, batch: Batch | None, layer: int | None = None):
        # the ReLU of the decoder is left out: it only zeroes scores, and ties at zero would make
        # the ranking arbitrary. Subtracting x only lowers seen items, which are masked anyway
        scores = h @ self.item_embeddings().T  # (B, n_items)
        return scores if batch is None else scores - self.interactions(batch)

    def loss(self, batch: Batch) -> Tensor:
        x = self.interactions(batch)
        x_hat = F.relu(x @ self.item_embeddings() @ self.item_embeddings().T - x)
        return (F.normalize(x, dim=-1) - F.normalize(x_hat, dim=-1)).pow(2).sum(-1).mean()

    def item_embeddings(self) -> Tensor:
        return F.normalize(self.A, dim=-1)  # unit-norm rows
