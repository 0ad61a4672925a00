"""Paper C (Spišák et al. 2025): an SAE between ELSA's encoder and decoder, and steering by mixing
a user's code with features (chapter 8); its concept-to-feature maps are in `interpret`.

    u = x A                      ELSA's user embedding of the interaction row x (`models.ELSA`)
    z = SAE.encode(u)            TopK; each u standardised on its own; cosine loss + a small L1
    u' = SAE.decode(z', like=u)  z' = z, or mixed with features; scores = u' A^T

ELSA trains with `train.train` and is scored with `train.evaluate` on paper C's user split
(`data.user_split`, `TRAIN_ELSA`); the SAE goes inside with `interventions.Spliced` and the knob is
`interventions.feature_edit(..., mode="mix", error_term=False)`: paper C decodes the mixed code
without the SAE's error term.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from .data import Dataset, UserSplit
from .interventions import Spliced, feature_edit
from .models.base import make_batch
from .models.elsa import ELSA
from .sae import SAE, SAEConfig
from .train import TrainConfig, evaluate

__all__ = ["TRAIN_ELSA", "sae_config", "views", "desired_concepts", "segment",
           "steering_summary"]  # fmt: skip

# ELSA on the user split: Adam 1e-3, batch 128, the epoch with the best validation NDCG@20
TRAIN_ELSA = TrainConfig(epochs=100, batch_size=128, lr=1e-3, patience=10, metric="ndcg@20")


def sae_config(d_in: int, d_sae: int, k: int) -> SAEConfig:
    """Paper C's SAE: TopK with unit-norm decoder rows, each embedding standardised on its own,
    the cosine distance between input and reconstruction plus a small L1 on the code."""
    return SAEConfig(d_in, d_sae, "topk", k, standardise_each=True, loss="cosine", code_l1=1e-3)


@torch.no_grad()
def views(model: ELSA, split: UserSplit, n: int, keep: float, seed: int = 0) -> Tensor:
    """(n * n_train, d) the embeddings of n random subsets of each training user's row, each item
    kept with probability keep: what a test user's row looks like (it shows the model 80% of its
    items). n = 1: the training users' own embeddings."""
    batch = make_batch(split.users["train"], split.train, model.n_items).to(model.device)
    x, A = model.interactions(batch), model.item_embeddings()
    if n == 1:
        return x @ A
    g = torch.Generator().manual_seed(seed)
    # one view at a time, drawn as one (n * users, items) draw would be: n dense copies of the
    # rows would take 11 GB at ML-1M scale
    return torch.cat([(x * (torch.rand(x.shape, generator=g) < keep).to(x.device)) @ A
                      for _ in range(n)])  # fmt: skip


# -- item codes ----------------------------------------------------------------------------------


@torch.no_grad()
def item_codes(model: ELSA, sae: SAE) -> Tensor:
    """(n_items, d_sae) each item's code: its one-hot row through the encoder and the SAE."""
    return sae.encode(model.item_embeddings())


# -- steering ------------------------------------------------------------------------------------


def desired_concepts(split: UserSplit, concepts: np.ndarray, stage="test"):
    """Paper C's steering targets: each user of the stage is steered towards the concept with the
    most held-out items beyond its input items (the count among their targets minus that among
    their inputs, 0 at least; ties broken by `torch.topk` on the CPU, as paper C's code breaks
    them); a user for whom every such count is 0 is not steerable. As (concept, rows) pairs, each
    steerable user in one."""
    concepts = np.asarray(concepts, dtype=np.int64)
    counts = {k: np.stack([concepts[items].sum(0) for items in getattr(split, k)[stage]])
              for k in ("inputs", "targets")}  # fmt: skip
    gain = np.clip(counts["targets"] - counts["inputs"], 0, None)
    most, chosen = (t[:, 0].numpy() for t in torch.topk(torch.from_numpy(gain), 1))
    return [
        (int(c), np.flatnonzero((chosen == c) & (most > 0))) for c in np.unique(chosen[most > 0])
    ]


def segment(split: UserSplit, concepts: np.ndarray, concept: int) -> np.ndarray:
    """(n_items,) bool: paper C's segment, the items of `concept` among those some user of the
    split has a positive for (the columns of paper C's interaction matrix)."""
    parts = [split.train, *split.inputs.values(), *split.targets.values()]
    listed = np.zeros(len(concepts), dtype=bool)
    listed[np.concatenate([items for part in parts for items in part])] = True
    return listed & np.asarray(concepts[:, concept], dtype=bool)


def steering_summary(model, sae, split, dataset: Dataset, pairs, maps, alphas, counts=(1, 5)):
    """Paper C's steering of the test users of `pairs` ((concept, rows), as from
    `desired_concepts`): their code mixed with each mapping's (`maps`: concept -> its
    top features) first `counts` features, at each alpha. Per (mapping, features, alpha):
    personal NDCG@20 and @10 (against each user's held-out items), segment NDCG@20 (against the
    concept's `segment`) and the concept's share of the top 10, averaged with each (user, concept)
    pair weighing the same (with paper C's rule, each user)."""
    rows = []
    for name, top in maps.items():
        for n in counts:
            for c, users in pairs:
                segment_c = segment(split, dataset.genres, c)
                for alpha in alphas:
                    knob = Spliced(model, feature_edit(sae, top[c, :n], alpha, "mix", False))
                    own = evaluate(knob, split, "test", (10, 20), share_of=segment_c, rows=users)
                    seg = evaluate(knob, split, "test", (20,), rows=users, targets=segment_c)
                    rows.append({"mapping": name, "features": n, "alpha": alpha,
                                 "users": len(users), "personal ndcg": own["ndcg@20"],
                                 "personal ndcg@10": own["ndcg@10"], "share@10": own["share@10"],
                                 "segment ndcg": seg["ndcg@20"]})  # fmt: skip
    table = pd.DataFrame(rows)
    measures = ["personal ndcg", "segment ndcg", "share@10", "personal ndcg@10"]
    table[measures] = table[measures].mul(table["users"], axis=0)
    sums = table.groupby(["mapping", "features", "alpha"])[[*measures, "users"]].sum()
    return sums[measures].div(sums["users"], axis=0)
