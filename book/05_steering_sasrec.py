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
import pandas as pd
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
SHOWN = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0]  # the static equalizer's strengths
MIN_GENRE_ITEMS = 20  # genres steered: those with at least this many items
MIN_ITEMS, TOP = 10, 100  # as in chapter 4
EFFECT_TOP = 10  # a feature's effect: the genres of the films it raises most
# a "moderate" push: NDCG@10 falls by at most this share (paper A's 10%)
MAX_DROP = 0.1

# %% tags=["remove-cell"]
# the figures the prose quotes from benchmarks/results, glued under their
# path in the file (no need to read; only a clone of the repository has the
# files, and the book is built from one)
results = report.load() if report.REPOSITORY_RESULTS.is_dir() else {}
if results:
    times = results["book_times"]
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
if "steering" in results:  # benchmarks/steering.py
    steering = results["steering"]
    for name, gain in steering["units_and_place"].items():
        _nb.record(f"steering/units_and_place/{name}", gain, ".2f")
    for name in ("units and place", "moderate strength"):
        value = steering["knobs"][name]["value"]
        fmt = "s" if isinstance(value, str) else "g"
        _nb.record(f"steering/knobs/{name}/value", value, fmt)
    for name, fmt in [
        ("share brought at moderate, users with none", ".2f"),
        ("best share, users with none", ".2f"),
        ("genres reaching half, users with none", ".0%"),
        ("share at high strength, users with none", ".2f"),
        ("removal share left", ".2f"),
        ("sae over probe at equal cost", ".2f"),
        ("moderate ndcg lost", ".1%"),
    ]:
        figure = steering["figures"][name]
        _nb.record(f"steering/figures/{name}/value", figure["value"], fmt)
        for i in (0, 1):
            _nb.record(f"steering/figures/{name}/ci/{i}", figure["ci"][i], fmt)
    _nb.record("steering/seeds/count", len(steering["seeds"]), "d")
    # per method: the genres whose share, for users with none, reaches half
    for method, rows in steering["genres"].items():
        best = [
            r["best share, users with none"]["value"] for r in rows.values()
        ]
        reaching = sum(b >= 0.5 for b in best)
        _nb.record(f"{method} genres reaching half", reaching, "d")
    tables = steering["genres"].values()
    never = [
        g
        for g in steering["settings"]["genres"]
        if all(
            t[g]["best share, users with none"]["value"] < 0.5 for t in tables
        )
    ]
    _nb.record("genres no direction brings to half", ", ".join(never), "s")

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
# The edit itself is three lines. Written out for "add" (z_j -> z_j + v on one feature), it gives
# what `feature_edit` gives:


# %%
def edit_by_hand(sae, h, j, v):
    """h' = h + (z' - z) W_dec, in the model's units: the SAE reads h
    standardised, so a decoder row comes back times input_scale."""
    z = sae.encode(h)
    z_new = z.clone()
    z_new[:, j] += v
    return h + (z_new - z) @ sae.W_dec * sae.input_scale


with torch.no_grad():
    by_hand = edit_by_hand(sae, h, 3, 2.0)
    library = feature_edit(sae, 3, 2.0, "add")(h)
gap = (by_hand - library).abs().max().item()
_nb.record("edit_by_hand_gap", gap, ".1e")
print(f"largest difference from feature_edit: {gap:.1e}")

# %% [markdown]
# ## 2. Which feature for which genre? Two ways
#
# A feature can be matched to a genre by what it **fires on**, or by what it **does**.
#
# - **By association** (paper A's way, chapter 4's score in its "predicted" view): the feature
#   whose top positions most often lead the model to rank a film of that genre first (item
#   features excluded). No labels are needed beyond the films' genres.
# - **By effect**: push the feature's decoder direction d into a state and see which films gain.
#   SASRec's head is linear (scores = h E^T, E the item embeddings), so a push s d raises the
#   scores by s d E^T, the same for every state: the feature's **effect share** is the genre's
#   share among the films d E^T raises most. `steer.output_effect` computes it for any model
#   through `scores_from_hidden`; where the rest of the model is not linear (an earlier layer of
#   SASRec, NCF) it averages the change over real states.
#
# Steering uses what a feature does, so the equalizer below is bound to the features chosen by
# effect, one per genre: `steer.assign_features` goes down the effect shares from the largest and
# gives each genre its best feature that no other genre holds, so no slider moves a feature that
# another slider also moves. Two baselines need labels: a **linear probe** (a logistic
# regression on the states predicting whether the next film has the genre; its weights are a
# direction) and the genre's **centroid** in SASRec's output space (the mean output embedding of
# its films less that of all films, which raises the genre's films most on average). A last
# direction follows paper C: the sum of the genre's five features of largest effect share ("SAE
# (spread)").

# %%
_, items = collect(model, split, "train", "all", items=True)
sizes = dict(zip(dataset.genre_names, dataset.genres.sum(0), strict=True))
genres = [g for g, n in sizes.items() if n >= MIN_GENRE_ITEMS]
chosen, directions = steer.genre_directions(
    model, sae, split, dataset, x, items.cpu().numpy(), genres, TOP,
    MIN_ITEMS, EFFECT_TOP,
)  # fmt: skip
ways = chosen.set_index("genre")
# the genre of the showcase: the one whose feature raises most purely its
# own films (the largest effect share; below, Sci-Fi for comparison)
show_genre = ways["effect share"].idxmax()
_nb.record("show_genre", show_genre, "s")
_nb.record("scifi_effect_share", ways.loc["Sci-Fi", "effect share"], ".1f")
_nb.record(
    "scifi_association_effect_share",
    ways.loc["Sci-Fi", "association effect share"], ".1f",
)  # fmt: skip

# %% [markdown]
# Here is the effect written out for the showcase genre, {glue:text}`show_genre`: the films each
# way's feature raises most, from scratch (d E^T), checked against `steer.output_effect`.

# %%
g_show = dataset.genre_names.index(show_genre)
E = model.item_embeddings().detach()  # (n_items, d)
raised = {}
for way, column in [
    ("association", "association effect share"),
    ("effect", "effect share"),
]:
    j = int(ways.loc[show_genre, f"{way} feature"])
    gain = feature_direction(sae, j) @ E.T  # the score change per unit push
    top = gain.topk(EFFECT_TOP).indices.cpu().numpy()
    share = dataset.genres[top, g_show].mean()
    assert np.isclose(share, ways.loc[show_genre, column])
    table = widgets.recommendation_table(dataset, top, mark=g_show)
    raised[f"feature {j} ({way})"] = table["title"] + " " + table[show_genre]
pd.DataFrame(raised)

# %% [markdown]
# And every genre, both ways: the feature each picks, and its effect share (the genre's share of
# the films it raises most).

# %%
both = chosen[
    [
        "genre",
        "association feature",
        "association effect share",
        "effect feature",
        "effect share",
    ]
].assign(same=lambda t: t["association feature"] == t["effect feature"])
assert both["effect feature"].is_unique  # no feature serves two genres
shared = both["association feature"].duplicated(keep=False)
weak = both.loc[both["effect share"] < 0.5, "genre"]
_nb.record("genres_steered", len(genres), "d")
_nb.record("ways_agree", int(both["same"].sum()), "d")
_nb.record("association_shared", int(shared.sum()), "d")
_nb.record(
    "association_median_effect_share",
    both["association effect share"].median(), ".2f",
)  # fmt: skip
_nb.record("effect_median_share", both["effect share"].median(), ".2f")
_nb.record("genres_below_half", len(weak), "d")
_nb.record("weak_genres", ", ".join(weak) or "none", "s")
both.round(2)

# %% [markdown]
# The two ways pick the same feature for {glue:text}`ways_agree` of the
# {glue:text}`genres_steered` genres. Chosen by association, {glue:text}`association_shared`
# genres share their feature with another genre (one knob under several names), and the median
# genre's feature raises films of that genre in {glue:text}`association_median_effect_share` of
# the places at the top of what it raises; chosen by effect, {glue:text}`effect_median_share`,
# and every genre has a feature of its own. What a feature fires on is not what it does: the
# positions where it fires are those where the model is about to predict the genre, but its
# decoder direction, pushed through the head, may favour other films (above, the association
# feature's films against the effect feature's).
#
# For {glue:text}`genres_below_half` genres ({glue:text}`weak_genres`) no feature of their own
# raises mostly their films: no single feature is their knob. Section 4 measures whether the sum
# of a genre's five best features does better. Paper A's example, Sci-Fi, sits in between: its
# feature by association gives Sci-Fi {glue:text}`scifi_association_effect_share` of the places
# it raises most, its feature by effect {glue:text}`scifi_effect_share`; a push can bring no more
# Sci-Fi into a list than the films it raises most hold, so the showcase below turns up the genre
# whose feature is the purest, {glue:text}`show_genre`.
#
# ## 3. The equalizer
#
# Pick a user and move the sliders: each pushes one genre's effect feature; strength 1 adds one
# mean state norm along the feature's direction (why these units: section 4). The free feature
# picker steers any feature. The list is computed in your browser: the cell exports the users'
# states h, the decoder rows (times the SAE's input scale) and the output embeddings E as float16,
# and the page computes h' = h + sum_j v_j W_dec[j] and the scores h' E^T, with the films the user
# has seen left out, as `interventions.feature_edit` and the model do. So it works in the rendered
# book without a kernel, in Jupyter and in Colab alike. Films of a genre turned up are marked, and
# "new" marks a film that the unsteered list does not hold.

# %%
rng = np.random.default_rng(SEED)
order = rng.permutation(len(split.users))
users = {"validation": np.sort(order[::2]), "test": np.sort(order[1::2])}
states = collect(model, split, "test")
norm = float(states[users["validation"]].norm(dim=1).mean())
genre_features = ways["effect feature"].to_dict()
# a slider at s adds s * unit[j] to z_j: s mean state norms along j's direction
decoder_norms = (sae.W_dec * sae.input_scale).detach().norm(dim=1).cpu()
unit = {j: norm / float(n) for j, n in enumerate(decoder_norms)}
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
lists = recommend(model, split, np.arange(len(split.users)))
# the shown user: the first whose top 10 holds none of the genre
row = int(np.flatnonzero(~dataset.genres[lists, g_show].any(1))[0])
feature = genre_features[show_genre]
frames = widgets.static_equalizer(
    model, sae, split, dataset, row, feature, unit[feature], strengths=SHOWN
)
viz.steering_frames(
    frames, f"User {split.users[row]}: the {show_genre} feature turned up"
).show()
# the figure's own data: the genre's share of the shown list per strength
shown_share = {
    s: t["genres"].str.split(", ").apply(lambda gs: show_genre in gs).mean()
    for s, t in frames.items()
}
_nb.record("showcase_share_start", shown_share[SHOWN[0]], ".1f")
_nb.record("showcase_share_top", shown_share[SHOWN[-1]], ".1f")

# %% [markdown]
# At strength 0 the list holds {glue:text}`showcase_share_start` of the genre; at the top
# strength the genre is {glue:text}`showcase_share_top` of it.
#
# ## 4. Strength sweeps over many users
#
# Half the users choose a "moderate" strength (the largest whose NDCG@10 falls by at most 10%,
# `MAX_DROP`), the other half report what it does. A strength s adds s times the mean norm of a
# state along the direction (a feature's decoder row, the probe's weights, the centroid): the
# same size of push for every method. Metrics@10 on the test targets: the share of the list in
# the target genre, NDCG, HR, catalogue coverage, genre diversity (mean pairwise Jaccard distance
# of genres) and mean popularity.

# %%
table = steer.compare(
    model, split, dataset, directions, STRENGTHS, norm, users
)
metrics = ["share", "ndcg", "hr", "coverage", "diversity", "popularity"]
drawn = [
    g for g in ("Sci-Fi", "Horror", "Children's", "Romance") if g in genres
] or genres[:4]
test_rows = table[
    (table["users"] == "test")
    & table["genre"].isin(drawn)
    & table["method"].isin(["SAE (effect)", "SAE (association)", "probe"])
]
# four genres, three methods, to keep it readable
viz.steering_curves(test_rows, metrics).show()

# %%
result = steer.moderate(table, MAX_DROP)
test = result[result["users"] == "test"].drop(columns="users")
test.round(3)

# %%
METHODS = {
    "SAE (association)": "association",
    "SAE (effect)": "effect",
    "SAE (spread)": "spread",
    "probe": "probe",
    "centroid": "centroid",
}
for method, key in METHODS.items():
    rows = test[test["method"] == method]
    _nb.record(f"{key}_genres_tripled", int((rows["share x"] >= 3).sum()), "d")
    _nb.record(f"{key}_median_share_x", rows["share x"].median(), ".2f")
    _nb.record(
        f"{key}_median_ndcg_change", rows["ndcg change"].median(), ".3f"
    )
_nb.record("validation_users", len(users["validation"]), "d")

# %% [markdown]
# **What this shows, and what it does not.** A budget of 10% NDCG on the validation users buys
# this much (the table above): the median genre's share of the top 10 grows
# {glue:text}`effect_median_share_x` times with its feature chosen by effect,
# {glue:text}`association_median_share_x` times with the one chosen by association,
# {glue:text}`spread_median_share_x` times with the sum of its five best features,
# {glue:text}`probe_median_share_x` times with the probe and {glue:text}`centroid_median_share_x`
# times along the centroid. Within that budget the share triples for
# {glue:text}`effect_genres_tripled` of the {glue:text}`genres_steered` genres with the effect
# feature, {glue:text}`association_genres_tripled` with the association feature,
# {glue:text}`probe_genres_tripled` with the probe and {glue:text}`centroid_genres_tripled` along
# the centroid. Past the budget the share keeps rising (the curves above) while NDCG falls. The
# validation half has {glue:text}`validation_users` users, so a 10% budget is measured with noise
# (compare the "ndcg change" on test users).
#
# **Paper A's claims on every genre, with intervals.** `benchmarks/steering.py` measures the same
# knobs in the `quick` profile over {glue:text}`steering/seeds/count` seeds, on every genre of at
# least 20 films, with bootstrap intervals over the test users (chapter 10 judges them). First, the
# units and the place of the push, chosen on validation users by the share gained at equal NDCG
# cost: pushing in units of each user's own state norm gains
# {glue:text}`steering/units_and_place/final, relative` times what a push in units of the mean
# norm gains (SASRec's last layer normalises its states, so their norms hardly differ), and
# pushing the effect feature of an SAE trained on the state after the first block, so that the
# last block processes the edit, gains {glue:text}`steering/units_and_place/layer 1, absolute`
# times as much. The benchmark's SAE knob is the best of the three,
# "{glue:text}`steering/knobs/units and place/value`"; the equalizer and the sweeps of this chapter
# push the final state in units of the mean norm, which is what `widgets.equalizer` splices.
#
# Then, on test users whose unsteered top 10 holds none of the genre: at the moderate strength
# ({glue:text}`steering/knobs/moderate strength/value` mean norms, where the validation users'
# mean share at least doubles) the median genre's share is
# {glue:text}`steering/figures/share brought at moderate, users with none/value`
# [{glue:text}`steering/figures/share brought at moderate, users with none/ci/0`,
# {glue:text}`steering/figures/share brought at moderate, users with none/ci/1`], for an NDCG@10
# loss of {glue:text}`steering/figures/moderate ndcg lost/value` over all test users; at each
# genre's best strength (chosen on validation users) it is
# {glue:text}`steering/figures/best share, users with none/value`
# [{glue:text}`steering/figures/best share, users with none/ci/0`,
# {glue:text}`steering/figures/best share, users with none/ci/1`], and
# {glue:text}`steering/figures/genres reaching half, users with none/value` of the genres reach
# half of the list; at the highest strength, the median share is
# {glue:text}`steering/figures/share at high strength, users with none/value`. Lowering the
# feature by the moderate strength leaves {glue:text}`steering/figures/removal share left/value`
# [{glue:text}`steering/figures/removal share left/ci/0`,
# {glue:text}`steering/figures/removal share left/ci/1`] of the genre in the lists of users who
# had it. At the NDCG cost of the moderate push, the effect feature gains
# {glue:text}`steering/figures/sae over probe at equal cost/value`
# [{glue:text}`steering/figures/sae over probe at equal cost/ci/0`,
# {glue:text}`steering/figures/sae over probe at equal cost/ci/1`] times the share the probe gains
# (median over genres).
#
# **What limits it.** Per genre (the benchmark's table), the share of users with none reaches half
# at some strength for {glue:text}`SAE knob genres reaching half` of the
# {glue:text}`genres_steered` genres with the SAE knob,
# {glue:text}`SAE (effect) genres reaching half` with the final state's effect feature,
# {glue:text}`SAE (spread) genres reaching half` with the sum of five features,
# {glue:text}`SAE (association) genres reaching half` by association,
# {glue:text}`probe genres reaching half` with the probe and
# {glue:text}`centroid genres reaching half` along the centroid. The centroid is the reference for
# what one fixed direction can do: a genre it cannot bring to half of a list either is limited by
# the output embeddings (its films do not stand apart along a direction the head reads), not by
# the SAE's dictionary. No direction brings these to half:
# {glue:text}`genres no direction brings to half`.
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
# - A feature can be matched to a genre by what it fires on (association, paper A's way) or by
#   what its decoder direction does to the scores (effect); steering needs the second, with one
#   feature per genre so that no two sliders move the same feature.
# - Within a 10% NDCG budget the median genre's share grows {glue:text}`effect_median_share_x`x
#   with its effect feature ({glue:text}`association_median_share_x`x by association), and beyond
#   it the share keeps rising while NDCG falls.
# - A supervised probe grows it {glue:text}`probe_median_share_x`x and the genre centroid
#   {glue:text}`centroid_median_share_x`x.
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
push = direction_edit(directions[("SAE (effect)", show_genre)], 1.0 * norm)
mine = my_genre_share(model, split, users["test"], push, in_show_genre, 10)
swept = table.set_index(["method", "genre", "users", "strength"]).loc[
    ("SAE (effect)", show_genre, "test", 1.0), "share"
]
print(
    f"{show_genre} share@10 at strength 1: {mine:.4f} with my_genre_share, "
    f"{swept:.4f} in the sweep"
)

# %% [markdown]
# ### Exercise 5.4 (predict, then check): which direction steers best within the budget?
#
# Section 4 pushed every genre along five directions and kept, for each, the largest strength
# within the NDCG budget (`MAX_DROP`, chosen on validation users). Before running the next cell,
# write down your guess: which method raises the median genre's share of the top 10 most, the SAE
# feature chosen by association, by effect, spread over a few features, the probe or the centroid?
# Then run it.

# %%
median_gain = (
    test.groupby("method")["share x"].median().sort_values(ascending=False)
)
_nb.record("best_method_in_budget", median_gain.index[0], "s")
_nb.record("best_method_share_x", median_gain.iloc[0], ".2f")
median_gain.round(2).to_frame("median share x")

# %% [markdown] tags=["teacher"]
# :::{admonition} For the teacher
# :class: dropdown
# Within the budget, {glue:text}`best_method_in_budget` raises the median genre's share most
# ({glue:text}`best_method_share_x` times). The probe and the centroid use the genre labels (the
# centroid also uses the output embeddings); the SAE features by association use none, and by
# effect only the labels of the items they raise. Ask the room whether a label-free method that
# comes close is the better knob, and what the budget hides (the curves past it).
# :::
