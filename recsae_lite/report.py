"""The reproduction report (chapter 10): each headline claim of the three papers, judged by a rule
written before its figures were measured, from the benchmarks' result files (never re-trained).

A result file (benchmarks/results/NAME.json) holds, beside its tables:
- "figures": {name: {"value": v, "ci": [low, high], "n": units resampled}}, each figure a verdict
  reads with its 95% bootstrap interval (benchmarks/common.py's `bootstrap_interval` writes it);
- "knobs": {name: {"value": v, "chosen on": where, "how": how}}, each choice a verdict depends on:
  "validation users", "validation splits", "training data", or "fixed before measuring".
Unless a claim's `measured` says otherwise, a figure is measured on test users (never those that
chose a knob), per user the mean over 3+ seeds, and its interval resamples those users (the same
users on both sides of a ratio or difference), the figure recomputed on each resample.

A rule is one or more conditions, each a figure, a direction and a threshold (`Condition`). A
condition holds when the figure's interval lies wholly on the passing side of the threshold, does
not hold when wholly on the failing side, and is inconclusive when it straddles it (`verdict`); a
claim holds when every condition holds, does not hold when one does not. Its sensitivity line is
the verdict with every threshold moved by 20% either way. A claim whose figures are not in its
file reads "not measured yet". Peer figures come from peers.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

# our base model -> its RecBole counterpart in peers.json (same ML-100K protocol)
COUNTERPARTS = {"pop": "recbole.pop", "mf": "recbole.bpr", "neumf": "recbole.neumf",
                "elsa": "recbole.ease", "sasrec": "recbole.sasrec"}  # fmt: skip
HOLDS, FAILS, INCONCLUSIVE, UNMEASURED = "holds", "does not hold", "inconclusive", "—"
SENSITIVITY = (0.8, 1.2)  # the thresholds moved by 20% either way
LEVEL = 0.95  # every figure's interval (benchmarks/common.bootstrap_interval)

# where the results are when the package runs from a clone of the repository (pip install -e)
REPOSITORY_RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
PACKAGED_RESULTS = Path(__file__).resolve().parent / "results"  # in the wheel (pyproject.toml)


def results_folder(folder: str | Path | None = None) -> Path:
    """The folder of result files: `folder`; by default the repository's benchmarks/results, or,
    in an installed package without the repository (Colab), the copy the wheel ships."""
    if folder is None:
        folder = REPOSITORY_RESULTS if REPOSITORY_RESULTS.is_dir() else PACKAGED_RESULTS
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no benchmark results in {folder}: the report reads benchmarks/results/*.json of a "
            "clone of the repository, or the copy an installed wheel holds; clone it (git clone) "
            "and set RESULTS in the parameters cell to its benchmarks/results folder."
        )
    return folder


def load(folder: str | Path | None = None) -> dict[str, dict]:
    """Every result file of `results_folder(folder)`, by benchmark name (its file stem)."""
    paths = sorted(results_folder(folder).glob("*.json"))
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in paths}


def _peer(results: dict, figure: str) -> dict:
    """The values of a figure of peers.json (loaded with the results), by its id."""
    return next(f["values"] for f in results["peers"]["figures"] if f["id"] == figure)


@dataclass(frozen=True)
class Condition:
    """One test of a rule: the figure `field` of a result file's "figures" against a threshold."""

    field: str
    label: str  # what the figure is, as the table shows it
    threshold: float | tuple  # a number, or (peer figure id, key of its values, factor)
    unit: str = ""  # "%": a share, shown as a percentage; "x": a ratio; "": a plain number
    direction: str = ">="  # ">=": its interval must lie at or above the threshold; "<=": under

    def limit(self, results: dict) -> float:
        """The threshold as a number: factor x the peer's value where it cites a peer figure."""
        if isinstance(self.threshold, tuple):
            figure, key, factor = self.threshold
            return factor * _peer(results, figure)[key]
        return self.threshold


at_least, at_most = partial(Condition, direction=">="), partial(Condition, direction="<=")


@dataclass(frozen=True)
class Claim:
    """A headline claim, its rule (its conditions, all of which must hold) and what it reads."""

    paper: str  # "A", "B", "C", or "book" for the book's own goals
    claim: str
    theirs: str | tuple  # the paper's figure: text, or (peer figure id, its values -> text)
    data: str  # the data and protocol
    source: str  # the result file's benchmark name (benchmarks/results/SOURCE.json)
    conditions: tuple[Condition, ...]
    knobs: tuple[str, ...]  # names in the source's "knobs" that the verdict depends on
    measured: str  # how the benchmark measures each figure and knob: what it must write


def verdict(low: float, high: float, threshold: float, direction: str) -> str:
    """Holds when the interval [low, high] lies entirely on the passing side of the threshold,
    does not hold when it lies entirely on the failing side, inconclusive when it straddles it."""
    if direction not in (">=", "<="):
        raise ValueError(f"a condition's direction is '>=' or '<=', got {direction!r}")
    if direction == "<=":  # mirrored: staying at or below t is -figure reaching -t
        low, high, threshold = -high, -low, -threshold
    return HOLDS if low >= threshold else FAILS if high < threshold else INCONCLUSIVE


def judge(claim: Claim, results: dict, scale: float = 1.0) -> str:
    """The claim's verdict, with every threshold multiplied by `scale` (1: as written). A figure
    outside its own interval (the bootstrap of a maximum or a count over resampled items can
    miss the figure) gives no verdict on that condition: inconclusive."""
    figures = results[claim.source]["figures"]
    found = set()
    for c in claim.conditions:
        (low, high), value = figures[c.field]["ci"], figures[c.field]["value"]
        trusted = low <= value <= high
        found.add(
            verdict(low, high, scale * c.limit(results), c.direction) if trusted else INCONCLUSIVE
        )
    return FAILS if FAILS in found else HOLDS if found == {HOLDS} else INCONCLUSIVE


def _number(x: float, unit: str) -> str:
    return f"{x:.1%}" if unit == "%" else f"{x:.2f}x" if unit == "x" else f"{x:.3f}"


def _rule(c: Condition, results: dict) -> str:
    sign = "≥" if c.direction == ">=" else "≤"
    if isinstance(c.threshold, tuple):
        figure, key, factor = c.threshold
        theirs = f" ({_peer(results, figure)[key]:g})" if "peers" in results else ""
        return f"{c.label} {sign} {'' if factor == 1 else f'{factor:g} × '}theirs{theirs}"
    return f"{c.label} {sign} {100 * c.threshold if c.unit == '%' else c.threshold:g}{c.unit}"


def _ours(c: Condition, figure: dict) -> str:
    value, (low, high) = figure["value"], figure["ci"]
    shown = f"{c.label} {_number(value, c.unit)} [{_number(low, c.unit)}, {_number(high, c.unit)}]"
    return shown if low <= value <= high else f"{shown}, outside its interval: no verdict"


def _fidelity_text(v):
    return f"RBO {v['rbo']:.2f}, tau {v['kendall_tau']:.2f}"


ML100K_LOO = "ML-100K, leave-one-out by time, full ranking, seen items masked"
ML100K_B = "ML-100K, any rating positive, a fifth of users held out, top-30 lists"
ML100K_C = (
    "ML-100K, paper C's own split (at seed 42 its code's users and held-out items; "
    "ratings >= 4, 80/10/10 users, 20% held out), 5+ split seeds"
)
SYNTHETIC = "synthetic data, SASRec, MF and ELSA"
B_REGIME = "paper B's regime (ReLU + KL at rho .05, no L1, 22 features, MF/NCF at d = 20)"
UNTRAINED = "and over the same for the SAE at its random initialisation (untrained)"
W_PRED = ("w_pred (paper B regime)",)
STEERED = ("moderate strength", "genre features", "units and place")
GENRES_20 = ML100K_LOO + "; every genre of 20+ films"
SAE_KNOB = (
    "The SAE knob (each genre's feature chosen by output effect, no feature serving two "
    "genres, pushed in the units and at the place chosen on validation users)"
)
WITH_NONE = (
    "on test users whose unsteered top 10 holds none of the genre: per genre their mean "
    "share@10, median over genres"
)
CLAIMS = [
    Claim("A", "SAE features are markedly more monosemantic than raw hidden dimensions",
          "qualitative", ML100K_LOO, "sasrec_steering",
          (at_least("monosemantic over raw, input", "input view", 1.5, "x"),
           at_least("monosemantic over raw, predicted", "predicted view", 1.5, "x")),
          ("genre score threshold", "min items per feature"),
          "Share of coordinates whose genre score (precision above chance of their top 100 "
          "positions) reaches the threshold, over EVERY coordinate (one firing on fewer items "
          "than min items per feature fails): the SAE's over the raw dimensions' (both signs), "
          "per view (input: the items at the positions; predicted: the top item)."),
    Claim("A", "... and than an untrained SAE's features (the floor)", "—", ML100K_LOO,
          "sasrec_steering",
          (at_least("monosemantic over untrained, input", "input view", 1.5, "x"),
           at_least("monosemantic over untrained, predicted", "predicted view", 1.5, "x")),
          ("genre score threshold", "min items per feature"),
          "As above: the SAE's share over the same SAE's at its random initialisation."),
    Claim("A", "Raising a genre's feature brings that genre's films to users who had none",
          "qualitative", GENRES_20, "steering",
          (at_least("share brought at moderate, users with none", "median genre share", 0.1,
                    "%"),), STEERED,
          f"{SAE_KNOB} pushed at the moderate strength (the smallest at which the validation "
          f"users' mean genre share@10 at least doubles), {WITH_NONE}."),
    Claim("A", "Moderate interventions cost under 10% of NDCG, coverage and diversity", "< 10%",
          GENRES_20, "steering",
          (at_most("moderate ndcg lost", "NDCG@10 lost", 0.10, "%"),
           at_most("moderate coverage lost", "coverage lost", 0.10, "%"),
           at_most("moderate diversity lost", "diversity lost", 0.10, "%")), STEERED,
          "At the moderate strength (chosen for its share gain, not its cost), every test user: "
          "1 - after / before of mean NDCG@10, of the coverage@10 of all lists, of mean "
          "diversity@10."),
    Claim("A", "The unsupervised SAE steers about as well as a supervised probe", "comparable",
          GENRES_20, "steering",
          (at_least("sae over probe at equal cost", "SAE's share gain ÷ probe's", 0.9, "x"),),
          STEERED, f"{SAE_KNOB}'s share gain (after - before, every test user) at the moderate "
          "strength over the genre's linear probe's at the same NDCG@10 cost (its strength curve "
          "interpolated), median over genres."),
    Claim("A", "SASRec+ on ML-1M",
          ("sasrec_plus.full_ce", lambda v: f"NDCG@10 {v['ndcg@10']:.4f}, HR@10 {v['hr@10']:.4f}"),
          "ML-1M, leave-one-out (full profile)", "base_models-full",
          (at_least("sasrec ndcg@10", "NDCG@10", ("sasrec_plus.full_ce", "ndcg@10", 0.9)),),
          ("SASRec epochs",), "SASRec+'s NDCG@10; epochs by early stopping on validation users."),
    Claim("A", "Lowering a genre's feature removes its films", "qualitative", GENRES_20,
          "steering", (at_most("removal share left", "genre share left", 0.5, "x"),), STEERED,
          f"{SAE_KNOB} pushed at minus the moderate strength, on test users whose unsteered top "
          "10 holds the genre: their genre share@10 after / before, pooled over genres."),
    Claim("A", "A very high value makes nearly all recommendations the genre", "qualitative",
          GENRES_20, "steering",
          (at_least("share at high strength, users with none", "median genre share", 0.9, "%"),),
          STEERED + ("high strength",), f"{SAE_KNOB} at the high strength, {WITH_NONE}."),
    Claim("A", "Some strength makes every genre half of the list (the book's goal)", "—",
          GENRES_20, "steering",
          (at_least("best share, users with none", "median genre share", 0.5, "%"),
           at_least("genres reaching half, users with none", "genres reaching half", 1.0, "%")),
          STEERED + ("best strength per genre",), f"{SAE_KNOB} at each genre's best strength "
          f"(the largest validation share among its users with none), {WITH_NONE}; and the share "
          "of genres whose share reaches .5 there."),
    Claim("B", "Raising w_pred raises fidelity", "rises", ML100K_B, "two_tower",
          (at_least("rbo gain, mf", "MF RBO gain", 0.01),
           at_least("rbo gain, ncf", "NCF RBO gain", 0.01)), (),
          f"Paper B's RBO (truncated at 30, p = .9) of the SAE's lists, {B_REGIME}, at w_pred 10 "
          "minus at w_pred 0, paired per user."),
    Claim("B", "NCF fidelity, against paper B's code on ML-100K",
          ("paper_b_code.ncf_fidelity", _fidelity_text), ML100K_B, "two_tower",
          (at_least("ncf rbo, paper b", "RBO", ("paper_b_code.ncf_fidelity", "rbo", 1)),
           at_least("ncf tau, paper b", "tau", ("paper_b_code.ncf_fidelity", "kendall_tau", 1))),
          W_PRED, f"Paper B's RBO and tau-b (over the union of both top-30 lists), {B_REGIME}, "
          "at the w_pred with the best paper-B RBO on validation users."),
    Claim("B", "MF fidelity, against paper B's code on ML-100K (real MF lists)",
          ("paper_b_code.mf_fidelity", _fidelity_text), ML100K_B, "two_tower",
          (at_least("mf rbo, paper b", "RBO", ("paper_b_code.mf_fidelity", "rbo", 1)),
           at_least("mf tau, paper b", "tau", ("paper_b_code.mf_fidelity", "kendall_tau", 1))),
          W_PRED, "As for NCF above, on MF."),
    Claim("B", "Fidelity goal of this book: RBO >= .85 and tau >= .7, NCF", "RBO .85, tau .70",
          ML100K_B, "two_tower", (at_least("ncf rbo", "RBO", 0.85),
          at_least("ncf tau", "tau", 0.70)), ("w_pred (TopK)",),
          "The book's RBO (extrapolated) and tau (over the model's list), its TopK SAE (16 of "
          "256 on 64 dimensions), at the w_pred with the best RBO on validation users."),
    Claim("B", "Fidelity goal of this book: RBO >= .85 and tau >= .7, MF", "RBO .85, tau .70",
          ML100K_B, "two_tower", (at_least("mf rbo", "RBO", 0.85), at_least("mf tau", "tau", 0.70)),
          ("w_pred (TopK)",), "As for NCF above, on MF."),
    Claim("B", "Genre purity@10 of MF's 22 features, against paper B's code and an untrained SAE",
          ("paper_b_code.mf_purity10", lambda v: f"mean {v['mean']:.2f}"), ML100K_B, "two_tower",
          (at_least("mf purity@10", "purity@10", ("paper_b_code.mf_purity10", "mean", 1)),
           at_least("mf purity@10 over untrained", "÷ untrained", 1.5, "x")), W_PRED,
          "Mean over 8 genres of the genre's share of the 10 items that most activate its "
          f"purest feature, {B_REGIME}; {UNTRAINED}. Interval: resampling items."),
    Claim("B", "Genre purity@10 of NCF's 22 features, against paper B's code and an untrained SAE",
          ("paper_b_code.ncf_purity10", lambda v: f"mean {v['mean']:.2f}"), ML100K_B, "two_tower",
          (at_least("ncf purity@10", "purity@10", ("paper_b_code.ncf_purity10", "mean", 1)),
           at_least("ncf purity@10 over untrained", "÷ untrained", 1.5, "x")), W_PRED,
          "As for MF above, on NCF."),
    Claim("B", "MF's Comedy and Horror features reach purity 1.0 at every K",
          ("paper_b.pure_genres", lambda v: f"Comedy {v['Comedy']:.1f}, Horror {v['Horror']:.1f} "
           "(ML-1M)"), ML100K_B, "two_tower", (at_least("mf comedy purity", "Comedy", 1.0, "%"),
          at_least("mf horror purity", "Horror", 1.0, "%")), W_PRED,
          "Smallest over K = 10, 50, 100 of the purest feature's purity@K over its ceiling (the "
          f"genre's films / K, at most 1), {B_REGIME}. Interval: resampling items."),
    Claim("B", "Early Matryoshka features are broad, later ones niche (against BatchTopK features "
          "grouped by firing frequency)", "qualitative", "ML-100K, MF item embeddings",
          "hierarchy", (at_least("popularity, first over last, over control", "popularity", 1.0,
          "x"), at_least("genre entropy, first over last, over control", "genre entropy", 1.0,
          "x")), ("group sizes",),
          "Matryoshka's first group over its last (mean popularity percentile of the features' "
          "top items; their genre entropy) over the same for BatchTopK features grouped by "
          "firing frequency in groups of those sizes. Interval: resampling features (5+ seeds)."),
    Claim("B", "A feature fires for the most popular items (paper B's popularity neuron)",
          "qualitative", ML100K_B, "two_tower",
          (at_least("mf popularity purity@10", "popular share of top 10", 0.9, "%"),
           at_least("mf popularity purity@10 over untrained", "÷ untrained", 1.5, "x")), W_PRED,
          f"The largest share, over MF's features in {B_REGIME}, of a feature's 10 most "
          f"activating items among the 10% most popular; {UNTRAINED}. Interval: resampling items."),
    Claim("B", "Setting MF's Horror feature to -1.5 filters Horror out",
          ("paper_b.horror_filter", lambda v: f"Horror share {v['before']:.2f} -> "
           f"{v['after']:.2f} (MF, ML-1M)"), ML100K_B, "two_tower",
          (at_most("mf horror share left", "Horror share left", 0.1, "x"),), W_PRED +
          ("filter value",), f"MF's purest Horror feature, {B_REGIME}, overwritten with the "
          "filter value: mean Horror share of top-30 lists after / before, on users with Horror."),
    Claim("B", "Overwriting a feature promotes an item to users of unrelated taste",
          "qualitative", ML100K_B, "two_tower",
          (at_least("mf promotion reach", "users reached", 0.5, "%"),), W_PRED +
          ("promoted items", "promotion value"), f"Each promoted item's strongest feature, "
          f"{B_REGIME}, overwritten with the promotion value for users with no film of its "
          "genres: the share whose top 30 then holds it, averaged over the items."),
    Claim("C", "Inserting the SAE costs a few percent of NDCG@20, less at larger k",
          ("paper_c.sae_cost", lambda v: f"{v['k16 low']:.0%}-{v['k16 high']:.0%} at k = 16, "
           f"{v['k64']:.0%} at k = 64 (ML-25M)"), ML100K_C, "elsa_knobs",
          (at_most("sae cost k16", "lost at k 16", 0.10, "%"),
           at_most("sae cost k64", "lost at k 64", 0.03, "%")), ("SAE steps",),
          "1 - mean NDCG@20 with the SAE spliced in / without, paper C's SAE recipe "
          "(standardised input, cosine loss, no views), steps by held-out stopping."),
    Claim("C", "ELSA quality (paper C's code on ML-100K)",
          ("paper_c_code.elsa", lambda v: f"Recall@20 {v['recall@20']:.3f}, "
           f"NDCG@20 {v['ndcg@20']:.3f}"), ML100K_C, "elsa_knobs",
          (at_least("elsa recall@20", "Recall@20", ("paper_c_code.elsa", "recall@20", 1)),
           at_least("elsa ndcg@20", "NDCG@20", ("paper_c_code.elsa", "ndcg@20", 1))),
          ("ELSA epochs",), "ELSA's Recall@20 and NDCG@20 (paper C's own split among the splits)."),
    Claim("C", "Steering trades personal for segment NDCG@20; goal: segment >= .20 at personal "
          ">= .28", ("paper_c_code.steering", lambda v: f"alpha .2: {v['0.2'][0]:.3f} / "
          f"{v['0.2'][1]:.3f}"), ML100K_C, "elsa_knobs",
          (at_least("segment at personal .28", "segment NDCG@20", 0.20),),
          ("min items per feature",),
          "Segment NDCG@20 of the best-characterizes map (k 16, one feature) along the alpha "
          "curve, interpolated at personal NDCG@20 = .28, on steerable users."),
    Claim("C", "The most-unique mapping steers far less than best-characterizes",
          ("paper_c.most_unique", lambda v: f"segment NDCG@20 at alpha .5: {v['most unique']:.3f}"
           f" against {v['best characterizes']:.3f} (ML-25M)"), ML100K_C, "elsa_knobs",
          (at_most("most unique over best, alpha .5", "segment, unique ÷ best", 0.6, "x"),),
          ("min items per feature",),
          "Segment NDCG@20 at alpha .5, most-unique map over best-characterizes (paper C's maps)."),
    Claim("C", "Spreading the push over a concept's top features gives a better trade-off",
          "better", ML100K_C, "elsa_knobs",
          (at_least("five over one at equal personal", "segment, 5 ÷ 1 features", 1.0, "x"),),
          ("min items per feature",), "Segment NDCG@20 pushing 5 features over pushing 1, "
          "both alpha curves interpolated at 5 personal NDCG@20 levels over the range both reach."),
    Claim("C", "SAE features are more monosemantic than raw dimensions (entropy and KL)",
          "qualitative", ML100K_C, "elsa_knobs",
          (at_most("entropy over raw", "entropy ÷ raw", 1.0, "x"),
           at_most("entropy over untrained", "entropy ÷ untrained", 1.0, "x"),
           at_least("kl over raw", "KL ÷ raw", 1.0, "x"),
           at_least("kl over untrained", "KL ÷ untrained", 1.0, "x")), ("min items per feature",),
          "Mean over features of the entropy of a feature's genre distribution (its row of "
          "A = P S) and of its KL divergence from the average: the SAE's over ELSA's raw "
          f"dimensions' (both signs), {UNTRAINED}. Interval: resampling items."),
    Claim("book", "Matryoshka recovers a planted hierarchy better than plain BatchTopK", "—",
          "synthetic data, MF item embeddings", "hierarchy",
          (at_least("agreement over batchtopk, small first group", "small first group", 1.0, "x"),
           at_least("agreement over batchtopk, first group of 16", "first group of 16", 1.0,
                    "x")), ("group sizes",), "Agreement with the planted tree, Matryoshka's "
          "over BatchTopK's, per setting. Interval: resampling planted parents (5+ seeds)."),
    Claim("book", "SAEs find planted concepts far above chance", "—", SYNTHETIC, "recovery",
          (at_least("f1 over chance, smallest", "smallest F1 ÷ chance", 2.0, "x"),),
          ("match threshold",), "Matched-feature F1 over chance F1 (the firing shuffled), the "
          "smallest of 3 models x 4 variants. Interval: resampling planted concepts (3+ seeds)."),
    Claim("book", "Matryoshka recovers the most planted concepts", "—", SYNTHETIC, "recovery",
          tuple(at_least(f"matryoshka over best other, {m.lower()}", m, 1.0, "x")
                for m in ("SASRec", "MF", "ELSA")), ("match threshold",),
          "Concepts recovered, Matryoshka's over the best other variant's, per model. "
          "Interval: resampling planted concepts (3+ seeds)."),
]  # fmt: skip


def claims(results: dict[str, dict]) -> pd.DataFrame:
    """One row per claim: paper, claim, the paper's figure, ours with its interval, the rule, the
    verdict, the verdicts with every threshold x0.8 and x1.2, data, source, the fields read,
    knobs, how it is measured, the peer figure it cites, and its id (A1, A2, ..., book3)."""
    rows = []
    for c in CLAIMS:
        cites = c.theirs[0] if isinstance(c.theirs, tuple) else ""
        theirs = c.theirs[1](_peer(results, cites)) if cites and "peers" in results else c.theirs
        figures = results.get(c.source, {}).get("figures", {})
        measured = all(k.field in figures for k in c.conditions) and (
            "peers" in results or not any(isinstance(k.threshold, tuple) for k in c.conditions)
        )
        rows.append({
            "paper": c.paper, "claim": c.claim,
            "paper's figure": "—" if isinstance(theirs, tuple) else theirs,
            "ours": "; ".join(_ours(k, figures[k.field]) for k in c.conditions)
            if measured else "not measured yet",
            "rule": "; ".join(_rule(k, results) for k in c.conditions),
            "verdict": judge(c, results) if measured else UNMEASURED,
            "at ×0.8 / ×1.2": " / ".join(judge(c, results, s) for s in SENSITIVITY)
            if measured else UNMEASURED,
            "data and protocol": c.data, "source": f"benchmarks/results/{c.source}.json",
            "fields": ", ".join(f'figures["{k.field}"]' for k in c.conditions),
            "knobs": ", ".join(c.knobs), "measured": c.measured,
            "cites": f"peers.json: {cites}" if cites else "",
        })  # fmt: skip
    table = pd.DataFrame(rows)
    rank = table.groupby("paper").cumcount() + 1  # A1, A2, ..., book3
    return table.assign(id=table["paper"] + rank.astype(str))


def knobs(results: dict[str, dict]) -> pd.DataFrame:
    """Each knob a verdict depends on, once per result file: its value, where it was chosen and
    how (the file's "knobs"; "not recorded yet" where it does not say), and the claims it moves."""
    rows: dict[tuple, dict] = {}
    unknown = {"value": "not recorded yet", "chosen on": "—", "how": "—"}
    for ident, c in zip(claims({})["id"], CLAIMS, strict=True):
        for name in c.knobs:
            knob = results.get(c.source, {}).get("knobs", {}).get(name, unknown)
            row = {"knob": name, "file": f"{c.source}.json", **knob, "claims": []}
            rows.setdefault((c.source, name), row)["claims"].append(ident)
    table = pd.DataFrame(rows.values())
    return table.assign(claims=table["claims"].str.join(", "))


def gpu_results(results: dict[str, dict]) -> list[str]:
    """The result files of the full profile (a GPU run), by benchmark name."""
    return [name for name in results if name.endswith("-full")]
