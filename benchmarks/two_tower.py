"""Benchmark: paper B on MF and NCF, measured without the notebooks (chapter 6).

    python benchmarks/two_tower.py [--profile quick] [--seeds 0 1 2] [--device auto]

For each model and seed: a fifth of the users is held out; one TopK SAE (16 of 256) reads the
other users' embeddings and every item's, with the prediction-aware term at each w_pred. Reported:
fidelity on the held-out users (RBO p = 0.9 and Kendall tau, top 30, original lists against lists
from reconstructed embeddings), FVU, and purity@10/50/100 of each genre's best feature, for the SAE
of 256, one of 22 (paper B's size; k = 8) and the raw embedding dimensions (both signs).
Uses the zoo's base models. Writes benchmarks/results/two_tower.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from common import devices_of, result_path, write_report  # a script: benchmarks/ is on the path

from recsae_lite import interpret, two_tower, zoo
from recsae_lite._nb import pick_device, seed_everything
from recsae_lite.metrics import sae_metrics
from recsae_lite.sae import FitConfig, SAEConfig, fit

GENRES = ["Comedy", "Horror", "Drama", "Action", "Children's", "Romance", "Sci-Fi", "Documentary"]
W_PRED = [0.0, 1.0, 2.0, 5.0, 10.0]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["ci", "quick", "full"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1_500)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/two_tower.json")
    args = parser.parse_args(argv)

    device = pick_device(args.device)
    dataset_name = "ml-1m" if args.profile == "full" else "ml-100k"
    fidelity, purity, ran_on = [], [], set()
    for name in ("mf", "ncf"):
        for seed in args.seeds:
            seed_everything(seed)
            trained = zoo.model(name, dataset_name, args.profile, seed=0, device=device)
            model, split, dataset = trained.model, trained.split, trained.dataset
            order = np.random.default_rng(seed).permutation(len(split.users))
            held, rows = np.sort(order[: len(order) // 5]), np.sort(order[len(order) // 5 :])
            items = two_tower.embeddings(model)[1]
            x, term = two_tower.sae_inputs(model, split, rows, seed)
            settings = FitConfig(max_steps=args.steps, batch_size=512, seed=seed)
            configs = {
                w: SAEConfig(x.shape[1], 256, "topk", 16, pred_coefficient=w) for w in W_PRED
            }
            configs["small"] = SAEConfig(x.shape[1], 22, "topk", 8, pred_coefficient=W_PRED[-1])
            saes = {}
            for w in W_PRED:
                sae = fit(x, configs[w], settings, prediction=term, progress=False)
                saes[w] = sae
                fid = two_tower.fidelity(model, sae, split, held)
                fidelity.append({"model": name, "seed": seed, "w_pred": w, "l0": 16,
                                 "fvu": sae_metrics(sae, x)["fvu"], **fid})  # fmt: skip
                print(fidelity[-1], flush=True)
            small = fit(x, configs["small"], settings, prediction=term, progress=False)
            ran_on |= devices_of(model, small, *saes.values())
            for kind, acts in (
                ("SAE 256", saes[W_PRED[-1]].encode(items)),
                ("SAE 22", small.encode(items)),
                ("raw dims", interpret.signed(items - items.mean(0))),
            ):
                table = interpret.purity_table(acts.detach().cpu(), dataset, GENRES)
                for record in table.to_dict(orient="records"):
                    purity.append({"model": name, "seed": seed, "coordinates": kind, **record})

    report = {
        "benchmark": "two_tower",
        "profile": args.profile,
        "dataset": dataset_name,
        "seeds": args.seeds,
        "steps": args.steps,
        "fidelity": fidelity,
        "purity": purity,
    }
    write_report(args.out or result_path("two_tower", args.profile), report, ran_on)


if __name__ == "__main__":
    main(sys.argv[1:])
