"""The reproduction report (chapter 10): each headline claim of the three papers next to what this
book measured, read from the benchmarks' result files and never re-trained.

- `load`: every benchmarks/results/*.json (written by `make bench`), by name; among them
  peers.json, the peers' figures with their sources (written by hand, not by a benchmark).
- `claims`: one row per claim: the paper's figure, ours, the data and protocol, whether it holds,
  and the result file it comes from. A claim whose file is missing reads "not measured yet".
- `peer_figures`, `base_models`, `sae_speed`, `book_times`, `gpu_results`: the other tables.

A claim is a function of the loaded results returning (what we measured, whether it holds); the
paper's side and the verdict's rule are written next to it, so a reader can check both. Every
peer figure a claim cites is read from peers.json, never typed here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

# our base model -> its RecBole counterpart in peers.json (same ML-100K protocol)
COUNTERPARTS = {"pop": "recbole.pop", "mf": "recbole.bpr", "neumf": "recbole.neumf",
                "elsa": "recbole.ease", "sasrec": "recbole.sasrec"}  # fmt: skip


# where the results are when the package runs from a clone of the repository (pip install -e)
REPOSITORY_RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def load(folder: str | Path | None = None) -> dict[str, dict]:
    """Every result file in `folder` (default: the repository's benchmarks/results), by benchmark
    name (its file stem)."""
    folder = REPOSITORY_RESULTS if folder is None else Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no benchmark results in {folder}: the report reads benchmarks/results/*.json of a "
            "clone of the repository; clone it (git clone) and set RESULTS in the parameters "
            "cell to its benchmarks/results folder."
        )
    return {
        p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))
    }


def _frame(results: dict, name: str, key: str) -> pd.DataFrame:
    return pd.DataFrame(results[name][key])


def _peer(results: dict, figure: str) -> dict:
    """The values of a figure of peers.json (loaded with the results), by its id."""
    return next(f["values"] for f in results["peers"]["figures"] if f["id"] == figure)


# -- the claims: (paper, claim, the paper's figure, data and protocol, source, measure, rule) ----
# measure(results) -> (what we measured, whether the rule holds); `claims` calls it only when the
# source's result file is there


def _a_monosemantic(r):
    m = _frame(r, "sasrec_steering", "monosemanticity").set_index(["kind", "view"])["pass share"]
    sae, raw = m["SAE features"], m["raw dimensions"]
    text = ", ".join(f"{v}: SAE {sae[v]:.0%} vs raw {raw[v]:.0%}" for v in sae.index)
    return f"features with a genre score >= 0.5 ({text})", bool((sae >= 1.5 * raw).all())


def _a_cost(r):
    change = r["sasrec_steering"]["steering_summary"]["SAE"]["median_ndcg_change"]
    return f"median NDCG@10 change {change:+.1%} at the chosen strength", abs(change) <= 0.10


def _a_steers(r):
    x = r["sasrec_steering"]["steering_summary"]["SAE"]["median_share_x"]
    return f"median genre share x{x:.2f} (14 genres, <= 10% NDCG lost on validation)", x > 1


def _a_probe(r):
    s = r["sasrec_steering"]["steering_summary"]
    sae, probe = s["SAE"]["median_share_x"] - 1, s["probe"]["median_share_x"] - 1
    return f"share gained: SAE +{sae:.0%}, probe +{probe:.0%}", sae >= 0.75 * probe


def _a_sasrec_ml1m(r):
    m = r["base_models-full"]["models"]["sasrec"]["test"]
    theirs = _peer(r, "sasrec_plus.full_ce")["ndcg@10"]
    return f"NDCG@10 {m['ndcg@10']:.4f}, HR@10 {m['hr@10']:.4f}", m["ndcg@10"] >= 0.9 * theirs


def _fidelity(r):
    return _frame(r, "two_tower", "fidelity").groupby(["model", "w_pred"])[["rbo", "kendall_tau"]]


def _b_pred_term(r):
    f = _fidelity(r).mean()["rbo"]
    text = "; ".join(
        f"{m}: RBO {f[m].iloc[0]:.2f} at w 0, {f[m].iloc[-1]:.2f} at w 10" for m in ("mf", "ncf")
    )
    return text, bool(all(f[m].iloc[-1] > f[m].iloc[0] + 0.01 for m in ("mf", "ncf")))


def _b_fidelity(model, goal):
    """goal: (RBO, tau) to reach, or the id of the peer figure that holds them."""

    def measure(r):
        theirs = {} if isinstance(goal, tuple) else _peer(r, goal)
        rbo, tau = goal if isinstance(goal, tuple) else (theirs["rbo"], theirs["kendall_tau"])
        best = _fidelity(r).mean().loc[model].sort_values("rbo").iloc[-1]
        text = f"RBO {best['rbo']:.2f}, tau {best['kendall_tau']:.2f} (16 of 256 active)"
        return text, bool(best["rbo"] >= rbo and best["kendall_tau"] >= tau)

    return measure


def _b_purity(model, figure):
    def measure(r):
        theirs = _peer(r, figure)["mean"]
        p = _frame(r, "two_tower", "purity")
        ours = p[(p.model == model) & (p.coordinates == "SAE 22")]["purity@10"].mean()
        return f"mean purity@10 {ours:.2f} (22 features, 8 genres, 3 seeds)", bool(ours > theirs)

    return measure


def _b_pure_genres(r):
    p = _frame(r, "two_tower", "purity")
    p = p[(p.model == "mf") & (p.coordinates == "SAE 256") & p.genre.isin(["Comedy", "Horror"])]
    means = p.groupby("genre")[["purity@10", "purity@50", "purity@100"]].mean()
    # NaN: a K above the genre's number of films (Horror has 92), where purity cannot reach 1
    text = "; ".join(f"{g}: " + "/".join(f"{v:.2f}" for v in row) for g, row in means.iterrows())
    return f"purity@10/50/100 (256 features) {text}", bool((means.fillna(1.0) == 1.0).all().all())


def _b_broad_first(r):
    g = _frame(r, "hierarchy", "mf_groups")
    g = g[g.variant == "matryoshka"].groupby("group")[["popularity", "genre entropy"]].mean()
    first, last = g.iloc[0], g.iloc[-1]
    text = (f"popularity percentile of top items {first['popularity']:.2f} (first group) vs "
            f"{last['popularity']:.2f} (last); genre entropy {first['genre entropy']:.2f} vs "
            f"{last['genre entropy']:.2f}")  # fmt: skip
    holds = (
        first["popularity"] > last["popularity"] and first["genre entropy"] > last["genre entropy"]
    )
    return text, bool(holds)


def _c_cost(r):
    q = _frame(r, "elsa_knobs", "quality")
    base = q[q.sae == "none"].set_index("seed")["ndcg@20"]
    drops = {}
    for k in ("k16", "k64"):
        with_sae = q[(q.sae == k) & (q.views == 50)].set_index("seed")["ndcg@20"]
        drops[k] = float((1 - with_sae / base).mean())
    text = f"NDCG@20 lost: {drops['k16']:.1%} at k = 16, {drops['k64']:.1%} at k = 64"
    return text, 0.05 <= drops["k16"] <= 0.10 and drops["k64"] <= 0.03


def _c_base(r):
    q = _frame(r, "elsa_knobs", "quality")
    base = q[q.sae == "none"][["recall@20", "ndcg@20"]].mean()
    theirs = _peer(r, "paper_c_code.elsa")
    text = f"Recall@20 {base['recall@20']:.3f}, NDCG@20 {base['ndcg@20']:.3f} (our split, 3 seeds)"
    return text, bool((base >= pd.Series(theirs)).all())


def _steering(r, mapping="best characterizes", features=1):
    s = _frame(r, "elsa_knobs", "steering")
    s = s[(s.mapping == mapping) & (s.features == features)]
    return s.groupby("alpha")[["personal ndcg", "segment ndcg"]].mean()


def _c_tradeoff(r):
    s = _steering(r)
    text = "; ".join(f"{a:g}: {p:.3f} / {g:.3f}" for a, (p, g) in s.iterrows())
    reached = s[s["personal ndcg"] >= 0.28]["segment ndcg"].max()
    return f"alpha: personal / segment NDCG@20 {text}", bool(reached >= 0.20)


def _c_unique(r):
    best, unique = _steering(r).iloc[-1], _steering(r, "most unique").iloc[-1]
    text = (f"segment NDCG@20 at alpha .5: most unique {unique['segment ndcg']:.3f}, "
            f"best characterizes {best['segment ndcg']:.3f}")  # fmt: skip
    return text, bool(unique["segment ndcg"] < 0.5 * best["segment ndcg"])


def _c_spread(r):
    one, five = _steering(r), _steering(r, features=5)
    # segment NDCG of each curve at equal personal NDCG, over the range both curves cover
    low = max(one["personal ndcg"].min(), five["personal ndcg"].min())
    high = min(one["personal ndcg"].max(), five["personal ndcg"].max())
    levels = np.linspace(low, high, 5)
    at = {n: np.interp(levels, *s.sort_values("personal ndcg").to_numpy().T)
          for n, s in (("1", one), ("5", five))}  # fmt: skip
    text = (f"segment NDCG@20 at equal personal NDCG ({low:.2f}-{high:.2f}), mean: "
            f"1 feature {at['1'].mean():.3f}, 5 features {at['5'].mean():.3f}")  # fmt: skip
    return text, bool(at["5"].mean() > at["1"].mean())


def _book_hierarchy(r):
    p = _frame(r, "hierarchy", "planted").groupby(["setting", "variant"])["agreement"].mean()
    text = "; ".join(f"{s}: Matryoshka {p[s]['matryoshka']:.2f}, BatchTopK {p[s]['batchtopk']:.2f}"
                     for s in p.index.levels[0])  # fmt: skip
    return f"hierarchy agreement (5 seeds) {text}", bool(
        (p.xs("matryoshka", level=1) > p.xs("batchtopk", level=1)).all()
    )


def _book_above_chance(r):
    runs = pd.DataFrame(r["recovery"]["runs"])
    means = runs.groupby(["model", "variant"])[["f1", "chance f1"]].mean()
    ratio = means["f1"] / means["chance f1"]
    text = f"matched-feature F1 over chance F1: {ratio.min():.1f}x to {ratio.max():.1f}x"
    return f"{text} (3 models x 4 variants, 3 seeds)", bool((ratio > 2).all())


def _book_matryoshka_recovers(r):
    summary = r["recovery"]["summary"]
    text = "; ".join(f"{m}: {s['winner']} (+{s['recovered margin']:.0%} recovered over "
                     f"{s['runner-up']})" for m, s in summary.items())  # fmt: skip
    return f"winner by concepts recovered: {text}", all(
        s["winner"] == "matryoshka" for s in summary.values()
    )


def _fidelity_text(v):
    return f"RBO {v['rbo']:.2f}, tau {v['kendall_tau']:.2f}"


def _steered(alpha):
    return lambda v: f"alpha {alpha}: {v[alpha][0]:.3f} / {v[alpha][1]:.3f}"


ML100K_LOO = "ML-100K, leave-one-out by time, full ranking, seen items masked"
ML100K_B = "ML-100K, any rating positive, a fifth of users held out, top-30 lists"
ML100K_C = "ML-100K, paper C's split (ratings >= 4, 80/10/10 users, 20% held out)"
CLAIMS = [
    ("A", "SAE features are markedly more monosemantic than raw hidden dimensions",
     "qualitative", ML100K_LOO, "sasrec_steering", _a_monosemantic,
     "SAE's share at least 1.5x the raw dimensions' in both views"),
    ("A", "Moderate interventions cost under 10% of NDCG", "< 10%", ML100K_LOO,
     "sasrec_steering", _a_cost, "median change within 10%"),
    ("A", "Raising a genre's feature adds that genre's films", "qualitative", ML100K_LOO,
     "sasrec_steering", _a_steers, "median share rises"),
    ("A", "The unsupervised SAE steers about as well as a supervised probe", "comparable",
     ML100K_LOO, "sasrec_steering", _a_probe, "SAE's gain at least 75% of the probe's"),
    ("A", "SASRec+ on ML-1M",
     ("sasrec_plus.full_ce", lambda v: f"NDCG@10 {v['ndcg@10']:.4f}, HR@10 {v['hr@10']:.4f}"),
     "ML-1M, leave-one-out (full profile)", "base_models-full", _a_sasrec_ml1m,
     "NDCG@10 at least 90% of the paper's"),
    ("B", "Raising w_pred raises fidelity (RBO, Kendall tau)", "rises", ML100K_B, "two_tower",
     _b_pred_term, "RBO at w 10 above w 0 by > .01 for MF and NCF"),
    ("B", "NCF fidelity, against paper B's code on ML-100K",
     ("paper_b_code.ncf_fidelity", _fidelity_text), ML100K_B, "two_tower",
     _b_fidelity("ncf", "paper_b_code.ncf_fidelity"), "ours at least theirs, both measures"),
    ("B", "MF fidelity, against paper B's code on ML-100K (real MF lists)",
     ("paper_b_code.mf_fidelity", _fidelity_text), ML100K_B, "two_tower",
     _b_fidelity("mf", "paper_b_code.mf_fidelity"), "ours at least theirs, both"),
    ("B", "Fidelity goal of this book: RBO >= .85 and tau >= .7, NCF", "RBO .85, tau .70",
     ML100K_B, "two_tower", _b_fidelity("ncf", (0.85, 0.70)), "both reached"),
    ("B", "Fidelity goal of this book: RBO >= .85 and tau >= .7, MF", "RBO .85, tau .70",
     ML100K_B, "two_tower", _b_fidelity("mf", (0.85, 0.70)), "both reached"),
    ("B", "Genre purity@10 of MF's 22 features, against paper B's code",
     ("paper_b_code.mf_purity10", lambda v: f"mean {v['mean']:.2f}"), ML100K_B,
     "two_tower", _b_purity("mf", "paper_b_code.mf_purity10"), "ours above theirs"),
    ("B", "Genre purity@10 of NCF's 22 features, against paper B's code",
     ("paper_b_code.ncf_purity10", lambda v: f"mean {v['mean']:.2f}"), ML100K_B,
     "two_tower", _b_purity("ncf", "paper_b_code.ncf_purity10"), "ours above theirs"),
    ("B", "MF's Comedy and Horror features reach purity 1.0 at every K",
     ("paper_b.pure_genres", lambda v: f"Comedy {v['Comedy']:.1f}, Horror {v['Horror']:.1f} "
      "(ML-1M)"), ML100K_B, "two_tower", _b_pure_genres,
     "1.0 at each K of 10, 50, 100 that the genre has films for"),
    ("B", "Early Matryoshka features are broad, later ones niche", "qualitative",
     "ML-100K, MF item embeddings", "hierarchy", _b_broad_first,
     "first group's items more popular and more mixed in genre than the last's"),
    ("C", "Inserting the SAE costs a few percent of NDCG@20, less at larger k",
     ("paper_c.sae_cost", lambda v: f"{v['k16 low']:.0%}-{v['k16 high']:.0%} at k = 16, "
      f"{v['k64']:.0%} at k = 64 (ML-25M)"),
     ML100K_C, "elsa_knobs", _c_cost, "5-10% at k = 16 and at most 3% at k = 64"),
    ("C", "ELSA quality (paper C's code on ML-100K)",
     ("paper_c_code.elsa", lambda v: f"Recall@20 {v['recall@20']:.3f}, "
      f"NDCG@20 {v['ndcg@20']:.3f}"), ML100K_C, "elsa_knobs", _c_base, "at least theirs"),
    ("C", "Steering trades personal for segment NDCG@20; goal: segment >= .20 at personal >= .28",
     ("paper_c_code.steering", _steered("0.2")), ML100K_C, "elsa_knobs", _c_tradeoff,
     "the goal is reached"),
    ("C", "The most-unique mapping does not steer",
     ("paper_c.most_unique", lambda v: f"segment NDCG@20 at alpha .5: {v['most unique']:.3f}"
      f" against {v['best characterizes']:.3f} (ML-25M)"), ML100K_C, "elsa_knobs",
     _c_unique, "its segment NDCG below half of best-characterizes'"),
    ("C", "Spreading the push over a concept's top features gives a better trade-off", "better",
     ML100K_C, "elsa_knobs", _c_spread, "5 features give more segment NDCG at equal personal"),
    ("book", "Matryoshka recovers a planted hierarchy better than plain BatchTopK", "—",
     "synthetic data, MF item embeddings", "hierarchy", _book_hierarchy,
     "higher agreement in every setting"),
    ("book", "SAEs find planted concepts far above chance", "—",
     "synthetic data, SASRec, MF and ELSA", "recovery", _book_above_chance,
     "every model and variant above twice the chance F1"),
    ("book", "Matryoshka recovers the most planted concepts", "—",
     "synthetic data, SASRec, MF and ELSA", "recovery", _book_matryoshka_recovers,
     "Matryoshka wins on every model"),
]  # fmt: skip


def claims(results: dict[str, dict]) -> pd.DataFrame:
    """One row per claim: paper, claim, the paper's figure (text, or (peer figure id, its text
    from the figure's values)), ours, data, rule, holds, source, and the peer figure it cites."""
    rows = []
    for paper, claim, theirs, data, source, measure, rule in CLAIMS:
        cites = theirs[0] if isinstance(theirs, tuple) else ""
        if cites:
            theirs = theirs[1](_peer(results, cites)) if "peers" in results else "—"
        if source in results and (not cites or "peers" in results):
            ours, holds = measure(results)
            verdict = "yes" if holds else "no"
        else:
            ours, verdict = "not measured yet", "—"
        rows.append({"paper": paper, "claim": claim, "paper's figure": theirs, "ours": ours,
                     "data and protocol": data, "holds if": rule, "holds": verdict,
                     "source": f"benchmarks/results/{source}.json",
                     "cites": f"peers.json: {cites}" if cites else ""})  # fmt: skip
    return pd.DataFrame(rows)


def peer_figures(results: dict[str, dict]) -> pd.DataFrame:
    """Every figure of peers.json, one row each: its id, what it is, its values, and its source's
    kind (published, or measured: the peer's code on our data) and reference."""
    sources = results["peers"]["sources"]
    rows = []
    for f in results["peers"]["figures"]:
        s = sources[f["source"]]
        where = s.get("citation") or f"{s['repository']} at {s.get('commit') or s.get('version')}"
        rows.append({"id": f["id"], "what": f["what"], "values": f["values"], "kind": s["kind"],
                     "source": where, "data": s["data"]})  # fmt: skip
    return pd.DataFrame(rows)


def base_models(results: dict[str, dict]) -> pd.DataFrame:
    """Our base models' test NDCG@10 / HR@10 next to RecBole's on the same protocol (peers.json),
    then RecBole's models that have no counterpart here."""
    ours = results["base_models"]["models"]
    recbole = {f["id"]: f for f in results["peers"]["figures"] if f["source"] == "recbole"}
    rows = []
    for name, m in ours.items():
        peer = recbole.get(COUNTERPARTS.get(name), {"what": "—", "values": {}})
        rows.append({"model": name, "NDCG@10": m["test"]["ndcg@10"], "HR@10": m["test"]["hr@10"],
                     "peer (RecBole)": peer["what"],
                     "peer NDCG@10": peer["values"].get("ndcg@10")})  # fmt: skip
    paired = {COUNTERPARTS[name] for name in ours if name in COUNTERPARTS}
    for figure_id, peer in recbole.items():
        if figure_id not in paired:
            rows.append({"model": "—", "peer (RecBole)": peer["what"],
                         "peer NDCG@10": peer["values"]["ndcg@10"]})  # fmt: skip
    return pd.DataFrame(rows)


def sae_speed(results: dict[str, dict]) -> pd.DataFrame:
    """Training-step throughput over the dense-matmul ceiling, per device, variant and shape."""
    speed = pd.DataFrame(results["sae_speed"]["speed"])
    speed["shape"] = speed["d_in"].astype(str) + " x " + speed["d_sae"].astype(str)
    return speed.pivot_table(
        index=["device", "variant"], columns="shape", values="ratio_to_ceiling"
    )


def book_times(results: dict[str, dict]) -> pd.DataFrame:
    """Seconds per chapter (rows) and profile (columns), from `make bench`'s book_times."""
    return pd.DataFrame(results["book_times"]["chapter_seconds"])


def gpu_results(results: dict[str, dict]) -> list[str]:
    """The result files of the full profile (a GPU run), by benchmark name."""
    return [name for name in results if name.endswith("-full")]
