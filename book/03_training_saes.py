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
# # 3. Training sparse autoencoders
#
# A model's hidden state is a dense vector: {glue:text}`sasrec_hidden_size` numbers for SASRec, none
# of which means anything on its own. Models represent *more* concepts than they have dimensions, by
# giving each concept a direction and letting directions overlap (superposition): a user's state is
# a sparse sum of a few of them. A sparse autoencoder (SAE) looks for those directions: it encodes x
# into a much wider but sparse code z, and decodes it back,
#
# ```text
# z     = act((x - b_dec) W_enc + b_enc)      W_enc: (d_in, d_sae)
# x_hat = z W_dec + b_dec                     W_dec: (d_sae, d_in)
# ```
#
# trained to reconstruct x while only a few entries of z are non-zero. Row j of `W_dec` is feature
# j's direction. The book's SAEs come in four variants, one class with a `variant` field:
#
# | variant | how z is made sparse |
# |---|---|
# | `relu` | ReLU, plus an L1 penalty on z (weighted by decoder row norms, warmed up) |
# | `topk` | keep each sample's k largest pre-activations (plus AuxK, which revives dead features) |
# | `batchtopk` | keep the k x B largest of the whole batch; a learned threshold at inference |
# | `matryoshka` | BatchTopK, and every prefix of the dictionary must reconstruct x on its own |
#
# **Read alongside.** Its paper: Gao et al. 2024, [*Scaling and Evaluating Sparse
# Autoencoders*](https://arxiv.org/abs/2406.04093) (TopK and AuxK). Background: Bricken et al. 2023,
# [*Towards Monosemanticity*](https://transformer-circuits.pub/2023/monosemantic-features); Elhage
# et al. 2022, [*Toy Models of Superposition*](https://arxiv.org/abs/2209.10652); Bussmann et al.
# 2024, [*BatchTopK Sparse Autoencoders*](https://arxiv.org/abs/2412.06410); Bussmann et al. 2025,
# [*Learning Multi-Level Features with Matryoshka Sparse
# Autoencoders*](https://arxiv.org/abs/2503.17547).
#
# **Before this chapter:** chapter 2 (SASRec's hidden state); PyTorch's autograd and optimisers.
#
# **What you will learn**
# - superposition, and an SAE untangling it where the answer is known;
# - a TopK SAE written from scratch (encoder, top-k, decoder, loss, AuxK, unit-norm decoder rows,
#   a training loop), checked equal to the library's;
# - training each variant on SASRec's hidden states;
# - the measures of an SAE: FVU, L0, dead features, and NDCG@10 recovered.
#
# Time: about {glue:text}`book_times/chapter_seconds/quick/03_training_saes/minutes` min on
# {glue:text}`book_times/machine/cpu_threads` CPU cores in the `quick` profile
# ({glue:text}`grid_saes` SAEs of up to {glue:text}`sae_max_steps` steps each, cached in the model
# zoo for chapters 4, 5 and 7); a GPU shortens it (not measured yet).

# %% tags=["parameters"]
# ci: tiny and fast (tests); quick: the book's numbers; full: GPU scale, ML-1M
PROFILE = "quick"
SEED = 0
DEVICE = "auto"

# %% [markdown]
# ## Setup (no need to read)

# %%
import pandas as pd
import torch

from recsae_lite import _nb, report, viz, zoo
from recsae_lite.activations import collect, ndcg_recovered, planted
from recsae_lite.metrics import direction_recovery, sae_metrics
from recsae_lite.sae import SAE, FitConfig, SAEConfig, fit

device = _nb.setup(SEED, DEVICE, PROFILE)
DATASET = _nb.pick(PROFILE, ci="ml-100k", quick="ml-100k", full="ml-1m")
# at most, per SAE (the fit stops sooner)
STEPS = zoo.FITS[PROFILE]["sasrec"]["max_steps"]
KS = _nb.pick(PROFILE, ci=[4, 16], quick=[8, 16], full=[8, 16, 32, 64])
EXPANSION = 16  # d_sae = EXPANSION x d_in
print(f"device: {device}")
_nb.record("grid_saes", 4 * len(KS), "d")  # four variants at each k
_nb.record("sae_max_steps", STEPS, ",d")

# %% tags=["remove-cell"]
# the figures the prose quotes from benchmarks/results, glued under their
# path in the file (no need to read; only a clone of the repository has the
# files, and the book is built from one)
if report.REPOSITORY_RESULTS.is_dir():
    times = report.load()["book_times"]
    _nb.record(
        "book_times/machine/cpu_threads", times["machine"]["cpu_threads"], "d"
    )
    minutes = times["chapter_seconds"]["quick"]["03_training_saes"] / 60
    _nb.record(
        "book_times/chapter_seconds/quick/03_training_saes/minutes",
        minutes,
        ".0f",
    )

# %% [markdown]
# ## 1. Superposition, and an SAE written from scratch
#
# We plant 4 x 16 = 64 random unit directions in a 16-dimensional space and make each sample the
# sum of 3 of them. No basis of 16 dimensions can give each direction its own axis: the principal
# components (the best 16 orthogonal directions) each mix many planted ones. A TopK SAE with 256
# features and k = 3 is asked only to reconstruct the samples sparsely, and finds the directions.
# We first write that SAE from scratch, piece by piece, train it on these samples, and check that
# it computes exactly what the library's SAE computes; then the chapter uses the library.

# %%
x_toy, directions = planted(
    20_000, d_in=16, n_directions=64, active=3, seed=SEED
)
print(f"samples {tuple(x_toy.shape)}, directions {tuple(directions.shape)}")

# %% [markdown]
# ### Encode and decode
#
# The encoder computes every feature's pre-activation, (x - b_dec) W_enc + b_enc. TopK keeps each
# sample's k largest (through a ReLU, so a kept value is never negative) and sets the others to 0:
# that is the sparse code z. The decoder adds up the kept features' directions, the rows of
# W_dec, each times its activation. W_dec starts as random unit rows, W_enc as its transpose.

# %%
from torch import nn


class ScratchSAE(nn.Module):
    """A TopK SAE in plain PyTorch: what the library's `SAE` computes."""

    def __init__(self, d_in, d_sae, k, generator):
        super().__init__()
        self.k = k
        rows = torch.randn(d_sae, d_in, generator=generator)
        # (d_sae, d_in): row j is feature j's direction, of norm 1
        self.W_dec = nn.Parameter(rows / rows.norm(dim=1, keepdim=True))
        # (d_in, d_sae): the decoder's transpose, to start with
        self.W_enc = nn.Parameter(self.W_dec.detach().T.clone())
        self.b_enc = nn.Parameter(torch.zeros(d_sae))
        self.b_dec = nn.Parameter(torch.zeros(d_in))

    def pre_acts(self, x):  # (B, d_in) -> (B, d_sae)
        return (x - self.b_dec) @ self.W_enc + self.b_enc

    def decode(self, z):  # (B, d_sae) -> (B, d_in)
        return z @ self.W_dec + self.b_dec


def top_k(pre, k):
    """Each row's k largest values, through a ReLU; 0 elsewhere."""
    values, columns = pre.topk(k, dim=1)
    return torch.zeros_like(pre).scatter(1, columns, values.relu())


# %% [markdown]
# ### The loss, and AuxK
#
# The loss is the squared error of the reconstruction, summed over dimensions and averaged over
# the batch. TopK has a failure mode: a feature that is never among a sample's k largest gets no
# gradient, so it never becomes one, and stays dead. AuxK (Gao et al.) gives the dead features
# work: the k_aux = d_in / 2 largest pre-activations among them try to reconstruct what the live
# features missed, the residual x - x_hat. Its error, divided by the residual's variance, joins
# the loss with a weight of 1/32 once some features are dead.


# %%
def losses(sae, x, dead):
    """The reconstruction loss, AuxK and the codes of a batch x (B, d_in);
    dead: (d_sae,) bool, the features that have not fired for a while."""
    pre = sae.pre_acts(x)
    z = top_k(pre, sae.k)
    x_hat = sae.decode(z)
    mse = (x_hat - x).pow(2).sum(1).mean()
    # AuxK: the best of the dead features reconstruct what the live ones missed
    residual = (x - x_hat).detach()
    z_aux = top_k(pre.masked_fill(~dead, -torch.inf), x.shape[1] // 2)
    variance = (residual - residual.mean(0)).pow(2).sum(1).mean()
    aux = (z_aux @ sae.W_dec - residual).pow(2).sum(1).mean() / variance
    return mse, aux, z


# %% [markdown]
# ### The decoder-norm step
#
# TopK's sparsity does not depend on the length of W_dec's rows, so they are kept at norm 1: an
# activation then says how much of its direction a sample holds, and the encoder cannot shrink a
# feature to hide it. Before each optimiser step we remove the part of W_dec's gradient along
# each row (a step then turns a row rather than stretches it), and after the step we rescale the
# rows back to norm 1.


# %%
@torch.no_grad()
def drop_parallel_gradient(sae):
    """Remove the component of each W_dec row's gradient along the row."""
    w, g = sae.W_dec, sae.W_dec.grad
    g -= (g * w).sum(1, keepdim=True) * w / w.pow(2).sum(1, keepdim=True)


@torch.no_grad()
def renormalise(sae):
    sae.W_dec /= sae.W_dec.norm(dim=1, keepdim=True)


# %% [markdown]
# ### A training loop
#
# Adam on random batches. A feature counts as dead once it has not fired for a whole pass over
# the data, and only then does AuxK join the loss. The library's `sae.fit` adds a warm-up of the
# learning rate, gradient clipping, a held-out share of the data to stop on, and it first centres
# and scales the inputs (these samples need none of that).


# %%
def train(sae, x, steps, batch_size=1_024, lr=3e-3, seed=SEED):
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(sae.parameters(), lr=lr)
    since_fired = torch.zeros(len(sae.b_enc))  # samples since each fired
    for _ in range(steps):
        rows = torch.randint(len(x), (batch_size,), generator=generator)
        batch = x[rows]
        dead = since_fired >= len(x)
        mse, aux, z = losses(sae, batch, dead)
        loss = mse + aux / 32 if dead.any() else mse
        optimizer.zero_grad()
        loss.backward()
        drop_parallel_gradient(sae)
        optimizer.step()
        renormalise(sae)
        fired = (z > 0).any(0)
        since_fired = torch.where(fired, 0, since_fired + batch_size)
    return sae


scratch = ScratchSAE(
    16, 256, k=3, generator=torch.Generator().manual_seed(SEED)
)
train(scratch, x_toy, steps=100)
scratch_cosines = direction_recovery(directions, scratch.W_dec)
print(
    "each planted direction's best cosine with a decoder row: mean "
    f"{scratch_cosines.mean():.3f}, lowest {scratch_cosines.min():.3f}"
)

# %% [markdown]
# ### Checked against the library
#
# The library's `SAE` computes the same loss faster: it decodes only the k rows of W_dec a
# sample uses, and computes gradients only where a feature was kept. Given our weights, the same
# batch and the same dead features (half of them, so that AuxK has work), both must give the same
# losses and the same gradient for every weight, before and after the decoder-norm step.

# %%
config = SAEConfig(d_in=16, d_sae=256, variant="topk", k=3)
library = SAE(config, torch.Generator().manual_seed(SEED))
# our four weights; its input scaling stays the identity
library.load_state_dict(scratch.state_dict(), strict=False)
batch, dead = x_toy[:1_024], torch.arange(256) % 2 == 0
scratch.zero_grad()
mse, aux, _ = losses(scratch, batch, dead)
(mse + aux / 32).backward()
theirs = library.losses(batch, dead)
theirs["loss"].backward()
pairs = [(mse, theirs["mse"]), (aux, theirs["aux"])]
pairs += [
    (getattr(scratch, n).grad, w.grad) for n, w in library.named_parameters()
]
drop_parallel_gradient(scratch)
library.remove_parallel_grad()
pairs.append((scratch.W_dec.grad, library.W_dec.grad))
for mine, reference in pairs:
    torch.testing.assert_close(mine, reference)
gap = max((mine - reference).abs().max().item() for mine, reference in pairs)
print(f"mse {mse:.4f}, AuxK {aux:.4f}: losses and gradients as the library's")

# %% [markdown]
# ### The library's SAE
#
# From here on the chapter trains SAEs with the library's one fit, `sae.fit`. On the planted data
# it finds the directions too, which the principal components cannot:

# %%
toy_steps = _nb.pick(PROFILE, ci=60, quick=400, full=2_500)
toy_config = FitConfig(
    max_steps=toy_steps, batch_size=1_024, lr=3e-3, seed=SEED
)
toy = fit(
    x_toy.to(device),
    SAEConfig(d_in=16, d_sae=256, variant="topk", k=3),
    toy_config,
)
# the principal components: (16, 16)
principal = torch.linalg.svd(x_toy - x_toy.mean(0), full_matrices=False).Vh
cosines = {
    "principal components": direction_recovery(directions, principal),
    "SAE decoder rows": direction_recovery(directions, toy.W_dec.cpu()),
}
viz.recovery_histogram(cosines).show()

# %%
_nb.record(
    "toy_scratch_mean_best_cosine", scratch_cosines.mean().item(), ".3f"
)
_nb.record("toy_scratch_library_gap", gap, ".0e")
_nb.record(
    "toy_mean_best_cosine_sae",
    cosines["SAE decoder rows"].mean().item(),
    ".3f",
)
_nb.record(
    "toy_mean_best_cosine_pca",
    cosines["principal components"].mean().item(),
    ".3f",
)

# %% [markdown]
# ## 2. SASRec's hidden states
#
# We read SASRec's output (after its last block, the vector scored against the item embeddings) at
# every position of every training sequence: each position is the representation of a history
# prefix, so the {glue:text}`training_sequences` sequences give {glue:text}`hidden_states` samples.

# %%
sasrec = zoo.model("sasrec", DATASET, PROFILE, seed=SEED, device=device)
model, split = sasrec.model, sasrec.split
x = collect(model, split, stage="train", positions="all")
d_in = x.shape[1]
print(
    f"{len(x):,} hidden states of size {d_in}; "
    f"SAEs with {EXPANSION * d_in} features"
)
_nb.record("training_sequences", len(split.train), ",d")
_nb.record("hidden_states", len(x), ",d")
_nb.record("sasrec_hidden_size", d_in, "d")

# %% [markdown]
# ## 3. Each variant, at several sparsities
#
# For each variant and each k (for ReLU, an L1 weight that gives a comparable L0) we train an SAE
# with the book's one fit, `sae.fit`: Adam, and a tenth of the states held out; every
# {glue:text}`fit_eval_every` steps it measures the loss on them, and it stops when
# {glue:text}`fit_patience` checks in a row have not improved it by {glue:text}`fit_min_gain` (or at
# `STEPS`), keeping the weights of its best check. So no SAE trains longer than its data rewards,
# and the same fit serves every chapter. Its learning rate, batch and cap, per kind of vectors, are
# `zoo.FITS`: `benchmarks/fit_budget.py` measured which setting reaches the held-out FVU of the
# book's earlier fits soonest. Then we measure on held-out users' last positions (what the model
# scores):
#
# - **FVU**, the fraction of variance unexplained: sum ||x - x_hat||^2 / sum ||x - mean(x)||^2;
# - **L0**, the mean number of active features per sample;
# - **dead**, the share of features that never fire;
# - **NDCG@10 recovered**: the model's NDCG@10 with the reconstruction spliced in, where 1 is the
#   clean model and 0 is the model with every user's state replaced by the mean state.

# %%
held_out = collect(model, split, stage="test", positions="last")
# every SAE of the grid: its fit
train_config = zoo.sae_settings(d_in, PROFILE, SEED)[1]
_nb.record("fit_eval_every", train_config.eval_every, "d")
_nb.record("fit_patience", train_config.patience, "d")
_nb.record("fit_min_gain", train_config.min_gain, ".1%")
rows, saes = [], {}
for variant in ["relu", "topk", "batchtopk", "matryoshka"]:
    for k in KS:
        config, train_config = zoo.sae_settings(
            d_in, PROFILE, SEED, k, EXPANSION, variant
        )
        sae, _ = zoo.sae(
            sasrec, config, train_config, device=device, progress=False
        )
        stats = sae_metrics(sae, held_out)
        recovered = ndcg_recovered(model, sae, split)
        rows.append(
            {
                "variant": variant,
                "label": f"k={k}"
                if variant != "relu"
                else f"l1={zoo.RELU_L1[k]}",
                "k": k,
                "fvu": stats["fvu"],
                "l0": stats["l0"],
                "dead": stats["dead_fraction"],
                "ndcg@10": recovered["spliced"],
                "ndcg_recovered": recovered["recovered"],
            }
        )
        saes[(variant, k)] = (sae, stats)
table = pd.DataFrame(rows)
table.round(3)

# %%
viz.fvu_vs_l0(table).show()

# %% [markdown]
# ## 4. Dead features and how often the others fire
#
# A feature that never fires wastes a slot of the dictionary. TopK's AuxK loss gives dead features a
# gradient (they try to reconstruct what the live ones miss); BatchTopK lets busy samples use more
# features than quiet ones.

# %%
k_show = 16 if 16 in KS else KS[-1]
viz.density_histogram(
    {
        v: saes[(v, k_show)][1]["density"]
        for v in ["relu", "topk", "batchtopk", "matryoshka"]
    }
).show()

# %% [markdown]
# ## 5. Does the model still work with the SAE inside?
#
# The SAE's reconstruction replaces SASRec's state and the rest of the model runs unchanged.

# %%
print(
    f"clean model NDCG@10: {recovered['clean']:.4f}; "
    f"mean-ablated: {recovered['ablated']:.4f}"
)
table.pivot(index="k", columns="variant", values="ndcg_recovered").round(3)

# %%
for row in rows:
    name = f"{row['variant']}_k{row['k']}"
    _nb.record(f"{name}_fvu", row["fvu"])
    _nb.record(f"{name}_l0", row["l0"], ".2f")
    _nb.record(f"{name}_ndcg_recovered", row["ndcg_recovered"])

# %% [markdown]
# ## Summary
#
# - An SAE turns a dense state into a sparse code over a learned dictionary; on planted data its
#   decoder rows find the planted directions (mean best cosine
#   {glue:text}`toy_mean_best_cosine_sae`, against {glue:text}`toy_mean_best_cosine_pca` for the
#   principal components).
# - On SASRec, the table of section 5 gives each SAE's FVU at a handful of active features, and how
#   much of the model's NDCG survives the SAE spliced in (TopK at k = 16: FVU
#   {glue:text}`topk_k16_fvu`, NDCG@10 recovered {glue:text}`topk_k16_ndcg_recovered`).
# - Next: what the features mean, and turning them like knobs.

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

# a TopK SAE trained above, and its measures
sae, stats = saes[("topk", k_show)]

# %% [markdown]
# ### Exercise 3.1 (easy): the fraction of variance unexplained
#
# Write `my_fvu(x, x_hat)` for hidden states `x` `(N, d)` and their reconstructions `x_hat`: the
# summed squared error over the whole set, divided by the summed squared distance of x from its
# mean. The mean predictor must score 1 and a perfect reconstruction 0.


# %% tags=["hide-input", "solution"]
def my_fvu(x, x_hat):
    return ((x - x_hat).pow(2).sum() / (x - x.mean(0)).pow(2).sum()).item()


# %%
exercises.check_fvu(my_fvu)

# %%
with torch.no_grad():
    mine = my_fvu(held_out, sae(held_out))
print(
    f"FVU of the TopK SAE (k = {k_show}): {mine:.4f} with my_fvu, "
    f"{stats['fvu']:.4f} above"
)

# %% [markdown]
# ### Exercise 3.2 (easy): L0 and dead features
#
# Write `my_sparsity(z)` for codes `z` `(N, d_sae)`, returning `(l0, dead_fraction)`: the mean
# number of active (positive) features per sample, and the share of features that are positive on
# no sample at all.


# %% tags=["hide-input", "solution"]
def my_sparsity(z):
    active = z > 0
    return active.sum(1).float().mean().item(), (
        ~active.any(0)
    ).float().mean().item()


# %%
exercises.check_sparsity(my_sparsity)

# %%
with torch.no_grad():
    l0, dead = my_sparsity(sae.encode(held_out))
print(
    f"L0 {l0:.2f} and dead {dead:.3f} with my_sparsity; {stats['l0']:.2f} and "
    f"{stats['dead_fraction']:.3f} above"
)

# %% [markdown]
# ### Exercise 3.3 (medium): the TopK encoder
#
# Write `my_topk_encode(sae, x)`: the codes `(B, d_sae)` of a TopK SAE for unscaled states x,
# following the formula at the top of the chapter. Standardise x with the SAE's stored mean and
# scale (`sae.normalise(x)`), compute the pre-activations (x_norm - b_dec) W_enc + b_enc with
# `sae.W_enc`, `sae.b_enc`, `sae.b_dec`, keep each sample's `sae.config.k` largest, pass the kept
# values through a ReLU, and set every other feature to 0.


# %% tags=["hide-input", "solution"]
def my_topk_encode(sae, x):
    pre = (sae.normalise(x) - sae.b_dec) @ sae.W_enc + sae.b_enc  # (B, d_sae)
    values, index = pre.topk(sae.config.k, dim=1)
    return torch.zeros_like(pre).scatter(1, index, values.clamp(min=0))


# %%
exercises.check_topk_encode(my_topk_encode)

# %%
with torch.no_grad():
    same = torch.allclose(
        my_topk_encode(sae, held_out), sae.encode(held_out), atol=1e-5
    )
print(
    f"my_topk_encode gives the SAE's own codes on the held-out states: {same}"
)

# %% [markdown]
# ### Exercise 3.4 (predict, then check): does the best reconstruction keep the model best?
#
# Section 3 measures each variant's FVU (how well it reconstructs the states) and section 5 the
# share of SASRec's NDCG@10 kept with the SAE inside. Before running the next cell, write down your
# guess: at each sparsity k, is the variant with the lowest FVU also the one that keeps the most
# NDCG? Then run it.

# %%
by_k = table.set_index(["k", "variant"]).groupby(level="k")
agreement = pd.DataFrame(
    {
        "lowest FVU": by_k["fvu"].idxmin().str[1],
        "most NDCG kept": by_k["ndcg_recovered"].idxmax().str[1],
    }
)
agreement["the same"] = agreement["lowest FVU"] == agreement["most NDCG kept"]
_nb.record("fvu_and_ndcg_agree", int(agreement["the same"].sum()), "d")
_nb.record("sparsities", len(agreement), "d")
agreement

# %% [markdown] tags=["teacher"]
# :::{admonition} For the teacher
# :class: dropdown
# The two orders agree at {glue:text}`fvu_and_ndcg_agree` of the {glue:text}`sparsities`
# sparsities here. FVU weighs every direction of the state alike; the model's scores depend only
# on the directions the output head reads, so a small error in the wrong direction costs more NDCG
# than a larger one elsewhere. That is the motivation for paper B's prediction-aware loss
# (chapter 6). Ask the room which of the two they would report if they could report only one.
# :::
