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
# # 10. The reproduction report: what holds, measured
#
# The three papers make claims; the chapters before this one rebuilt their methods. This chapter
# puts the two side by side: each headline claim, the paper's figure, what this book measured,
# on which data and protocol, and whether the claim holds by a rule written next to it. Every
# number here is read from a result file that `make bench` wrote (`benchmarks/results/*.json`,
# one per benchmark script); nothing is trained.
#
# **Read alongside.** Its paper: paper A, Klenitskiy et al. 2025, [*Sparse Autoencoders for
# Sequential Recommendation Models: Interpretation and Flexible
# Control*](https://arxiv.org/abs/2507.12202); paper B, Arviv et al. 2025, [*Extracting
# Interaction-Aware Monosemantic Concepts in Recommender
# Systems*](https://arxiv.org/abs/2511.18024); paper C, Spišák et al. 2026, [*From Knots to Knobs:
# Towards Steerable Collaborative Filtering Using Sparse
# Autoencoders*](https://arxiv.org/abs/2601.11182).
#
# **Before this chapter:** none; chapters 4-9 explain what each claim measures.
#
# **What you will learn**
# - which claims of papers A, B and C hold on MovieLens-100K, which do not, and which are not
#   measured yet;
# - how the book's base models compare with published figures on the same protocol;
# - how fast the SAE trainer is against its dense-matmul ceiling, and how long each chapter takes.
#
# Time: seconds; it reads JSON: the repository's `benchmarks/results`, which the installed package
# carries too (as `recsae_lite/results`), so the chapter runs in Colab without a clone.

# %% tags=["parameters"]
# ci: tiny and fast (tests); quick: the book's numbers; full: GPU scale, ML-1M
PROFILE = "quick"
SEED = 0
DEVICE = "auto"
# the benchmarks' result files (make bench); None: this repository's
RESULTS = None

# %% [markdown]
# ## Setup (no need to read)
#
# This chapter only reads results, so `PROFILE`, `SEED` and `DEVICE` change nothing here; the
# benchmark files record the profile, seeds and machine they were measured with.

# %%
import pandas as pd
from IPython.display import display

from recsae_lite import _nb, report, viz

_nb.setup(SEED, DEVICE, PROFILE)
pd.set_option("display.max_colwidth", None)
results = report.load(RESULTS)
machines = pd.DataFrame(
    [
        {
            "benchmark": name,
            "profile": r.get("profile"),
            "device": r["machine"]["device"],
            "cpu threads": r["machine"]["cpu_threads"],
            "torch": r["machine"]["torch"],
            "seconds": r.get("seconds"),
            "peak memory (MB)": r.get("peak_memory_mb"),
        }
        for name, r in results.items()
        if name != "peers"
    ]
)
machines

# %% [markdown]
# The table above says where each file comes from: its profile, the machine it ran on and how
# long it took (its wall time, and the process's peak memory). The quick-profile files were
# measured on the 2-core CPU machine this book is built on.
#
# ## 1. The claims
#
# One table per paper. "holds" gives the verdict and, in brackets, the rule applied to our
# number; "—" means the result file is not there yet (the full profile wants a GPU). "measured
# on" names the data, the protocol and the result file.

# %%
claims = report.claims(results)
measured = claims[claims["holds"] != "—"]
_nb.record("claims", len(claims), "d")
_nb.record("claims_measured", len(measured), "d")
_nb.record("claims_holding", (measured["holds"] == "yes").sum(), "d")


def table(paper: str) -> pd.DataFrame:
    """The paper's claims in five columns, narrow enough to read on a page."""
    rows = claims[claims["paper"] == paper]
    return pd.DataFrame(
        {
            "claim": rows["claim"],
            "paper": rows["paper's figure"]
            + rows["cites"].map(lambda c: f" ({c})" if c else ""),
            "ours": rows["ours"],
            "holds": rows["holds"] + " (if " + rows["holds if"] + ")",
            "measured on": rows["data and protocol"] + "; " + rows["source"],
        }
    ).reset_index(drop=True)


# %% [markdown]
# ### Paper A: SAEs on SASRec (Klenitskiy et al.)

# %%
table("A")

# %% [markdown]
# SAE features are far more often about one genre than SASRec's own dimensions (chapter 4),
# and turning a feature up adds its genre at a moderate cost (chapter 5). Two claims are weaker
# here: a supervised probe direction steers further than the SAE feature at the same budget, and
# the paper's ML-1M quality needs the full profile.
#
# ### Paper B: prediction-aware SAEs on two-tower models (Arviv et al.)

# %%
table("B")

# %% [markdown]
# Paper B's figures on ML-100K come from running its public code on the same data (section 6).
# The SAE keeps NCF's lists well and MF's much less (chapter 6 shows MF needs many active
# neurons); the prediction-aware term, the paper's main lever for fidelity, does not raise it
# here once the SAE's input scaling is undone consistently.
#
# ### Paper C: SAE knobs inside ELSA (Spišák et al.)

# %%
table("C")

# %% [markdown]
# The relative cost of the SAE inside ELSA matches paper C; the absolute quality and the steering
# goal depend on the split, which holds only 94 test users (chapter 8).
#
# ### This book's own claims

# %%
table("book")

# %% [markdown]
# The answer key of chapters 7 and 9 tests what no paper could: whether features are the planted
# concepts. SAEs find them far above chance. Matryoshka is not a sure winner: its nested loss
# recovers a planted hierarchy only when its first group is small (chapter 7), and it recovers
# the most planted concepts from MF and ELSA but not from SASRec, where a ReLU SAE does
# (chapter 9).

# %% [markdown]
# ## 2. Base models against published figures
#
# RecBole's models on the same ML-100K protocol (leave-one-out by time, full ranking, seen items
# masked) are the peers: popularity, BPR (our logistic MF is its counterpart), NeuMF (ours, GMF
# and MLP), EASE (a linear autoencoder like ELSA) and SASRec; ItemKNN, MultiVAE and GRU4Rec have
# no counterpart here.

# %%
bases = report.base_models(results)
for row in bases.dropna(subset=["NDCG@10"]).to_dict("records"):
    _nb.record(f"{row['model']}_ndcg@10", row["NDCG@10"], ".4f")
bases.round(4)

# %% [markdown]
# ## 3. SAE training speed
#
# Throughput of one training step of `recsae_lite.sae` over that of its six dense matmuls alone
# (the ceiling of a dense implementation): above 1, the sparse decoder beats a dense step.

# %%
speed = report.sae_speed(results)
long = speed.reset_index().melt(
    id_vars=["device", "variant"],
    var_name="d_in x d_sae",
    value_name="ratio to ceiling",
)
viz.grouped_bars(
    long,
    "variant",
    "d_in x d_sae",
    "ratio to ceiling",
    "SAE training step: throughput over the dense-matmul ceiling",
    line=(1.0, "dense ceiling"),
    panel="device",
).show()
speed.round(2)

# %% [markdown]
# ## 4. Time per chapter
#
# Each chapter executed by `benchmarks/book_times.py`, in the `ci` profile and the `quick`
# profile, each from an empty model zoo (so chapters train what they need, as on a new machine;
# later chapters reuse what earlier ones cached, as when the book is read in order).

# %%
if "book_times" in results:
    times = report.book_times(results)
    times.loc["total"] = times.sum()
    display(times.round(0))
else:
    print(
        "not measured yet: run `python benchmarks/book_times.py` "
        "(part of make bench)"
    )

# %% [markdown]
# ## 5. On a GPU
#
# The `full` profile (ML-1M, paper-sized models and SAEs) is meant for a GPU; `make bench` runs it
# when a CUDA device is present and writes `NAME-full.json` files, which the claims above then
# read (SASRec+ on ML-1M among them).

# %%
full = report.gpu_results(results)
if full:
    print("GPU results:", ", ".join(full))
else:
    print(
        "No GPU result exists yet: every number in this chapter was measured "
        "on a CPU."
    )
_nb.record("gpu_result_files", len(full), "d")

# %% [markdown]
# ## 6. Where the peers' figures come from
#
# Every figure of a paper or a peer that this chapter cites is in `benchmarks/results/peers.json`,
# with its source: **published** (a paper's table, or the authors' own committed output) or
# **measured** (the peer's public code run on our data, with the commit, settings and split).

# %%
report.peer_figures(results)

# %% [markdown]
# ## Summary
#
# - Each claim is a row: the paper's figure, ours, the rule, the verdict and the file it came
#   from. Re-running `make bench` refreshes every number; the verdicts follow.
# - Paper A's central claim (monosemantic features that steer) holds; paper B's fidelity holds
#   for NCF and not for MF at the same sparsity; paper C's cost of inserting an SAE holds, its
#   absolute numbers depend on a small test split.
# - What is not measured yet is said so, not filled in: the full profile wants a GPU.
