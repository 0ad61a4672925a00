"""Figure builders: each returns a plotly `go.Figure`; chapters call `.show()`.

One look for the whole book lives in `style()`: every builder ends with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from .data import Dataset

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


def fvu_vs_l0(table: pd.DataFrame) -> go.Figure:
    """The sparsity-fidelity trade-off: one line per variant through its (L0, FVU) points; the
    table has columns variant, l0, fvu and a label for the hover (e.g. "k=16")."""
    fig = go.Figure()
    for (variant, rows), color in zip(table.groupby("variant", sort=False), COLORS, strict=False):
        rows = rows.sort_values("l0")
        fig.add_scatter(
            x=rows["l0"], y=rows["fvu"], name=variant, mode="lines+markers", line_color=color,
            text=rows["label"], hovertemplate="%{text}: L0 %{x:.1f}, FVU %{y:.3f}<extra></extra>",
        )  # fmt: skip
    fig.update_xaxes(title="L0: active latents per sample", type="log")
    fig.update_yaxes(title="FVU: fraction of variance unexplained")
    return style(fig, "Sparser codes reconstruct less: FVU against L0 (lower left is better)")


def density_histogram(densities: dict) -> go.Figure:
    """How often each latent fires (log10 of its firing rate), one histogram per SAE; latents that
    never fire are counted at the left edge."""
    fig = go.Figure()
    for (name, density), color in zip(densities.items(), COLORS, strict=False):
        d = np.asarray(density, dtype=float)
        fig.add_histogram(
            x=np.log10(np.clip(d, 1e-7, None)), name=f"{name} ({(d == 0).mean():.0%} dead)",
            marker_color=color, opacity=0.6, nbinsx=50,
        )  # fmt: skip
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title="log10(firing rate); -7: never fires")
    fig.update_yaxes(title="latents")
    return style(fig, "Activation density: how often each latent fires")


def recovery_histogram(cosines: dict) -> go.Figure:
    """For each planted direction, its best cosine with a learned direction, per method."""
    fig = go.Figure()
    for (name, cos), color in zip(cosines.items(), COLORS, strict=False):
        fig.add_histogram(
            x=np.asarray(cos), name=name, marker_color=color, opacity=0.6,
            xbins=dict(start=0, end=1.0001, size=0.02),
        )  # fmt: skip
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title="best cosine with a learned direction", range=[0, 1.01])
    fig.update_yaxes(title="planted directions")
    return style(fig, "Does it find the planted directions?")
