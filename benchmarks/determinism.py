"""Benchmark: the same seed gives the same numbers, on the CPU and on a GPU.

    python benchmarks/determinism.py [--device auto] [--profile quick]

Runs the book's code paths twice, each time in a fresh process with an empty model zoo, and
compares every number they measured: SASRec (trained) with its TopK SAE (the zoo's fit), a
Matryoshka SAE, a steering sweep and a direction edit; MF with paper B's prediction-aware SAE
and its fidelity; ELSA on paper C's user split, its SAE inside, paper C's mix. Small models
(the ci profile's base models, SAEs of a few hundred steps), so that it takes a minute or two.
On a GPU, `_nb.setup` enforces deterministic algorithms: the two runs must agree to the bit.
Writes benchmarks/results/determinism.json (determinism-full.json for --profile full, which is
what `make bench` runs on a CUDA machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from common import result_path, write_report  # run as a script, benchmarks/ is on the path


def measure(device_name: str) -> dict:
    """One run: every number, keyed by what it is."""
    from recsae_lite import knobs, steer, two_tower, zoo
    from recsae_lite._nb import pick_device, seed_everything
    from recsae_lite.activations import ndcg_recovered
    from recsae_lite.data import load_dataset, user_split
    from recsae_lite.interventions import Spliced, direction_edit, feature_direction, feature_edit
    from recsae_lite.metrics import sae_metrics
    from recsae_lite.models import ELSA, ELSAConfig
    from recsae_lite.sae import FitConfig, SAEConfig, fit
    from recsae_lite.train import evaluate, train

    seed_everything(0)  # on a GPU, with deterministic algorithms enforced
    device = pick_device(device_name)
    data = load_dataset("ml-100k")
    out = {}
    sasrec = zoo.model("sasrec", data, "ci", seed=0, device=device, progress=False)
    model, split = sasrec.model, sasrec.split
    out["sasrec"] = evaluate(model, split, "test", dataset=data)
    d = model.config.hidden_size
    sae, x = zoo.sae(sasrec, *zoo.sae_settings(d, "quick", 0), device=device, progress=False)
    out["sae_device"] = str(sae.W_dec.device)
    out["sae"] = {k: v for k, v in sae_metrics(sae, x).items() if k != "density"}
    out["sae_ndcg_recovered"] = ndcg_recovered(model, sae, split)
    nested = SAEConfig(d, 16 * d, "matryoshka", 8, groups=(d, 3 * d, 12 * d))
    matryoshka = fit(x, nested, FitConfig(max_steps=400, seed=0), progress=False)
    out["matryoshka"] = {k: v for k, v in sae_metrics(matryoshka, x).items() if k != "density"}
    rows, genre = np.arange(200), data.genre_names.index("Sci-Fi")
    edits = {s: feature_edit(sae, 3, s) for s in (0.0, 2.0, 8.0)}
    table = steer.sweep(model, split, rows, edits, data, data.genres[:, genre])
    out["sweep"] = table[["strength", "share", "ndcg"]].to_dict("list")
    push = Spliced(model, direction_edit(feature_direction(sae, 3), 1.0))
    out["direction"] = evaluate(push, split, "test", rows=rows)

    mf = zoo.model("mf", data, "ci", seed=0, device=device, progress=False)
    x_mf, term = two_tower.sae_inputs(mf.model, mf.split, np.arange(0, len(mf.split.users), 2))
    config = SAEConfig(x_mf.shape[1], 256, "topk", 16, pred_coefficient=1.0)
    settings = FitConfig(max_steps=300, batch_size=512)
    mf_sae = fit(x_mf, config, settings, prediction=term, progress=False)
    out["mf_fidelity"] = two_tower.fidelity(mf.model, mf_sae, mf.split, np.arange(1, 400, 2))

    users = user_split(data)
    torch.manual_seed(0)
    elsa = ELSA(ELSAConfig(data.n_items, 64)).to(device)
    train(elsa, users, replace(knobs.TRAIN_ELSA, epochs=5), progress=False)
    out["elsa"] = evaluate(elsa, users, "test", ks=(20,))
    views = knobs.views(elsa, users, 5, 0.8)
    knob = fit(views, knobs.sae_config(64, 512, 16), FitConfig(max_steps=300), progress=False)
    out["elsa_sae"] = evaluate(Spliced(elsa, knob), users, "test", ks=(20,))
    mixed = Spliced(elsa, feature_edit(knob, [5, 9], 0.3, "mix", error_term=False))
    out["elsa_mix"] = evaluate(mixed, users, "test", ks=(20,))
    return json.loads(json.dumps(out, default=float))


def differences(a, b, path="") -> list[str]:
    """Where two runs' numbers differ, as paths into their results."""
    if isinstance(a, dict):
        return [d for k in a for d in differences(a[k], b.get(k), f"{path}/{k}")]
    if isinstance(a, list):
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in differences(x, y, f"{path}/{i}")]
    same = a == b or (isinstance(a, float) and np.isnan(a) and np.isnan(b))
    return [] if same else [f"{path}: {a} != {b}"]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["quick", "full"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)  # one run, into this file
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/determinism.json")
    args = parser.parse_args(argv)
    if args.run:
        args.run.write_text(json.dumps(measure(args.device)))
        return
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(2):
            env = {**os.environ, "RECSAE_ZOO": f"{tmp}/zoo{i}"}
            command = [sys.executable, __file__, "--device", args.device, "--run", f"{tmp}/{i}"]
            subprocess.run(command, env=env, check=True)
            runs.append(json.loads(Path(f"{tmp}/{i}").read_text()))
    different = differences(*runs)
    print(f"{len(different)} numbers differ between the two runs", *different[:20], sep="\n")
    report = {"benchmark": "determinism", "profile": args.profile, "seed": 0,
              "identical": not different, "differences": different, "run": runs[0]}  # fmt: skip
    path = args.out or result_path("determinism", args.profile)
    write_report(path, report, {runs[0]["sae_device"]})


if __name__ == "__main__":
    main(sys.argv[1:])
