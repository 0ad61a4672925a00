"""What an SAE reads, from any base model (chapter 3): `collect` gathers hidden states at the
last position of each user (what the model scores) or at every position (SASRec's states of
prefixes: many more samples); `ndcg_recovered` measures what an SAE's reconstruction, spliced
into the model (`interventions.Spliced`), keeps of its ranking quality.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .data import Split, UserSplit
from .interventions import Spliced
from .models.base import Recommender
from .train import batches, evaluate, stage_data

__all__ = ["collect", "ndcg_recovered", "planted"]


@torch.no_grad()
def collect(
    model: Recommender,
    split: Split | UserSplit,
    stage: str = "train",
    positions: str = "last",
    layer: int | None = None,
    batch_size: int = 256,
    items: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Hidden states (N, d) of the split's users, on the model's device; with items=True, also
    the item code (N,) at each state's position (the last item the state has read).

    stage: whose histories: "train" (the training sequences), "valid" or "test" (what the model
        sees before predicting those targets).
    positions: "last" (one state per user) or "all" (every position holding an item, for a
        sequential model; one per user for the others)."""
    users, histories, _ = stage_data(split, stage)
    if positions not in ("last", "all"):
        raise ValueError(f"positions must be 'last' or 'all', got {positions!r}")
    model.eval()
    out, read = [], []
    for batch, _ in batches(users, histories, model.n_items, batch_size):
        batch = batch.to(model.device)
        if positions == "last":
            out.append(model.hidden(batch, layer))
            read.append(batch.history[:, -1])
        else:
            states, valid = model.states(batch, layer)
            out.append(states[valid])  # (P, d)
            read.append(batch.history[:, -valid.shape[1] :][valid])
    return (torch.cat(out), torch.cat(read)) if items else torch.cat(out)


def ndcg_recovered(model: Recommender, sae, split: Split, layer=None, stage="test") -> dict:
    """NDCG@10 with the SAE's reconstruction spliced in, against the clean model and a
    mean ablation (every user's h replaced by the mean of the SAE's training data):
    recovered = (spliced - ablated) / (clean - ablated), 1 = as good as the clean model."""
    mean = sae.input_mean

    def ablate(h: Tensor) -> Tensor:
        return mean.expand_as(h)

    scores = {
        "clean": evaluate(Spliced(model, lambda h: h, layer), split, stage)["ndcg@10"],
        "spliced": evaluate(Spliced(model, sae, layer), split, stage)["ndcg@10"],
        "ablated": evaluate(Spliced(model, ablate, layer), split, stage)["ndcg@10"],
    }
    gap = scores["clean"] - scores["ablated"]
    scores["recovered"] = (scores["spliced"] - scores["ablated"]) / gap if gap else float("nan")
    return scores


def planted(
    n_samples: int, d_in: int, n_directions: int, active: int = 3, noise: float = 0.01, seed=0
) -> tuple[Tensor, Tensor]:
    """Superposition in miniature: each sample is a sum of `active` of `n_directions` random unit
    directions in d_in dimensions (more directions than dimensions), with coefficients in [0.5,
    1.5], plus a little noise. Returns the samples (n_samples, d_in) and the directions
    (n_directions, d_in): the answer an SAE should find."""
    g = torch.Generator().manual_seed(seed)
    directions = F.normalize(torch.randn(n_directions, d_in, generator=g), dim=-1)
    which = torch.rand(n_samples, n_directions, generator=g).argsort(-1)[:, :active]
    coefficients = torch.rand(n_samples, active, generator=g) + 0.5
    x = (coefficients[..., None] * directions[which]).sum(1)  # (n_samples, d_in)
    return x + noise * torch.randn(n_samples, d_in, generator=g), directions
