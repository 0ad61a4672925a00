"""Edits on the hidden state a model scores, and the model with an edit spliced in (chapter 5).

Every steering recipe of the book is an edit h -> h' of the representation that `hidden` returns,
followed by the rest of the model, `scores_from_hidden`; so one function serves every model:

- `feature_edit`: through an SAE. Encode h into z, change some features, decode:
  "add" z_j + v (paper A), "scale" z_j * v, "set" z_j = v (paper B's overwrite), and "mix"
  z' = (1 - a) z + a ||z||_1 e, with e the one-hot of the features spread evenly (paper C: the
  code's total activation is kept). With the error term (the default), h' = h + decode(z') -
  decode(z): the part of h the SAE does not reconstruct stays, and an edit that changes nothing
  leaves the scores exactly as they were. Without it, h' = decode(z'), as paper C decodes.
- `direction_edit`: h + s * direction (a feature's, a linear probe's or a genre centroid's),
  or h + s * ||h|| * direction (units of the state's own norm).

`Spliced(model, edit)` is the model with the edit inside. With cache=True it keeps the hidden
states of the batches it has seen: a sweep over many edits of the same users pays for the model
once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from .models.base import Batch, Recommender

__all__ = [
    "MODES", "Edit", "edit_code", "feature_edit", "direction_edit", "feature_direction",
    "Spliced"
]  # fmt: skip

MODES = ("add", "scale", "set", "mix")
Edit = Callable[[Tensor], Tensor]  # hidden (B, d) -> edited hidden (B, d)


def edit_code(z: Tensor, features, amounts, mode: str = "add") -> Tensor:
    """z' (B, d_sae): codes z with `features` changed by `amounts` as `mode` says (module doc)."""
    j = torch.as_tensor(np.atleast_1d(features), dtype=torch.long, device=z.device)
    v = torch.as_tensor(amounts, dtype=z.dtype, device=z.device).expand(len(j))
    new = z.clone()
    if mode == "add":
        new[:, j] += v
    elif mode == "scale":
        new[:, j] *= v
    elif mode == "set":
        new[:, j] = v
    elif mode == "mix":  # a share alpha of the code's L1 norm moves onto the features, evenly
        new = (1 - v[0]) * z
        new[:, j] += v[0] * z.abs().sum(-1, keepdim=True) / len(j)
    else:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return new


def feature_edit(
    sae,
    features: int | Sequence[int],
    amounts: float | Sequence[float],
    mode: str = "add",
    error_term: bool = True,
) -> Edit:
    """An edit of SAE features (see the module doc for the modes). features: one or several;
    amounts: one value for all, or one each ("mix" takes one: alpha in [0, 1])."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    features = np.atleast_1d(np.asarray(features, dtype=np.int64))
    amounts = np.broadcast_to(np.asarray(amounts, dtype=np.float32), features.shape).copy()
    bad = features[(features < 0) | (features >= sae.config.d_sae)]
    if len(bad):
        raise ValueError(
            f"features {bad.tolist()} do not exist: the SAE has 0..{sae.config.d_sae - 1}"
        )
    if mode == "mix" and (len(set(amounts.tolist())) != 1 or not 0 <= amounts[0] <= 1):
        raise ValueError(f"mix takes one alpha in [0, 1] for all its features, got {amounts}")

    def edit(h: Tensor) -> Tensor:
        z = sae.encode(h)  # (B, d_sae)
        new = edit_code(z, features, torch.as_tensor(amounts), mode)
        if not error_term:
            return sae.decode(new, like=h)
        return h + sae.decode(new - z, like=h, shift=False)

    return edit


def direction_edit(direction: Tensor, strength: float, relative: bool = False) -> Edit:
    """h + strength * direction; relative: h + strength * ||h|| * direction, a push in units of
    each state's own norm (the same meaning for every user)."""

    def edit(h: Tensor) -> Tensor:
        size = h.norm(dim=-1, keepdim=True) if relative else 1.0
        return h + strength * size * direction.to(h.device)

    return edit


def feature_direction(sae, feature: int) -> Tensor:
    """A feature's decoder direction in the model's units, with unit norm: adding s times it is
    adding s / input_scale to z_j (for decoder rows of unit norm)."""
    d = sae.W_dec[feature].detach() * sae.input_scale
    return d / d.norm()


class Spliced(Recommender):
    """`model` with its hidden representation h replaced by `edit(h)` before the rest of it."""

    def __init__(self, model: Recommender, edit: Edit | None = None, layer=None, cache=False):
        super().__init__()
        self.model, self.edit, self.layer = model, edit, layer
        self.config, self.n_items = model.config, model.n_items
        self.cached = {} if cache else None  # (users, history) bytes -> hidden states
        self.train(model.training)  # a new module is in training mode: take the model's

    def hidden(self, batch: Batch, layer: int | None = None) -> Tensor:
        if self.cached is None:
            h = self.model.hidden(batch, self.layer)
        else:
            key = (batch.users.cpu().numpy().tobytes(), batch.history.cpu().numpy().tobytes())
            if key not in self.cached:
                self.cached[key] = self.model.hidden(batch, self.layer)
            h = self.cached[key]
        return h if self.edit is None else self.edit(h)

    def scores_from_hidden(self, h: Tensor, batch: Batch | None, layer: int | None = None):
        return self.model.scores_from_hidden(h, batch, self.layer)
