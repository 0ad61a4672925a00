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
# # 6. Two-tower models: concepts that keep the predictions
#
# Paper B (Arviv et al.) puts one sparse autoencoder on both towers of a two-tower recommender:
# the same dictionary encodes user embeddings and item embeddings, so a feature means the same
# thing on both sides. It adds a *prediction-aware* term to the loss: the frozen model must score
# a user-item pair the same with reconstructed embeddings as with the originals. This chapter
# does that for matrix factorization (MF) and neural collaborative filtering (NCF), measures how
# faithful the reconstructed recommendations are, how pure the genre features are, and intervenes
# on features (paper B's "neurons").
#
# **Read alongside.** Its paper: paper B, Arviv et al. 2025, [*Extracting Interaction-Aware
# Monosemantic Concepts in Recommender Systems*](https://arxiv.org/abs/2511.18024). Background: He
# et al. 2017, [*Neural Collaborative Filtering*](https://arxiv.org/abs/1708.05031); Bussmann et al.
# 2025, [*Learning Multi-Level Features with Matryoshka Sparse
# Autoencoders*](https://arxiv.org/abs/2503.17547).
#
# **Before this chapter:** chapters 2 and 3 (MF and NCF, and training an SAE).
#
# **What you will learn**
# - one shared SAE for users and items, and the prediction-aware loss;
# - fidelity of the lists (rank-biased overlap, Kendall tau) and what the prediction term buys;
# - semantic purity@K of genre features, against the raw embedding dimensions;
# - the popularity feature, and interventions: filter a genre out, nudge towards one.
#
# Time: about {glue:text}`book_times/chapter_seconds/quick/06_two_tower_concepts/minutes` min on
# {glue:text}`book_times/machine/cpu_threads` CPU cores in the `quick` profile (20 small SAEs), once
# chapter 2 has trained MF and NCF; {glue:text}`book_times/chapter_seconds/ci/06_two_tower_concepts`
# seconds in the `ci` profile.

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

from recsae_lite import _nb, interpret, report, two_tower, viz, widgets, zoo
from recsae_lite.interventions import Spliced, feature_edit
from recsae_lite.metrics import sae_metrics
from recsae_lite.sae import SAE, SAEConfig, fit
from recsae_lite.steer import output_effect
from recsae_lite.train import recommend

device = _nb.setup(SEED, DEVICE, PROFILE)
DATASET = _nb.pick(PROFILE, ci="ml-100k", quick="ml-100k", full="ml-1m")
W_PRED = _nb.pick(PROFILE, ci=[0.0, 5.0], quick=[0.0, 1.0, 10.0],
                  full=[0.0, 1.0, 2.0, 5.0, 10.0])  # fmt: skip
K, D_SAE = 16, 256  # the main SAE: 16 active features of 256
GENRES = [
    "Comedy",
    "Horror",
    "Drama",
    "Action",
    "Children's",
    "Romance",
    "Sci-Fi",
    "Documentary",
]
GOALS = {"rbo": 0.85, "kendall tau": 0.7}  # the book's goal for faithful lists

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
    minutes = times["chapter_seconds"]["quick"]["06_two_tower_concepts"] / 60
    _nb.record(
        "book_times/chapter_seconds/quick/06_two_tower_concepts/minutes",
        minutes,
        ".0f",
    )
    seconds = times["chapter_seconds"]["ci"]["06_two_tower_concepts"]
    _nb.record(
        "book_times/chapter_seconds/ci/06_two_tower_concepts", seconds, ".0f"
    )
    peers = {
        figure["id"]: figure["values"]
        for figure in results["peers"]["figures"]
    }
    for figure in ("paper_b_code.ncf_fidelity", "paper_b_code.mf_fidelity"):
        for key in ("rbo", "kendall_tau"):
            _nb.record(f"peers/{figure}/{key}", peers[figure][key], ".2f")
    for genre in [*GENRES, "mean"]:
        value = peers["paper_b_code.mf_purity10"][genre]
        _nb.record(f"peers/paper_b_code.mf_purity10/{genre}", value, ".2f")
    _nb.record(
        "peers/paper_b_code.ncf_purity10/mean",
        peers["paper_b_code.ncf_purity10"]["mean"],
        ".2f",
    )
    bench = results["two_tower"]
    _nb.record("two_tower/seeds/count", len(bench["seeds"]), "d")
    fidelity = pd.DataFrame(bench["fidelity"])
    for name in ("mf", "ncf"):
        rbo = fidelity.loc[fidelity["model"] == name, "rbo"]
        for stat in ("min", "max"):
            _nb.record(
                f"two_tower/fidelity/model={name}/rbo/{stat}",
                rbo.agg(stat),
                ".2f",
            )
    means = (
        pd.DataFrame(bench["purity"])
        .groupby(["model", "coordinates"])["purity@10"]
        .mean()
    )
    for (name, kind), value in means.items():
        _nb.record(
            f"two_tower/purity/model={name}/coordinates={kind}/purity@10/mean",
            value,
            ".2f",
        )

# %% [markdown]
# ## 1. The towers and their embeddings
#
# Both models score a pair as f(u, i): MF as b + b_u + b_i + u . i, NCF through an MLP on the
# concatenation [u, i]. The SAE reads rows of one table: the user embeddings of the training
# users (a fifth of the users is held out, for fidelity) and every item embedding.

# %%
trained = {name: zoo.model(name, DATASET, PROFILE, seed=SEED, device=device)
           for name in ("mf", "ncf")}  # fmt: skip
split, dataset = trained["mf"].split, trained["mf"].dataset
order = np.random.default_rng(SEED).permutation(len(split.users))
held_out = np.sort(order[: len(order) // 5])
train_rows = np.sort(order[len(order) // 5 :])
print(
    f"{len(train_rows)} training users, {len(held_out)} held-out users, "
    f"{dataset.n_items} items"
)

# %% [markdown]
# ## 2. The prediction-aware loss
#
# The SAE is the book's TopK SAE (16 of 256 features active; paper B uses ReLU with L1 and a KL
# term, which `SAEConfig` also offers). Its loss is the reconstruction error plus
#
# ```text
# w_pred * mean over sampled pairs (u, i) of (f(u, i) - f(u_hat, i_hat))^2
# ```
#
# with f frozen and both embeddings reconstructed (`two_tower.prediction_term`, which the book's
# one SAE fit, `sae.fit`, adds to the SAE's own loss with weight w_pred). We express that term
# as a share of the variance of f, times d_in, the scale of the SAE's own reconstruction term, so
# that w_pred = 1 weighs the two alike whatever the model's score scale.
#
# Here is the term written out for MF, where f(u, i) = b + b_u + b_i + u . i: draw pairs of a
# training user and an item, score them with the original embeddings (the frozen target) and with
# both embeddings passed through the SAE, and compare. The library's version gives the same
# number for the same draws (an untrained SAE will do for the check).


# %%
def my_prediction_term(model, sae, users, items, codes, n_pairs=1024, seed=0):
    """Paper B's prediction-aware term for MF: users (N, d) are the embeddings
    of the users with model codes `codes`, items (n_items, d) every item's."""
    on = users.device
    draw = torch.Generator(device=on).manual_seed(seed)
    u = torch.randint(0, len(users), (n_pairs,), device=on, generator=draw)
    i = torch.randint(0, len(items), (n_pairs,), device=on, generator=draw)
    user_bias = model.user_bias.weight[:, 0]
    item_bias = model.item_bias.weight[:, 0]
    biases = model.bias + user_bias[codes[u]] + item_bias[i]

    def f(user_vectors, item_vectors):  # the frozen score of the pairs
        return biases + (user_vectors * item_vectors).sum(-1)

    with torch.no_grad():
        target = f(users[u], items[i])
    error = (f(sae(users[u]), sae(items[i])) - target).pow(2).mean()
    return error / target.var() * sae.config.d_in


mf_model = trained["mf"].model
check_x, check_term = two_tower.sae_inputs(mf_model, split, train_rows, SEED)
n_train = len(train_rows)
check_sae = SAE(SAEConfig(check_x.shape[1], D_SAE, "topk", K)).to(device)
codes = torch.as_tensor(split.users[train_rows], device=check_x.device)
mine = my_prediction_term(
    mf_model, check_sae, check_x[:n_train], check_x[n_train:], codes, seed=SEED
)
library = check_term(check_sae)  # its first draw of pairs: the same as ours
_nb.record("prediction_term_gap", abs(mine - library).item(), ".1e")
print(f"by hand {mine.item():.6f}, library {library.item():.6f}")


# %%
def train(
    name: str, w_pred: float, d_sae=D_SAE, k=K, variant="topk", groups=()
):
    model = trained[name].model
    x, term = two_tower.sae_inputs(model, split, train_rows, SEED)
    config = SAEConfig(
        x.shape[1], d_sae, variant, k, groups, pred_coefficient=w_pred
    )
    settings = zoo.fit_settings("two_tower", PROFILE, SEED)
    return fit(x, config, settings, prediction=term, progress=False)


def overwrite(model, sae, rows, features, values, k: int = 30):
    """Paper B's intervention: the top-k lists of the split's rows with the
    users' features set to values (z_n <- v), keeping the SAE's error term;
    items keep their embeddings."""
    return recommend(
        Spliced(model, feature_edit(sae, features, values, "set")),
        split,
        rows,
        k,
    )


saes = {(name, w): train(name, w) for name in ("mf", "ncf") for w in W_PRED}

# %% [markdown]
# ## 3. Fidelity: are the lists the same?
#
# For each held-out user we rank every item twice, with the original embeddings and with the
# reconstructed ones (the user's and every item's), and compare the top 30: **rank-biased
# overlap** (RBO, `p=0.9`: 1 for the same list, 0 for disjoint lists, the top ranks weigh most)
# and **Kendall's tau** of the original top 30 under both scorings.

# %%
rows = []
for (name, w), sae in saes.items():
    model = trained[name].model
    users, items = two_tower.embeddings(model)
    x = torch.cat([users[split.users[train_rows]], items])
    fid = two_tower.fidelity(model, sae, split, held_out)
    genre_purity = interpret.purity_table(
        sae.encode(items).detach().cpu(), dataset, GENRES
    )
    rows.append(
        {
            "model": name,
            "w_pred": w,
            "rbo": fid["rbo"],
            "kendall tau": fid["kendall_tau"],
            "fvu": sae_metrics(sae, x)["fvu"],
            "purity@10": genre_purity["purity@10"].mean(),
        }
    )
ablation = pd.DataFrame(rows)
ablation.round(3)

# %%
title = "Fidelity and purity against w_pred (16 of 256 features active)"
viz.metric_lines(
    ablation, "w_pred", ["rbo", "kendall tau", "purity@10"], "model", title
).show()

# %%
for r in ablation.to_dict("records"):
    _nb.record(f"{r['model']}_w{r['w_pred']:g}_rbo", r["rbo"], ".2f")
    _nb.record(f"{r['model']}_w{r['w_pred']:g}_tau", r["kendall tau"], ".2f")
    _nb.record(f"{r['model']}_w{r['w_pred']:g}_fvu", r["fvu"], ".1%")
for name, runs in ablation.groupby("model"):
    for stat in ("min", "max"):
        for measure, short in (
            ("rbo", "rbo"),
            ("kendall tau", "tau"),
            ("fvu", "fvu"),
        ):
            _nb.record(
                f"{name}_{short}_{stat}", runs[measure].agg(stat), ".2f"
            )
        _nb.record(
            f"{name}_pred_rbo_{stat}",
            runs.loc[runs["w_pred"] > 0, "rbo"].agg(stat),
            ".2f",
        )
met = [
    name.upper()
    for name, runs in ablation.groupby("model")
    if (
        (runs["rbo"] >= GOALS["rbo"])
        & (runs["kendall tau"] >= GOALS["kendall tau"])
    ).any()
]
_nb.record("fidelity_goal_met_by", " and ".join(met) or "neither model", "s")

# %% [markdown]
# **A note on comparing with paper B's code.** In our run of paper B's code on ML-100K, its NCF-SAE
# reaches RBO {glue:text}`peers/paper_b_code.ncf_fidelity/rbo` and tau
# {glue:text}`peers/paper_b_code.ncf_fidelity/kendall_tau` at its strongest prediction weight. Its
# MF-SAE scores higher inside its own min-max-scaled embedding space, but against the real MF lists
# it gets RBO {glue:text}`peers/paper_b_code.mf_fidelity/rbo` and tau
# {glue:text}`peers/paper_b_code.mf_fidelity/kendall_tau`. Here the SAE stores its input scaling and
# `decode` undoes it, so training and evaluation see the same units and the lists compared are the
# model's own.
#
# What we measure (the table above, over the prediction weights w_pred): NCF's lists keep RBO
# {glue:text}`ncf_rbo_min`-{glue:text}`ncf_rbo_max` and tau
# {glue:text}`ncf_tau_min`-{glue:text}`ncf_tau_max` at 16 active features of 256, at an FVU of
# {glue:text}`ncf_fvu_min`-{glue:text}`ncf_fvu_max`; MF's RBO
# {glue:text}`mf_rbo_min`-{glue:text}`mf_rbo_max` and tau
# {glue:text}`mf_tau_min`-{glue:text}`mf_tau_max`, at an FVU of
# {glue:text}`mf_fvu_min`-{glue:text}`mf_fvu_max`. Over {glue:text}`two_tower/seeds/count` seeds and
# the same weights (`benchmarks/two_tower.py`, `quick` profile) NCF's RBO spans
# {glue:text}`two_tower/fidelity/model=ncf/rbo/min` to
# {glue:text}`two_tower/fidelity/model=ncf/rbo/max` and MF's
# {glue:text}`two_tower/fidelity/model=mf/rbo/min` to
# {glue:text}`two_tower/fidelity/model=mf/rbo/max`. MF ranks by b_i + u . i, and many films score
# close together, so small errors in its embedding can reorder its top 30. The prediction term
# weighs reconstruction against fidelity: MF's RBO is {glue:text}`mf_w0_rbo` without it and
# {glue:text}`mf_pred_rbo_min`-{glue:text}`mf_pred_rbo_max` with it, NCF's {glue:text}`ncf_w0_rbo`
# and {glue:text}`ncf_pred_rbo_min`-{glue:text}`ncf_pred_rbo_max`. The book's goal of RBO 0.85 / tau
# 0.7 (at some w_pred) is met by {glue:text}`fidelity_goal_met_by` (without the prediction term,
# NCF's RBO is {glue:text}`ncf_w0_rbo` and tau {glue:text}`ncf_w0_tau`).
#
# **Fidelity against sparsity.** How many active features does each model need for faithful
# lists? The same SAE (256 features, w_pred = 0) with k active:

# %%
K_SWEEP = _nb.pick(
    PROFILE, ci=[4, K], quick=[8, K, 32, 64], full=[8, K, 32, 64]
)
sweep = []
for name in ("mf", "ncf"):
    for k in K_SWEEP:
        sae = saes[(name, 0.0)] if k == K else train(name, 0.0, k=k)
        fid = two_tower.fidelity(trained[name].model, sae, split, held_out)
        sweep.append({"model": name, "active features": k, "rbo": fid["rbo"],
                      "kendall tau": fid["kendall_tau"]})  # fmt: skip
        _nb.record(f"{name}_k{k}_rbo", fid["rbo"], ".3f")
sweep = pd.DataFrame(sweep)
goals = {measure: (goal, "the book's goal") for measure, goal in GOALS.items()}
viz.metric_lines(
    sweep,
    "active features",
    ["rbo", "kendall tau"],
    "model",
    "Fidelity against the number of active features (of 256)",
    log_x=True,
    levels=goals,
).show()
# how far apart the scores of a user's top 30 are: what errors must beat
for name in ("mf", "ncf"):
    model = trained[name].model
    top30, scores = recommend(model, split, held_out, 30, scores=True)
    ends = np.take_along_axis(scores, top30[:, [0, -1]], axis=1)
    _nb.record(
        f"{name}_top30_logit_span", (ends[:, 0] - ends[:, 1]).mean(), ".2f"
    )
for name, runs in sweep.groupby("model"):
    _nb.record(
        f"{name}_sweep_rbo",
        ", ".join(f"{rbo:.2f}" for rbo in runs["rbo"]),
        "s",
    )
    reached = runs.loc[runs["rbo"] >= GOALS["rbo"], "active features"]
    fewest = (
        f"{reached.min()}" if len(reached) else f"more than {max(K_SWEEP)}"
    )
    _nb.record(f"{name}_k_for_goal_rbo", fewest, "s")
_nb.record("sweep_ks", ", ".join(map(str, K_SWEEP)), "s")
_nb.record(
    "mf_dimensions", two_tower.embeddings(trained["mf"].model)[1].shape[1], "d"
)

# %% [markdown]
# At {glue:text}`sweep_ks` active features, MF's RBO is {glue:text}`mf_sweep_rbo` and NCF's
# {glue:text}`ncf_sweep_rbo`: RBO 0.85 takes {glue:text}`mf_k_for_goal_rbo` active features of 256
# for MF (whose embedding has {glue:text}`mf_dimensions` dimensions) and
# {glue:text}`ncf_k_for_goal_rbo` for NCF. The scores of a user's top 30 films span
# {glue:text}`mf_top30_logit_span` logits for MF and {glue:text}`ncf_top30_logit_span` for NCF (the
# gaps errors must beat), and at 16 active features MF's embeddings keep {glue:text}`mf_w0_fvu` of
# their variance unexplained, NCF's {glue:text}`ncf_w0_fvu`.
#
# ## 4. Purity: is there a feature per genre?
#
# Semantic purity@K of a feature for a genre is the share of its K most activated items that have
# the genre. For each genre, its best feature (by purity@10, then @50, @100), for the SAE's item
# codes and for the raw embedding dimensions (centred, both signs). Paper B's dictionary
# had 22 features; we train one of 22 (8 active) too, to compare at its size.

# %%
small = {
    name: train(name, W_PRED[-1], d_sae=22, k=8) for name in ("mf", "ncf")
}
tables = []
for name in ("mf", "ncf"):
    items = two_tower.embeddings(trained[name].model)[1]
    raw = interpret.signed(items - items.mean(0)).cpu()
    for kind, acts in (
        ("SAE 256", saes[(name, W_PRED[-1])].encode(items).detach().cpu()),
        ("SAE 22", small[name].encode(items).detach().cpu()),
        ("raw dims", raw),
    ):
        table = interpret.purity_table(acts, dataset, GENRES)
        tables.append(table.assign(model=name, coordinates=kind))
purity = pd.concat(tables)
purity.pivot_table(
    index="genre", columns=["model", "coordinates"], values="purity@10"
).round(2)

# %%
summary = purity.groupby(["model", "coordinates"]).agg(
    mean_purity_10=("purity@10", "mean"),
    mean_purity_50=("purity@50", "mean"),
    mean_purity_100=("purity@100", "mean"),
    distinct_best=("feature", "nunique"),
)
for (name, kind), row in summary.iterrows():
    key = kind.replace(" ", "_")
    _nb.record(f"{name}_{key}_purity10", row["mean_purity_10"], ".2f")
best_of = purity.set_index(["model", "coordinates"])
pure = best_of.loc[("mf", "SAE 256")].query("`purity@10` == 1")["genre"]
_nb.record("mf_SAE_256_pure_genres", ", ".join(pure) or "no genre", "s")
documentary = purity.loc[purity["genre"] == "Documentary", "purity@10"].max()
_nb.record("documentary_best_purity10", documentary, ".2f")
purer = [
    name.upper()
    for name in ("mf", "ncf")
    if summary.loc[(name, "SAE 22"), "mean_purity_10"]
    > summary.loc[(name, "raw dims"), "mean_purity_10"]
]
_nb.record(
    "sae22_purer_than_raw_for", " and ".join(purer) or "neither model", "s"
)
summary.round(3)

# %% [markdown]
# Our run of paper B's code on ML-100K (MF, 22 features, mean of 3 seeds) gives purity@10 of
# {glue:text}`peers/paper_b_code.mf_purity10/Comedy` for Comedy,
# {glue:text}`peers/paper_b_code.mf_purity10/Horror` for Horror,
# {glue:text}`peers/paper_b_code.mf_purity10/Drama` for Drama,
# {glue:text}`peers/paper_b_code.mf_purity10/Action` for Action,
# {glue:text}`peers/paper_b_code.mf_purity10/Children's` for Children's,
# {glue:text}`peers/paper_b_code.mf_purity10/Romance` for Romance,
# {glue:text}`peers/paper_b_code.mf_purity10/Sci-Fi` for Sci-Fi and
# {glue:text}`peers/paper_b_code.mf_purity10/Documentary` for Documentary, a mean of
# {glue:text}`peers/paper_b_code.mf_purity10/mean` (NCF:
# {glue:text}`peers/paper_b_code.ncf_purity10/mean`). "distinct_best" counts how many different
# features are some genre's best: a feature that is best for several genres is not one genre's
# feature.
#
# Here, for MF, 22 features (8 active) give a mean purity@10 of {glue:text}`mf_SAE_22_purity10`
# (paper B's code: {glue:text}`peers/paper_b_code.mf_purity10/mean`; `benchmarks/two_tower.py`,
# {glue:text}`two_tower/seeds/count` seeds in the `quick` profile:
# {glue:text}`two_tower/purity/model=mf/coordinates=SAE 22/purity@10/mean`), and 256 features
# {glue:text}`mf_SAE_256_purity10`, with purity@10 1 for {glue:text}`mf_SAE_256_pure_genres`; the
# raw dimensions reach {glue:text}`mf_raw_dims_purity10`. For NCF, 22 features give
# {glue:text}`ncf_SAE_22_purity10` (paper B's code:
# {glue:text}`peers/paper_b_code.ncf_purity10/mean`; over the seeds:
# {glue:text}`two_tower/purity/model=ncf/coordinates=SAE 22/purity@10/mean`), 256 features
# {glue:text}`ncf_SAE_256_purity10` and the raw dimensions {glue:text}`ncf_raw_dims_purity10`. At
# paper B's size the SAE's best features are purer than the embedding's own axes for
# {glue:text}`sae22_purer_than_raw_for`. Documentary's best purity@10, whatever the coordinates, is
# {glue:text}`documentary_best_purity10`.
#
# ## 5. Matryoshka: nested prefixes
#
# Paper B's Matryoshka variant orders the dictionary in nested prefixes, each trained to
# reconstruct the embeddings on its own (chapter 3), with the prediction term as before. Here
# the 256 features come in groups of 32, 64 and 160, so the prefixes hold the first 32, 96 and 256
# features. Per prefix: the fidelity of lists rebuilt from it alone, and the mean purity@10 of
# the best feature per genre among its features.

# %%
GROUPS = (32, 64, 160)
rows = []
for name in ("mf", "ncf"):
    model = trained[name].model
    sae = train(name, 1.0, variant="matryoshka", groups=GROUPS)
    item_codes = sae.encode(two_tower.embeddings(model)[1]).detach().cpu()
    for prefix in np.cumsum(GROUPS):
        fid = two_tower.fidelity(
            model, sae, split, held_out, prefix=int(prefix)
        )
        table = interpret.purity_table(item_codes[:, :prefix], dataset, GENRES)
        purity10 = table["purity@10"].mean()
        rows.append(
            {
                "model": name,
                "prefix": int(prefix),
                "rbo": fid["rbo"],
                "kendall tau": fid["kendall_tau"],
                "purity@10": purity10,
            }
        )
        _nb.record(f"{name}_matryoshka_prefix{prefix}_rbo", fid["rbo"], ".2f")
        _nb.record(
            f"{name}_matryoshka_prefix{prefix}_purity10", purity10, ".2f"
        )
nested = pd.DataFrame(rows)
nested.round(3)

# %% [markdown]
# The first 32 features alone rebuild NCF's lists with RBO {glue:text}`ncf_matryoshka_prefix32_rbo`
# ({glue:text}`ncf_matryoshka_prefix96_rbo` with 96, {glue:text}`ncf_matryoshka_prefix256_rbo` with
# all 256; the plain TopK SAE of section 3, with all of its features: {glue:text}`ncf_w0_rbo`); MF's
# get {glue:text}`mf_matryoshka_prefix32_rbo`, {glue:text}`mf_matryoshka_prefix96_rbo` and
# {glue:text}`mf_matryoshka_prefix256_rbo` (plain SAE: {glue:text}`mf_w0_rbo`). The mean purity@10
# of the best feature per genre is {glue:text}`ncf_matryoshka_prefix32_purity10`,
# {glue:text}`ncf_matryoshka_prefix96_purity10` and {glue:text}`ncf_matryoshka_prefix256_purity10`
# with the three prefixes for NCF, and {glue:text}`mf_matryoshka_prefix32_purity10`,
# {glue:text}`mf_matryoshka_prefix96_purity10` and {glue:text}`mf_matryoshka_prefix256_purity10` for
# MF: where the first 32 come close to all 256, most genre features are among the first 32.
#
# ## 6. The popularity feature
#
# A feature that fires for whatever is popular: the one whose item activations correlate most with
# the items' (log) number of interactions.

# %%
name = "mf"
sae = saes[(name, W_PRED[-1])]
items = two_tower.embeddings(trained[name].model)[1]
codes = sae.encode(items).detach().cpu().numpy()
log_pop = np.log1p(dataset.popularity)
corr = np.array(
    [np.corrcoef(c, log_pop)[0, 1] if c.std() > 0 else 0.0 for c in codes.T]
)
feature = int(np.nanargmax(corr))
top = np.argsort(-codes[:, feature])[:10]
print(
    f"feature {feature}: correlation with log popularity {corr[feature]:.2f}"
)
titles = np.asarray(dataset.item_titles)
pd.DataFrame({"title": titles[top], "interactions": dataset.popularity[top]})

# %% [markdown]
# ## 7. Interventions: overwrite a feature
#
# Paper B edits a user's code: z_n <- v for one feature n, decodes (we keep the SAE's error term,
# so v equal to the current value changes nothing), and re-ranks. A negative v on a genre's
# feature should filter the genre out of the top 30; a positive one should bring it in.

# %%
genre = "Horror" if "Horror" in dataset.genre_names else GENRES[0]
g = dataset.genre_names.index(genre)
best = purity.set_index(["model", "coordinates", "genre"])
genre_feature = int(best.loc[(name, "SAE 256", genre), "feature"])
peak = float(codes[:, genre_feature].max())
model = trained[name].model
before = recommend(model, split, held_out, 30)
shares = [
    {
        "value (x peak)": "none",
        f"{genre} share@30": dataset.genres[before, g].mean(),
    }
]
for value in [-2.0, -1.0, 0.0, 1.0, 2.0]:
    lists = overwrite(model, sae, held_out, genre_feature, value * peak)
    shares.append(
        {
            "value (x peak)": value,
            f"{genre} share@30": dataset.genres[lists, g].mean(),
        }
    )
shares = pd.DataFrame(shares)
_nb.record("genre_share_before", shares.iloc[0, 1], ".1%")
_nb.record("genre_share_filtered", shares.iloc[1, 1], ".1%")
_nb.record("genre_share_nudged", shares.iloc[-1, 1], ".0%")
_nb.record("intervened_genre", genre, "s")
shares.round(3)

# %% [markdown]
# The same kind of edit on one user, with a slider for v (live with a kernel; the figure after it
# has the lists precomputed for the rendered book). Purity picks a feature by what it fires on; to
# bring a genre to a user, what counts is what the feature does (chapter 5): the films its decoder
# direction raises most (`steer.output_effect`). For the figure we take the genre and feature
# where that is purest, the feature whose direction raises its genre's films most purely among the
# 10 films it raises most (of the genres some held-out user's top 10 lacks), and the first
# held-out user whose top 10 holds none of that genre.

# %%
directions = (sae.W_dec * sae.input_scale).detach()  # what z_n = 1 adds to u
effect = output_effect(model, directions, dataset.genres)  # (F, G), top 10
_nb.record("purity_feature_effect_share", effect[genre_feature, g], ".0%")
top10s = before[:, :10]  # the held-out users' unsteered top 10
# genres some held-out user's top 10 holds none of
absent = ~dataset.genres[top10s].any(1).all(0)
by_effect, g_show = np.unravel_index(
    np.argmax(np.where(absent, effect, -1.0)), effect.shape
)
show_genre = dataset.genre_names[g_show]
_nb.record("show_genre", show_genre, "s")
_nb.record("effect_feature_share", effect[by_effect, g_show], ".0%")
print(
    f"{show_genre}: {effect[by_effect, g_show]:.0%} of the 10 films that "
    f"feature {by_effect} raises most\n{genre}: "
    f"{effect[genre_feature, g]:.0%} for its purity pick ({genre_feature})"
)
user_row = held_out[np.flatnonzero(~dataset.genres[top10s, g_show].any(1))[0]]
by_effect_peak = float(codes[:, by_effect].max())


def top10(value):
    top = overwrite(
        model, sae, [user_row], by_effect, value * by_effect_peak, k=10
    )
    return widgets.recommendation_table(dataset, top[0], mark=g_show)


widget, frames = widgets.value_slider(
    top10, [-1.0, 0.0, 1.0, 2.0, 4.0, 8.0], "v x peak"
)
widget

# %%
title = (
    f"User {split.users[user_row]}: the {show_genre} feature by effect "
    f"({by_effect}) set to v x its peak"
)
viz.steering_frames(frames, title).show()
# the figure's own data: the genre's share of the shown list per value
shown_share = {
    v: t["genres"].str.split(", ").apply(lambda gs: show_genre in gs).mean()
    for v, t in frames.items()
}
_nb.record("showcase_share_start", shown_share[0.0], ".1f")
_nb.record("showcase_share_top", shown_share[max(shown_share)], ".1f")

# %% [markdown]
# The {glue:text}`intervened_genre` feature picked by purity raises
# {glue:text}`purity_feature_effect_share` of its genre among the 10 films it raises most; the
# purest effect is {glue:text}`show_genre`'s, {glue:text}`effect_feature_share`. For the shown
# user, at v = 0 the list holds {glue:text}`showcase_share_start` of {glue:text}`show_genre`; at
# v = 8 (a very high value) the genre is {glue:text}`showcase_share_top` of it.

# %% [markdown]
# **Promoting one item.** One feature is a concept shared by many films, so setting a film's
# strongest feature promotes the concept, not the film. To promote the film itself we set all of
# its active features, each to v times its activation on the film, for every held-out user.

# %%
# a median film
niche = int(np.argsort(dataset.popularity)[len(dataset.popularity) // 2])
active, strongest = np.flatnonzero(codes[niche]), int(codes[niche].argmax())
promoted = []
for v in [1.0, 2.0, 4.0]:
    every = overwrite(model, sae, held_out, active, v * codes[niche, active])
    one = overwrite(
        model, sae, held_out, strongest, v * codes[niche, strongest]
    )
    promoted.append(
        {
            "v": v,
            "all its features set": (every == niche).any(1).mean(),
            "its strongest feature only": (one == niche).any(1).mean(),
        }
    )
print(
    f"{titles[niche]}: {dataset.popularity[niche]} interactions, "
    f"{len(active)} active features;"
)
print(
    f"in {(before == niche).any(1).mean():.1%} of the held-out users' "
    "top 30 before"
)
_nb.record(
    "promoted_share_all_features_v2",
    promoted[1]["all its features set"],
    ".0%",
)
_nb.record(
    "promoted_share_strongest_v2",
    promoted[1]["its strongest feature only"],
    ".0%",
)
pd.DataFrame(promoted).round(3)

# %% [markdown]
# ## Summary
#
# - One SAE reads both towers; its features mean the same for a user and an item, which makes
#   editing a user's code in item terms possible.
# - With the input scaling kept and undone, the lists from reconstructed embeddings reach RBO
#   {glue:text}`ncf_w0_rbo` for NCF and {glue:text}`mf_w0_rbo` for MF without the prediction-aware
#   term, {glue:text}`ncf_pred_rbo_min`-{glue:text}`ncf_pred_rbo_max` and
#   {glue:text}`mf_pred_rbo_min`-{glue:text}`mf_pred_rbo_max` with it. RBO 0.85 takes
#   {glue:text}`mf_k_for_goal_rbo` active features of 256 for MF, {glue:text}`ncf_k_for_goal_rbo`
#   for NCF.
# - A Matryoshka SAE's first 32 features alone rebuild NCF's lists with RBO
#   {glue:text}`ncf_matryoshka_prefix32_rbo` and MF's with {glue:text}`mf_matryoshka_prefix32_rbo`.
# - With 256 features, the best genre features reach a mean purity@10 of
#   {glue:text}`mf_SAE_256_purity10` (MF) and {glue:text}`ncf_SAE_256_purity10` (NCF), against
#   {glue:text}`mf_raw_dims_purity10` and {glue:text}`ncf_raw_dims_purity10` for the raw dimensions;
#   at paper B's 22 they are purer than the raw dimensions for
#   {glue:text}`sae22_purer_than_raw_for`. Overwriting a genre feature moves the genre's share of
#   the top 30 ({glue:text}`intervened_genre`: {glue:text}`genre_share_before`) to
#   {glue:text}`genre_share_filtered` or {glue:text}`genre_share_nudged`; to promote one film,
#   setting all of its features puts it in {glue:text}`promoted_share_all_features_v2` of the lists,
#   its strongest feature alone in {glue:text}`promoted_share_strongest_v2`.
# - Next: Matryoshka SAEs, and whether their early features are the broad concepts.

# %% [markdown]
# ## Exercises
#
# Three exercises, easiest first. Each has a task, a solution cell and a check. In the rendered
# book the solution hides behind the "Show code cell source" toggle. In the notebook, replace the
# code of the solution cell with your own, run it, then run the check: it tries your function on
# small inputs it builds itself, compares it with the library's, and when they differ names the
# likely mistake. The cell after a check uses your function on this chapter's MF model and its SAE.

# %%
from recsae_lite import exercises
from recsae_lite.metrics import rbo_extrapolated

# MF and its 256-feature SAE
mf_model, mf_sae = trained["mf"].model, saes[("mf", W_PRED[-1])]
users_emb, items_emb = two_tower.embeddings(mf_model)
# (n_items, 256) the items' codes
mf_codes = mf_sae.encode(items_emb).detach().cpu()

# %% [markdown]
# ### Exercise 6.1 (easy): semantic purity@K
#
# Write `my_purity(acts, concepts, k)`: `acts` is `(n_items, F)`, the activation of F features
# on every item, and `concepts` `(n_items, C)` bool. Return `(F, C)`: for each feature, the share
# of its k most activated items that carry each concept.


# %% tags=["hide-input", "solution"]
def my_purity(acts, concepts, k):
    # (F, k) each feature's top items
    top = torch.as_tensor(acts).topk(k, dim=0).indices.T.numpy()
    return np.asarray(concepts)[top].mean(1)  # (F, C)


# %%
exercises.check_purity(my_purity)

# %%
genre_columns = dataset.genres[
    :, [dataset.genre_names.index(g) for g in GENRES]
]
best_per_genre = interpret.purity_table(mf_codes, dataset, GENRES)
mine = my_purity(mf_codes, genre_columns, 10).max(0)
print("each genre's best purity@10, with my_purity, is the table's:",
      np.allclose(mine, best_per_genre["purity@10"]))  # fmt: skip

# %% [markdown]
# ### Exercise 6.2 (medium): overwrite a feature, keep the error term
#
# Write `my_overwrite(sae, u, feature, value)`: the user embeddings u `(B, d)` with `feature` of
# each one's code set to `value` (z_n <- v), as in the section on interventions: add the change
# of the code, decoded, to u, and keep the rest of u (the SAE's error term). Setting z_n to its
# current value must change nothing.


# %% tags=["hide-input", "solution"]
def my_overwrite(sae, u, feature, value):
    # (B, 1) each user's current value
    z_n = sae.encode(u)[:, feature : feature + 1]
    return u + (value - z_n) * sae.W_dec[feature] * sae.input_scale


# %%
exercises.check_overwrite(my_overwrite)

# %%
# its purest feature
horror = best_per_genre.set_index("genre").loc["Horror", "feature"]
horror_peak = float(mf_codes[:, horror].max())
# your edit inside the model, on the held-out users' embeddings
with torch.no_grad():
    mine = recommend(
        Spliced(
            mf_model,
            lambda u: my_overwrite(mf_sae, u, horror, 2 * horror_peak),
        ),
        split,
        held_out,
        30,
    )
library = overwrite(mf_model, mf_sae, held_out, horror, 2 * horror_peak)
same = (mine == library).all(1).mean()
print(f"held-out users whose top 30 is the library overwrite's: {same:.3f}")

# %% [markdown]
# ### Exercise 6.3 (harder): rank-biased overlap
#
# Write `my_rbo(a, b, p)` for two top lists of the same length k (Webber et al. 2010, the
# extrapolated form): with A_d the number of items the two lists share among their first d,
#
# ```text
# RBO = A_k / k * p^k + (1 - p) / p * sum over d = 1..k of p^d * A_d / d
# ```
#
# Two identical lists give 1, two disjoint ones 0.


# %% tags=["hide-input", "solution"]
def my_rbo(a, b, p=0.9):
    k, total = len(a), 0.0
    for d in range(1, k + 1):
        shared = len(set(a[:d]) & set(b[:d]))  # A_d
        total += p**d * shared / d
    return shared / k * p**k + (1 - p) / p * total


# %%
exercises.check_rbo(my_rbo)

# %%
before = recommend(mf_model, split, held_out, 30)
pairs = list(zip(before.tolist(), library.tolist(), strict=True))
mine = np.mean([my_rbo(a, b) for a, b in pairs])
reference = np.mean([rbo_extrapolated(a, b) for a, b in pairs])
print(
    f"RBO of the lists before and after the overwrite: {mine:.4f} with "
    f"my_rbo, {reference:.4f} with metrics.rbo_extrapolated"
)

# %% [markdown]
# ### Exercise 6.4 (predict, then check): what does keeping the predictions cost?
#
# Section 3 raised w_pred, the weight of the prediction-aware term. Before running the next cell,
# write down your guess for each model: from the smallest w_pred to the largest, does the
# reconstruction error (FVU) go down, up, or stay? And the fidelity (RBO)? Then run it.

# %%
ends = ablation.sort_values("w_pred").groupby("model")
change = (
    ends[["fvu", "rbo"]].last() - ends[["fvu", "rbo"]].first()
).add_suffix(" change")
for name, row in change.iterrows():
    _nb.record(f"{name}_fvu_change_w", row["fvu change"], "+.3f")
    _nb.record(f"{name}_rbo_change_w", row["rbo change"], "+.3f")
change.round(4)

# %% [markdown] tags=["teacher"]
# :::{admonition} For the teacher
# :class: dropdown
# From the smallest w_pred to the largest, MF's FVU changes by {glue:text}`mf_fvu_change_w` and its
# RBO by {glue:text}`mf_rbo_change_w`; NCF's by {glue:text}`ncf_fvu_change_w` and
# {glue:text}`ncf_rbo_change_w`. The term asks the SAE to spend its few active features on what the
# scores depend on, which need not be what the squared error weighs most: a worse reconstruction
# can give better lists. Ask the room which of the two numbers a paper should report for an SAE
# meant for steering.
# :::
