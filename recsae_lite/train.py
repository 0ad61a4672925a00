"""One training loop for every base model, and the book's one evaluation (chapter 2).

Evaluation ranks all items for each user, with the items the user has shown the model masked out
(also for sequential models: a model that re-recommends what the user just watched is not what we
measure). It serves both protocols of the book:
- leave-one-out by time (`data.Split`): one target per user, the next item;
- the user split of autoencoder papers (`data.UserSplit`, paper C): unseen users show the model a
  share of their items and are asked for the rest, a set of targets each.
Training stops early when the validation metric (NDCG@10 by default) has not improved for
`patience` evaluations, and the best weights are restored.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .data import Dataset, Split, UserSplit
from .metrics import RankingMetrics, mask_seen, top_k
from .models.base import Batch, Recommender, make_batch

__all__ = ["TrainConfig", "History", "stage_data", "batches", "evaluate", "recommend", "train"]


@dataclass
class TrainConfig:
    epochs: int = 200  # an upper bound: early stopping usually ends training sooner
    batch_size: int = 128  # users per step
    lr: float = 1e-3
    weight_decay: float = 0.0  # AdamW's decoupled weight decay
    patience: int = 10  # validations without a better metric before we stop
    eval_every: int = 1  # epochs between validations
    metric: str = "ndcg@10"  # what early stopping watches, on the validation users
    seed: int = 0


@dataclass
class History:
    """What happened during training: one entry per validation."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # mean loss over the epoch's steps
    valid_ndcg: list[float] = field(default_factory=list)  # the validation metric (NDCG@K)
    best_epoch: int = 0
    seconds: float = 0.0


def stage_data(split: Split | UserSplit, name: str) -> tuple[np.ndarray, list[np.ndarray], list]:
    """(user codes, histories, targets) of a stage of either protocol: "train" (the training
    histories; no targets), "valid" or "test" (what the model is shown, and what it must find:
    one item per user, or a set)."""
    if name not in ("train", "valid", "test"):
        raise ValueError(f"stage must be 'train', 'valid' or 'test', got {name!r}")
    if isinstance(split, UserSplit):
        if name == "train":
            return split.users["train"], split.train, []
        return split.users[name], split.inputs[name], split.targets[name]
    if name == "train":
        return split.users, split.train, []
    return split.users, split.history(name), getattr(split, name)


def batches(
    users: np.ndarray,
    histories: list[np.ndarray],
    n_items: int,
    batch_size: int,
    rng: np.random.Generator | None = None,
    rows: np.ndarray | None = None,
) -> Iterator[tuple[Batch, np.ndarray]]:
    """Batches of the users (or of those in `rows`) with their histories, and the rows they hold;
    shuffled when an `rng` is given."""
    rows = np.arange(len(users)) if rows is None else np.asarray(rows)
    rows = rows if rng is None else rng.permutation(rows)
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        yield make_batch(users[chunk], [histories[r] for r in chunk], n_items), chunk


def _targets(targets, chunk: np.ndarray, n_items: int, device) -> torch.Tensor:
    """One code per user (B,), or each user's set as a (B, n_items) bool matrix; a (n_items,)
    bool array is one set for every user (paper C's segment: every item of a concept)."""
    if isinstance(targets, np.ndarray) and targets.dtype == bool:
        return torch.as_tensor(targets, device=device).expand(len(chunk), -1)
    if isinstance(targets, np.ndarray):
        return torch.as_tensor(targets[chunk], device=device)
    relevant = torch.zeros(len(chunk), n_items, dtype=torch.bool)
    for row, r in enumerate(chunk):
        relevant[row, torch.as_tensor(targets[r], dtype=torch.long)] = True
    return relevant.to(device)


@torch.no_grad()
def evaluate(
    model: Recommender,
    split: Split | UserSplit,
    stage: str = "test",
    ks: tuple[int, ...] = (10,),
    dataset: Dataset | None = None,
    share_of: np.ndarray | None = None,
    rows: np.ndarray | None = None,
    targets: np.ndarray | None = None,
    per_user: bool = False,
    batch_size: int = 256,
) -> dict[str, float] | pd.DataFrame:
    """Full-ranking metrics at each K for the "valid" or "test" users of either protocol (see
    `RankingMetrics` for the definitions).

    dataset: also genre diversity and mean popularity of the lists. share_of: (n_items,) bool, the
    share of the lists inside that set of items. rows: only these users (rows of the stage).
    targets: (n_items,) bool, score every user against this set instead of their own targets.
    per_user: a table with one row per user instead of the means (for confidence intervals)."""
    if stage not in ("valid", "test"):
        raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")
    users, histories, own = stage_data(split, stage)
    device = model.device
    genres = popularity = None
    if dataset is not None:
        genres, popularity = dataset.genres, dataset.popularity
    metrics = RankingMetrics(ks, model.n_items, genres, popularity, share_of)
    was_training = model.training
    model.eval()
    order = []
    for batch, chunk in batches(users, histories, model.n_items, batch_size, rows=rows):
        batch = batch.to(device)
        scores = mask_seen(model.scores(batch), batch.history, pad=model.n_items)
        relevant = _targets(own if targets is None else targets, chunk, model.n_items, device)
        metrics.add(scores, relevant)
        order.append(chunk)
    model.train(was_training)
    if not per_user:
        return metrics.result()
    table = pd.DataFrame(metrics.per_user())
    return table.assign(user=users[np.concatenate(order)]).set_index("user")


@torch.no_grad()
def recommend(model: Recommender, split, rows, k=10, stage="test", scores=False):
    """(len(rows), k) the top-k items of the stage's `rows`, best first, with the items each user
    has shown the model masked; with scores=True, also their masked scores (len(rows), n_items)."""
    users, histories, _ = stage_data(split, stage)
    rows = np.atleast_1d(rows)
    batch = make_batch(users[rows], [histories[r] for r in rows], model.n_items)
    batch = batch.to(model.device)
    was_training = model.training
    masked = mask_seen(model.eval().scores(batch), batch.history, pad=model.n_items)
    model.train(was_training)
    top = top_k(masked, k).cpu().numpy()
    return (top, masked.cpu().numpy()) if scores else top


def train(
    model: Recommender, split: Split | UserSplit, config: TrainConfig, progress: bool = True
) -> History:
    """Train `model` on the split's training histories; returns the history of validations."""
    history, start = History(), time.perf_counter()
    ks = (int(config.metric.split("@")[1]),)
    if not any(p.requires_grad for p in model.parameters()):  # e.g. popularity: nothing to learn
        history.epoch.append(0)
        history.train_loss.append(float("nan"))
        history.valid_ndcg.append(evaluate(model, split, "valid", ks)[config.metric])
        return history
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = model.device
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    users, histories, _ = stage_data(split, "train")
    best, best_state, waited = -1.0, None, 0
    bar = tqdm(range(1, config.epochs + 1), desc=type(model).__name__, disable=not progress)
    for epoch in bar:
        model.train()
        losses = []
        for batch, _ in batches(users, histories, model.n_items, config.batch_size, rng):
            loss = model.loss(batch.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        if epoch % config.eval_every and epoch != config.epochs:
            continue
        score = evaluate(model, split, "valid", ks)[config.metric]
        history.epoch.append(epoch)
        history.train_loss.append(torch.stack(losses).mean().item())
        history.valid_ndcg.append(score)
        bar.set_postfix(loss=f"{history.train_loss[-1]:.4f}", valid=f"{score:.4f}")
        if score > best:
            best, waited, history.best_epoch = score, 0, epoch
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if waited >= config.patience:
                break
    bar.total = bar.n = epoch  # a run that stops early ends its bar full, not red
    bar.close()
    model.load_state_dict(best_state)
    model.eval()
    history.seconds = time.perf_counter() - start
    return history
