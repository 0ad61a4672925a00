"""What a reader moves (no need to read): the equalizer and the feature atlas, which run in the
page (`static/components.js`), and an ipywidgets slider over precomputed tables.

A component is one `IPython.display.HTML` output: its JavaScript inline and the numbers it needs as
JSON (arrays as base64 float16). Not ipywidgets nor an anywidget: their front ends need a kernel or
a widget manager, which the rendered book has not; an inline script runs in the book's pages
(nothing fetched), in Jupyter (trusted notebooks) and in Colab alike. The equalizer's numbers are
the Python path's (`steered_list`, `feature_edit`): "add" keeps the error term, so v on z_j adds
v W_dec[j] input_scale (times the state's std if the SAE standardises each) to h; "mix" decodes
z' without it; scores = h' E^T, seen items masked (tests/test_browser.py compares the lists).
"""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import resources

import numpy as np
import pandas as pd
import torch

from .data import Dataset
from .interventions import Spliced, feature_edit
from .models.base import make_batch
from .train import recommend, stage_data

__all__ = ["recommendation_table", "steered_list", "static_equalizer", "component", "equalizer",
           "atlas", "value_slider"]  # fmt: skip


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
    the Python path of the equalizer, which its page shows computed in the browser."""
    changed = {j: v for j, v in values.items() if v}
    if changed:
        model = Spliced(model, feature_edit(sae, list(changed), list(changed.values())))
    return recommendation_table(dataset, recommend(model, split, row, k)[0])


def static_equalizer(model, sae, split, dataset, row: int, feature: int, unit: float, strengths):
    """One user's list with one feature turned up at each strength, precomputed: {strength:
    table}, for `viz.steering_frames`."""
    return {
        s: steered_list(model, sae, split, dataset, row, {feature: s * unit}) for s in strengths
    }


def half(array) -> str:
    """An array as base64 float16, little-endian (what components.js decodes)."""
    return base64.b64encode(np.asarray(array, dtype="<f2").tobytes()).decode("ascii")


def component(name: str, data: dict):
    """The HTML output that runs components.js's `name` on `data` in the page."""
    from IPython.display import HTML

    text = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    key = f"recsae-{name}-{hashlib.sha1(text.encode()).hexdigest()[:12]}"  # the same each run
    script = resources.files("recsae_lite").joinpath("static/components.js").read_text("utf-8")
    # the div just before this script; by its id where a front end runs scripts out of place
    here = "(document.currentScript || {}).previousElementSibling"
    run = f"{{ const div = {here}; recsaeLite.{name}(div && div.id === '{key}' ? div : "
    return HTML(
        f"<div id='{key}' class='recsae-{name}'><script type='application/json'>{text}</script>"
        f"</div><script>{script}\n{run}document.getElementById('{key}')); }}</script>"
    )


@torch.no_grad()
def equalizer(model, sae, split, dataset, genre_features: dict, unit: dict | None, rows,
              max_strength: float = 3.0, mode: str = "add"):  # fmt: skip
    """The equalizer of the users `rows` (rows of the test stage), in the page. mode "add": a
    slider per genre (genre_features: genre -> a feature or a list) from -1 to max_strength, at s
    adding s * unit[j] to z_j of each of its features (`steered_list`), and a free feature. "mix"
    (unit None): a genre's features (or a free one) mixed in at alpha, as feature_edit(sae,
    features, alpha, "mix", error_term=False)."""
    if mode not in ("add", "mix") or (mode == "mix") != (unit is None):
        raise ValueError(
            f"equalizer: mode is 'add' (with a unit per feature) or 'mix' (unit=None), got "
            f"mode={mode!r} with unit={'None' if unit is None else 'a dict'}"
        )
    users, histories, _ = stage_data(split, "test")
    rows = [int(r) for r in rows]
    batch = make_batch(users[rows], [histories[r] for r in rows], model.n_items).to(model.device)
    h = model.eval().hidden(batch)  # (R, d), the states `recommend` scores
    E = model.item_embeddings()
    if not torch.allclose(model.scores_from_hidden(h, None), h @ E.T, rtol=1e-4, atol=1e-4):
        raise ValueError(
            f"equalizer: {type(model).__name__} does not score a state h as h E^T, which the page "
            "computes: show its steered lists with `steered_list` instead"
        )
    mean, std = (torch.broadcast_to(s, (len(h), 1)).flatten() for s in sae.each(h))
    codes = sae.encode(h).cpu().numpy()
    genres = [np.flatnonzero(g).tolist() for g in dataset.genres]  # each item's genres
    data = {"mode": mode, "d": h.shape[1], "d_sae": sae.config.d_sae, "max_strength": max_strength,
            "titles": dataset.item_titles, "genre_names": dataset.genre_names, "genres": genres,
            "users": users[rows].tolist(), "seen": [np.unique(histories[r]).tolist() for r in rows],
            "concepts": {g: np.atleast_1d(f).tolist() for g, f in genre_features.items()},
            "unit": {int(j): float(u) for j, u in (unit or {}).items()},
            "states": half(h.cpu()), "embeddings": half(E.cpu()), "std": std.tolist(),
            "mean": mean.tolist(), "decoder": half((sae.W_dec * sae.input_scale).cpu()),
            "offset": (sae.b_dec * sae.input_scale + sae.input_mean).tolist(),
            "codes": [[np.flatnonzero(c).tolist(), c[c > 0].tolist()] for c in codes]}  # fmt: skip
    return component("equalizer", data)


def atlas(dataset: Dataset, cards: list, tops: list, scores: np.ndarray, genre_names: list[str],
          effects: np.ndarray, item_flags: np.ndarray, top: int = 20, show=()):  # fmt: skip
    """Every feature of an SAE, searchable by film title, genre and label, with its dashboard
    (cards: `features.FeatureCard`s; those of the features `show` open at first), drawn in the
    page: its label, firing rate, whether it is an item feature, its most frequent items at its top
    positions (tops: `interpret.top_items`), its input association (scores (F, G): chapter 4's
    genre scores over genre_names) and output effect (each genre's share of the `top` films its
    decoder direction raises most, from effects (F, n_items))."""
    shares = dataset.genres[np.argsort(-effects, axis=1)[:, :top]].mean(1)  # (F, all genres)
    strings: dict[str, int] = {}  # every text once; the tables and lists hold its index

    def text(value: str) -> int:
        return strings.setdefault(value, len(strings))

    def table(frame: pd.DataFrame) -> list:
        texts = [not pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
        cells = [[text(v) if t else round(float(v), 3) for v, t in zip(row, texts, strict=True)]
                 for row in frame.itertuples(index=False)]  # fmt: skip
        return [list(frame.columns), texts, cells]

    def entry(card, top_items, score, share, flag) -> dict:
        acts = card.activations if len(card.activations) else np.zeros(1)
        frequent = pd.Series(top_items, dtype=np.int64).value_counts().index[:8]
        return {"label": card.title, "density": round(card.firing_rate, 5), "item": bool(flag),
                "top_items": [text(dataset.item_titles[i]) for i in frequent],
                "input": np.nan_to_num(score.astype(float), nan=0.0).round(2).tolist(),
                "output": share.round(2).tolist(), "histogram": np.histogram(acts, 20)[0].tolist(),
                "range": [round(float(acts.min()), 3), round(float(acts.max()), 3)],
                "lift": card.genre_lift.round(2).tolist(),
                "deciles": card.popularity_deciles.round(3).tolist(),
                "contexts": table(card.top_contexts), "boosted": table(card.boosted)}  # fmt: skip

    entries = [entry(*each) for each in zip(cards, tops, scores, shares, item_flags, strict=True)]
    return component("atlas", {"genre_names": genre_names, "all_genres": dataset.genre_names,
                               "strings": list(strings), "features": entries,
                               "open": [int(j) for j in show]})  # fmt: skip


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
