"""Benchmark: how many steps each of the book's SAE fits needs, measured; the step caps follow.

    python benchmarks/fit_budget.py [--profile quick] [--long 1500] [--seed 0]

Each kind of SAE the book fits (on SASRec's states, chapters 3-5 and 7; on MF's user and item
embeddings with the prediction-aware term, chapter 6; on ELSA's user embeddings and their views,
chapter 8; on the item embeddings of MF on the synthetic data, chapters 7 and 9) is trained once
for `--long` steps with the fit's stopping rule switched off, and its held-out FVU measured every
50 steps. From that curve: the first step whose held-out FVU is within 2% (and 5%) of the best
the long fit reached, the step at which the book's stopping rule (4 checks without a 0.5% gain)
would have stopped, and the milliseconds per step. A profile's step cap is the 2% step, rounded
up to the next 100: the fit then loses at most 2% of FVU to the cap, and the rule stops it sooner
where it can.

Writes benchmarks/results/fit_budget.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch
from common import devices_of, result_path, write_report  # a script: benchmarks/ is on the path

from recsae_lite import _nb, hierarchy, knobs, two_tower, zoo
from recsae_lite.activations import collect
from recsae_lite.data import load_dataset, user_split
from recsae_lite.models import ELSA, ELSAConfig
from recsae_lite.sae import FitConfig, SAEConfig, fit
from recsae_lite.train import train


def kinds(profile: str, seed: int, only: list[str]):
    """(name, hidden states x, SAEConfig, batch size, prediction term or None) of each kind
    named in `only` (sasrec, mf, elsa, synthetic)."""
    if "sasrec" in only:
        sasrec = zoo.model("sasrec", "ml-100k", profile, seed=seed, progress=False)
        x = collect(sasrec.model, sasrec.split, "train", "all")
        batch = zoo.SAE_SETTINGS[profile]["batch_size"]
        for variant in ("topk", "matryoshka"):
            config = zoo.sae_settings(x.shape[1], profile, seed, k=8, variant=variant)[0]
            yield f"sasrec states, {variant}", x, config, batch, None
    if "mf" in only:
        yield mf_kind(profile, seed)
    if "elsa" in only:
        yield elsa_kind(seed)
    if "synthetic" in only:
        synthetic = zoo.model("mf", load_dataset("synthetic", seed=seed), profile, seed=seed,
                              progress=False)  # fmt: skip
        x = two_tower.embeddings(synthetic.model)[1].detach()
        config = hierarchy.sae_config(x.shape[1], "matryoshka", (8, 24, 96), 4)
        yield "synthetic items, matryoshka", x, config, 4096, None


def mf_kind(profile: str, seed: int):
    mf = zoo.model("mf", "ml-100k", profile, seed=seed, progress=False)
    rows = torch.randperm(len(mf.split.users), generator=torch.Generator().manual_seed(seed))
    x, term = two_tower.sae_inputs(mf.model, mf.split, rows[len(rows) // 5 :].numpy(), seed)
    config = SAEConfig(x.shape[1], 256, "topk", 16, pred_coefficient=1.0)
    return "mf users and items, w_pred 1", x, config, 512, term


def elsa_kind(seed: int):
    dataset = load_dataset("ml-100k")
    split = user_split(dataset)
    torch.manual_seed(seed)
    elsa = ELSA(ELSAConfig(dataset.n_items, 256))
    train(elsa, split, dataclasses.replace(knobs.TRAIN_ELSA, seed=seed), progress=False)
    x = knobs.views(elsa, split, 50, keep=0.8, seed=seed)
    return "elsa views, k 16", x, knobs.sae_config(256, 2048, 16), 1024, None


def rule_stop(fvu: list[float], steps: list[int]) -> int:
    """The step at which the book's stopping rule (FitConfig's patience and min_gain, after the
    warm-up) ends a fit with this held-out curve."""
    rule = FitConfig()
    patience, min_gain, settled = rule.patience, rule.min_gain, rule.warmup_steps
    best, waited = None, 0
    for step, value in zip(steps, fvu, strict=True):
        if step < settled:
            continue
        if best is None or value < best - min_gain * abs(best):
            best, waited = value, 0
        else:
            waited += 1
            if waited >= patience:
                return step
    return steps[-1]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["ci", "quick", "full"])
    parser.add_argument("--long", type=int, default=1_500, help="steps of each long fit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", default=["sasrec", "mf", "elsa", "synthetic"])
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/fit_budget.json")
    args = parser.parse_args(argv)
    _nb.seed_everything(args.seed)
    rows, work = [], []
    for name, x, config, batch, term in kinds(args.profile, args.seed, args.only):
        never = FitConfig(max_steps=args.long, batch_size=batch, patience=10**9, seed=args.seed)
        sae = fit(x, config, never, prediction=term, progress=False)
        history, work = sae.history, [*work, sae]
        fvu, steps = history.held_out_fvu, history.step
        best = min(fvu)
        within = {tol: next(s for s, v in zip(steps, fvu, strict=True) if v <= best * (1 + tol))
                  for tol in (0.02, 0.05)}  # fmt: skip
        rows.append({
            "fit": name, "samples": len(x), "batch": batch, "long_steps": args.long,
            "best_held_out_fvu": round(best, 4), "step_within_2pct": within[0.02],
            "step_within_5pct": within[0.05], "rule_stops_at": rule_stop(fvu, steps),
            "ms_per_step": round(1000 * history.seconds / steps[-1], 1),
            "cap": -(-within[0.02] // 100) * 100,
            "curve": [[s, round(v, 4)] for s, v in zip(steps, fvu, strict=True)],
        })  # fmt: skip
        print({k: v for k, v in rows[-1].items() if k != "curve"}, flush=True)
    report = {"benchmark": "fit_budget", "profile": args.profile, "seed": args.seed, "fits": rows}
    out = args.out or result_path("fit_budget", args.profile)
    write_report(out, report, devices_of(*work))


if __name__ == "__main__":
    main(sys.argv[1:])
