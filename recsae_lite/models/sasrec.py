"""SASRec: self-attentive sequential recommendation (Kang & McAuley, ICDM 2018), chapter 2.

Trained with the "SASRec+" recipe of Klenitskiy & Vasilev (RecSys 2023), the base model of paper A:
full cross-entropy over all items through an output head tied to the item embeddings, at every
position of the sequence. Causal self-attention, learned positions, padding masked.
Reference implementations: pmixer/SASRec.pytorch, antklen/sasrec-bert4rec-recsys23.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Batch, Recommender, register

__all__ = ["SASRecConfig", "SASRec"]

LENGTH_GROUP = 16  # rows per group of similar length (`SASRec._length_groups`)


@dataclass
class SASRecConfig:
    n_items: int
    hidden_size: int = 64  # d_model: the size of what an SAE reads
    n_layers: int = 2  # transformer blocks
    n_heads: int = 1
    dropout: float = 0.1
    max_len: int = 200  # longer histories keep their most recent max_len items


SASREC_SETTINGS = {
    "ci": ({"hidden_size": 16, "max_len": 50}, {"epochs": 2}),
    # paper A's SASRec+ recipe: 2 blocks, hidden 64, 1 head, max length 200, batch 128
    # quick: at most 60 epochs, past the best validation epochs of seeds 0-2 (42, 45, 52:
    # benchmarks/results/base_models.json); a run that went on to epoch 88 had the same test
    # NDCG@10 (0.106) in twice the time
    "quick": ({"dropout": 0.2, "max_len": 200}, {"lr": 2e-3, "epochs": 60}),
    "full": ({"dropout": 0.2, "max_len": 200}, {"lr": 1e-3}),
}


@register("sasrec", SASRecConfig, SASREC_SETTINGS)
class SASRec(Recommender):
    sequential = True

    def __init__(self, config: SASRecConfig):
        super().__init__()
        self.config, self.n_items, self.max_len = config, config.n_items, config.max_len
        d = config.hidden_size
        # row n_items is padding; the same matrix is the output head (tied)
        self.item_emb = nn.Embedding(config.n_items + 1, d, padding_idx=config.n_items)
        self.pos_emb = nn.Embedding(config.max_len, d)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                d,
                config.n_heads,
                dim_feedforward=d,
                dropout=config.dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )  # fmt: skip
            for _ in range(config.n_layers)
        )
        for block in self.blocks:
            # no dropout on the (B, L, L) attention weights: on a CPU drawing that mask costs as
            # much as the rest of the step, and dropout on the states regularises enough
            block.self_attn.dropout = 0.0
        self.final_norm = nn.LayerNorm(d)
        nn.init.normal_(self.item_emb.weight, std=d**-0.5)
        nn.init.normal_(self.pos_emb.weight, std=d**-0.5)

    def _check_layer(self, layer: int | None) -> int:
        n = self.config.n_layers
        if layer is None:
            return n
        if not 0 <= layer <= n:
            raise ValueError(
                f"layer {layer} does not exist: SASRec has layers 0 (embeddings) to {n} (output)"
            )
        return layer

    def _embed(self, history: Tensor) -> tuple[Tensor, Tensor]:
        """Embeddings (B, L, d) and attention mask (B * n_heads, L, L), True = may not attend."""
        history = history[:, -self.config.max_len :]  # (B, L)
        length = history.shape[1]
        x = self.item_emb(history) * self.config.hidden_size**0.5
        x = self.dropout(x + self.pos_emb.weight[-length:])  # positions counted from the end
        # causal, and no attending to padding; every position may attend to itself, so that no
        # row is all masked (a softmax over nothing is NaN, and NaN spreads through later blocks)
        ahead = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        itself = torch.eye(length, dtype=torch.bool, device=x.device)
        mask = ahead | ((history == self.n_items)[:, None, :] & ~itself)  # (B, L, L)
        return x, mask.repeat_interleave(self.config.n_heads, dim=0)

    def _run(self, x: Tensor, mask: Tensor, start: int, stop: int) -> Tensor:
        """Blocks start..stop-1 on states x (B, L, d); normalised when the last block has run."""
        for block in self.blocks[start:stop]:
            x = block(x, src_mask=mask)
        return self.final_norm(x) if stop == self.config.n_layers else x

    def states(self, batch: Batch, layer: int | None = None) -> tuple[Tensor, Tensor]:
        """The states at every position (B, L, d) after `layer`, and which positions hold an item
        (B, L): what an SAE trains on (each is the representation of a prefix of the history)."""
        self.check(batch)
        x, mask = self._embed(batch.history)
        valid = batch.history[:, -self.config.max_len :] != self.n_items
        return self._run(x, mask, 0, self._check_layer(layer)), valid

    def hidden(self, batch: Batch, layer: int | None = None) -> Tensor:
        """(B, d) the state at the last position, which is scored (computed by length groups)."""
        self.check(batch)
        history, stop = batch.history[:, -self.config.max_len :], self._check_layer(layer)
        h = torch.empty(len(history), self.config.hidden_size, device=history.device)
        for rows, part in self._length_groups(history):
            h[rows] = self._run(*self._embed(part), 0, stop)[:, -1]
        return h

    def _length_groups(self, history: Tensor):
        """(rows, their histories cut to the longest of them) for groups of LENGTH_GROUP rows of
        similar length. Positions are counted from the end and padding is masked, so every state
        is what it is in the whole padded batch, at a fraction of the cost: most histories are
        far shorter than max_len."""
        lengths = (history != self.n_items).sum(1)
        for rows in lengths.argsort().split(LENGTH_GROUP):
            yield rows, history[rows, -max(2, int(lengths[rows].max())) :]

    def scores_from_hidden(self, h: Tensor, batch: Batch, layer: int | None = None) -> Tensor:
        layer, n = self._check_layer(layer), self.config.n_layers
        if layer < n:
            if batch is None:
                raise ValueError(f"continuing from layer {layer} needs the batch's histories")
            # causal attention: earlier positions do not see the last one, so recompute them up
            # to `layer`, put h at the last position and run the remaining blocks
            x, mask = self._embed(batch.history)
            x = self._run(x, mask, 0, layer)
            h = self._run(torch.cat([x[:, :-1], h[:, None]], dim=1), mask, layer, n)[:, -1]
        return h @ self.item_emb.weight[: self.n_items].T  # (B, n_items)

    def loss(self, batch: Batch) -> Tensor:
        """Next-item cross-entropy over all items at every position (computed by length groups)."""
        self.check(batch)
        history = batch.history[:, -(self.config.max_len + 1) :]
        states, targets = [], []
        for _, part in self._length_groups(history):
            inputs, target = part[:, :-1], part[:, 1:]
            valid = (inputs != self.n_items) & (target != self.n_items)  # has a next item
            states.append(self._run(*self._embed(inputs), 0, self.config.n_layers)[valid])
            targets.append(target[valid])
        logits = torch.cat(states) @ self.item_emb.weight[: self.n_items].T  # (P, n_items)
        return F.cross_entropy(logits, torch.cat(targets))

    def item_embeddings(self) -> Tensor:
        return self.item_emb.weight[: self.n_items]
