"""One training loop for every base model, and the book's one evaluation (chapter 2).

Evaluation ranks all items for each user, with the items of the user's history masked out (also for
sequential models: a model that re-recommends what the user just watched is not what we measure).
Training stops early when validation NDCG@10 has not improved for `patience` evaluations, and the
best weights are restored.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from .data import Dataset, Split
from .metrics import RankingMetrics, mask_seen
from .models.base import Batch, Recommender, make_batch


@dataclass
class TrainConfig:
    epochs: int = 200  # an upper bound: early stopping usually ends training sooner
    batch_size: int = 128  # users per step
    lr: float = 1e-3
    weight_decay: float = 0.0  # AdamW's decoupled weight decay
    patience: int = 10  # validations without a better NDCG@10 before we stop
    eval_every: int = 1  # epochs between validations
    seed: int = 0


@dataclass
class History:
    """What happened during training: one entry per validation."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # mean loss over the epoch's steps
    valid_ndcg: list[float] = field(default_factory=list)  # validation NDCG@10
    best_epoch: int = 0
    seconds: float = 0.0


def batches(
    split: Split,
    histories: list[np.ndarray],
    n_items: int,
    batch_size: int,
    rng: np.random.Generator | None = None,
    rows: np.ndarray | None = None,
) -> Iterator[tuple[Batch, np.ndarray]]:
    """Batches of the split's users (or of those in `rows`) with the given histories, and the rows
    of the split they hold; shuffled when an `rng` is given."""
    rows = np.arange(len(split.users)) if rows is None else np.asarray(rows)
    rows = rows if rng is None else rng.permutation(rows)
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        yield make_batch(split.users[chunk], [histories[r] for r in chunk], n_items), chunk


@torch.no_grad()
def evaluate(
    model: Recommender,
    split: Split,
    stage: str = "test",
    ks: tuple[int, ...] = (10,),
    dataset: Dataset | None = None,
    batch_size: int = 256,
    share_of: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> dict[str, float]:
    """Full-ranking metrics at each K for the "valid" or "test" targets; with `dataset`, also genre
    diversity and mean popularity of the recommendations; with `share_of` ((n_items,) bool), the
    share of the lists inside that set of items. rows: evaluate only these rows of the split."""
    device = model.device
    targets = {"valid": split.valid, "test": split.test}
    if stage not in targets:
        raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")
    genres = popularity = None
    if dataset is not None:
        genres = torch.as_tensor(dataset.genres, device=device)
        popularity = torch.as_tensor(dataset.popularity, dtype=torch.float32, device=device)
    metrics = RankingMetrics(ks, model.n_items, genres, popularity, share_of)
    was_training = model.training
    model.eval()
    histories = split.history(stage)
    for batch, chunk in batches(split, histories, model.n_items, batch_size, rows=rows):
        batch = batch.to(device)
        scores = mask_seen(model.scores(batch), batch.history, pad=model.n_items)
        metrics.add(scores, torch.as_tensor(targets[stage][chunk], device=device))
    model.train(was_training)
    return metrics.result()


def train(model: Recommender, split: Split, config: TrainConfig, progress: bool = True) -> History:
    """Train `model` on the split's training histories; returns the history of validations."""
    history, start = History(), time.perf_counter()
    if not any(p.requires_grad for p in model.parameters()):  # e.g. popularity: nothing to learn
        history.epoch.append(0)
        history.train_loss.append(float("nan"))
        history.valid_ndcg.append(evaluate(model, split, "valid")["ndcg@10"])
        return history
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = model.device
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    best, best_state, waited = -1.0, None, 0
    bar = tqdm(range(1, config.epochs + 1), desc=type(model).__name__, disable=not progress)
    for epoch in bar:
        model.train()
        losses = []
        for batch, _ in batches(split, split.train, model.n_items, config.batch_size, rng):
            loss = model.loss(batch.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        if epoch % config.eval_every and epoch != config.epochs:
            continue
        ndcg = evaluate(model, split, "valid")["ndcg@10"]
        history.epoch.append(epoch)
        history.train_loss.append(torch.stack(losses).mean().item())
        history.valid_ndcg.append(ndcg)
        bar.set_postfix(loss=f"{history.train_loss[-1]:.4f}", valid_ndcg=f"{ndcg:.4f}")
        if ndcg > best:
            best, waited, history.best_epoch = ndcg, 0, epoch
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if waited >= config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    history.seconds = time.perf_counter() - start
    return history
