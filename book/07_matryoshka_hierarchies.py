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
# # 7. Matryoshka hierarchies: broad features first
#
# A Matryoshka SAE orders its dictionary in nested groups, and the loss asks every prefix of
# groups to reconstruct the input on its own: the first group alone, the first two together, and
# so on. Features of the first group must therefore serve every sample they can, so they should
# hold the broad directions; later groups add refinements. Paper B reads the result as a
# hierarchy of concepts. This chapter measures whether that reading holds: first on synthetic
# data whose hierarchy we planted, then on MF item embeddings and SASRec hidden states of
# MovieLens-100K, always against a plain BatchTopK SAE of the same size and sparsity.
#
# **Read alongside.** Its paper: Bussmann et al. 2025, [*Learning Multi-Level Features with
# Matryoshka Sparse Autoencoders*](https://arxiv.org/abs/2503.17547). Background: paper B, Arviv et
# al. 2025, [*Extracting Interaction-Aware Monosemantic Concepts in Recommender
# Systems*](https://arxiv.org/abs/2511.18024).
#
# **Before this chapter:** chapter 3 (the Matryoshka variant); chapter 6 helps.
#
# **What you will learn**
# - what the nested loss does, and how to compare it fairly with a plain SAE;
# - a tree of features: each feature hangs under the earlier one it fires together with most;
# - on planted data, how often that tree puts a child concept under its parent;
# - on real data, whether early groups are broader (genre entropy) and more popular.
#
# Time: about {glue:text}`book_times/chapter_seconds/quick/07_matryoshka_hierarchies/minutes` min on
# {glue:text}`book_times/machine/cpu_threads` CPU cores in the `quick` profile the first time (it
# trains and caches two SAEs on SASRec's states; less after), once chapter 2 has trained MF and
# SASRec; under a minute in the `ci` profile.

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

from recsae_lite import (
    _nb,
    features,
    hierarchy,
    interpret,
    report,
    two_tower,
    viz,
    zoo,
)
from recsae_lite.activations import collect
from recsae_lite.data import load_dataset
from recsae_lite.metrics import sae_metrics
from recsae_lite.sae import fit

device = _nb.setup(SEED, DEVICE, PROFILE)
DATASET = _nb.pick(PROFILE, ci="ml-100k", quick="ml-100k", full="ml-1m")
SEEDS = _nb.pick(
    PROFILE,
    ci=[SEED],
    quick=[SEED, SEED + 1, SEED + 2],
    full=[SEED, SEED + 1, SEED + 2],
)
VARIANTS = ["matryoshka", "batchtopk"]

# %% tags=["remove-cell"]
# the figures the prose quotes from benchmarks/results, glued under their
# path in the file (no need to read; only a clone of the repository has the
# files, and the book is built from one)
if report.REPOSITORY_RESULTS.is_dir():
    results = report.load()
    times = results["book_times"]
    _nb.record(
        "book_times/machine/cpu_threads", times["machine"]["cpu_threads"], "d"
    )
    minutes = (
        times["chapter_seconds"]["quick"]["07_matryoshka_hierarchies"] / 60
    )
    _nb.record(
        "book_times/chapter_seconds/quick/07_matryoshka_hierarchies/minutes",
        minutes,
        ".0f",
    )
    _nb.record(
        "hierarchy/seeds/count", len(results["hierarchy"]["seeds"]), "d"
    )
    bench = pd.DataFrame(results["hierarchy"]["planted"])
    for (setting, variant), runs in bench.groupby(["setting", "variant"]):
        path = f"hierarchy/planted/setting={setting}/variant={variant}"
        _nb.record(f"{path}/agreement/mean", runs["agreement"].mean(), ".2f")
        _nb.record(f"{path}/parent f1/mean", runs["parent f1"].mean(), ".2f")
        for stat in ("min", "max"):
            _nb.record(
                f"{path}/agreement/{stat}", runs["agreement"].agg(stat), ".2f"
            )
    small = bench[bench["setting"] == "small first group"].pivot(
        index="seed", columns="variant"
    )
    wins = (
        small["agreement", "matryoshka"] > small["agreement", "batchtopk"]
    ).sum()
    _nb.record("hierarchy_matryoshka_agrees_better", wins, "d")

# %% [markdown]
# ## 1. The nested loss, and a fair comparison
#
# With groups of sizes (g1, g2, g3), the Matryoshka loss sums the reconstruction error of the
# codes cut to the first g1 features, to the first g1 + g2, and to all of them; each sample keeps
# the k * B strongest features of the batch, as in BatchTopK. The comparison is a BatchTopK SAE
# of the same width and the same k. It has no groups, so we give it some: its most frequently
# firing features form the first group, and so on, with the Matryoshka's sizes
# (`hierarchy.frequency_groups`). Whatever we measure per group, we measure on both.
#
# **The tree.** A feature of a later group hangs under the feature of an earlier group it fires
# together with on the most samples (`hierarchy.tree`); first-group features, and features that
# never fire with an earlier one, are roots.
#
# **Per feature** we also read the items at its `TOP` strongest samples: the entropy of their
# genre distribution (bits; high is broad, a mix of genres), their mean popularity percentile (1
# is the most popular item), and its firing rate (`hierarchy.profile`); its label is its best
# genre, by the precision above chance of chapter 4 ("mixed" below 0.5).

# %%
TOP = 50  # a feature's strongest samples that its profile and label read


def describe(sae, x, sizes, items, data, name):
    """Codes (sparse: `features.sparse_codes`), groups, tree, profile and
    labels of one SAE on samples x, whose items are `items`."""
    codes = features.sparse_codes(sae, x)
    groups = hierarchy.feature_groups(sae, codes, sizes)
    table = hierarchy.profile(
        codes, groups, items, data.genres, data.popularity, TOP
    )
    genres = data.genres[items]  # (N, G) the genres of each sample's item
    scores = features.per_feature(
        interpret.genre_scores, codes, genres, TOP, min_active=5
    )
    labels = [
        f"{j}: {interpret.label(row, 0.5)}"
        for j, row in interpret.best_genres(
            scores, data.genre_names
        ).iterrows()
    ]
    return {
        "codes": codes,
        "groups": groups,
        "tree": hierarchy.tree(codes, groups),
        "profile": table.assign(sae=name),
        "labels": labels,
        "fires": features.firing_counts(codes).numpy(),
    }


# %% [markdown]
# ## 2. The answer key: a planted hierarchy
#
# The synthetic data of chapter 1 has 4 parent concepts with 3-5 children each. Items carry 1-3
# children, mostly siblings, and users prefer 2-3 children, mostly siblings too: the parents shape
# who takes what. We train MF on it and fit both SAEs on its {glue:text}`synthetic_items` item
# embeddings, where each item's concepts are known. Each concept's **best feature** is the one whose
# firing matches the concept's items best (F1). The **agreement** of a tree is the share of child
# concepts whose best feature hangs, at any depth, under the best feature of their parent.

# %%
synthetic = load_dataset("synthetic", seed=SEED)
truth = synthetic.truth
mf_synthetic = zoo.model("mf", synthetic, PROFILE, seed=SEED, device=device)
x_synthetic = two_tower.embeddings(mf_synthetic.model)[1].detach()
# a small first group: room for the 4 parents, not the 16 children
SIZES, K = (8, 24, 96), 4

rows, synthetic_saes = [], {}
for variant in VARIANTS:
    for seed in SEEDS:
        config = hierarchy.sae_config(x_synthetic.shape[1], variant, SIZES, K)
        sae = fit(
            x_synthetic,
            config,
            zoo.fit_settings("items", PROFILE, seed),
            progress=False,
        )
        codes = sae.encode(x_synthetic).detach()
        groups = hierarchy.feature_groups(sae, codes, SIZES)
        synthetic_saes[(variant, seed)] = sae
        scores = hierarchy.score(
            codes, groups, truth.item_concepts, truth.parent
        )
        fvu = sae_metrics(sae, x_synthetic)["fvu"]
        rows.append({"sae": variant, "seed": seed, **scores, "fvu": fvu})
planted = pd.DataFrame(rows)
planted_mean = (
    planted.groupby("sae", sort=False)
    .mean(numeric_only=True)
    .drop(columns="seed")
)
for variant, row in planted_mean.iterrows():
    _nb.record(f"synthetic_{variant}_agreement", row["agreement"], ".0%")
    _nb.record(f"synthetic_{variant}_parent_f1", row["parent f1"], ".2f")
    _nb.record(f"synthetic_{variant}_parent_group", row["parent group"], ".1f")
    _nb.record(f"synthetic_{variant}_fvu", row["fvu"], ".3f")
_nb.record("synthetic_items", synthetic.n_items, "d")
_nb.record("planted_parents", (truth.parent < 0).sum(), "d")
_nb.record("planted_children", (truth.parent >= 0).sum(), "d")
_nb.record("seeds", len(SEEDS), "d")
planted_mean.round(3)

# %% [markdown]
# The table is the mean over the seeds (the `quick` profile trains three of each). "parent group"
# and "child group" are the mean group (0, 1 or 2) of the concepts' best features.
#
# The tree of the first Matryoshka SAE, each feature labelled with the concept it scores best
# on: the parents should sit in the first row, their children below them.

# %%
sae = synthetic_saes[("matryoshka", SEED)]
view = describe(
    sae,
    x_synthetic,
    SIZES,
    np.arange(synthetic.n_items),
    synthetic,
    "matryoshka",
)
title = (
    "Synthetic data, Matryoshka SAE: features by group, under their parents"
)
viz.feature_tree(view["tree"], view["labels"], view["fires"], title).show()

# %% [markdown]
# (Click a box to zoom into its subtree; the rendered book shows three levels.)
#
# **What the answer key says.** Over {glue:text}`seeds` seeds, the Matryoshka SAE matches the
# {glue:text}`planted_parents` parents with an F1 of {glue:text}`synthetic_matryoshka_parent_f1`,
# against {glue:text}`synthetic_batchtopk_parent_f1` for BatchTopK, with their best features in
# group {glue:text}`synthetic_matryoshka_parent_group` on average (BatchTopK:
# {glue:text}`synthetic_batchtopk_parent_group`); its tree puts
# {glue:text}`synthetic_matryoshka_agreement` of the {glue:text}`planted_children` children under
# their parent's feature, against {glue:text}`synthetic_batchtopk_agreement` for BatchTopK, at an
# FVU of {glue:text}`synthetic_matryoshka_fvu` against {glue:text}`synthetic_batchtopk_fvu`. A child
# whose best feature is itself in the first group cannot hang under anything, and the agreement
# counts that as a miss.
#
# `benchmarks/hierarchy.py` repeats this on {glue:text}`hierarchy/seeds/count` synthetic datasets (a
# different planted hierarchy each, `quick` profile): with this small first group, the Matryoshka
# tree agrees better on {glue:text}`hierarchy_matryoshka_agrees_better` of them (mean
# {glue:text}`hierarchy/planted/setting=small first group/variant=matryoshka/agreement/mean` against
# {glue:text}`hierarchy/planted/setting=small first group/variant=batchtopk/agreement/mean`, the
# Matryoshka's from
# {glue:text}`hierarchy/planted/setting=small first group/variant=matryoshka/agreement/min` to
# {glue:text}`hierarchy/planted/setting=small first group/variant=matryoshka/agreement/max`) and its
# parent F1 is
# {glue:text}`hierarchy/planted/setting=small first group/variant=matryoshka/parent f1/mean` against
# {glue:text}`hierarchy/planted/setting=small first group/variant=batchtopk/parent f1/mean`. The
# group sizes matter: with a first group of 16 (k = 8), as large as the number of children, the
# children can take the first group and flatten the hierarchy; there the mean agreement is
# {glue:text}`hierarchy/planted/setting=first group of 16/variant=matryoshka/agreement/mean` for the
# Matryoshka against
# {glue:text}`hierarchy/planted/setting=first group of 16/variant=batchtopk/agreement/mean` for
# BatchTopK. The nested loss can only recover a hierarchy whose fine concepts do not fit in its
# first group.
#
# ## 3. MF item embeddings of MovieLens
#
# Real data has no answer key, so we measure what the reading predicts: early groups should be
# broad, late groups specific. For each feature we take the items it fires on most strongly and
# measure the **entropy of their genre distribution** (bits; high is broad, a mix of genres) and
# their **mean popularity percentile** (1 is the most popular item), with the feature's firing rate.
# MF's {glue:text}`mf_items` item embeddings, SAEs of 16 + 48 + 192 features, 4 active per item.

# %%
mf = zoo.model("mf", DATASET, PROFILE, seed=SEED, device=device)
dataset = mf.dataset
x_items = two_tower.embeddings(mf.model)[1].detach()
MF_SIZES = (16, 48, 192)
_nb.record("mf_items", dataset.n_items, ",d")


mf_fit = zoo.fit_settings("items", PROFILE, SEED)
mf_saes = {
    v: fit(
        x_items,
        hierarchy.sae_config(x_items.shape[1], v, MF_SIZES, 4),
        mf_fit,
        progress=False,
    )
    for v in VARIANTS
}
mf_views = {
    v: describe(sae, x_items, MF_SIZES, np.arange(dataset.n_items), dataset, v)
    for v, sae in mf_saes.items()
}
mf_profile = pd.concat([view["profile"] for view in mf_views.values()])
MEASURES = ["firing rate", "genre entropy", "popularity", "distinct items"]
viz.group_profiles(mf_profile, MEASURES).show()


# %%
def by_group(table, prefix):
    """Per SAE and group, the mean of each measure; the first and last
    groups' recorded."""
    means = table.groupby(["sae", "group"])[MEASURES].mean()
    last = table["group"].max()
    formats = {
        "firing rate": ".1%",
        "genre entropy": ".2f",
        "popularity": ".2f",
        "distinct items": ".0f",
    }
    for (variant, group), row in means.iterrows():
        for measure, fmt in formats.items():
            if group in (0, last):
                key = measure.replace(" ", "_")
                name = f"{prefix}_{variant}_group{group}_{key}"
                _nb.record(name, row[measure], fmt)
    return means.round(3)


by_group(mf_profile, "mf")

# %% [markdown]
# The Matryoshka's first 16 features have a genre entropy of
# {glue:text}`mf_matryoshka_group0_genre_entropy` bits and a popularity of
# {glue:text}`mf_matryoshka_group0_popularity`, its last 192 features
# {glue:text}`mf_matryoshka_group2_genre_entropy` and {glue:text}`mf_matryoshka_group2_popularity`.
# BatchTopK's most frequent 16 features have {glue:text}`mf_batchtopk_group0_genre_entropy` and
# {glue:text}`mf_batchtopk_group0_popularity`, its least frequent 192
# {glue:text}`mf_batchtopk_group2_genre_entropy` and {glue:text}`mf_batchtopk_group2_popularity`.
# Where the plain SAE's frequent features are as broad as the Matryoshka's first group, "early
# features are broad" is first of all "frequent features are broad": what the nested loss adds is
# the order, not the breadth.
#
# The Matryoshka tree of MF's item features, each labelled with its best genre:

# %%
view = mf_views["matryoshka"]
viz.feature_tree(
    view["tree"],
    view["labels"],
    view["fires"],
    "MF item embeddings, Matryoshka SAE: the tree of features",
).show()

# %% [markdown]
# ## 4. SASRec hidden states
#
# The same on SASRec: every position of the training histories, SAEs of {glue:text}`sasrec_sizes`
# features (16 x the hidden size, as in chapter 4), 8 active per position. A position's items are
# the item it has just read, as in chapter 4. Both SAEs are cached in the model zoo.

# %%
sasrec = zoo.model("sasrec", DATASET, PROFILE, seed=SEED, device=device)
d = sasrec.model.config.hidden_size
x_states, position_items = collect(
    sasrec.model, sasrec.split, "train", "all", items=True
)
position_items = position_items.cpu().numpy()
# zoo.sae_settings' groups, shared with chapter 3
SASREC_SIZES = (d, 3 * d, 12 * d)
_nb.record("sasrec_sizes", " + ".join(map(str, SASREC_SIZES)), "s")
_nb.record("sasrec_first_group", d, "d")
sasrec_views = {}
for variant in VARIANTS:
    config, train_config = zoo.sae_settings(
        d, PROFILE, SEED, k=8, variant=variant
    )
    sae, _ = zoo.sae(
        sasrec, config, train_config, device=device, progress=False
    )
    sasrec_views[variant] = describe(
        sae, x_states, SASREC_SIZES, position_items, dataset, variant
    )
    _nb.record(
        f"sasrec_{variant}_fvu", sae_metrics(sae, x_states)["fvu"], ".3f"
    )
sasrec_profile = pd.concat([view["profile"] for view in sasrec_views.values()])
viz.group_profiles(sasrec_profile, MEASURES).show()

# %%
by_group(sasrec_profile, "sasrec")

# %% [markdown]
# On SASRec the first {glue:text}`sasrec_first_group` features fire on
# {glue:text}`sasrec_matryoshka_group0_firing_rate` of the positions for the Matryoshka and
# {glue:text}`sasrec_batchtopk_group0_firing_rate` for BatchTopK's most frequent ones, with a genre
# entropy of {glue:text}`sasrec_matryoshka_group0_genre_entropy` and
# {glue:text}`sasrec_batchtopk_group0_genre_entropy` bits and a popularity of
# {glue:text}`sasrec_matryoshka_group0_popularity` and
# {glue:text}`sasrec_batchtopk_group0_popularity`. The last group's features have an entropy of
# {glue:text}`sasrec_matryoshka_group2_genre_entropy` and
# {glue:text}`sasrec_batchtopk_group2_genre_entropy` bits, over
# {glue:text}`sasrec_matryoshka_group2_distinct_items` and
# {glue:text}`sasrec_batchtopk_group2_distinct_items` distinct items on average (few distinct items
# make an item feature, chapter 4).

# %%
view = sasrec_views["matryoshka"]
viz.feature_tree(
    view["tree"],
    view["labels"],
    view["fires"],
    "SASRec hidden states, Matryoshka SAE: the tree of features",
).show()

# %% [markdown]
# ## Summary
#
# - A Matryoshka SAE orders its features; a plain SAE can be given the same groups by firing
#   frequency, which makes "early groups are broad" a claim one can test on both.
# - On planted data the nested loss matches the parents with an F1 of
#   {glue:text}`synthetic_matryoshka_parent_f1` (BatchTopK:
#   {glue:text}`synthetic_batchtopk_parent_f1`) and hangs
#   {glue:text}`synthetic_matryoshka_agreement` of the children under them (BatchTopK:
#   {glue:text}`synthetic_batchtopk_agreement`).
# - On MovieLens, compare the early groups' breadth and popularity with those of a plain SAE's most
#   frequent features: where they match, the breadth comes with frequency and the nesting orders
#   it.
# - Next: knobs inside a collaborative autoencoder (ELSA).

# %% [markdown]
# ## Exercises
#
# Three exercises, easiest first. Each has a task, a solution cell and a check. In the rendered
# book the solution hides behind the "Show code cell source" toggle. In the notebook, replace the
# code of the solution cell with your own, run it, then run the check: it tries your function on
# small inputs it builds itself, compares it with the library's, and when they differ names the
# likely mistake. The cell after a check uses your function on this chapter's SAEs.

# %%
from recsae_lite import exercises

# the plain BatchTopK SAE on MF's item embeddings (section 3)
plain = mf_views["batchtopk"]
# (n_items, 256): dense, as your functions expect
plain_codes = plain["codes"].to_dense()

# %% [markdown]
# ### Exercise 7.1 (easy): groups by firing frequency
#
# Write `my_frequency_groups(codes, sizes)`: `codes` is `(N, d_sae)`, `sizes` the group sizes
# (summing to d_sae). Return `(d_sae,)` integers, the group of each feature, when the features
# that fire (are positive) on the most samples fill the first group, the next ones the second,
# and so on. Break ties by feature index (a stable sort).


# %% tags=["hide-input", "solution"]
def my_frequency_groups(codes, sizes):
    # most frequent first
    order = np.argsort(-(codes > 0).sum(0).numpy(), kind="stable")
    groups = np.empty(codes.shape[1], dtype=int)
    groups[order] = np.repeat(np.arange(len(sizes)), sizes)
    return groups


# %%
exercises.check_frequency_groups(my_frequency_groups)

# %%
same = np.array_equal(
    my_frequency_groups(plain_codes, MF_SIZES), plain["groups"]
)
print(f"my_frequency_groups gives the plain SAE's groups: {same}")

# %% [markdown]
# ### Exercise 7.2 (medium): the tree of features
#
# Write `my_tree(codes, groups)`: for each feature, its parent, the feature of an *earlier* group
# that fires together with it on the most samples; -1 for a feature with no such feature (the
# first group's, one that never fires, one that never fires with an earlier one). Count samples
# where both are positive, not products of activations; among ties take the lowest index.


# %% tags=["hide-input", "solution"]
def my_tree(codes, groups):
    fired = (codes > 0).float()
    # (d_sae, d_sae) samples where both fire
    together = (fired.T @ fired).numpy()
    parents = np.full(codes.shape[1], -1)
    for j in range(codes.shape[1]):
        earlier = np.flatnonzero(groups < groups[j])
        if len(earlier) and together[j, earlier].max() > 0:
            parents[j] = earlier[together[j, earlier].argmax()]
    return parents


# %%
exercises.check_tree(my_tree)

# %%
same = np.array_equal(my_tree(plain_codes, plain["groups"]), plain["tree"])
print(f"my_tree gives the plain SAE's tree: {same}")

# %% [markdown]
# ### Exercise 7.3 (harder): the Matryoshka loss
#
# Write `my_matryoshka_loss(sae, z, x_norm)`: the reconstruction loss of codes z `(B, d_sae)`
# for standardised inputs `x_norm` `(B, d_in)`, with the groups `sae.config.groups`. For each
# prefix (the first group, the first two, ..., all of them), reconstruct x_norm from the codes of
# that prefix alone, z[:, :end] @ W_dec[:end] + b_dec; its error is the squared error summed over
# the d_in dimensions and averaged over the samples. Return the sum over the prefixes.


# %% tags=["hide-input", "solution"]
def my_matryoshka_loss(sae, z, x_norm):
    loss, end = 0.0, 0
    for size in sae.config.groups:
        end += size  # the prefix holds the first `end` features
        x_hat = z[:, :end] @ sae.W_dec[:end] + sae.b_dec
        loss = loss + (x_hat - x_norm).pow(2).sum(-1).mean()
    return loss


# %%
exercises.check_matryoshka_loss(my_matryoshka_loss)

# %%
nested = mf_saes["matryoshka"]
with torch.no_grad():
    # the training loss: each sample keeps the batch's k x B strongest features
    nested.train()
    out = nested.losses(x_items)
    nested.eval()
    # the active features, as sparse triples
    picked_rows, picked_cols, picked = out["codes"]
    z_train = torch.zeros(
        len(x_items), nested.config.d_sae, device=x_items.device
    )
    z_train[picked_rows, picked_cols] = picked
    mine = float(
        my_matryoshka_loss(nested, z_train, nested.normalise(x_items))
    )
print(
    f"Matryoshka loss on MF's item embeddings: {mine:.4f} with "
    f"my_matryoshka_loss, {out['mse'].item():.4f} from SAE.losses"
)

# %% [markdown]
# ### Exercise 7.4 (predict, then check): does a better reconstruction mean a better tree?
#
# Section 2 fits each SAE variant on the synthetic items several times. Before running the next
# cell, write down your guess: does the variant with the lowest FVU also have the best agreement
# with the planted hierarchy? Then run it.

# %%
agreement = planted_mean["agreement"]
best_tree = agreement.index[agreement == agreement.max()]  # ties: all of them
_nb.record("lowest_fvu_variant", planted_mean["fvu"].idxmin(), "s")
_nb.record("best_tree_variant", " and ".join(best_tree), "s")
planted_mean[["fvu", "agreement"]].round(3)

# %% [markdown] tags=["teacher"]
# :::{admonition} For the teacher
# :class: dropdown
# Here {glue:text}`lowest_fvu_variant` reconstructs best and {glue:text}`best_tree_variant` agree(s)
# best with the planted tree. When they differ, the lesson is the one chapter 9 builds on: a
# reconstruction metric cannot tell which dictionary is right; only an answer key can. Ask what
# Matryoshka's nested loss asks of its first features that plain FVU does not.
# :::
