"""Steering a recommender through SAE features or directions, and measuring what it costs (ch. 5).

An *edit* is a function h -> h' on the hidden state the model scores (the last position, for
SASRec); `activations.Spliced(model, edit)` is the model with the edit inside. Two kinds:

- `feature_edit`: change SAE features' activations and keep the SAE's error term. With z the codes
  of h and z' the changed ones, h' = h + (z' - z) W_dec (in the model's units): the part of h the
  SAE does not reconstruct stays, and an edit that changes nothing leaves h, and so the scores,
  exactly as they were.
- `direction_edit`: add a direction, e.g. a linear probe's (the supervised baseline).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from . import interpret
from .activations import Spliced
from .data import Dataset, Split
from .features import next_items
from .metrics import mask_seen, top_k
from .models.base import Recommender, make_batch
from .train import evaluate

MODES = ("add", "scale", "set")
Edit = Callable[[Tensor], Tensor]


def feature_edit(sae, values: dict[int, float], mode: str = "add") -> Edit:
    """Change features' activations: "add" z_j + v, "scale" z_j * v, "set" z_j = v, for each
    feature j: v of `values`; decode keeping the SAE's error term (see the module doc)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    bad = [j for j in values if not 0 <= j < sae.config.d_sae]
    if bad:
        raise ValueError(f"features {bad} do not exist: the SAE has 0..{sae.config.d_sae - 1}")
    features = torch.tensor(list(values), dtype=torch.long)
    amounts = torch.tensor(list(values.values()), dtype=torch.float32)

    def edit(h: Tensor) -> Tensor:
        j, v = features.to(h.device), amounts.to(h.device)
        if mode == "add":  # no need to encode: the change is v whatever z_j is
            change = v.expand(len(h), -1)
        else:
            z = sae.encode(h)[:, j]  # (B, n)
            change = z * v - z if mode == "scale" else v - z
        return h + (change @ sae.W_dec[j]) * sae.input_scale

    return edit


def direction_edit(direction: Tensor, strength: float) -> Edit:
    """h + strength * direction."""

    def edit(h: Tensor) -> Tensor:
        return h + strength * direction.to(h.device)

    return edit


def sae_direction(sae, feature: int) -> Tensor:
    """Feature j's decoder direction in the model's units, with unit norm: adding s times it is
    adding s / input_scale to z_j (for decoder rows of unit norm)."""
    d = sae.W_dec[feature].detach() * sae.input_scale
    return d / d.norm()


@torch.no_grad()
def recommend(model: Recommender, split: Split, rows, edit: Edit | None = None, k: int = 10):
    """(len(rows), k) the top-k items for the split's `rows` (test histories, seen items masked),
    with the edit inside the model."""
    rows = np.atleast_1d(rows)
    histories = split.history("test")
    batch = make_batch(split.users[rows], [histories[r] for r in rows], model.n_items)
    batch = batch.to(model.device)
    spliced = Spliced(model, edit or (lambda h: h)).eval()
    scores = mask_seen(spliced.scores(batch), batch.history, pad=model.n_items)
    return top_k(scores, k).cpu().numpy()


def list_metrics(lists: np.ndarray, targets: np.ndarray, share_of: np.ndarray) -> dict:
    """Of top lists (users, k) against one held-out target each (users,): NDCG@k, and the share
    of the listed items inside `share_of` (n_items,) bool."""
    hits = lists == np.asarray(targets)[:, None]
    ndcg = (hits / np.log2(np.arange(2, lists.shape[1] + 2))).sum(1).mean()
    return {"ndcg": float(ndcg), "share": float(np.asarray(share_of)[lists].mean())}


def recommendation_table(dataset: Dataset, items: np.ndarray, mark: int | None = None):
    """A top list as a table: rank, title, genres; with `mark` (a genre index), whether each item
    has that genre."""
    rows = []
    for rank, item in enumerate(items, 1):
        genres = [n for n, on in zip(dataset.genre_names, dataset.genres[item], strict=True) if on]
        row = {"rank": rank, "title": dataset.item_titles[item], "genres": ", ".join(genres)}
        if mark is not None:
            row[dataset.genre_names[mark]] = "●" if dataset.genres[item, mark] else ""
        rows.append(row)
    return pd.DataFrame(rows)


def steered_list(model, sae, split, dataset, row: int, values: dict[int, float], k: int = 10):
    """The top-k table of one user (a split row) with features added `values` (activation units):
    what the equalizer widget and its static version both show."""
    changed = {j: v for j, v in values.items() if v}
    edit = feature_edit(sae, changed, "add") if changed else None
    return recommendation_table(dataset, recommend(model, split, row, edit, k)[0])


class _FixedHidden(Recommender):
    """`model` whose hidden states for the given users are computed once: a sweep over many
    edits then only pays for the edit and the scoring."""

    def __init__(self, model: Recommender, users: np.ndarray, h: Tensor):
        super().__init__()
        self.model, self.config, self.n_items = model, model.config, model.n_items
        self.register_buffer("h", torch.zeros(int(users.max()) + 1, h.shape[1], device=h.device))
        self.h[torch.as_tensor(users, device=h.device)] = h

    def hidden(self, batch, layer=None) -> Tensor:
        return self.h[batch.users.to(self.h.device)]

    def scores_from_hidden(self, h: Tensor, batch, layer=None) -> Tensor:
        return self.model.scores_from_hidden(h, batch)


@torch.no_grad()
def last_states(model: Recommender, split: Split, rows: np.ndarray) -> Tensor:
    """(len(rows), d) the hidden states the model scores for the split's rows (test histories)."""
    histories = split.history("test")
    batch = make_batch(split.users[rows], [histories[r] for r in rows], model.n_items)
    return model.eval().hidden(batch.to(model.device))


def sweep(
    model: Recommender,
    split: Split,
    rows: np.ndarray,
    edits: dict[float, Edit],
    dataset: Dataset,
    share_of: np.ndarray,
) -> pd.DataFrame:
    """Metrics@10 on the split's `rows` (test targets) for each strength's edit: share (of the
    lists inside `share_of`), ndcg, hr, coverage, diversity, popularity."""
    fixed = _FixedHidden(model, split.users[rows], last_states(model, split, rows))
    out = []
    for strength, edit in edits.items():
        m = evaluate(Spliced(fixed, edit), split, "test", dataset=dataset, share_of=share_of,
                     rows=rows)  # fmt: skip
        out.append({"strength": strength, **{k.removesuffix("@10"): v for k, v in m.items()}})
    return pd.DataFrame(out)


def compare(
    model: Recommender,
    split: Split,
    dataset: Dataset,
    directions: dict[tuple[str, str], Tensor],
    strengths: list[float],
    unit: float,
    users: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Steering sweeps: for each (method, genre) direction (unit norm), each strength s (the
    added vector is s * unit * direction), and each named set of users: metrics@10, with the share
    of the lists in that genre. One row per (method, genre, users, strength)."""
    tables = []
    for (method, genre), direction in directions.items():
        share_of = dataset.genres[:, dataset.genre_names.index(genre)]
        edits = {s: direction_edit(direction, s * unit) for s in strengths}
        for name, rows in users.items():
            table = sweep(model, split, rows, edits, dataset, share_of)
            tables.append(table.assign(method=method, genre=genre, users=name))
    return pd.concat(tables, ignore_index=True)


def moderate(table: pd.DataFrame, max_drop: float = 0.1, choose_on: str = "validation"):
    """Per (method, genre): the largest strength whose NDCG@10 falls by at most `max_drop` (a
    share of the unsteered value) on the `choose_on` users, and the metrics at that strength on
    every set of users, next to the unsteered ones (relative changes of NDCG, coverage and
    diversity; the share as a multiple)."""
    out = []
    for (method, genre), rows in table.groupby(["method", "genre"], sort=False):
        chosen = rows[rows["users"] == choose_on].set_index("strength")
        base = chosen.loc[0.0, "ndcg"]
        fine = chosen.index[chosen["ndcg"] >= (1 - max_drop) * base]
        strength = float(fine.max())
        for users, group in rows.groupby("users", sort=False):
            at = group.set_index("strength")
            out.append(
                {"method": method, "genre": genre, "users": users, "strength": strength,
                 "share before": at.loc[0.0, "share"], "share after": at.loc[strength, "share"],
                 "ndcg before": at.loc[0.0, "ndcg"], "ndcg after": at.loc[strength, "ndcg"],
                 **{f"{m} change": at.loc[strength, m] / max(at.loc[0.0, m], 1e-9) - 1
                    for m in ("coverage", "diversity") if m in at}}
            )  # fmt: skip
    result = pd.DataFrame(out)
    result["share x"] = result["share after"] / result["share before"].clip(lower=1e-9)
    result["ndcg change"] = result["ndcg after"] / result["ndcg before"].clip(lower=1e-9) - 1
    return result


@torch.no_grad()
def genre_directions(model, sae, split, dataset, x, items, genres, top=100, min_items=10):
    """Per genre, an SAE feature chosen without labels and a linear probe fitted with them.

    The feature: the best one for the genre in the "predicted" view of chapter 4's score (the
    genres of the item the model ranks first at each position), item features excluded. The
    probe: `interpret.probe_direction` for "the next item has the genre". x: (N, d) the states
    at every training position, items: (N,) the item each has read (`collect(..., items=True)`).
    Also a reference that needs neither: the genre's centroid in the model's output space (the
    mean output embedding of its items less that of all items), the direction that raises the
    genre's items most on average.
    Returns a table (genre, feature, score, cosine with probe) and the unit-norm directions,
    {(method, genre): direction} for method "SAE", "probe" and "centroid"."""
    z = torch.cat([sae.encode(c) for c in x.split(8_192)]).cpu()
    first = torch.cat([model.scores_from_hidden(c, None).argmax(1) for c in x.split(8_192)])
    scores = interpret.genre_scores(z, dataset.genres[first.cpu().numpy()], top)
    spread = ~interpret.item_features(interpret.top_items(z, items, top), min_items)
    following = next_items(split, model.config.max_len)
    rows, directions = [], {}
    for genre in genres:
        g = dataset.genre_names.index(genre)
        feature = int(np.nanargmax(np.where(spread, scores[:, g], np.nan)))
        with torch.enable_grad():
            probe = interpret.probe_direction(x, torch.as_tensor(dataset.genres[following, g]))
        directions[("SAE", genre)] = sae_direction(sae, feature)
        directions[("probe", genre)] = probe
        emb = model.item_embeddings().detach()
        centroid = emb[torch.as_tensor(dataset.genres[:, g], device=emb.device)].mean(0)
        directions[("centroid", genre)] = F.normalize(centroid - emb.mean(0), dim=0)
        cosine = float(directions[("SAE", genre)] @ probe)
        rows.append({"genre": genre, "feature": feature, "score": scores[feature, g],
                     "cosine with probe": cosine})  # fmt: skip
    return pd.DataFrame(rows), directions


def equalizer(model, sae, split, dataset, genre_features: dict, unit: dict, rows, max_strength=3.0):
    """An ipywidgets equalizer: a user picker, one slider per genre feature, a free feature
    picker with its own slider, and the user's top-10 list, updated on every change.

    genre_features: genre name -> feature; unit: feature -> its activation unit (a slider at s
    adds s * unit[j] to z_j; e.g. the feature's largest activation on training data)."""
    import ipywidgets as w

    def slider(description):
        return w.FloatSlider(value=0.0, min=-1.0, max=max_strength, step=0.25,
                             description=description, continuous_update=False)  # fmt: skip

    options = [(f"user {split.users[r]}", int(r)) for r in rows]
    user = w.Dropdown(options=options, description="user")
    sliders = {genre: slider(genre) for genre in genre_features}
    free = w.BoundedIntText(value=0, min=0, max=sae.config.d_sae - 1, description="feature")
    free_strength = slider("strength")
    shown = w.HTML()  # the list as HTML: no Output widget, so nothing is printed outside it

    def values() -> dict[int, float]:
        chosen = {}
        pairs = [(genre_features[g], s.value) for g, s in sliders.items()]
        for j, s in [*pairs, (free.value, free_strength.value)]:
            chosen[j] = chosen.get(j, 0.0) + s * unit.get(j, 1.0)
        return chosen

    def update(_=None):
        table = steered_list(model, sae, split, dataset, user.value, values())
        shown.value = table.to_html(index=False)

    for control in [user, free, free_strength, *sliders.values()]:
        control.observe(update, "value")
    update()
    return w.VBox([user, *sliders.values(), w.HBox([free, free_strength]), shown])


def static_equalizer(model, sae, split, dataset, row: int, feature: int, unit: float, strengths):
    """The same list as `equalizer` for one user and one feature at each strength, precomputed:
    {strength: table}, for `viz.steering_frames`."""
    return {
        s: steered_list(model, sae, split, dataset, row, {feature: s * unit}) for s in strengths
    }


def value_slider(table_for, values, description: str = "value"):
    """A slider over `values` showing `table_for(value)` (a DataFrame) live, and the same tables
    precomputed for the static figure: (widget, {value: table}). Both come from table_for."""
    import ipywidgets as w

    values = list(values)
    slider = w.SelectionSlider(options=values, value=values[0], description=description,
                               continuous_update=False)  # fmt: skip
    shown = w.HTML(table_for(values[0]).to_html(index=False))

    def update(change):
        shown.value = table_for(change["new"]).to_html(index=False)

    slider.observe(update, "value")
    return w.VBox([slider, shown]), {v: table_for(v) for v in values}
