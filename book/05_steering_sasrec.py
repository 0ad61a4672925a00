# %% tags=["remove-cell"]
# Colab only (no need to read): install recsae-lite 0.1.0, the version this
# notebook was written for; Colab's own torch and ipywidgets are kept.
import sys

if "google.colab" in sys.modules:
    import subprocess

    repository = "https://github.com/recsae-lite/recsae-lite"
    source = f"git+{repository}@v0.1.0"
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
# # 5. Steering SASRec with its SAE features
#
# If a feature means "Sci-Fi", turning it up should bring Sci-Fi films into a user's list. Paper A
# steers SASRec this way: raise a feature's activation at the last position, decode, let the model
# score the changed state. This chapter builds that knob, measures what it does and what it costs
# over many users, and compares it with a supervised baseline: a linear probe's direction.
#
# **Read alongside.** Its paper: paper A, Klenitskiy et al. 2025, [*Sparse Autoencoders for
# Sequential Recommendation Models: Interpretation and Flexible
# Control*](https://arxiv.org/abs/2507.12202). Background: Templeton et al. 2024, [*Scaling
# Monosemanticity*](https://transformer-circuits.pub/2024/scaling-monosemanticity) (steering with
# features).
#
# **Before this chapter:** chapters 3 and 4 (the SAE, and what its features mean).
#
# **What you will learn**
# - the steering edit, and why keeping the SAE's error term makes strength 0 exactly harmless;
# - an equalizer that runs in the page: several genre sliders at once and any feature, for any
#   of 30 users, with no kernel;
# - strength sweeps: target-genre share against NDCG, HR, coverage, diversity, popularity;
# - SAE features against linear probes; steering away from popular items.
#
# Time: about {glue:text}`book_times/chapter_seconds/quick/05_steering_sasrec/minutes` min on
# {glue:text}`book_times/machine/cpu_threads` CPU cores in the `quick` profile, once chapter 4 has
# trained the SAE (it is loaded from the cache; otherwise add chapter 4's time);
# {glue:text}`book_times/chapter_seconds/ci/05_steering_sasrec` seconds in the `ci` profile.

# %% tags=["parameters"]
# ci: tiny and fast (tests); quick: the book's numbers; full: GPU scale, ML-1M
PROFILE = "quick"
SEED = 0
DEVICE = "auto"

# %% [markdown]
# ## Setup (no need to read)

# %%
import json

import numpy as np
import torch

from recsae_lite import _nb, report, steer, viz, widgets, zoo
from recsae_lite.activations import collect
from recsae_lite.interventions import (
    direction_edit,
    feature_direction,
    feature_edit,
)
from recsae_lite.train import recommend

device = _nb.setup(SEED, DEVICE, PROFILE)
DATASET = _nb.pick(PROFILE, ci="ml-100k", quick="ml-100k", full="ml-1m")
# x the mean norm of a state
STRENGTHS = [0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0]
MIN_GENRE_ITEMS = 50  # genres steered: those with at least this many items
MIN_ITEMS, TOP = 10, 100  # as in chapter 4
# a "moderate" push: NDCG@10 falls by at most this share (paper A's 10%)
MAX_DROP = 0.1

# %% tags=["remove-cell"]
# the figures the prose quotes from benchmarks/results, glued under their
# path in the file (no need to read; only a clone of the repository has the
# files, and the book is built from one)
if report.REPOSITORY_RESULTS.is_dir():
    times = report.load()["book_times"]
    _nb.record(
        "book_times/machine/cpu_threads", times["machine"]["cpu_threads"], "d"
    )
    minutes = times["chapter_seconds"]["quick"]["05_steering_sasrec"] / 60
    _nb.record(
        "book_times/chapter_seconds/quick/05_steering_sasrec/minutes",
        minutes,
        ".0f",
    )
    seconds = times["chapter_seconds"]["ci"]["05_steering_sasrec"]
    _nb.record(
        "book_times/chapter_seconds/ci/05_steering_sasrec", seconds, ".0f"
    )

# %% [markdown]
# ## 1. The model, the SAE, and the steering edit
#
# For a user's last state h, the SAE gives codes z. Steering changes some of them to z' and puts
# back only the change:
#
# ```text
# h' = h + (z' - z) W_dec          (in the model's units)
# ```
#
# instead of decoding z' outright. Decoding would also replace h by the SAE's reconstruction,
# which is not exact (chapter 3: FVU > 0); adding the change keeps the error term, so an edit
# that changes nothing leaves the scores exactly as they were. `interventions.feature_edit` does
# it for "add", "scale", "set" and paper C's "mix"; `interventions.Spliced` puts an edit inside
# the model.

# %%
sasrec = zoo.model("sasrec", DATASET, PROFILE, seed=SEED, device=device)
model, split, dataset = sasrec.model, sasrec.split, sasrec.dataset
sae, x = zoo.sae(
    sasrec,
    *zoo.sae_settings(model.config.hidden_size, PROFILE, SEED),
    device=device,
)
row = 0  # the first user of the split
with torch.no_grad():  # edits that change nothing: adding 0, scaling by 1
    # the states the model scores for the first 50 users
    h = collect(model, split, "test")[:50]
    unchanged = [feature_edit(sae, j, 0.0, "add")(h) for j in range(5)]
    unchanged += [feature_edit(sae, j, 1.0, "scale")(h) for j in range(5)]
    gap = max((edited - h).abs().max().item() for edited in unchanged)
_nb.record("strength_zero_max_change", gap, ".1f")
widgets.recommendation_table(dataset, recommend(model, split, row)[0])

# %% [markdown]
# ## 2. Which feature for which genre?
#
# Each genre's feature is chosen without labels on the model's outputs, from chapter 4's score in
# its "predicted" view: the feature whose top positions most often lead the model to rank a film
# of that genre first (item features excluded). The supervised baseline, a **linear probe**, is
# fitted with labels: a logistic regression on the states, predicting whether the next item has
# the genre; its weight vector is a direction to steer along. A third direction is a reference
# for what any push along one direction can do: the genre's **centroid** in SASRec's output
# space (the mean output embedding of its films, less that of all films), which raises the
# genre's films the most on average.

# %%
_, items = collect(model, split, "train", "all", items=True)
sizes = dict(zip(dataset.genre_names, dataset.genres.sum(0), strict=True))
genres = [g for g, n in sizes.items() if n >= MIN_GENRE_ITEMS]
chosen, directions = steer.genre_directions(
    model, sae, split, dataset, x, items.cpu().numpy(), genres, TOP, MIN_ITEMS
)
chosen.round(3)

# %% [markdown]
# ## 3. The equalizer
#
# Pick a user and move the sliders: each adds to one genre feature, in units of the feature's
# largest activation on the training positions (1 = as strong as it ever fires). The free
# feature picker steers any feature. The list is computed in your browser: the cell exports the
# users' states h, the decoder rows (times the SAE's input scale) and the output embeddings E as
# float16, and the page computes h' = h + sum_j v_j W_dec[j] and the scores h' E^T, with the films
# the user has seen left out, as `interventions.feature_edit` and the model do. So it works in the
# rendered book without a kernel, in Jupyter and in Colab alike. Films of a genre turned up are
# marked, and "new" marks a film that the unsteered list does not hold.

# %%
with torch.no_grad():  # a running maximum over chunks of positions
    peak = (
        torch.stack([sae.encode(c).max(0).values for c in x.split(8_192)])
        .max(0)
        .values
    )
peak = peak.cpu().numpy()
genre_features = dict(zip(chosen["genre"], chosen["feature"], strict=True))
unit = {j: float(peak[j]) for j in range(sae.config.d_sae)}
widgets.equalizer(
    model, sae, split, dataset, genre_features, unit, rows=np.arange(30)
)

# %% tags=["remove-cell"]
# what the browser test expects the equalizer to show (no need to read): the
# Python path's lists for a few slider positions (genre -> strength, and the
# free feature's), each for a user given by its place in the picker
names = list(genre_features)
feature_0 = int(np.atleast_1d(genre_features[names[0]])[0])
positions = [
    (0, {}, (0, 0.0)),
    (1, {names[0]: 2.0}, (0, 0.0)),
    (2, {names[0]: 1.0, names[-1]: 3.0}, (0, 0.0)),
    (3, {names[1]: -1.0}, (7, 2.0)),
    (4, {g: 1.0 for g in names}, (0, 0.0)),
    (5, {names[2]: 3.0}, (feature_0, 1.5)),
]
expected = []
for place, sliders, (free, free_strength) in positions:
    values = {free: free_strength * unit[free]}
    for g, s in sliders.items():  # a genre may have one feature or several
        for j in np.atleast_1d(genre_features[g]):
            values[j] = values.get(j, 0.0) + s * unit[j]
    shown = widgets.steered_list(model, sae, split, dataset, place, values)
    titles = shown["title"].tolist()
    expected.append(
        {"place": place, "sliders": sliders, "free": [free, free_strength],
         "titles": titles}
    )  # fmt: skip
_nb.record("equalizer_expected", json.dumps(expected), "s")

# %%
show_genre = (
    "Sci-Fi" if "Sci-Fi" in genre_features else chosen["genre"].iloc[0]
)
frames = widgets.static_equalizer(
    model,
    sae,
    split,
    dataset,
    row,
    genre_features[show_genre],
    unit[genre_features[show_genre]],
    strengths=[0.0, 0.5, 1.0, 1.5, 2.0, 3.0],
)
viz.steering_frames(
    frames, f"User {split.users[row]}: the {show_genre} feature turned up"
).show()

# %% [markdown]
# ## 4. Strength sweeps over many users
#
# Half the users choose a "moderate" strength (the largest whose NDCG@10 falls by at most 10%,
# `MAX_DROP`),
# the other half report what it does. A strength s adds s times the mean norm of a state along
# the direction (the SAE feature's decoder row, or the probe's weights): the same size of push
# for both methods. Metrics@10 on the test targets: the share of the list in the target genre,
# NDCG, HR, catalogue coverage, genre diversity (mean pairwise Jaccard distance of genres) and
# mean popularity.

# %%
rng = np.random.default_rng(SEED)
order = rng.permutation(len(split.users))
users = {"validation": np.sort(order[::2]), "test": np.sort(order[1::2])}
norm = float(
    collect(model, split, "test")[users["validation"]].norm(dim=1).mean()
)
table = steer.compare(
    model, split, dataset, directions, STRENGTHS, norm, users
)
metrics = ["share", "ndcg", "hr", "coverage", "diversity", "popularity"]
drawn = [
    g for g in ("Sci-Fi", "Horror", "Children's", "Romance") if g in genres
] or genres[:4]
test_rows = table[(table["users"] == "test") & table["genre"].isin(drawn)]
# four genres, to keep it readable
viz.steering_curves(test_rows, metrics).show()

# %%
result = steer.moderate(table, MAX_DROP)
test = result[result["users"] == "test"].drop(columns="users")
test.round(3)

# %%
for method in ("SAE", "probe", "centroid"):
    rows = test[test["method"] == method]
    _nb.record(
        f"{method.lower()}_genres_tripled",
        int((rows["share x"] >= 3).sum()),
        "d",
    )
    _nb.record(
        f"{method.lower()}_median_share_x", rows["share x"].median(), ".2f"
    )
    _nb.record(
        f"{method.lower()}_median_ndcg_change",
        rows["ndcg change"].median(),
        ".3f",
    )
_nb.record("genres_steered", len(genres), "d")
_nb.record("validation_users", len(users["validation"]), "d")

# %% [markdown]
# **What this shows, and what it does not.** Paper A reports that moderate pushes cost under 10% of
# NDCG, coverage and diversity, and that probes and SAE features steer comparably. Here (the table
# above; `benchmarks/sasrec_steering.py` measures the same in the `quick` profile and writes
# `benchmarks/results/sasrec_steering.json`), a budget of 10% NDCG on the validation users buys this
# much: the median genre's share of the top 10 grows {glue:text}`sae_median_share_x` times with its
# SAE feature, {glue:text}`probe_median_share_x` times with the probe, and
# {glue:text}`centroid_median_share_x` times along the genre centroid. Within that budget the share
# triples for {glue:text}`sae_genres_tripled` of the {glue:text}`genres_steered` genres with the SAE
# feature, {glue:text}`probe_genres_tripled` with the probe and {glue:text}`centroid_genres_tripled`
# along the centroid. Past the budget the share keeps rising (the curves above) while NDCG falls.
#
# The centroid is the telling reference: it is the best a single fixed direction can do on average,
# and it uses the genre labels and the output embeddings. What it cannot do within the budget marks
# the limit of a uniform additive push, which moves every user by the same vector and pushes genre
# films above the very item the user was about to watch, rather than of the SAE's dictionary. Chosen
# without labels, the SAE features grow the median share {glue:text}`sae_median_share_x` times,
# against the probe's {glue:text}`probe_median_share_x`. Two caveats: the validation half has
# {glue:text}`validation_users` users, so a 10% NDCG budget is measured with noise (compare the
# "ndcg change" on test users), and ML-100K is small; the `full` profile on ML-1M is the paper's
# setting.
#
# ## 5. Steering away from popular items
#
# Recommenders lean towards popular items. The feature whose decoder direction raises the scores
# of popular films most (the correlation, over films, of its score change with log popularity) is
# a popularity knob: turning it *down* should lower the share of the most-played tenth of the
# films.

# %%
with torch.no_grad():
    effects = (
        model.scores_from_hidden(sae.W_dec * sae.input_scale, None)
        .cpu()
        .numpy()
    )
log_pop = np.log1p(dataset.popularity)
corr = [np.corrcoef(e, log_pop)[0, 1] for e in effects]
pop_feature = int(np.nanargmax(corr))
popular = dataset.popularity >= np.quantile(dataset.popularity, 0.9)
pop_direction = feature_direction(sae, pop_feature)
down = {
    (-s if s else 0.0): direction_edit(pop_direction, -s * norm)
    for s in STRENGTHS
}
popularity = steer.sweep(model, split, users["test"], down, dataset, popular)
print(
    f"popularity feature: {pop_feature} (correlation {corr[pop_feature]:.2f})"
)
popularity.round(3)

# %%
pop_moderate = popularity[
    popularity["ndcg"] >= 0.9 * popularity["ndcg"].iloc[0]
].iloc[-1]
base, half = popularity.iloc[0], popularity.set_index("strength").loc[-0.5]
_nb.record("popularity_correlation", corr[pop_feature], ".2f")
_nb.record("popular_share_before", popularity["share"].iloc[0], ".3f")
_nb.record("popular_share_moderate", pop_moderate["share"], ".3f")
_nb.record("popular_strength_moderate", -pop_moderate["strength"], ".2g")
_nb.record(
    "popular_ndcg_change_moderate",
    pop_moderate["ndcg"] / base["ndcg"] - 1,
    ".0%",
)
_nb.record("coverage_before", base["coverage"], ".3f")
_nb.record("coverage_moderate", pop_moderate["coverage"], ".3f")
_nb.record("popular_share_half", half["share"], ".3f")
_nb.record("popular_ndcg_change_half", half["ndcg"] / base["ndcg"] - 1, ".0%")

# %% [markdown]
# Here the feature's score changes correlate {glue:text}`popularity_correlation` with log
# popularity. Turning it down by {glue:text}`popular_strength_moderate`, the largest push whose
# NDCG@10 stays within 10% of the model's, moves the share of the most-played tenth of the catalogue
# in the top 10 from {glue:text}`popular_share_before` to {glue:text}`popular_share_moderate`, NDCG
# by {glue:text}`popular_ndcg_change_moderate` and coverage from {glue:text}`coverage_before` to
# {glue:text}`coverage_moderate`; at -0.5 the share is {glue:text}`popular_share_half`, for an NDCG
# change of {glue:text}`popular_ndcg_change_half`. Popularity is a large part of what the model
# knows about a user.

# %% [markdown]
# ## Summary
#
# - Steering edits a state by the change of a few SAE codes and keeps the error term: strength
#   0 is exactly the model.
# - A genre feature, chosen without labels, pulls its genre into the lists; within a 10% NDCG budget
#   the median genre's share grows {glue:text}`sae_median_share_x`x, and beyond it the share keeps
#   rising while NDCG falls.
# - A supervised probe grows it {glue:text}`probe_median_share_x`x and the genre centroid (the best
#   fixed direction) {glue:text}`centroid_median_share_x`x: the centroid shows what any uniform push
#   can do within the budget.
# - Next: two-tower models, where the SAE is trained to keep the model's predictions.

# %% [markdown]
# ## Exercises
#
# Three exercises, easiest first. Each has a task, a solution cell and a check. In the rendered
# book the solution hides behind the "Show code cell source" toggle. In the notebook, replace the
# code of the solution cell with your own, run it, then run the check: it tries your function on
# small inputs it builds itself, compares it with the library's, and when they differ names the
# likely mistake. The cell after a check uses your function on this chapter's SAE and model.

# %%
from recsae_lite import exercises
from recsae_lite.interventions import Spliced
from recsae_lite.metrics import mask_seen
from recsae_lite.models import make_batch

# the genre feature of the equalizer figure
j_genre = genre_features[show_genre]

# %% [markdown]
# ### Exercise 5.1 (easy): add to a feature, keep the error term
#
# Write `my_add_edit(sae, h, j, v)`: the states h `(B, d)` with v added to feature j's activation,
# as in section 1: h' = h + (z' - z) W_dec, in the model's units (`sae.W_dec` works on
# standardised states: multiply by `sae.input_scale`). Here z' - z is v on feature j and 0
# elsewhere, so you do not even need to encode h. With v = 0, h' must be exactly h.


# %% tags=["hide-input", "solution"]
def my_add_edit(sae, h, j, v):
    return h + v * sae.W_dec[j] * sae.input_scale


# %%
exercises.check_add_edit(my_add_edit)

# %%
with torch.no_grad():
    mine = my_add_edit(sae, h, j_genre, unit[j_genre])
    same = torch.allclose(
        mine, feature_edit(sae, j_genre, unit[j_genre], "add")(h)
    )
print(f"my_add_edit on the {show_genre} feature equals feature_edit: {same}")

# %% [markdown]
# ### Exercise 5.2 (medium): scale a feature
#
# Write `my_scale_edit(sae, h, j, factor)`: h' with feature j's activation multiplied by
# `factor`, keeping the error term. Now the change z_j * factor - z_j depends on each state's own
# z_j: encode h first (`sae.encode(h)`). With factor = 1, h' must be exactly h.


# %% tags=["hide-input", "solution"]
def my_scale_edit(sae, h, j, factor):
    z_j = sae.encode(h)[:, j : j + 1]  # (B, 1)
    return h + (z_j * factor - z_j) * sae.W_dec[j] * sae.input_scale


# %%
exercises.check_scale_edit(my_scale_edit)

# %%
with torch.no_grad():
    mine = my_scale_edit(sae, h, j_genre, 3.0)
    same = torch.allclose(
        mine, feature_edit(sae, j_genre, 3.0, "scale")(h), atol=1e-5
    )
print(f"my_scale_edit on the {show_genre} feature equals feature_edit: {same}")

# %% [markdown]
# ### Exercise 5.3 (harder): the genre's share of the steered lists
#
# Write `my_genre_share(model, split, rows, edit, in_genre, k)`: for the split's `rows`, build a
# batch of their test histories (`split.history("test")`, `make_batch`), score it with the edit
# inside the model (`Spliced(model, edit)`, or `scores_from_hidden(edit(hidden(batch)), batch)`,
# in eval mode), mask the items each user has seen, take the top k, and return the mean share of
# the listed items for which `in_genre` `(n_items,)` is True: the "share" of section 4's sweeps.


# %% tags=["hide-input", "solution"]
def my_genre_share(model, split, rows, edit, in_genre, k):
    histories = split.history("test")
    batch = make_batch(
        split.users[rows], [histories[r] for r in rows], model.n_items
    )
    batch = batch.to(model.device)
    with torch.no_grad():
        scores = Spliced(model, edit).eval().scores(batch)  # eval: no dropout
    scores = mask_seen(scores, batch.history, pad=model.n_items)
    lists = scores.topk(k, dim=1).indices.cpu().numpy()
    return np.asarray(in_genre)[lists].mean()


# %%
exercises.check_genre_share(my_genre_share)

# %%
in_show_genre = dataset.genres[:, dataset.genre_names.index(show_genre)]
push = direction_edit(directions[("SAE", show_genre)], 1.0 * norm)
mine = my_genre_share(model, split, users["test"], push, in_show_genre, 10)
swept = table.set_index(["method", "genre", "users", "strength"]).loc[
    ("SAE", show_genre, "test", 1.0), "share"
]
print(
    f"{show_genre} share@10 at strength 1: {mine:.4f} with my_genre_share, "
    f"{swept:.4f} in the sweep"
)
