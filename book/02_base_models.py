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
# # 2. Base recommenders: what the SAEs will read
#
# A sparse autoencoder explains a model's hidden representation, so first we need models. This
# chapter trains the six base recommenders of the book on one split, evaluates them the same way,
# and shows, for each, the representation an SAE will read in later chapters.
#
# | model | paper | hidden representation (what an SAE reads) |
# |---|---|---|
# | popularity | baseline | none: it scores every user alike |
# | MF | logistic two-tower matrix factorization (paper B) | the user embedding |
# | NCF | neural collaborative filtering (paper B) | the user embedding |
# | NeuMF | GMF and NCF's MLP side by side (He et al. 2017) | the user embedding (both towers) |
# | ELSA | shallow linear autoencoder (paper C) | u = x A, the encoded interaction row |
# | SASRec | transformer over the user's sequence (paper A) | the state at the last position |
#
# **Read alongside.** Its paper: Klenitskiy and Vasilev 2023, [*Turning Dross Into Gold Loss: is
# BERT4Rec really better than SASRec?*](https://arxiv.org/abs/2309.07602) (SASRec+, paper A's
# recipe), and Kang and McAuley 2018, [*Self-Attentive Sequential
# Recommendation*](https://arxiv.org/abs/1808.09781). Background: He et al. 2017, [*Neural
# Collaborative Filtering*](https://arxiv.org/abs/1708.05031); Vančura et al. 2022, [*Scalable
# Linear Shallow Autoencoder for Collaborative Filtering*](https://doi.org/10.1145/3523227.3551482)
# (ELSA); paper B, Arviv et al. 2025, [*Extracting Interaction-Aware Monosemantic Concepts in
# Recommender Systems*](https://arxiv.org/abs/2511.18024) (MF and NCF as two towers).
#
# **Before this chapter:** chapter 1 (the data and the leave-one-out split); PyTorch basics.
#
# **What you will learn**
# - the one interface every model implements: `hidden(batch)` and `scores_from_hidden(h, batch)`;
# - the evaluation protocol: leave-one-out by time, full ranking, seen items masked;
# - how the six models compare, and how each one's hidden space looks.
#
# Time: about {glue:text}`book_times/chapter_seconds/quick/02_base_models/minutes` min on
# {glue:text}`book_times/machine/cpu_threads` CPU cores in the `quick` profile from an empty zoo,
# nearly all of it training the six models (`benchmarks/base_models.py` measured SASRec
# {glue:text}`base_models/models/sasrec/train_seconds/minutes`, NCF
# {glue:text}`base_models/models/ncf/train_seconds/minutes`, MF
# {glue:text}`base_models/models/mf/train_seconds/minutes`, ELSA
# {glue:text}`base_models/models/elsa/train_seconds/minutes` minutes; NeuMF, not measured there,
# took about as long as NCF here), once: the models are cached and later chapters load them in
# seconds. Under a minute in the `ci` profile.

# %% tags=["parameters"]
# ci: tiny and fast (tests); quick: the book's numbers; full: GPU scale, ML-1M
PROFILE = "quick"
SEED = 0
DEVICE = "auto"

# %% [markdown]
# ## Setup (no need to read)

# %%
import time

import numpy as np
import pandas as pd
import torch

from recsae_lite import _nb, report, viz, zoo
from recsae_lite.data import load_dataset
from recsae_lite.models import make_batch
from recsae_lite.train import evaluate

device = _nb.setup(SEED, DEVICE, PROFILE)
DATASET = _nb.pick(PROFILE, ci="ml-100k", quick="ml-100k", full="ml-1m")
dataset = load_dataset(DATASET)

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
    minutes = times["chapter_seconds"]["quick"]["02_base_models"] / 60
    _nb.record(
        "book_times/chapter_seconds/quick/02_base_models/minutes",
        minutes,
        ".0f",
    )
    for name in ["sasrec", "ncf", "mf", "elsa"]:
        minutes = results["base_models"]["models"][name]["train_seconds"] / 60
        _nb.record(
            f"base_models/models/{name}/train_seconds/minutes", minutes, ".2g"
        )
    peers = {
        figure["id"]: figure["values"]
        for figure in results["peers"]["figures"]
    }
    _nb.record("peers/recbole.pop/ndcg@10", peers["recbole.pop"]["ndcg@10"])

# %% [markdown]
# ## 1. One interface: history -> hidden -> scores
#
# Every model takes a `Batch` (user codes, and each user's history as a left-padded tensor of item
# codes) and factors its forward pass in two:
#
# - `hidden(batch)` -> `(B, d_model)`: the representation an SAE reads;
# - `scores_from_hidden(h, batch)` -> `(B, n_items)`: the rest of the model, frozen.
#
# So `scores_from_hidden(hidden(batch), batch)` *is* the model. Later chapters put an SAE (or an
# edit of its features) between the two halves, and everything else stays the same.

# %%
trained = {}
for name in zoo.MODELS:
    start = time.perf_counter()
    trained[name] = zoo.model(name, dataset, PROFILE, seed=SEED, device=device)
    how = "loaded" if trained[name].loaded else "trained"
    print(f"{name:>7}: {how} in {time.perf_counter() - start:.1f} s elapsed")

# %%
split = trained["sasrec"].split
batch = make_batch(
    split.users[:4], split.history("test")[:4], dataset.n_items
).to(device)
with torch.no_grad():
    for name in ["mf", "ncf", "neumf", "elsa", "sasrec"]:
        model = trained[name].model
        h = model.hidden(batch)
        same = torch.allclose(
            model.scores_from_hidden(h, batch), model.scores(batch), atol=1e-5
        )
        print(
            f"{name:>7}: hidden {tuple(h.shape)}, "
            f"scores_from_hidden(hidden) == scores: {same}"
        )

# %% [markdown]
# ## 2. How good are they?
#
# The protocol is the one of chapter 1: per user, the last item by time is the test target and
# every other item is ranked, with the user's history masked out. We report
#
# - NDCG@10, HR@10, MRR@10: where the one held-out item lands in the ranking;
# - coverage@10: the share of the catalogue that appears in anyone's top 10;
# - diversity@10: the mean genre dissimilarity (1 - Jaccard) of pairs in a top-10 list;
# - popularity@10: the mean number of interactions of the recommended items.
#
# The last column gives what RecBole 1.2.1 reports for the same protocol on ML-100K (NDCG@10): its
# BPR against our MF, EASE against ELSA, and its NeuMF against ours (the book's NCF is paper B's MLP
# tower alone, which RecBole has no counterpart of). Our popularity baseline scores
# {glue:text}`pop_test_ndcg@10` against RecBole's {glue:text}`peers/recbole.pop/ndcg@10`: RecBole's
# `Pop` counts an item at most once per training batch (an indexed `+= 1` with repeated indices), so
# with its batches (`train_batch_size: 2048`) the counts of all popular items saturate at the number
# of batches and the order among them is left to ties. Counting every interaction, as here, gives
# the real popularity ranking.

# %%
# RecBole's NDCG@10 (benchmarks/results/peers.json)
REFERENCE = {
    "pop": 0.0354,
    "mf": 0.0673,
    "neumf": 0.0649,
    "elsa": 0.0709,
    "sasrec": 0.1054,
}
NAMES = {
    "pop": "popularity",
    "mf": "MF",
    "ncf": "NCF",
    "neumf": "NeuMF",
    "elsa": "ELSA",
    "sasrec": "SASRec",
}
rows = {
    NAMES[name]: evaluate(t.model, t.split, "test", ks=(10,), dataset=dataset)
    for name, t in trained.items()
}
table = pd.DataFrame(rows).T
table["epochs"] = [t.history.best_epoch for t in trained.values()]
table["RecBole ndcg@10"] = [REFERENCE.get(name, np.nan) for name in trained]
table.round(4)

# %%
for name in trained:
    _nb.record(f"{name}_test_ndcg@10", rows[NAMES[name]]["ndcg@10"])
    _nb.record(f"{name}_test_hr@10", rows[NAMES[name]]["hr@10"])
_nb.record(
    "models_by_ndcg",
    ", ".join(table.sort_values("ndcg@10", ascending=False).index),
    "s",
)

# %%
viz.model_comparison(
    table, ["ndcg@10", "hr@10", "mrr@10", "coverage@10", "diversity@10"]
).show()

# %% [markdown]
# ## 3. Training
#
# One loop trains every model (`recsae_lite.train.train`): AdamW, validation NDCG@10 after each
# epoch, early stopping when it has not improved for `patience` epochs, and the best weights
# restored (the stars).

# %%
viz.training_curves(
    {NAMES[n]: t.history for n, t in trained.items() if n != "pop"}
).show()

# %% [markdown]
# ## 4. What the SAEs will read
#
# MF and NCF read a user embedding; ELSA reads u = x A, a sum of unit-norm item embeddings; SASRec
# reads the transformer's state at the last position, which is scored against its item embeddings.
# Each model places items in a space of its own: here are the item embeddings of each, on their
# first two principal components, coloured by each film's rarest genre (bubble size: popularity).
# Structure by genre is visible but mixed, which is what SAEs try to untangle.

# %%
for name in ["mf", "elsa", "sasrec"]:
    emb = trained[name].model.item_embeddings().detach().cpu().numpy()
    viz.embedding_map(
        emb, dataset, f"{NAMES[name]}: item embeddings ({emb.shape[1]} dims)"
    ).show()

# %% [markdown]
# ## Summary
#
# - Six base models behind one interface; `zoo.model(...)` trains each once and caches it.
# - On one protocol, test NDCG@10 puts them in the order {glue:text}`models_by_ndcg`; SASRec is the
#   one that reads the order of a user's history, and popularity, which ignores the user, is the
#   baseline the others should beat.
# - Each model's hidden representation is a dense vector with no labelled dimensions: chapter 3
#   trains sparse autoencoders on them.

# %% [markdown]
# ## Exercises
#
# Three exercises, easiest first. Each has a task, a solution cell and a check. In the rendered
# book the solution hides behind the "Show code cell source" toggle. In the notebook, replace the
# code of the solution cell with your own, run it, then run the check: it tries your function on
# small inputs it builds itself, compares it with the library's, and when they differ names the
# likely mistake. The cell after a check uses your function on this chapter's models.

# %%
from recsae_lite import exercises
from recsae_lite.metrics import mask_seen

# %% [markdown]
# ### Exercise 2.1 (easy): the popularity baseline
#
# Write `my_popularity(split, n_items)`, returning an array `(n_items,)`: how many times each item
# occurs in the training histories `split.train` (a list of arrays of item codes, one per user).
# This is the whole popularity model: it recommends the most frequent items the user has not seen.


# %% tags=["hide-input", "solution"]
def my_popularity(split, n_items):
    return np.bincount(np.concatenate(split.train), minlength=n_items)


# %%
exercises.check_popularity(my_popularity)

# %%
counts = trained["pop"].model.counts.cpu().numpy()
print(
    "same counts as the chapter's popularity model:",
    np.array_equal(my_popularity(split, dataset.n_items), counts),
)

# %% [markdown]
# ### Exercise 2.2 (medium): NDCG@K with the seen items masked
#
# Write `my_ndcg(scores, history, targets, k)`: the mean NDCG@K over users, when each user has one
# held-out target. `scores` is `(B, n_items)`, `history` `(B, L)` item codes left-padded with the
# value `n_items`, `targets` `(B,)`. Follow the protocol of section 2: first give every item of a
# user's history the score -inf (padding is not an item); the target's 0-based rank is the number
# of *other* items scored at least as high as it (ties count against it); a target with rank r
# below K gains 1 / log2(r + 2), any other 0. With a single relevant item the ideal DCG is 1.


# %% tags=["hide-input", "solution"]
def my_ndcg(scores, history, targets, k):
    n_items = scores.shape[1]
    scores = scores.clone()  # never change the caller's scores
    for row, items in enumerate(history):
        # the seen items, not the padding
        scores[row, items[items != n_items]] = float("-inf")
    target_scores = scores[torch.arange(len(targets)), targets]
    # - 1: the target itself
    ranks = (scores >= target_scores[:, None]).sum(1) - 1
    gains = torch.where(ranks < k, 1 / torch.log2(ranks + 2.0), 0.0)
    return gains.mean().item()


# %%
exercises.check_ndcg(my_ndcg)

# %%
test_batch = make_batch(split.users, split.history("test"), dataset.n_items)
pop_scores = trained["pop"].model.scores(test_batch.to(device)).cpu()
mine = my_ndcg(pop_scores, test_batch.history, torch.as_tensor(split.test), 10)
print(f"popularity NDCG@10: {mine:.4f} with my_ndcg, "
      f"{rows['popularity']['ndcg@10']:.4f} in the table")  # fmt: skip

# %% [markdown]
# ### Exercise 2.3 (harder): genre diversity of a top list
#
# Write `my_diversity(top, genres)`: `top` is `(B, k)` item codes (each user's top-k list),
# `genres` an `(n_items, n_genres)` bool tensor. For each list, average 1 - Jaccard(genres of i,
# genres of j) over its k (k - 1) / 2 pairs i < j; return the mean over lists. Two items without
# any genre have an empty union: count their similarity as 0. Try to avoid Python loops over
# pairs (`torch.triu_indices` gives every pair i < j).


# %% tags=["hide-input", "solution"]
def my_diversity(top, genres):
    # the pairs i < j
    i, j = torch.triu_indices(top.shape[1], top.shape[1], offset=1)
    g = genres[top].float()  # (B, k, n_genres)
    inter = (g[:, i] * g[:, j]).sum(-1)  # (B, pairs)
    union = ((g[:, i] + g[:, j]) > 0).sum(-1)
    return (1 - inter / union.clamp(min=1)).mean().item()


# %%
exercises.check_diversity(my_diversity)

# %%
masked = mask_seen(pop_scores, test_batch.history, pad=dataset.n_items)
mine = my_diversity(
    masked.topk(10, dim=1).indices, torch.as_tensor(dataset.genres)
)
print(f"popularity diversity@10: {mine:.4f} with my_diversity, "
      f"{rows['popularity']['diversity@10']:.4f} in the table")  # fmt: skip

# %% [markdown]
# ### Exercise 2.4 (predict, then check): who gains from a sequence model?
#
# SASRec reads the order of a user's films; popularity ignores the user. Before running the next
# cell, write down your guess: is SASRec's lead over popularity (NDCG@10) larger for the users with
# the shortest histories or for those with the longest? Then run it. Change `LENGTH_GROUPS` to cut
# the users more finely.

# %%
# users cut into this many groups of equal size by history length
LENGTH_GROUPS = 2
lengths = np.array([len(h) for h in split.history("test")])
group = pd.qcut(lengths, LENGTH_GROUPS, labels=False, duplicates="drop")
per_user = {
    name: evaluate(trained[name].model, split, "test", ks=(10,), per_user=True)
    for name in ("sasrec", "pop")
}
by_length = pd.DataFrame(
    {
        "median history": pd.Series(lengths).groupby(group).median(),
        "SASRec": per_user["sasrec"]["ndcg@10"].groupby(group).mean(),
        "popularity": per_user["pop"]["ndcg@10"].groupby(group).mean(),
    }
)
by_length["lead"] = by_length["SASRec"] - by_length["popularity"]
_nb.record("lead_shortest", by_length["lead"].iloc[0], ".3f")
_nb.record("lead_longest", by_length["lead"].iloc[-1], ".3f")
by_length.round(4)

# %% [markdown] tags=["teacher"]
# :::{admonition} For the teacher
# :class: dropdown
# With two groups, SASRec leads popularity by {glue:text}`lead_shortest` NDCG@10 on the shorter
# histories and by {glue:text}`lead_longest` on the longer ones. Whichever way it comes out, ask
# why: a short history gives a sequence model little to read, but long-time users have also seen the
# popular films, which popularity then cannot recommend (they are masked). A good follow-up: with
# more groups, is the trend monotonic, and how many users are in each group (the noise)?
# :::
