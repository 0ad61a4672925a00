"""Figure builders (no need to read): each returns a plotly `go.Figure`; chapters call `.show()`.

One look for the whole book lives in `style()`: every builder ends with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from .data import Dataset

__all__ = [
    "TEMPLATE", "ACCENT", "COLORS", "style", "genre_frequencies", "popularity_long_tail",
    "sequence_lengths", "genre_cooccurrence", "model_comparison", "training_curves",
    "embedding_map", "tradeoff", "fvu_vs_l0", "histograms", "density_histogram",
    "recovery_histogram", "association_heatmaps", "best_score_distributions",
    "cell_text", "table_trace", "sortable_table", "steering_frames",
    "DASHES", "steering_curves", "feature_tree", "group_profiles", "grouped_bars", "metric_lines"
]  # fmt: skip

TEMPLATE = "plotly_white"
ACCENT = "#3b6ea8"
COLORS = qualitative.Plotly  # one colour per model or genre, in order


def style(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        title=dict(text=title, x=0.01),
        height=height,
        margin=dict(l=60, r=20, t=60, b=50),
    )
    return fig


def genre_frequencies(dataset: Dataset) -> go.Figure:
    """How many items carry each genre, and how many interactions those items receive."""
    n_items = dataset.genres.sum(axis=0)
    n_interactions = dataset.popularity @ dataset.genres
    order = np.argsort(-n_interactions)
    names = [dataset.genre_names[g] for g in order]
    fig = go.Figure(
        [
            go.Bar(name="items", x=names, y=n_items[order], marker_color="#9bb7d4"),
            go.Bar(name="interactions", x=names, y=n_interactions[order], marker_color=ACCENT),
        ]
    )
    fig.update_layout(barmode="group", yaxis_type="log", yaxis_title="count (log scale)")
    return style(fig, f"{dataset.name}: genre frequencies")


def popularity_long_tail(dataset: Dataset) -> go.Figure:
    """Interactions per item against the item's popularity rank, on log-log axes."""
    counts = np.sort(dataset.popularity)[::-1]
    rank = np.arange(1, len(counts) + 1)
    share = np.cumsum(counts) / counts.sum()
    fig = go.Figure(
        go.Scatter(
            x=rank,
            y=counts,
            mode="lines",
            line_color=ACCENT,
            customdata=share,
            hovertemplate="rank %{x}<br>%{y} interactions<br>top-%{x} share %{customdata:.1%}"
            "<extra></extra>",
        )
    )
    fig.update_layout(xaxis_type="log", yaxis_type="log")
    fig.update_xaxes(title="item popularity rank")
    fig.update_yaxes(title="interactions")
    return style(fig, f"{dataset.name}: the popularity long tail")


def sequence_lengths(dataset: Dataset) -> go.Figure:
    """Histogram of interactions per user (the length of each user's sequence)."""
    lengths = np.bincount(dataset.interactions["user"].to_numpy(), minlength=dataset.n_users)
    fig = go.Figure(go.Histogram(x=lengths, nbinsx=60, marker_color=ACCENT))
    fig.update_xaxes(title="interactions per user")
    fig.update_yaxes(title="users")
    return style(fig, f"{dataset.name}: sequence lengths (median {np.median(lengths):.0f})")


def genre_cooccurrence(dataset: Dataset) -> go.Figure:
    """Lift of each pair of genres: P(both) / (P(a) P(b)) over items; 1 means independent."""
    g = dataset.genres.astype(np.float64)
    p = g.mean(axis=0)
    both = g.T @ g / len(g)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = np.where(np.outer(p, p) > 0, both / np.outer(p, p), np.nan)
    np.fill_diagonal(lift, np.nan)
    counts = (g.T @ g).astype(int)
    fig = go.Figure(
        go.Heatmap(
            z=lift,
            x=dataset.genre_names,
            y=dataset.genre_names,
            customdata=counts,
            colorscale="RdBu_r",
            zmid=1.0,
            zmin=0.0,
            zmax=min(np.nanmax(lift), 6.0) if np.isfinite(lift).any() else 2.0,
            colorbar=dict(title="lift"),
            hovertemplate="%{y} & %{x}<br>lift %{z:.2f}<br>%{customdata} items<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return style(fig, f"{dataset.name}: which genres go together (lift over independence)", 560)


def model_comparison(table: pd.DataFrame, metrics: list[str]) -> go.Figure:
    """Grouped bars: one group per metric, one bar per model (the table's index)."""
    fig = go.Figure(
        [
            go.Bar(name=model, x=metrics, y=table.loc[model, metrics], texttemplate="%{y:.3f}")
            for model in table.index
        ]
    )
    fig.update_layout(barmode="group", yaxis_title="test score")
    return style(fig, "Base models on the same split (test, full ranking, seen items masked)")


def training_curves(histories: dict) -> go.Figure:
    """Validation NDCG@10 by epoch for each model's training `History`; a marker on the best."""
    fig = go.Figure()
    for (name, history), color in zip(histories.items(), COLORS, strict=False):
        fig.add_scatter(x=history.epoch, y=history.valid_ndcg, name=name, line_color=color)
        best = history.epoch.index(history.best_epoch)
        fig.add_scatter(
            x=[history.best_epoch], y=[history.valid_ndcg[best]], mode="markers",
            marker=dict(color=color, size=10, symbol="star"), showlegend=False,
            hovertemplate=f"{name}: best epoch %{{x}}, NDCG@10 %{{y:.4f}}<extra></extra>",
        )  # fmt: skip
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="validation NDCG@10")
    return style(fig, "Training: validation NDCG@10 (stars: the weights kept)")


def embedding_map(embeddings: np.ndarray, dataset: Dataset, title: str) -> go.Figure:
    """Items projected on the first two principal components, coloured by their rarest genre."""
    x = embeddings - embeddings.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    xy = x @ vt[:2].T  # (n_items, 2)
    # an item has several genres: colour by its rarest, the most telling one
    names = np.array(dataset.genre_names)
    rarity = np.where(dataset.genres, dataset.genres.sum(axis=0), np.inf)
    rarest = np.where(dataset.genres.any(axis=1), names[rarity.argmin(axis=1)], "none")
    size = 4 + 10 * np.sqrt(dataset.popularity / dataset.popularity.max())
    fig = go.Figure()
    for genre, color in zip(sorted(set(rarest)), COLORS * 3, strict=False):
        rows = np.flatnonzero(rarest == genre)
        fig.add_scatter(
            x=xy[rows, 0], y=xy[rows, 1], mode="markers", name=genre,
            marker=dict(color=color, size=size[rows], opacity=0.7),
            text=[dataset.item_titles[i] for i in rows],
            hovertemplate="%{text}<extra>" + genre + "</extra>",
        )  # fmt: skip
    fig.update_xaxes(title="principal component 1")
    fig.update_yaxes(title="principal component 2")
    return style(fig, title, 480)


def tradeoff(table: pd.DataFrame, x: str, y: str, by: str, label: str, title: str,
             x_format=None, show_labels=False) -> go.Figure:  # fmt: skip
    """One line per value of column `by` through its (x, y) points, in the table's order; each
    point's value of column `label` (a setting: k, alpha, a strength) in its hover, and written
    beside it with show_labels. x_format: a d3 format for x, e.g. ".0%"."""
    fig = go.Figure()
    for i, (name, rows) in enumerate(table.groupby(by, sort=False)):
        fig.add_scatter(
            x=rows[x], y=rows[y], name=str(name), mode="lines+markers" + "+text" * show_labels,
            line_color=COLORS[i % len(COLORS)], text=rows[label], textposition="top center",
            hovertemplate=f"{label} %{{text}}<br>{x} %{{x}}<br>{y} %{{y}}<extra>{name}</extra>",
        )  # fmt: skip
    fig.update_xaxes(title=x, tickformat=x_format, hoverformat=x_format or ".3g")
    fig.update_yaxes(title=y, hoverformat=".3g")
    return style(fig, title)


def fvu_vs_l0(table: pd.DataFrame) -> go.Figure:
    """The sparsity-fidelity trade-off: one line per variant through its (L0, FVU) points; the
    table has columns variant, l0, fvu and a label for the hover (e.g. "k=16")."""
    title = "Sparser codes reconstruct less: FVU against L0 (lower left is better)"
    lines = pd.concat(rows.sort_values("l0") for _, rows in table.groupby("variant", sort=False))
    fig = tradeoff(lines.rename(columns={"label": "setting"}), "l0", "fvu", "variant", "setting",
                   title)  # fmt: skip
    fig.update_xaxes(title="L0: active features per sample", type="log")
    return fig.update_yaxes(title="FVU: fraction of variance unexplained")


def histograms(values: dict, x_title: str, y_title: str, title: str, **bins) -> go.Figure:
    """One histogram per entry of `values` (name -> values), overlaid; bins: plotly's binning,
    nbinsx=... or xbins=dict(start=..., end=..., size=...)."""
    fig = go.Figure()
    for (name, v), color in zip(values.items(), COLORS, strict=False):
        fig.add_histogram(x=np.asarray(v, dtype=float), name=name, marker_color=color,
                          opacity=0.6, **bins)  # fmt: skip
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title)
    return style(fig, title)


def density_histogram(densities: dict) -> go.Figure:
    """How often each feature fires (log10 of its firing rate), one histogram per SAE; features
    that never fire are counted at the left edge."""
    rates = {name: np.asarray(d, dtype=float) for name, d in densities.items()}
    log_rates = {f"{name} ({(d == 0).mean():.0%} dead)": np.log10(np.clip(d, 1e-7, None))
                 for name, d in rates.items()}  # fmt: skip
    return histograms(log_rates, "log10(firing rate); -7: never fires", "features",
                      "Activation density: how often each feature fires", nbinsx=50)  # fmt: skip


def recovery_histogram(cosines: dict) -> go.Figure:
    """For each planted direction, its best cosine with a learned direction, per method."""
    fig = histograms(cosines, "best cosine with a learned direction", "planted directions",
                     "Does it find the planted directions?",
                     xbins=dict(start=0, end=1.0001, size=0.02))  # fmt: skip
    return fig.update_xaxes(range=[0, 1.01])


# ------------------------------------------------------------------------------------------------
# what features mean (chapter 4) and steering (chapter 5)


def association_heatmaps(panels: dict, genre_names: list[str]) -> go.Figure:
    """One heatmap per kind of coordinate (SAE features, raw dimensions, ...), stacked: genres down,
    coordinates across, ordered by best genre (then by score). panels: name -> (scores (U, G),
    hover (U,) text, e.g. the coordinate's top items)."""
    from plotly.subplots import make_subplots

    names = list(panels)
    fig = make_subplots(rows=len(names), cols=1, subplot_titles=names, vertical_spacing=0.08)
    for row, (scores, hover) in enumerate(panels.values(), 1):
        scores = np.asarray(scores, dtype=float)
        filled = np.nan_to_num(scores, nan=-np.inf)
        best, value = filled.argmax(1), filled.max(1)
        order = np.lexsort((-value, best))  # by best genre, strongest first
        text = [[hover[u]] * len(genre_names) for u in order]
        fig.add_heatmap(
            z=scores[order].T, y=genre_names, customdata=np.array(text).T, zmin=-0.2, zmax=1,
            colorscale="Blues", showscale=row == 1, colorbar=dict(title="score", len=0.5),
            hovertemplate="coordinate %{x}<br>%{y}: %{z:.2f}<br>%{customdata}<extra></extra>",
            x=[str(u) for u in order], row=row, col=1,
        )  # fmt: skip
        fig.update_xaxes(showticklabels=False, type="category", row=row, col=1)
    fig.update_yaxes(tickfont_size=9)
    title = "Genre association of each coordinate (precision above chance of its top positions)"
    return style(fig, title, 260 * len(panels) + 80)


def best_score_distributions(best: dict, threshold: float) -> go.Figure:
    """Per kind of coordinate, the share of coordinates whose best-genre score is at least x (a
    survival curve), with the threshold marked."""
    fig = go.Figure()
    grid = np.linspace(-0.2, 1, 121)
    for (name, scores), color in zip(best.items(), COLORS, strict=False):
        s = np.nan_to_num(np.asarray(scores, dtype=float), nan=-1)
        fig.add_scatter(x=grid, y=[(s >= g).mean() for g in grid], name=name, line_color=color)
    fig.add_vline(x=threshold, line_dash="dash", annotation_text=f"threshold {threshold}")
    fig.update_xaxes(title="best-genre score")
    fig.update_yaxes(title="share of coordinates scoring at least x", range=[0, 1.02])
    return style(fig, "How monosemantic are the coordinates? (higher curve: more with one genre)")


def cell_text(value) -> str:
    """A table cell as a reader should see it: a float with at most 4 decimals after its leading
    zeros and no float32 noise (0.7710000276565552 -> 0.771); anything else as str() gives it."""
    if not isinstance(value, (float, np.floating)):
        return str(value)
    return np.format_float_positional(value, 4, fractional=bool(abs(value) >= 1), trim="-")


def table_trace(table: pd.DataFrame, **trace) -> go.Table:
    """The table as a plotly table trace, its cells written by `cell_text`."""
    header = dict(values=list(table.columns), fill_color="#e8eef6", align="left")
    cells = [[cell_text(v) for v in table[c]] for c in table.columns]
    return go.Table(header=header, cells=dict(values=cells, align="left", height=24), **trace)


def sortable_table(table: pd.DataFrame, max_height: int = 420):
    """The table, its cells written by `cell_text`, in a box whose columns sort on a click on
    their header, in the rendered book as in Jupyter (`widgets.component`: nothing is loaded)."""
    from .widgets import component

    rows = [[cell_text(v) for v in row] for row in table.itertuples(index=False)]
    columns = [str(c) for c in table.columns]
    return component("sortable", {"columns": columns, "rows": rows, "max_height": max_height})


def steering_frames(tables: dict, title: str) -> go.Figure:
    """A top-10 table for each slider position, precomputed: the rendered book can be steered
    without a kernel. tables: slider label -> DataFrame (one table trace each, one shown)."""
    fig = go.Figure([table_trace(t, visible=i == 0) for i, t in enumerate(tables.values())])
    steps = [
        dict(
            label=str(label),
            method="update",
            args=[{"visible": [j == i for j in range(len(tables))]}],
        )  # fmt: skip
        for i, label in enumerate(tables)
    ]
    fig.update_layout(sliders=[dict(steps=steps, active=0, currentvalue=dict(prefix="strength "))])
    return style(fig, title, 560)  # tall enough for a header and 10 rows


DASHES = {"SAE (effect)": "solid", "SAE (association)": "dashdot", "probe": "dot"}


def steering_curves(table: pd.DataFrame, metrics: list[str]) -> go.Figure:
    """Metrics against steering strength, one panel per metric, one line per (method, genre).
    table: columns method, genre, strength and the metrics."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics, horizontal_spacing=0.06)
    genres = list(dict.fromkeys(table["genre"]))
    for (method, genre), rows in table.groupby(["method", "genre"], sort=False):
        color = COLORS[genres.index(genre) % len(COLORS)]
        for col, metric in enumerate(metrics, 1):
            fig.add_scatter(
                x=rows["strength"], y=rows[metric], mode="lines+markers", line_color=color,
                line_dash=DASHES.get(method, "dash"), name=f"{genre} ({method})",
                legendgroup=f"{method}{genre}", showlegend=col == 1, row=1, col=col,
            )  # fmt: skip
    fig.update_xaxes(title="strength")
    title = "Steering: SAE feature by effect (solid), by association (dash-dot), probe (dotted)"
    return style(fig, title, 420)


def feature_tree(parent: np.ndarray, labels: list[str], size: np.ndarray, title: str, depth=4):
    """An icicle of the features that fire (size > 0): each under its parent (`hierarchy.tree`),
    the ones without one under the root; a box's height is its firing count plus its subtree's."""
    shown = np.flatnonzero(size > 0)
    fig = go.Figure(
        go.Icicle(
            ids=["all"] + [f"f{j}" for j in shown],
            parents=[""] + [f"f{parent[j]}" if parent[j] >= 0 else "all" for j in shown],
            labels=["all features"] + [labels[j] for j in shown],
            values=np.concatenate([[0], size[shown]]),
            customdata=np.concatenate([[0], size[shown]]),  # its own count, for the hover
            branchvalues="remainder",
            maxdepth=depth,
            hovertemplate="%{label}<br>fires on %{customdata} (%{value} with its subtree)"
            "<extra></extra>",
        )
    )
    fig.update_layout(margin=dict(l=10, r=10, t=60, b=10))
    return style(fig, title, height=560)


def group_profiles(table: pd.DataFrame, measures: list[str]) -> go.Figure:
    """Per group of features (x), the mean of each measure, one panel each, one line per SAE
    (table: one row per feature with columns "group", "sae" and the measures)."""
    means = table.groupby(["sae", "group"])[measures].mean().reset_index()
    fig = metric_lines(
        means, "group", measures, "sae", "Per group of features: mean over its features"
    )
    return fig.update_xaxes(dtick=1)


# ------------------------------------------------------------------------------------------------
# the answer key (chapter 9)


def grouped_bars(table: pd.DataFrame, x: str, by: str, value: str, title: str, line=None,
                 panel=None) -> go.Figure:  # fmt: skip
    """Bars of `value`: one group per value of column `x`, one bar per value of column `by`;
    line: an optional reference level (e.g. chance) drawn across, as (y, label); panel: a column
    with one panel per value (e.g. the device)."""
    from plotly.subplots import make_subplots

    panels = list(table.groupby(panel, sort=False)) if panel else [(None, table)]
    names = [f"{panel} {p}" for p, _ in panels] if panel else None
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=names, shared_yaxes=True)
    colors = {name: COLORS[i % len(COLORS)] for i, name in enumerate(dict.fromkeys(table[by]))}
    for col, (_, part) in enumerate(panels, 1):
        for name, rows in part.groupby(by, sort=False):
            fig.add_bar(x=rows[x], y=rows[value], name=str(name), marker_color=colors[name],
                        texttemplate="%{y:.2f}", legendgroup=str(name), showlegend=col == 1,
                        row=1, col=col)  # fmt: skip
    if line is not None:
        fig.add_hline(y=line[0], line_dash="dash", annotation_text=line[1], row="all", col="all")
    fig.update_layout(barmode="group", yaxis_title=value, legend_title_text=by)
    fig.update_xaxes(title_text=x)
    return style(fig, title)


def metric_lines(table: pd.DataFrame, x: str, metrics: list[str], by: str, title: str,
                 log_x=False, levels=None) -> go.Figure:  # fmt: skip
    """One panel per metric against column `x`, one line per value of column `by`; levels: an
    optional reference level per metric (e.g. a paper's goal), as {metric: (y, label)}."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics)
    for i, (name, rows) in enumerate(table.groupby(by, sort=False)):
        for col, metric in enumerate(metrics, 1):
            fig.add_scatter(x=rows[x], y=rows[metric], name=str(name), legendgroup=str(name),
                            mode="lines+markers", line_color=COLORS[i % len(COLORS)],
                            showlegend=col == 1, row=1, col=col)  # fmt: skip
    for metric, (y, text) in (levels or {}).items():
        fig.add_hline(y=y, line_dash="dot", line_color="grey", annotation_text=text, row=1,
                      col=metrics.index(metric) + 1)  # fmt: skip
    fig.update_xaxes(title_text=x, type="log" if log_x else "-")
    return style(fig, title, height=380)
