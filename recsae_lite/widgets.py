"""ipywidgets glue for the steering chapters (no need to read): thin layers over the pure,
tested functions of `interventions`, `train` and `steer`. Each widget has a static twin that
precomputes the same tables for the rendered book, where no kernel runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import Dataset
from .interventions import Spliced, feature_edit
from .train import recommend

__all__ = ["recommendation_table", "steered_list", "equalizer", "static_equalizer", "value_slider"]


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
    if changed:
        model = Spliced(model, feature_edit(sae, list(changed), list(changed.values())))
    return recommendation_table(dataset, recommend(model, split, row, k)[0])


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
