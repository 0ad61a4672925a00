# %% tags=["remove-cell"]
# Colab only (no need to read): install recsae-lite 0.2.0, the version this
# notebook was written for; Colab's own torch and ipywidgets are kept.
import sys

if "google.colab" in sys.modules:
    import subprocess

    repository = "https://github.com/recsae-lite/recsae-lite"
    source = f"git+{repository}@v0.2.0"
    print(f"Installing recsae-lite from {source} (about a minute) ...")
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    if subprocess.run([*pip, f"recsae-lite @ {source}"]).returncode != 0:
        raise RuntimeError(
            f"Installing recsae-lite from {source} failed (pip says why "
            "above). Check that this runtime is online and run this cell "
            "again. If the version is not found, install the newest one with "
            f"`!pip install git+{repository}` and tell us at "
            f"{repository}/issues."
        )
    print("recsae-lite installed.")

# %% [markdown]
# # 4. What SASRec's SAE features mean
#
# Paper A (Klenitskiy et al.) trains a sparse autoencoder on the hidden states of SASRec and finds
# that its features are far more *monosemantic* than the model's own dimensions: a feature tends to
# go with one genre, a raw dimension with a mixture. This chapter measures that claim on
# MovieLens, against two baselines: SASRec's raw hidden dimensions, and a random rotation of them
# (a basis that has no reason to line up with anything).
#
# **Read alongside.** Its paper: paper A, Klenitskiy et al. 2025, [*Sparse Autoencoders for
# Sequential Recommendation Models: Interpretation and Flexible
# Control*](https://arxiv.org/abs/2507.12202). Background: Bricken et al. 2023, [*Towards
# Monosemanticity*](https://transformer-circuits.pub/2023/monosemantic-features).
#
# **Before this chapter:** chapters 2 and 3 (SASRec, and the SAE trained on its states).
#
# **What you will learn**
# - how to score a coordinate (a feature, a dimension) against item genres, and why this score;
# - feature-genre heatmaps, and how many coordinates of each kind are about one genre;
# - reading a feature from its dashboard: when it fires, on what, and what it does to the scores;
# - the atlas of every feature, searchable by film, genre and label.
#
# Time: about {glue:text}`book_times/chapter_seconds/quick/04_sasrec_features/minutes` min on
# {glue:text}`book_times/machine/cpu_threads` CPU cores in the `quick` profile, the first time (most
# of it training the SAE, which chapter 5 then loads); seconds in the `ci` profile.

# %% tags=["parameters"]
# ci: tiny and fast (tests); quick: the book's numbers; full: GPU scale, ML-1M
PROFILE = "quick"
SEED = 0
DEVICE = "auto"

# %% [markdown]
# ## Setup (no need to read)

# %%
import numpy as np
import pandas as pd
import torch

from recsae_lite import _nb, features, interpret, report, viz, widgets, zoo
from recsae_lite.activations import collect

device = _nb.setup(SEED, DEVICE, PROFILE)
DATASET = _nb.pick(PROFILE, ci="ml-100k", quick="ml-100k", full="ml-1m")
TOP = 100  # a coordinate's top-activating positions that its score reads
# a coordinate "is about one genre" when its best score reaches this
THRESHOLD = 0.5
# fewer distinct items than this among its top positions: an item feature
MIN_ITEMS = 10

# %% tags=["remove-cell"]
# the figures the prose quotes from benchmarks/results, glued under their
# path in the file (no need to read; only a clone of the repository has the
# files, and the book is built from one)
if report.REPOSITORY_RESULTS.is_dir():
    times = report.load()["book_times"]
    _nb.record(
        "book_times/machine/cpu_threads", times["machine"]["cpu_threads"], "d"
    )
    minutes = times["chapter_seconds"]["quick"]["04_sasrec_features"] / 60
    _nb.record(
        "book_times/chapter_seconds/quick/04_sasrec_features/minutes",
        minutes,
        ".0f",
    )

# %% [markdown]
# ## 1. The model, its SAE, and the positions they read
#
# The SAE is the book's TopK SAE for SASRec (k = {glue:text}`sae_k` active features of
# {glue:text}`sae_count`, trained on every position of the training histories): the settings are in
# `zoo.sae_settings`, and the SAE is cached like the base models, so chapter 5 loads this very one.
# Each position's state has just read an item; the item's genres are that position's labels.

# %%
sasrec = zoo.model("sasrec", DATASET, PROFILE, seed=SEED, device=device)
model, split, dataset = sasrec.model, sasrec.split, sasrec.dataset
sae, _ = zoo.sae(
    sasrec,
    *zoo.sae_settings(model.config.hidden_size, PROFILE, SEED),
    device=device,
)
x, items = collect(model, split, "train", "all", items=True)
items = items.cpu().numpy()
context = features.position_index(split, model.config.max_len)
# (N, 1,024), only the active features' values kept
z = features.sparse_codes(sae, x)
with torch.no_grad():
    # the second view: the genres of the item ranked first at each position
    predicted = torch.cat(
        [model.scores_from_hidden(c, None).argmax(1) for c in x.split(8_192)]
    )
predicted = predicted.cpu().numpy()
print(
    f"{len(x):,} positions; "
    f"SAE: {sae.config.d_sae} features, k = {sae.config.k}"
)
_nb.record("sae_k", sae.config.k, "d")
_nb.record("sasrec_hidden_size", x.shape[1], "d")

# %% [markdown]
# ## 2. Scoring a coordinate against genres
#
# A coordinate is anything that gives each position a number. We compare three kinds:
#
# - **SAE features**: z_j, {glue:text}`sae_count` of them;
# - **raw dimensions**: SASRec's {glue:text}`sasrec_hidden_size` hidden coordinates, centred, each
#   sign taken as its own coordinate (a dimension can mean one thing when high and another when
#   low): {glue:text}`raw_count` coordinates;
# - **a random rotation** of the centred states, both signs: {glue:text}`rotation_count` coordinates
#   with no privileged basis.
#
# The score of coordinate u for genre g is the **precision above chance** of its top positions:
# of the 100 positions where u is largest (and positive), the share p whose item has genre g,
# against the share b of all positions that do: (p - b) / (1 - b). Zero is chance, one is "every top
# position is g". We prefer it to an AUC because an SAE feature is silent on most positions by
# design, and an AUC counts that silence against it; a precision asks what a coordinate means
# when it fires. Subtracting the base rate stops Drama (two in five positions) from winning by
# default. Genres with fewer than 10 items are left out.

# %%
keep = dataset.genres.sum(0) >= 10
genre_names = [n for n, k in zip(dataset.genre_names, keep, strict=True) if k]
centred = x.cpu() - x.cpu().mean(0)
rotation = interpret.random_rotation(x.shape[1], SEED)
coordinates = {
    "SAE features": z,
    "raw dimensions (both signs)": interpret.signed(centred),
    "random rotation (both signs)": interpret.signed(centred @ rotation),
}
views = {
    "input": dataset.genres[items][:, keep],
    "predicted": dataset.genres[predicted][:, keep],
}
# per_feature: a block of coordinates at a time (dense codes: 4 GB on ML-1M)
scores = {
    (kind, view): features.per_feature(
        interpret.genre_scores, acts, labels, TOP
    )
    for kind, acts in coordinates.items()
    for view, labels in views.items()
}
titles = np.array([t.split(" (")[0] for t in dataset.item_titles])


def hover_text(top, n=4):
    """A coordinate's most frequent items among its top positions."""
    found = pd.Series(top).value_counts().index[:n]
    return f"{len(top)} top positions; " + "; ".join(titles[found])


tops = {kind: features.per_feature(interpret.top_items, acts, items, TOP)
        for kind, acts in coordinates.items()}  # fmt: skip
hover = {kind: [hover_text(top) for top in tops[kind]] for kind in coordinates}

# %% [markdown]
# ## 3. Heatmaps: each coordinate's genres
#
# Genres down, coordinates across, each placed under its best genre. Hover over a cell for the
# coordinate's most frequent items. A monosemantic coordinate is one dark cell in its column.

# %%
panels = {kind: (scores[(kind, "input")], hover[kind]) for kind in coordinates}
viz.association_heatmaps(panels, genre_names).show()

# %% [markdown]
# ## 4. How many coordinates are about one genre?
#
# For every coordinate, its best-genre score; it passes when that reaches 0.5. There is a catch for
# the SAE. Some of its features fire on **one film** (or a handful): its top positions then share
# that film's genres, and the feature scores high for a reason that has nothing to do with genres.
# We count those "item features" (fewer than 10 distinct items among the top 100 positions)
# separately, so that the comparison that matters, genre features, is not inflated by them.

# %%
counts = interpret.association_pass_rates(scores, tops, THRESHOLD, MIN_ITEMS)
best = {
    kind: np.where(interpret.item_features(tops[kind], MIN_ITEMS), np.nan,
                   interpret.best_score(scores[(kind, "input")]))
    for kind in coordinates
}  # fmt: skip
counts.round(3)

# %%
viz.best_score_distributions(best, THRESHOLD).show()

# %%
lookup = counts.set_index(["kind", "view"])
for kind, short in zip(coordinates, ["sae", "raw", "rotation"], strict=True):
    _nb.record(f"{short}_count", lookup.loc[(kind, "input"), "count"], ",d")
    _nb.record(f"{short}_scored", lookup.loc[(kind, "input"), "scored"], ",d")
    for view in views:
        _nb.record(
            f"{short}_{view}_pass", lookup.loc[(kind, view), "pass"], "d"
        )
        _nb.record(
            f"{short}_{view}_pass_share",
            lookup.loc[(kind, view), "pass share"],
            ".0%",
        )
_nb.record(
    "sae_item_features",
    lookup.loc[("SAE features", "input"), "item features"],
    "d",
)

# %% [markdown]
# Paper A's claim is that SAE features pass far more often than raw dimensions. Compare both
# the counts (the SAE has more coordinates to offer) and the shares of scored ones. The random
# rotation tells how much of the raw dimensions' score is alignment with genres rather than
# chance: if raw dimensions were special, they would beat the rotation clearly.
#
# In this run (the numbers above; `benchmarks/sasrec_steering.py` measures them again in the `quick`
# profile): {glue:text}`sae_item_features` of the {glue:text}`sae_count` SAE features are item
# features. Of the other {glue:text}`sae_scored`, {glue:text}`sae_input_pass` pass
# ({glue:text}`sae_input_pass_share`), against {glue:text}`raw_input_pass` of {glue:text}`raw_count`
# raw coordinates ({glue:text}`raw_input_pass_share`) and {glue:text}`rotation_input_pass` of
# {glue:text}`rotation_count` rotated ones ({glue:text}`rotation_input_pass_share`). Where the raw
# dimensions do no better than the rotation, SASRec's basis carries no genre structure of its own.
# In the "predicted" view (genres of the film ranked first) the shares are
# {glue:text}`sae_predicted_pass_share` for the SAE, {glue:text}`raw_predicted_pass_share` for the
# raw dimensions and {glue:text}`rotation_predicted_pass_share` for the rotation.
#
# ## 5. Feature dashboards, and the atlas of every feature
#
# Every feature gets an auto-label from its best genres. The table sorts on a click on a column
# header; "item" marks the item features.

# %%
table = interpret.best_genres(scores[("SAE features", "input")], genre_names)


def auto_label(row, top):
    if len(top) == 0:
        return "dead"
    if len(set(top)) < MIN_ITEMS:  # name the film it fires on most
        return "item: " + titles[pd.Series(top).value_counts().index[0]]
    return interpret.label(row, THRESHOLD)


sae_tops = tops["SAE features"]
table["label"] = [
    auto_label(table.loc[j], top) for j, top in enumerate(sae_tops)
]
table.insert(0, "feature", np.arange(len(table)))
table["firing rate"] = (features.firing_counts(z) / len(x)).numpy()
table["distinct items"] = [len(set(top)) for top in sae_tops]
viz.sortable_table(table.round(3))

# %% [markdown]
# A dashboard shows one feature: how strongly it fires, the positions where it fires most (with
# the films read just before), its genres against their base rates, the popularity of its items,
# and what its decoder direction does to the model's scores: the direction added to a state
# raises some films and lowers others, through SASRec's output embeddings.
#
# The **feature atlas** below holds the dashboard of every one of the {glue:text}`sae_count`
# features, opened at three of them (the strongest feature of each of the three best-scoring
# genres). Its list gives each feature's label, how often it fires, whether it is an item feature,
# its most frequent films at its top positions, and two concept profiles: its *input* association
# (the genre scores of section 2: what it fires on) and its *output* effect (the share of each
# genre among the 20 films whose scores its decoder direction raises most: what turning it up
# does; chapter 5 steers with it). Search it by a film's title, a genre (its features, strongest
# first) or a label, and click a feature for its dashboard. It is drawn in the page from numbers
# this cell exports, so it needs no kernel: in the rendered book, a teacher can project it.

# %%
# (d_sae, n_items): the score change from each feature's direction
with torch.no_grad():
    effects = (
        model.scores_from_hidden(sae.W_dec * sae.input_scale, None)
        .cpu()
        .numpy()
    )
genre_features = table[table["distinct items"] >= MIN_ITEMS].sort_values(
    "score", ascending=False
)
shown = (
    genre_features.drop_duplicates("best genre").head(3)["feature"].tolist()
)
cards, d_sae = [], sae.config.d_sae
for start in range(0, d_sae, 64):  # the codes of 64 features at a time, dense
    stop = min(start + 64, d_sae)
    block = z.index_select(1, torch.arange(start, stop)).to_dense()
    cards += [
        features.feature_card(j, block[:, j - start], items, context, split,
                              dataset, effects[j], title=table.loc[j, "label"])
        for j in range(start, stop)
    ]  # fmt: skip
widgets.atlas(
    dataset, cards, sae_tops, scores[("SAE features", "input")], genre_names,
    effects, interpret.item_features(sae_tops, MIN_ITEMS), show=shown,
)  # fmt: skip

# %% [markdown]
# ## Summary
#
# - A coordinate's genre score here is the precision above chance of its top-activating positions.
# - SAE features split into item features (one film or a handful) and broader ones; among the
#   broader ones, {glue:text}`sae_input_pass_share` are about one genre, against
#   {glue:text}`raw_input_pass_share` of SASRec's raw dimensions and
#   {glue:text}`rotation_input_pass_share` of a random rotation of them: the rotation says whether
#   the model's basis is special.
# - Next: turning these features like knobs, and what it costs the recommendations.

# %% [markdown]
# ## Exercises
#
# Three exercises, easiest first. Each has a task, a solution cell and a check. In the rendered
# book the solution hides behind the "Show code cell source" toggle. In the notebook, replace the
# code of the solution cell with your own, run it, then run the check: it tries your function on
# small inputs it builds itself, compares it with the library's, and when they differ names the
# likely mistake. The cell after a check uses your function on this chapter's SAE.

# %%
from recsae_lite import exercises

# %% [markdown]
# ### Exercise 4.1 (easy): item features
#
# Write `my_item_features(acts, items, top, min_items)`: `acts` is `(N, U)` activations of U
# coordinates at N positions, `items` `(N,)` the item at each position. Return a bool array
# `(U,)`, True for the coordinates with fewer than `min_items` *distinct* items among their `top`
# largest positions, counting only the positions where the coordinate is positive (section 4's
# "item features").


# %% tags=["hide-input", "solution"]
def my_item_features(acts, items, top, min_items):
    flags = []
    for column in acts.T:
        order = column.topk(top).indices
        # its top positions where it fires
        order = order[column[order] > 0].numpy()
        flags.append(len(set(items[order])) < min_items)
    return np.array(flags)


# %%
exercises.check_item_features(my_item_features)

# %%
mine = int(
    features.per_feature(my_item_features, z, items, TOP, MIN_ITEMS).sum()
)
print(
    f"item features of the SAE: {mine} with my_item_features, "
    f"{lookup.loc[('SAE features', 'input'), 'item features']} in the table"
)

# %% [markdown]
# ### Exercise 4.2 (medium): precision above chance
#
# Write `my_genre_score(acts, labels, top)` for one coordinate and one genre: `acts` `(N,)`
# the coordinate's activations, `labels` `(N,)` bool, whether each position's item has the
# genre. Among its `top` largest positions where it is positive, p is the share with the genre;
# b is the share of all positions with it. Return (p - b) / (1 - b).


# %% tags=["hide-input", "solution"]
def my_genre_score(acts, labels, top):
    order = acts.topk(top).indices
    order = order[acts[order] > 0].numpy()  # only where the coordinate fires
    p, b = labels[order].mean(), labels.mean()
    return (p - b) / (1 - b)


# %%
exercises.check_genre_score(my_genre_score)

# %%
j_shown = shown[0] if shown else 0  # the first feature with a dashboard above
sae_scores = scores[("SAE features", "input")]
genre_g = int(np.nanargmax(sae_scores[j_shown]))
mine = my_genre_score(
    z[:, j_shown].to_dense(), views["input"][:, genre_g], TOP
)
print(
    f"feature {j_shown}, {genre_names[genre_g]}: {mine:.4f} with "
    f"my_genre_score, {sae_scores[j_shown, genre_g]:.4f} in the heatmap"
)

# %% [markdown]
# ### Exercise 4.3 (medium): what a feature does to the scores
#
# Write `my_feature_effect(model, sae, j)`: the change `(n_items,)` of every item's score when
# feature j's decoder direction is added to a state, as the dashboards show. The direction, in the
# model's units, is row j of `sae.W_dec` times `sae.input_scale` (the SAE works on standardised
# states); SASRec scores a state h by `model.scores_from_hidden(h, None)`, which is linear in h.


# %% tags=["hide-input", "solution"]
def my_feature_effect(model, sae, j):
    direction = sae.W_dec[j] * sae.input_scale  # (d,) in the model's units
    with torch.no_grad():
        return model.scores_from_hidden(direction[None], None)[0]


# %%
exercises.check_feature_effect(my_feature_effect)

# %%
mine = my_feature_effect(model, sae, j_shown).cpu().numpy()
print(
    f"feature {j_shown}: my_feature_effect matches its dashboard's "
    "score changes:",
    np.allclose(mine, effects[j_shown], atol=1e-5),
)

# %% [markdown]
# ### Exercise 4.4 (predict, then check): a stricter threshold
#
# A coordinate passes when its best genre score reaches `THRESHOLD`. Before running the next
# cell, write down your guess: if the threshold rises to `STRICTER`, which loses a larger share of
# its passing coordinates, the SAE's features or the raw dimensions? Then run it, and try other
# values.

# %%
STRICTER = 0.7
stricter = interpret.association_pass_rates(scores, tops, STRICTER, MIN_ITEMS)
kept = (
    stricter.set_index(["kind", "view"])["pass"]
    / counts.set_index(["kind", "view"])["pass"].clip(lower=1)
).rename("share of passing coordinates kept")
for kind, short in zip(coordinates, ["sae", "raw", "rotation"], strict=True):
    _nb.record(f"{short}_kept_stricter", kept.loc[(kind, "input")], ".0%")
kept.round(3).to_frame()

# %% [markdown] tags=["teacher"]
# :::{admonition} For the teacher
# :class: dropdown
# In the input view, the SAE keeps {glue:text}`sae_kept_stricter` of its passing features at the
# stricter threshold, the raw dimensions {glue:text}`raw_kept_stricter` and the rotation
# {glue:text}`rotation_kept_stricter`. A claim that rests on a count above a threshold should say
# how the count moves with the threshold: chapter 10 does this for every verdict. Ask which
# threshold the room would have chosen before seeing these numbers, and why that order matters.
# :::
