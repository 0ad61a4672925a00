"""Popularity: every user gets the most interacted-with items they have not seen (chapter 2).

The baseline every model must beat, and a reference for the protocol: RecBole's popularity model on
the same ML-100K split scores NDCG@10 0.0354.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .base import Batch, Recommender, register

__all__ = ["PopConfig", "Popularity"]


@dataclass
class PopConfig:
    n_items: int


@register("pop", PopConfig, {profile: ({}, {}) for profile in ("ci", "quick", "full")})
class Popularity(Recommender):
    @classmethod
    def build(cls, dataset, split, **config) -> Popularity:
        return cls(PopConfig(dataset.n_items, **config), split.train)  # counts the training items

    def __init__(self, config: PopConfig, histories: list[np.ndarray] | None = None):
        super().__init__()
        self.config, self.n_items = config, config.n_items
        counts = np.zeros(config.n_items)
        if histories:
            counts = np.bincount(np.concatenate(histories), minlength=config.n_items)
        self.register_buffer("counts", torch.as_tensor(counts, dtype=torch.float32))

    def hidden(self, batch: Batch, layer: int | None = None) -> Tensor:
        raise NotImplementedError("the popularity model has no hidden representation to read")

    def scores(self, batch: Batch) -> Tensor:
        self.check(batch)
        return self.counts.expand(len(batch), -1)  # (B, n_items)

    def scores_from_hidden(self, h: Tensor, batch: Batch, layer: int | None = None) -> Tensor:
        return self.scores(batch)
