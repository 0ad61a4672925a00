"""The one interface every base model implements (chapter 2): history -> hidden -> scores.

An SAE reads `hidden(batch)`; an intervention edits it and hands it back to
`scores_from_hidden(h, batch)`, the rest of the model, frozen. So one SAE trainer, one `steer()` and
one set of figures serve every model.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "Batch", "make_batch", "REGISTRY", "register", "Recommender", "TwoTowerConfig",
    "two_tower_settings", "TwoTower"
]  # fmt: skip


@dataclass
class Batch:
    """A batch of users and their histories, as every model takes it."""

    users: Tensor  # (B,) long user codes
    history: Tensor  # (B, L) long item codes in time order, right-aligned, left-padded with n_items

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.users.to(device), self.history.to(device))

    def __len__(self) -> int:
        return len(self.users)


def make_batch(users, histories: list[np.ndarray], n_items: int, max_len: int | None = None):
    """Right-align histories in one (B, L) tensor padded with `n_items` on the left; keep the most
    recent `max_len` items of longer ones."""
    if len(users) != len(histories):
        raise ValueError(f"{len(users)} users but {len(histories)} histories")
    if len(users) == 0:
        raise ValueError("empty batch: give at least one user")
    length = max(1, max(len(h) for h in histories))
    if max_len is not None:
        length = min(length, max_len)
    history = np.full((len(histories), length), n_items, dtype=np.int64)
    for row, items in enumerate(histories):
        items = items[-length:]
        if len(items):
            history[row, length - len(items) :] = items
    return Batch(torch.as_tensor(np.asarray(users), dtype=torch.long), torch.from_numpy(history))


REGISTRY: dict[str, type[Recommender]] = {}  # name -> model class: what zoo.model builds


def register(name: str, config_class: type, settings: dict[str, tuple[dict, dict]]):
    """Class decorator: make a model buildable by name. A new model is one file in models/ whose
    class is registered with its config class and its settings: per profile ("ci", "quick",
    "full"), the model config fields and the `train.TrainConfig` fields the zoo trains it with."""

    def add(cls):
        cls.name, cls.config_class, cls.settings = name, config_class, settings
        REGISTRY[name] = cls
        return cls

    return add


class Recommender(nn.Module):
    """Base class: a model scores every item for each user of a batch.

    Subclasses set `config` (a dataclass) and implement `hidden`, `scores_from_hidden` and `loss`;
    `item_embeddings` where the model has them; `register` gives them a name, a config class and
    settings.
    """

    name: str
    config_class: type
    settings: dict[str, tuple[dict, dict]]
    config: object
    n_items: int
    sequential = False  # True: a state per position of the history (SASRec), else one per user
    max_len: int | None = None  # the most recent items of a history the model reads (None: all)

    def hidden(self, batch: Batch, layer: int | None = None) -> Tensor:
        """(B, d_model): the representation an SAE reads."""
        raise NotImplementedError

    def scores_from_hidden(self, h: Tensor, batch: Batch | None, layer: int | None = None):
        """(B, n_items): the rest of the model applied to `h` (higher = recommended first).

        With batch=None, the terms that do not depend on h are left out (a user's bias, ELSA's
        -x): what the prediction-aware SAE loss compares, which only differences of scores enter.
        """
        raise NotImplementedError

    def states(self, batch: Batch, layer: int | None = None) -> tuple[Tensor, Tensor]:
        """The hidden states at every position of the histories (B, L, d) and which positions
        hold an item (B, L). A model with one representation per user has one position."""
        h = self.hidden(batch, layer)
        return h[:, None], torch.ones(len(h), 1, dtype=torch.bool, device=h.device)

    def scores(self, batch: Batch) -> Tensor:
        return self.scores_from_hidden(self.hidden(batch), batch)

    @property
    def device(self) -> torch.device:
        return next(itertools.chain(self.parameters(), self.buffers())).device

    def loss(self, batch: Batch) -> Tensor:
        raise NotImplementedError

    def item_embeddings(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no item embeddings")

    def check(self, batch: Batch) -> None:
        """Clear errors for a batch the model cannot take."""
        if len(batch) == 0:
            raise ValueError("empty batch: give at least one user")
        h = batch.history
        if h.numel() and (h.min() < 0 or h.max() > self.n_items):
            bad = h[(h < 0) | (h > self.n_items)][0].item()
            raise ValueError(
                f"item code {bad} is outside the catalogue 0..{self.n_items - 1} (padding is "
                f"{self.n_items}): was the model trained on another dataset?"
            )

    @classmethod
    def build(cls, dataset, split, **config) -> Recommender:
        """A fresh model for `dataset` (its sizes filled in), config fields overriding defaults."""
        names = {f.name for f in dataclasses.fields(cls.config_class)}
        if unknown := set(config) - names:
            raise TypeError(
                f"{cls.name} has no setting {', '.join(sorted(unknown))}; it has {names}"
            )
        sizes = {"n_users": dataset.n_users, "n_items": dataset.n_items}
        return cls(cls.config_class(**{k: v for k, v in sizes.items() if k in names}, **config))

    def describe(self) -> dict:
        return {"model": type(self).__name__, **asdict(self.config)}


@dataclass
class TwoTowerConfig:
    n_users: int
    n_items: int
    hidden_size: int = 64  # embedding size: what an SAE reads
    n_negatives: int = 4  # sampled negatives per positive


def two_tower_settings(lr: float) -> dict[str, tuple[dict, dict]]:
    """The zoo's settings of a two-tower model, per profile: embeddings of 64 (16 in ci), AdamW
    at `lr` with weight decay 1 (2 epochs in ci; batches of 512 at full scale)."""
    train = {"lr": lr, "weight_decay": 1.0}
    return {"ci": ({"hidden_size": 16}, {"epochs": 2, "lr": lr}),
            "quick": ({"hidden_size": 64}, train),
            "full": ({"hidden_size": 64}, {**train, "batch_size": 512})}  # fmt: skip


class TwoTower(Recommender):
    """A user tower and an item tower scored by a function f(u, i): MF and NCF (paper B).

    The hidden representation is the user embedding. Trained with sampled negatives and the
    logistic loss, so that sigmoid(f) is the model's probability of an interaction: paper B's
    prediction-aware SAE compares f on original and reconstructed embeddings.
    """

    n_users: int
    user_emb: nn.Embedding
    item_emb: nn.Embedding

    def __init__(self, config):
        super().__init__()
        self.config, self.n_users, self.n_items = config, config.n_users, config.n_items

    def pair_logits(self, u: Tensor, i: Tensor, users: Tensor, items: Tensor) -> Tensor:
        """f(u, i) before the sigmoid, for user embeddings u (..., d) and item embeddings i (..., d)
        of the user and item codes `users` and `items` (...)."""
        raise NotImplementedError

    def check(self, batch: Batch) -> None:
        super().check(batch)
        if batch.users.min() < 0 or batch.users.max() >= self.n_users:
            raise ValueError(
                f"user code {batch.users.max().item()} is outside 0..{self.n_users - 1}: a "
                "two-tower model only scores the users it was trained on"
            )

    def hidden(self, batch: Batch, layer: int | None = None) -> Tensor:
        if layer is not None:
            raise ValueError(f"{type(self).__name__} has one hidden layer, the user embedding")
        self.check(batch)
        return self.user_emb(batch.users)  # (B, d)

    def item_embeddings(self) -> Tensor:
        return self.item_emb.weight

    def loss(self, batch: Batch) -> Tensor:
        """Logistic loss: every item of the history is a positive, each with `n_negatives` items
        drawn uniformly as negatives (an occasional seen item among them is noise we accept)."""
        self.check(batch)
        valid = batch.history != self.n_items  # (B, L)
        pos = batch.history[valid]  # (P,) every interaction of the batch, padding left out
        users = batch.users[:, None].expand_as(batch.history)[valid]  # (P,)
        neg = torch.randint(0, self.n_items, (len(pos), self.config.n_negatives), device=pos.device)
        items = torch.cat([pos[:, None], neg], dim=1)  # (P, 1 + n_negatives)
        users = users[:, None].expand_as(items)
        logits = self.pair_logits(self.user_emb(users), self.item_emb(items), users, items)
        labels = torch.zeros_like(logits)
        labels[:, 0] = 1.0
        return F.binary_cross_entropy_with_logits(logits, labels)
