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
# # 9. The answer key: do SAEs find planted concepts?
#
# Chapters 4-8 judged SAE features against genres and tags, and the three papers do the same.
# But a genre is a noisy stand-in for what a model really uses: a feature that "fails" on
# genres may have found something real, and one that scores well may be a coincidence. On the
# synthetic data of chapter 1 we know the answer: every item carries known concepts, children
# of known parents, and users take items by those concepts. This chapter trains SASRec, MF and
# ELSA on such data, fits the four SAE variants of chapter 3 at the same sparsity, and scores
# them against the answer key, then asks how far the papers' own metrics can be trusted when
# they are computed, as in practice, on noisy tags.
#
# **Read alongside.** The three papers: paper A, Klenitskiy et al. 2025, [*Sparse Autoencoders for
# Sequential Recommendation Models: Interpretation and Flexible
# Control*](https://arxiv.org/abs/2507.12202); paper B, Arviv et al. 2025, [*Extracting
# Interaction-Aware Monosemantic Concepts in Recommender
# Systems*](https://arxiv.org/abs/2511.18024); paper C, Spišák et al. 2026, [*From Knots to Knobs:
# Towards Steerable Collaborative Filtering Using Sparse
# Autoencoders*](https://arxiv.org/abs/2601.11182). Background: Bricken et al. 2023, [*Towards
# Monosemanticity*](https://transformer-circuits.pub/2023/monosemantic-features).
#
# **Before this chapter:** chapter 1 (the synthetic data), chapter 3 (the four SAE variants) and the
# measures of chapters 4, 6 and 8.
#
# **What you will learn**
# - how to score a dictionary against planted concepts: a one-to-one matching of concepts to
#   features, and the precision and recall of each matched feature as a detector;
# - which SAE variant recovers the concepts best, on three kinds of model;
# - what genre association, purity@K and TF-IDF mappings say on true concepts and on noisy
#   tags, and when they rank the variants wrongly;
# - whether steering a matched feature raises the items that truly carry its concept.
#
# Time: about {glue:text}`book_times/chapter_seconds/quick/09_ground_truth/minutes` min on
# {glue:text}`book_times/machine/cpu_threads` CPU cores in the `quick` profile (it trains SASRec, MF
# and ELSA and 12 SAEs, ReLU's several times, then MF and four SAEs three more times for section 6);
# about {glue:text}`book_times/chapter_seconds/ci/09_ground_truth` seconds in the `ci` profile.
# Every number in the text comes from the run that made this page (the book's: the `quick` profile
# with `SEED = 0`); `benchmarks/recovery.py` repeats section 3 on several seeds.

# %% tags=["parameters"]
# ci: tiny and fast (tests); quick: the book's numbers; full: GPU scale
PROFILE = "quick"
SEED = 0
DEVICE = "auto"
# the generator's knobs (data.SyntheticConfig): change them, run the chapter
N_PARENTS = 4  # top-level concepts
# child concepts per parent: a range, both ends included
CHILDREN_PER_PARENT = [3, 5]
CONCEPTS_PER_ITEM = [1, 3]  # child concepts per item (overlap): a range
# chance that an item's further concepts are siblings of its first
PARENT_AFFINITY = 0.8
# popularity skew: the item of rank r is drawn with weight r^-a
POPULARITY_EXPONENT = 1.0
# the noisy tags of section 4: each true label dropped, or swapped for a
# wrong one, with these chances
LABEL_DROP = 0.2
LABEL_SWAP = 0.2

# %% [markdown]
# ## Setup (no need to read)

# %%
from dataclasses import replace

import ipywidgets as w
import numpy as np
import pandas as pd
import torch

from recsae_lite import (
    _nb,
    interpret,
    recovery,
    report,
    steer,
    viz,
    widgets,
    zoo,
)
from recsae_lite.data import load_dataset
from recsae_lite.interventions import feature_edit

device = _nb.setup(SEED, DEVICE, PROFILE)
# the hidden size of all three models
D = _nb.pick(PROFILE, ci=16, quick=64, full=64)
# each SAE's fit (`zoo.FITS`), and section 6's shorter one
FIT = zoo.fit_settings("items", PROFILE, SEED)
EXPLORE_FIT = replace(
    FIT, max_steps=_nb.pick(PROFILE, ci=60, quick=300, full=1_500)
)
# test users in section 5
STEERED_USERS = _nb.pick(PROFILE, ci=50, quick=200, full=1_000)
VARIANTS = ["relu", "topk", "batchtopk", "matryoshka"]
MODELS = ["sasrec", "mf", "elsa"]
# 128 features in nested groups (Matryoshka's; chapter 7), 4 active
SIZES, K = (8, 24, 96), 4
# a concept counts as recovered when its matched feature's F1 reaches this
THRESHOLD = 0.5
GENERATOR = {
    "n_parents": N_PARENTS,
    "n_children": tuple(CHILDREN_PER_PARENT),
    "concepts_per_item": tuple(CONCEPTS_PER_ITEM),
    "parent_affinity": PARENT_AFFINITY,
    "popularity_exponent": POPULARITY_EXPONENT,
}

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
    minutes = times["chapter_seconds"]["quick"]["09_ground_truth"] / 60
    _nb.record(
        "book_times/chapter_seconds/quick/09_ground_truth/minutes",
        minutes,
        ".0f",
    )
    seconds = times["chapter_seconds"]["ci"]["09_ground_truth"]
    _nb.record("book_times/chapter_seconds/ci/09_ground_truth", seconds, ".0f")
    _nb.record("recovery/seeds/count", len(results["recovery"]["seeds"]), "d")
    for name, summary in results["recovery"]["summary"].items():
        for key in ("winner", "runner-up"):
            _nb.record(f"recovery/summary/{name}/{key}", summary[key], "s")
        for key in ("recovered margin", "f1 margin"):
            _nb.record(f"recovery/summary/{name}/{key}", summary[key], ".1%")
    elsa = pd.DataFrame(
        results["recovery"]["summary"]["elsa"]["mean over seeds"]
    )
    _nb.record("recovery_elsa_best", elsa.loc["recovered"].max(), ".0%")
    _nb.record("recovery_elsa_fvu", elsa.loc["fvu"].min(), ".2f")

# %% [markdown]
# ## 1. The answer key
#
# The generator plants parent concepts with a few children each. Every item carries 1-3
# children, mostly siblings, and therefore their parents; every user prefers 2-3 children and
# moves between them, taking popular items that carry the current one. The item-concept matrix
# is the answer key: the concepts a model could learn, and nothing else.

# %%
data = load_dataset("synthetic", seed=SEED, **GENERATOR)
truth = data.truth
concepts = truth.item_concepts  # (n_items, C) bool
parents = truth.parent < 0
print(
    f"{data.n_users} users, {data.n_items} items, "
    f"{len(data.interactions):,} interactions; "
    f"{parents.sum()} parents and {(~parents).sum()} children"
)
_nb.record("n_concepts", len(truth.concept_names), "d")
_nb.record("sae_features", sum(SIZES), "d")
pd.DataFrame(
    {
        "concept": truth.concept_names,
        "parent": [
            truth.concept_names[p] if p >= 0 else "" for p in truth.parent
        ],
        "items": concepts.sum(0),
        "share of interactions": concepts[data.interactions["item"]]
        .mean(0)
        .round(3),
    }
).set_index("concept").T

# %% [markdown]
# Which concepts go together on items: siblings do, much more than chance (the blocks along the
# diagonal), which is what makes the parents real.

# %%
viz.genre_cooccurrence(data).show()

# %% [markdown]
# ## 2. Three models, four SAEs at the same sparsity
#
# SASRec, MF and ELSA, all with hidden size 64 (16 in the `ci` profile), learn from the
# interactions alone; none sees a concept. Each SAE reads what the book's chapters read, where
# every sample has known concepts:
#
# - **SASRec**: the hidden state at every position of the training histories; a position's
#   concepts are those of the item it has just read (as in chapters 4 and 7);
# - **MF** and **ELSA**: the item embeddings, one sample per item (as in chapters 6-8).
#
# Each SAE has {glue:text}`sae_features` features, in the Matryoshka's groups of 8, 24 and 96
# (chapter 7), and 4 active per sample: TopK exactly, BatchTopK and Matryoshka on average. ReLU has
# no k: its L1 weight decides its sparsity, so `recovery.fit` trains it again with the weight scaled
# by the L0 it got over 4 until its L0 is close enough to 4 (its `tol`, a share of k). Only then is
# a comparison of variants fair: a denser code reconstructs better and fires on more samples of
# every concept.

# %%
trained, samples = {}, {}
for name in MODELS:
    trained[name] = zoo.model(
        name, data, PROFILE, seed=SEED, device=device, hidden_size=D
    )
    # (x (N, d), the item of each sample)
    samples[name] = recovery.samples(trained[name])
    _nb.record(
        f"{name}_valid_ndcg@10", max(trained[name].history.valid_ndcg), ".3f"
    )

saes, rows = {}, []
for name, (x, items) in samples.items():
    for variant in VARIANTS:
        sae, l1 = recovery.fit(x, variant, SIZES, K, FIT)
        saes[(name, variant)] = sae
        rows.append(
            {
                "model": name,
                "variant": variant,
                "samples": len(x),
                **recovery.score(
                    sae,
                    x,
                    concepts[items],
                    truth.parent,
                    SIZES,
                    THRESHOLD,
                    SEED,
                ),
                "l1 weight": l1,
            }
        )
scores = pd.DataFrame(rows).set_index(["model", "variant"])
scores[["samples", "fvu", "l0", "l1 weight"]].round(3)

# %% [markdown]
# ## 3. Scoring against the answer key
#
# For each concept c and feature j, the **association** is the F1 of "j fires" as a detector
# of "the sample has c" (`interpret.concept_f1`, as in chapter 7). Several concepts may share
# their best feature, so a concept's best feature alone would flatter a dictionary that
# merges concepts. We match concepts to features **one-to-one**, maximising the total F1
# (the Hungarian method, `interpret.assignment`), and read each pair as a detector:
#
# - **precision**: the share of the feature's firings on samples that carry its concept;
# - **recall**: the share of the concept's samples on which the feature fires;
# - **recovered**: the share of concepts whose matched feature reaches an F1 of 0.5.
#
# Chance is the same score against the samples shuffled: features with the same firing rates
# that know nothing of the concepts (`interpret.chance_recovery`). The **agreement** is chapter
# 7's: the share of child concepts whose best feature hangs, in the tree of features, under
# their parent's.

# %%
for (name, variant), row in scores.iterrows():
    for measure in ("recovered", "f1", "chance f1", "agreement", "fvu", "l0"):
        _nb.record(
            f"{name}_{variant}_{measure.replace(' ', '_')}",
            row[measure],
            ".3f",
        )
n_concepts = len(truth.concept_names)
for name in MODELS:
    ranked = scores.loc[name].sort_values("f1", ascending=False)
    _nb.record(
        f"{name}_by_f1",
        "; ".join(
            f"{variant} (F1 {row['f1']:.3f}, "
            f"{round(row['recovered'] * n_concepts)} recovered, "
            f"FVU {row['fvu']:.3f}, tree agreement {row['agreement']:.2f})"
            for variant, row in ranked.iterrows()
        ),
        "s",
    )
    for measure in ("f1", "chance f1"):
        values = scores.loc[name, measure]
        span = f"{values.min():.2f}-{values.max():.2f}"
        _nb.record(f"{name}_{measure.replace(' ', '_')}_span", span, "s")
scores.drop(columns=["samples", "l1 weight"]).round(3)

# %%
title = (
    "Concepts recovered (matched feature's F1 >= 0.5), "
    "per model and SAE variant"
)
viz.grouped_bars(
    scores.reset_index(), "model", "variant", "recovered", title
).show()

# %% [markdown]
# **What the answer key says.** The matched F1 of the four SAEs spans {glue:text}`sasrec_f1_span` on
# SASRec, {glue:text}`mf_f1_span` on MF and {glue:text}`elsa_f1_span` on ELSA, against a chance
# level of {glue:text}`sasrec_chance_f1_span`, {glue:text}`mf_chance_f1_span` and
# {glue:text}`elsa_chance_f1_span`. By matched F1, best first, with the concepts recovered (of
# {glue:text}`n_concepts`), the FVU and the tree's agreement with the planted hierarchy (chapter 7):
#
# - MF's item embeddings: {glue:text}`mf_by_f1`;
# - SASRec's states: {glue:text}`sasrec_by_f1`;
# - ELSA's item embeddings: {glue:text}`elsa_by_f1`.
#
# Where the order by FVU differs from the order by F1, FVU does not tell which dictionary is right.
# ReLU's L0 came to {glue:text}`sasrec_relu_l0`, {glue:text}`mf_relu_l0` and
# {glue:text}`elsa_relu_l0` on the three models: "matched" sparsity means within `recovery.fit`'s
# tolerance, which a ReLU SAE may miss in its rounds, and a nearly silent one reconstructs little.
#
# `benchmarks/recovery.py` repeats this on {glue:text}`recovery/seeds/count` synthetic datasets (a
# different planted hierarchy each, `quick` profile). By concepts recovered, averaged over them,
# {glue:text}`recovery/summary/mf/winner` wins on MF by
# {glue:text}`recovery/summary/mf/recovered margin` of the concepts over
# {glue:text}`recovery/summary/mf/runner-up` (F1 margin {glue:text}`recovery/summary/mf/f1 margin`),
# {glue:text}`recovery/summary/sasrec/winner` on SASRec by
# {glue:text}`recovery/summary/sasrec/recovered margin` over
# {glue:text}`recovery/summary/sasrec/runner-up` (F1 margin
# {glue:text}`recovery/summary/sasrec/f1 margin`), and {glue:text}`recovery/summary/elsa/winner` on
# ELSA by {glue:text}`recovery/summary/elsa/recovered margin` over
# {glue:text}`recovery/summary/elsa/runner-up` (F1 margin
# {glue:text}`recovery/summary/elsa/f1 margin`).
#
# On ELSA the benchmark's SAEs recover at most {glue:text}`recovery_elsa_best` of the planted
# concepts, with an FVU of {glue:text}`recovery_elsa_fvu` at best. They read one embedding per item,
# a few hundred vectors for a dictionary of several times as many numbers: the held-out FVU starts
# rising early in training (the SAE learns its training items by heart, and the training error
# keeps falling), so the shared fit's held-out stop ends the fit early. Trained for a fixed number
# of steps instead, these SAEs fit their training items far better and matched more concepts, but
# on features that do not carry over to held-out items. Too few samples for the dictionary is a
# limit of the data here, not of a variant.
#
# ## 4. The papers' metrics, on true concepts and on noisy tags
#
# Real data has no answer key, only tags, and tags are noisy: a film lacks a genre it has, or
# carries one it has not. We make such tags from the truth: each true label is dropped with
# probability `LABEL_DROP` (0.2) or else swapped for a wrong concept with probability
# `LABEL_SWAP` (0.2) (`recovery.noisy_labels`). Then the papers' measures of a dictionary,
# each computed against the true concepts and against the noisy tags (`recovery.label_metrics`):
#
# - **association** (paper A, chapter 4): each feature's best precision above chance over
#   its top 50 samples, averaged over the features;
# - **purity@10** (paper B, chapter 6): for each concept, the best feature's share of its 10
#   top samples that carry it, averaged over the concepts;
# - **tf-idf hits** (paper C, chapter 8): the share of concepts whose "best characterizes"
#   feature is the one the answer key matched to them;
# - **recovered**: section 3's score, with the tags in place of the truth.
#
# A metric is useful for choosing an SAE if it ranks the variants as the answer key does. For
# each model and metric, the table gives the **order agreement** with the answer key's F1: the
# share of the 6 pairs of variants that the metric puts in the same order (1: the same order,
# 0: reversed, a tie counting half, so 0.5 when the metric cannot tell them apart;
# `recovery.order_agreement`), and which variant each one puts first.

# %%
METRICS = ["association", "purity@10", "tf-idf hits", "recovered"]


def metric_table(drop, swap):
    """The papers' metrics of every SAE against tags with `drop` and `swap`
    noise."""
    tags = recovery.noisy_labels(concepts, drop, swap, SEED)
    rows = []
    for (name, variant), sae in saes.items():
        x, items = samples[name]
        with torch.no_grad():
            codes = sae.encode(x).cpu()
        matched = interpret.match_concepts(codes, concepts[items])[
            "feature"
        ].to_numpy()
        rows.append(
            {
                "model": name,
                "variant": variant,
                **recovery.label_metrics(codes, tags[items], matched),
            }
        )
    return pd.DataFrame(rows).set_index(["model", "variant"])


labelled = {
    "true": metric_table(0.0, 0.0),
    "noisy": metric_table(LABEL_DROP, LABEL_SWAP),
}
pd.concat(labelled, axis=1).round(3)

# %%
rows = []
for name in MODELS:
    key = scores.loc[name, "f1"]
    for metric in METRICS:
        row = {
            "model": name,
            "metric": metric,
            "answer key's first": key.idxmax(),
        }
        for labels, table in labelled.items():
            values = table.loc[name, metric]
            row[f"first on {labels}"] = values.idxmax()
            agreement = recovery.order_agreement(
                values.to_numpy(), key.to_numpy()
            )
            row[f"agreement on {labels}"] = agreement
            _nb.record(
                f"{name}_{metric.replace(' ', '_')}_order_{labels}",
                agreement,
                ".2f",
            )
        rows.append(row)
    for labels in labelled:
        orders = [
            f"{row['metric']} {row[f'agreement on {labels}']:.2f}"
            for row in rows[-len(METRICS) :]
        ]
        _nb.record(f"{name}_orders_{labels}", ", ".join(orders), "s")
rankings = pd.DataFrame(rows).set_index(["model", "metric"])
for labels, table in labelled.items():
    purity = table.loc[["sasrec", "mf"], "purity@10"]
    _nb.record(
        f"purity_{labels}_span", f"{purity.min():.2f}-{purity.max():.2f}", "s"
    )
    hits = table["tf-idf hits"]
    _nb.record(
        f"tfidf_hits_{labels}_span", f"{hits.min():.0%}-{hits.max():.0%}", "s"
    )
    _nb.record(
        f"mf_matryoshka_recovered_{labels}",
        table.loc[("mf", "matryoshka"), "recovered"],
        ".0%",
    )
rankings.round(2)

# %% [markdown]
# **When the metrics mislead.** The order agreements of the table (1: the answer key's order, 0:
# reversed), on the true concepts: SASRec {glue:text}`sasrec_orders_true`; MF
# {glue:text}`mf_orders_true`; ELSA {glue:text}`elsa_orders_true`. On the noisy tags: SASRec
# {glue:text}`sasrec_orders_noisy`; MF {glue:text}`mf_orders_noisy`; ELSA
# {glue:text}`elsa_orders_noisy`.
#
# Paper A's association is a precision of the top samples, and a feature can be precise on a narrow
# corner of a concept while missing most of it. Purity@10 of the SASRec and MF SAEs spans
# {glue:text}`purity_true_span` on the true concepts and {glue:text}`purity_noisy_span` on noisy
# tags: some feature is pure on ten items for almost any dictionary, so a narrow span cannot
# separate the variants. TF-IDF mappings find the answer key's feature for
# {glue:text}`tfidf_hits_true_span` of the concepts ({glue:text}`tfidf_hits_noisy_span` with noisy
# tags). Scored against tags, the answer key's own measure changes too: MF's Matryoshka "recovers"
# {glue:text}`mf_matryoshka_recovered_noisy` of the concepts against noisy tags,
# {glue:text}`mf_matryoshka_recovered_true` against the truth.
#
# **More noise, live.** The slider sets both shares at once (drop = swap); the table shows
# every SAE's metrics against those tags. The figure after it has all the levels, for the MF
# SAEs, for the rendered book.

# %%
NOISE = [0.0, 0.1, 0.2, 0.3, 0.4]
by_noise = {share: metric_table(share, share) for share in NOISE}
widget, _ = widgets.value_slider(
    lambda s: by_noise[s].round(3).reset_index(), NOISE, "noise"
)
widget

# %%
lines = pd.concat(
    [t.loc["mf"].assign(noise=s) for s, t in by_noise.items()]
).reset_index()
title = "MF's SAEs: the papers' metrics against tags of growing noise"
viz.metric_lines(lines, "noise", METRICS, "variant", title).show()

# %% [markdown]
# ## 5. Steering, checked against the truth
#
# Chapter 5 steers by adding to a feature's activation; here we can check what it does. For
# each concept c we take its matched feature in each model's TopK SAE, add s times the
# feature's largest activation to the state the model scores (keeping the SAE's error term,
# chapter 5) for 200 test users (50 in `ci`), and measure the share of their top-10 lists
# that **truly** carries c. For MF and ELSA the SAE read item embeddings, and a user vector
# lives in the same space (MF scores u . q, ELSA u A^T), so a feature's direction, added to
# a user, raises the items along it. Beside it: the feature the noisy tags' TF-IDF mapping
# would pick.

# %%
STRENGTHS = [0.0, 1.0, 2.0, 4.0]
tags = recovery.noisy_labels(concepts, LABEL_DROP, LABEL_SWAP, SEED)
rows = []
for name in MODELS:
    sae, (x, items) = saes[(name, "topk")], samples[name]
    with torch.no_grad():
        codes = sae.encode(x).cpu()
    matched = interpret.match_concepts(codes, concepts[items])[
        "feature"
    ].to_numpy()
    activity = interpret.concept_activity(codes, tags[items])
    mapped = interpret.best_characterizes(
        activity, fires=(codes > 0).sum(0), min_items=5
    )
    chosen = {"matched": matched, "tf-idf on tags": mapped[:, 0]}
    split = trained[name].split
    users = np.arange(min(STEERED_USERS, len(split.users)))
    for c in range(len(truth.concept_names)):
        for method, features in chosen.items():
            j = int(features[c])
            edits = {
                s: feature_edit(sae, j, s * codes[:, j].max().item())
                for s in STRENGTHS
            }
            table = steer.sweep(
                trained[name].model, split, users, edits, data, concepts[:, c]
            )
            rows.append(table[["strength", "share", "ndcg"]].assign(
                model=name, method=method, concept=c))  # fmt: skip
steering = pd.concat(rows, ignore_index=True)
steered = steering.groupby(["model", "method", "strength"])[
    ["share", "ndcg"]
].mean()
for name in MODELS:
    for method in chosen:
        for s in (0.0, 2.0):
            value = steered.loc[(name, method, s), "share"]
            _nb.record(
                f"{name}_{method.split()[0].replace('-', '')}_share_s{s:g}",
                value,
                ".2f",
            )
            value = steered.loc[(name, method, s), "ndcg"]
            _nb.record(
                f"{name}_{method.split()[0].replace('-', '')}_ndcg_s{s:g}",
                value,
                ".2f",
            )
steered.unstack("strength").round(3)

# %%
curves = steered.reset_index().assign(
    line=lambda t: t["model"] + ", " + t["method"]
)
title = (
    "Steering a concept's feature: share of the top 10 truly carrying "
    "the concept"
)
viz.metric_lines(curves, "strength", ["share", "ndcg"], "line", title).show()

# %% [markdown]
# **Steering, checked.** At s = 2, the share of the top 10 truly carrying the concept goes from
# {glue:text}`sasrec_matched_share_s0` to {glue:text}`sasrec_matched_share_s2` on SASRec, from
# {glue:text}`mf_matched_share_s0` to {glue:text}`mf_matched_share_s2` on MF and from
# {glue:text}`elsa_matched_share_s0` to {glue:text}`elsa_matched_share_s2` on ELSA with the matched
# feature, while NDCG@10 goes from {glue:text}`sasrec_matched_ndcg_s0` to
# {glue:text}`sasrec_matched_ndcg_s2`, from {glue:text}`mf_matched_ndcg_s0` to
# {glue:text}`mf_matched_ndcg_s2` and from {glue:text}`elsa_matched_ndcg_s0` to
# {glue:text}`elsa_matched_ndcg_s2`. The feature that TF-IDF on noisy tags picks reaches a share of
# {glue:text}`sasrec_tfidf_share_s2`, {glue:text}`mf_tfidf_share_s2` and
# {glue:text}`elsa_tfidf_share_s2`, at an NDCG@10 of {glue:text}`sasrec_tfidf_ndcg_s2`,
# {glue:text}`mf_tfidf_ndcg_s2` and {glue:text}`elsa_tfidf_ndcg_s2`.
#
# ## 6. Turn the generator's knobs
#
# The parameters cell sets the generator's knobs for the whole chapter. To see their effect
# quickly, the panel below generates data with the knobs of the sliders, trains MF on it and
# the four SAEs on its item embeddings (with fewer steps: 300 in the `quick` profile), and
# shows each one's recovery (a few seconds per run, with a kernel). The figure after it has a
# fixed grid: the overlap of concepts on items, from one concept per item to up to five.


# %%
def recover_on(**knobs):
    """MF on synthetic data generated with `knobs` (over the parameters
    cell's), the four SAEs on its item embeddings, and each one's recovery."""
    generated = load_dataset("synthetic", seed=SEED, **{**GENERATOR, **knobs})
    mf = zoo.model(
        "mf",
        generated,
        PROFILE,
        seed=SEED,
        device=device,
        progress=False,
        hidden_size=D,
    )
    x, truth_of_items = (
        mf.model.item_embeddings().detach(),
        generated.truth.item_concepts,
    )
    rows = []
    for variant in VARIANTS:
        sae, _ = recovery.fit(x, variant, SIZES, K, EXPLORE_FIT)
        with torch.no_grad():
            codes = sae.encode(x).cpu()
        rows.append(
            {
                "variant": variant,
                "valid ndcg@10": max(mf.history.valid_ndcg),
                **interpret.recovery(codes, truth_of_items, THRESHOLD),
            }
        )
    return pd.DataFrame(rows)


def explorer():
    """Sliders for the generator's knobs, a button, and the recovery table
    of `recover_on`."""
    sliders = {
        "n_parents": w.IntSlider(
            N_PARENTS, min=2, max=6, description="parents"
        ),
        "concepts_per_item": w.IntSlider(
            CONCEPTS_PER_ITEM[1], min=1, max=5, description="overlap"
        ),
        "parent_affinity": w.FloatSlider(
            PARENT_AFFINITY, min=0, max=1, step=0.1, description="affinity"
        ),
        "popularity_exponent": w.FloatSlider(
            POPULARITY_EXPONENT,
            min=0,
            max=2,
            step=0.25,
            description="popularity",
        ),
    }
    button, shown = w.Button(description="generate and fit"), w.HTML()

    def run(_=None):
        knobs = {name: s.value for name, s in sliders.items()}
        knobs["concepts_per_item"] = (1, knobs["concepts_per_item"])
        shown.value = recover_on(**knobs).round(3).to_html(index=False)

    button.on_click(run)
    return w.VBox([*sliders.values(), button, shown])


explorer()

# %%
OVERLAPS = [1, 3, 5]
grid = pd.concat(
    [recover_on(concepts_per_item=(1, n)).assign(overlap=n) for n in OVERLAPS]
)
for _, row in grid.iterrows():
    _nb.record(
        f"overlap{row['overlap']}_{row['variant']}_recovered",
        row["recovered"],
        ".3f",
    )
for overlap, rows in grid.groupby("overlap"):
    recovered = ", ".join(
        f"{r['variant']} {r['recovered']:.0%}" for _, r in rows.iterrows()
    )
    _nb.record(f"overlap{overlap}_recovered", recovered, "s")
title = (
    "MF's SAEs on data with more concepts per item "
    "(overlap: at most this many children)"
)
viz.metric_lines(grid, "overlap", ["recovered", "f1"], "variant", title).show()

# %% [markdown]
# The share of concepts MF's four SAEs recover with these shorter runs: with one concept per item,
# {glue:text}`overlap1_recovered`; with up to three (the default), {glue:text}`overlap3_recovered`;
# with up to five, {glue:text}`overlap5_recovered`. When concepts overlap on most items, a sparse
# code can cover their common combinations instead of the concepts themselves.
#
# ## Summary
#
# - With an answer key, an SAE's features can be scored directly: match concepts to features
#   one-to-one and read each match as a detector (precision, recall, F1), against a chance level.
# - By concepts recovered over the benchmark's seeds, the winner is
#   {glue:text}`recovery/summary/mf/winner` on MF, {glue:text}`recovery/summary/sasrec/winner` on
#   SASRec and {glue:text}`recovery/summary/elsa/winner` on ELSA; this run's order by F1 is in
#   section 3.
# - The papers' metrics can mislead: the order agreements of section 4 show how often each ranks
#   the variants as the answer key does, on true concepts and on noisy tags.
# - Steering the matched feature moves the share of the top 10 truly carrying its concept from
#   {glue:text}`sasrec_matched_share_s0` to {glue:text}`sasrec_matched_share_s2` on SASRec and from
#   {glue:text}`mf_matched_share_s0` to {glue:text}`mf_matched_share_s2` on MF; the feature noisy
#   tags point to reaches {glue:text}`sasrec_tfidf_share_s2` and {glue:text}`mf_tfidf_share_s2`.

# %% [markdown]
# ## Exercises
#
# Three exercises, easiest first. Each has a task, a solution cell and a check. In the rendered
# book the solution hides behind the "Show code cell source" toggle. In the notebook, replace the
# code of the solution cell with your own, run it, then run the check: it tries your function on
# small inputs it builds itself, compares it with the library's, and when they differ names the
# likely mistake. The cell after a check uses your function on this chapter's MF and its
# Matryoshka SAE.

# %%
from recsae_lite import exercises

mf_sae, (mf_x, mf_items) = saes[("mf", "matryoshka")], samples["mf"]
with torch.no_grad():
    mf_codes = mf_sae.encode(mf_x).cpu()  # (n_items, 128) one sample per item
# (n_items, C) the concepts each sample truly carries
mf_truth = concepts[mf_items]
mf_pairs = interpret.match_concepts(mf_codes, mf_truth)  # section 3's matching

# %% [markdown]
# ### Exercise 9.1 (easy): a feature as a detector
#
# Write `my_precision_recall(acts, has)`: `acts` is `(N,)`, one feature's activations on the
# samples (it fires where its activation is > 0), and `has` `(N,)` bool, the samples that carry
# one concept. Return `(precision, recall)`: the share of the feature's firings that fall on
# samples with the concept, and the share of the concept's samples on which the feature fires. A
# feature that never fires has a precision of 0.


# %% tags=["hide-input", "solution"]
def my_precision_recall(acts, has):
    fires = np.asarray(acts) > 0  # (N,) bool
    # firings on samples with the concept
    hits = (fires & np.asarray(has, dtype=bool)).sum()
    return hits / max(fires.sum(), 1), hits / max(np.sum(has), 1)


# %%
exercises.check_precision_recall(my_precision_recall)

# %%
mine = np.array([my_precision_recall(mf_codes[:, j], mf_truth[:, c])
                 for c, j in enumerate(mf_pairs["feature"])])  # fmt: skip
same = np.allclose(mine, mf_pairs[["precision", "recall"]].to_numpy())
print(
    "my_precision_recall gives section 3's precision and recall of all "
    f"{len(mine)} matched features of MF's Matryoshka SAE: {same}"
)

# %% [markdown]
# ### Exercise 9.2 (medium): noisy tags
#
# Write `my_noisy_labels(concepts, drop, swap, seed)`: section 4's tags, made from the true
# concepts `(n_items, C)` bool. Each true label is dropped with probability `drop`, or else
# swapped with probability `swap`, never both (draw one number per label). A swapped label moves
# to a concept the item neither has nor was already given by another swap (when there is none,
# it is only dropped). Draw from `np.random.default_rng(seed)`, and leave `concepts` as it was.
#
# Your random draws need not be those of `recovery.noisy_labels`, so the check does not compare
# tags one by one. It tests properties, on a large matrix of its own: the shares of labels
# dropped and swapped are close to `drop` and `swap`, no label is both dropped and
# swapped, every swap lands on a concept the item did not have, and the same seed gives the
# same tags.


# %% tags=["hide-input", "solution"]
def my_noisy_labels(concepts, drop, swap, seed):
    rng = np.random.default_rng(seed)
    # a copy: the truth stays as it was
    labels = np.array(concepts, dtype=bool)
    items, columns = np.nonzero(labels)  # the true labels
    u = rng.random(len(items))  # one draw per label: dropped, swapped, or kept
    gone = u < drop + swap
    labels[items[gone], columns[gone]] = False
    for item in items[
        gone & (u >= drop)
    ]:  # each swapped label moves to a wrong concept
        wrong = np.flatnonzero(
            ~np.asarray(concepts[item], dtype=bool) & ~labels[item]
        )
        if len(wrong):
            labels[item, rng.choice(wrong)] = True
    return labels


# %%
exercises.check_noisy_labels(my_noisy_labels)

# %%
mine = my_noisy_labels(concepts, LABEL_DROP, LABEL_SWAP, SEED)
for name, labels in {
    "my_noisy_labels": mine,
    "recovery.noisy_labels": tags,
}.items():
    gone = (concepts & ~labels).sum() / concepts.sum()  # dropped or swapped
    wrong = (labels & ~concepts).sum() / concepts.sum()  # swapped
    print(
        f"{name}: {gone:.3f} of the true labels gone (drop + swap = "
        f"{LABEL_DROP + LABEL_SWAP:.2f}), {wrong:.3f} put on a wrong "
        f"concept (swap = {LABEL_SWAP:.2f})"
    )

# %% [markdown]
# ### Exercise 9.3 (harder): the one-to-one matching
#
# Write `my_match(f1)`: for the association matrix `f1` `(C, d_sae)` of section 3 (the F1 of
# each feature as a detector of each concept, `interpret.concept_f1`), with C <= d_sae, return
# `(C,)`, each concept's feature in the one-to-one matching (no feature for two concepts) of
# largest total F1. Each concept's best feature (the argmax) can be the best of two concepts,
# and giving each concept in turn its best free feature can lose total F1 (the check has such a
# matrix). Trying every assignment is fine for the check's matrices (3 and 4 concepts, at most 6
# features); `interpret.assignment` (the Hungarian method) does it in polynomial time.


# %% tags=["hide-input", "solution"]
from itertools import permutations


def my_match(f1):
    f1 = np.asarray(f1)
    rows = np.arange(len(f1))
    # every one-to-one assignment
    assignments = permutations(range(f1.shape[1]), len(f1))
    return np.array(
        max(assignments, key=lambda features: f1[rows, list(features)].sum())
    )


# %%
exercises.check_matching(my_match)

# %%
f1 = interpret.concept_f1(mf_codes, mf_truth).numpy()  # (C, 128)
# the parents and the first group's features
block = f1[np.flatnonzero(parents), : SIZES[0]]
mine, hungarian = my_match(block), interpret.assignment(-block)
rows = np.arange(len(block))
print(
    f"the {len(block)} parents' features among the first group's "
    f"{SIZES[0]}: {mine} (total F1 {block[rows, mine].sum():.3f}) "
    f"with my_match, {hungarian} "
    f"({block[rows, hungarian].sum():.3f}) with interpret.assignment"
)
best = f1.argmax(1)
print(
    "each concept's best feature, over all 128: "
    f"{(np.bincount(best)[best] > 1).sum()} of {len(best)} concepts "
    "share theirs with another concept"
)

# %% [markdown]
# ### Exercise 9.4 (predict, then check): does a lower FVU find more concepts?
#
# Section 3 scored four SAE variants per model against the answer key. Before running the next
# cell, write down your guess: within each model, does the variant with the lowest FVU recover
# the most planted concepts? Then run it.

# %%
picks = pd.DataFrame(
    {
        "lowest FVU": scores["fvu"].groupby(level=0).idxmin().str[1],
        "most recovered": scores["recovered"].groupby(level=0).idxmax().str[1],
    }
)
picks["the same"] = picks["lowest FVU"] == picks["most recovered"]
_nb.record("fvu_picks_the_recoverer", int(picks["the same"].sum()), "d")
_nb.record("models_scored", len(picks), "d")
picks

# %% [markdown] tags=["teacher"]
# :::{admonition} For the teacher
# :class: dropdown
# The variant with the lowest FVU is also the one that recovers most concepts for
# {glue:text}`fvu_picks_the_recoverer` of the {glue:text}`models_scored` models. The room has just
# measured what the chapter argues: reconstruction and interpretability are different targets, and
# ties in "recovered" (several variants finding the same number) make the second column fragile;
# ask how they would break a tie.
# :::
