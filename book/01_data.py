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
# # 1. The data: MovieLens and a synthetic answer key
#
# Every chapter of this book trains a recommender on interaction data, opens it up with a sparse
# autoencoder (SAE) and asks what the SAE's features mean. "Mean" is judged against item
# attributes: for movies, their genres. So before any model, we look at the data those judgements
# rest on: who interacts with what, how skewed popularity is, and how genres overlap.
#
# Genres are a noisy stand-in for what a model really uses. The second half of the chapter builds
# a **synthetic** dataset with *planted* concepts, where we know the answer: later chapters check
# whether SAEs recover it.
#
# **Read alongside.** The book reproduces three papers: paper A, Klenitskiy et al. 2025, [*Sparse
# Autoencoders for Sequential Recommendation Models: Interpretation and Flexible
# Control*](https://arxiv.org/abs/2507.12202); paper B, Arviv et al. 2025, [*Extracting
# Interaction-Aware Monosemantic Concepts in Recommender
# Systems*](https://arxiv.org/abs/2511.18024); and paper C, Spišák et al. 2026, [*From Knots to
# Knobs: Towards Steerable Collaborative Filtering Using Sparse
# Autoencoders*](https://arxiv.org/abs/2601.11182). Background: Harper and Konstan 2015, [*The
# MovieLens Datasets: History and Context*](https://doi.org/10.1145/2827872). Terms are defined in
# the [glossary](glossary.md).
#
# **Before this chapter:** Python and pandas; nothing of recommenders or interpretability.
#
# **What you will learn**
# - the `Dataset` every chapter uses, and where MovieLens-100K comes from (offline too);
# - the popularity long tail, and why it matters for "what a feature means";
# - the leave-one-out protocol every model in the book is evaluated with;
# - the synthetic generator: a two-level concept hierarchy with known ground truth.
#
# Time: seconds on a laptop CPU. No GPU needed.

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

from recsae_lite import _nb, viz
from recsae_lite.data import leave_one_out, load_dataset

device = _nb.setup(SEED, DEVICE, PROFILE)
DATASET = _nb.pick(PROFILE, ci="ml-100k", quick="ml-100k", full="ml-1m")
N_SYNTHETIC_USERS = _nb.pick(PROFILE, ci=300, quick=1_000, full=5_000)

# %% [markdown]
# ## 1. Loading a dataset
#
# `load_dataset` returns one `Dataset` whatever the source. Interactions are coded as contiguous
# integers `0..n-1` for users and items; every rating counts as an interaction (implicit feedback,
# as in the three papers). MovieLens-100K comes from GroupLens when online, or, on a machine that
# can only reach PyPI, from the copy that ships inside the `recbole` wheel; both are checked
# against a checksum and cached (set `RECSAE_CACHE` to choose where).

# %%
movies = load_dataset(DATASET)
movies

# %%
density = len(movies.interactions) / (movies.n_users * movies.n_items)
_nb.record("n_users", movies.n_users, "d")
_nb.record("n_items", movies.n_items, "d")
_nb.record("n_interactions", len(movies.interactions), "d")
_nb.record("density", density)

# %% [markdown]
# Each item has a title and a multi-hot genre row; a film can have several genres.

# %%
names = np.array(movies.genre_names)
items = pd.DataFrame(
    {
        "title": movies.item_titles,
        "interactions": movies.popularity,
        "genres": [", ".join(names[row]) for row in movies.genres],
    }
)
items.sort_values("interactions", ascending=False).head(5)

# %% [markdown]
# ## 2. Genres
#
# Drama and Comedy dominate both the catalogue and the interactions; a few genres (Documentary,
# Film-Noir, Western) are rare. A feature that "means Drama" has many items to choose from; one
# that means Film-Noir has few, so purity and association scores in later chapters must be read
# against these base rates.

# %%
viz.genre_frequencies(movies).show()

# %% [markdown]
# ## 3. The popularity long tail
#
# A few items receive a large share of all interactions. Recommenders learn popularity first, and
# SAEs often dedicate a feature to it (paper B's "popularity neuron").

# %%
viz.popularity_long_tail(movies).show()

# %%
counts = np.sort(movies.popularity)[::-1]
top_decile = counts[: max(1, len(counts) // 10)].sum() / counts.sum()
_nb.record("share_of_interactions_top10pct_items", top_decile, ".3f")

# %% [markdown]
# ## 4. Sequences
#
# Sorted by time, each user's interactions form a sequence: what SASRec reads. Most users have a
# few dozen; a few have hundreds.

# %%
viz.sequence_lengths(movies).show()

# %%
lengths = np.bincount(movies.interactions["user"], minlength=movies.n_users)
_nb.record("median_sequence_length", float(np.median(lengths)), ".1f")

# %% [markdown]
# ## 5. Which genres go together
#
# Lift is P(a and b) / (P(a) P(b)) over items: above 1 the two genres appear together more often
# than chance (Animation and Children's), below 1 less often. Overlapping genres are one reason a
# single model direction can look "polysemantic" against genre labels.

# %%
viz.genre_cooccurrence(movies).show()

# %% [markdown]
# ## 6. The evaluation protocol: leave-one-out by time
#
# Every model in this book is evaluated the same way, so the chapters compare like with like: per
# user, sorted by time, the last item is the test target and the second-to-last the validation
# target; the rest is training data. Users with fewer than 3 interactions are dropped (and
# counted). Scoring ranks *all* items, with items the user has already seen masked out.
#
# One detail matters for reproducing published numbers: {glue:text}`users_with_tied_last_two` users
# of this dataset have their last two interactions at the same second. We break such ties by the
# order of the source file.

# %%
split = leave_one_out(movies)
last_two_tied = (
    movies.interactions.groupby("user")["timestamp"]
    .apply(lambda t: len(t) >= 2 and t.iloc[-1] == t.iloc[-2])
    .sum()
)
_nb.record("split_users", len(split.users), "d")
_nb.record("split_users_dropped", split.n_dropped, "d")
_nb.record("users_with_tied_last_two", int(last_two_tied), "d")

# %% [markdown]
# One user's history, as a model sees it at test time:

# %%
user = 0
history = split.history("test")[user]
pd.DataFrame(
    {
        "title": [movies.item_titles[i] for i in history[-5:]]
        + [movies.item_titles[split.test[user]]],
        "role": ["history"] * min(5, len(history)) + ["test target"],
    }
)

# %% [markdown]
# ## 7. A synthetic answer key
#
# Real genres only approximate what a model encodes. The synthetic generator plants concepts we
# control: a two-level hierarchy (parents with several children), items carrying one to three child
# concepts (and so their parents), Zipf-like popularity, and users who prefer a few concepts and
# move between them, switching with a set probability. Its `truth` holds the item-concept matrix,
# the hierarchy and each user's preferences: chapter 9 scores SAEs against it.

# %%
synthetic = load_dataset("synthetic", seed=SEED, n_users=N_SYNTHETIC_USERS)
truth = synthetic.truth
children = {
    name: [truth.concept_names[c] for c in np.flatnonzero(truth.parent == p)]
    for p, name in enumerate(truth.concept_names)
    if truth.parent[p] < 0
}
print(synthetic)
for parent, kids in children.items():
    print(f"  {parent}: {', '.join(kids)}")

# %%
viz.genre_frequencies(synthetic).show()

# %%
viz.popularity_long_tail(synthetic).show()

# %% [markdown]
# The ground truth is consistent with the interactions it produced: every item a user interacts
# with carries at least one of that user's preferred concepts.

# %%
inter = synthetic.interactions
preferred = (
    truth.item_concepts[inter["item"]] & truth.user_prefs[inter["user"]]
).any(axis=1)
_nb.record("synthetic_interactions", len(inter), "d")
_nb.record("synthetic_share_on_preferred_concept", preferred.mean(), ".3f")

# %% [markdown]
# ## Summary
#
# - `load_dataset` gives one `Dataset` type for MovieLens-100K (offline too), ML-1M, Last.fm and
#   synthetic data; `leave_one_out` gives the one evaluation protocol of the book.
# - Popularity is heavily skewed and genres overlap: both shape how we must read "this feature
#   means X" later.
# - The synthetic data is the answer key: its concepts are known.
#
# Next, chapter 2 trains the base recommenders whose hidden states the SAEs read.

# %% [markdown]
# ## Exercise
#
# ### Exercise 1.1 (predict, then check): how popular are the films users watch next?
#
# Section 3 found the most-played tenth of the films taking a large share of all interactions.
# Before running the next cell, write down your guess: among the test targets (each user's last
# film, what chapter 2's models must predict), is the share of those popular films larger,
# smaller, or about the same? Then run it. Try `POPULAR_SHARE` at other values.

# %%
POPULAR_SHARE = 0.1  # the most-played films, as a share of the catalogue
cut = np.quantile(movies.popularity, 1 - POPULAR_SHARE)
popular = movies.popularity >= cut
played = popular[movies.interactions["item"]].mean()
targets = popular[np.asarray(split.test)].mean()
_nb.record("popular_share_of_interactions", played, ".0%")
_nb.record("popular_share_of_targets", targets, ".0%")
print(
    f"the most-played {POPULAR_SHARE:.0%} of the films: {played:.0%} of all "
    f"interactions, {targets:.0%} of the test targets"
)

# %% [markdown] tags=["teacher"]
# :::{admonition} For the teacher
# :class: dropdown
# The point: whether a user's last film is more or less of a blockbuster than an average
# interaction sets how hard chapter 2's popularity baseline is to beat. Here the most-played
# films are {glue:text}`popular_share_of_interactions` of all interactions and
# {glue:text}`popular_share_of_targets` of the test targets. Ask the room why they might differ (the
# last film is watched later, when a user has seen the blockbusters) and what it means for a model
# that only learns popularity.
# :::
