"""Benchmark: the host memory each chapter's heavy path needs at ML-1M's size (issue 24).

    python benchmarks/scale.py [--profile quick] [--steps 3] [--seed 0] [--device cpu]

The `full` profile reads ML-1M: about a million positions, each with 1,024 SAE features, whose
dense codes alone would take 4 GB. This runs the full profile's code paths of chapters 2-9 (the
same library calls as the chapters, with the full profile's model and SAE sizes) on a synthetic
dataset of ML-1M's size: 6,040 users, 3,706 items, 1,000,209 interactions, histories of 20 to 200
items. Only the number of training steps is cut (`--steps` per model and SAE; the probes' and
sweeps' iterations too): memory does not grow with them. Each chapter runs in its own process,
after the ones whose models it loads; the process's peak resident memory (ru_maxrss, from
os.wait4) is that chapter's. The bar: at most 8 GB per chapter (Colab gives 12.7 GB).

Whatever the profile, the paths and sizes are the full profile's: --profile quick (the default, and
`make bench`'s first pass) runs on the CPU and writes benchmarks/results/scale.json; --profile full
(its pass on a GPU machine) computes on the GPU where there is one (--device auto) and writes
scale-full.json: the host memory beside a device, as in Colab.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from common import devices_of, result_path, write_report  # a script: benchmarks/ is on the path

from recsae_lite import (
    features,
    hierarchy,
    interpret,
    knobs,
    models,
    recovery,
    steer,
    two_tower,
    zoo,
)
from recsae_lite._nb import pick_device, seed_everything
from recsae_lite.activations import collect
from recsae_lite.data import leave_one_out, load_dataset, user_split
from recsae_lite.data.core import make_dataset
from recsae_lite.interventions import Spliced
from recsae_lite.metrics import sae_metrics
from recsae_lite.models import ELSA, ELSAConfig
from recsae_lite.sae import SAE, FitConfig, SAEConfig, fit
from recsae_lite.train import TrainConfig, batches, evaluate, stage_data

N_USERS, N_ITEMS, N_INTERACTIONS, LENGTHS = 6_040, 3_706, 1_000_209, (20, 200)
GENRES = ["Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
          "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
          "Thriller", "War", "Western"]  # fmt: skip
BAR_MB = 8 * 1024


def ml1m_sized(seed: int):
    """A dataset of ML-1M's size: each user's history length in LENGTHS (mean about 165, as
    ML-1M's), distinct items drawn by a Zipf-like popularity, 1-3 genres per item, ratings 1-5."""
    rng = np.random.default_rng(seed)
    low, high = LENGTHS
    lengths = low + np.floor((high - low + 1) * rng.random(N_USERS) ** 0.25).astype(int)
    while extra := N_INTERACTIONS - lengths.sum():  # one more (or less) for users with room
        room = np.flatnonzero(lengths < high if extra > 0 else lengths > low)
        lengths[rng.choice(room, min(abs(extra), len(room)), replace=False)] += np.sign(extra)
    log_weight = -0.8 * np.log(np.arange(1, N_ITEMS + 1))  # each user rates an item once
    draws = [np.argsort(-(log_weight + rng.gumbel(size=N_ITEMS)))[:n] for n in lengths]
    users, items = np.repeat(np.arange(N_USERS), lengths), np.concatenate(draws)
    steps = np.arange(N_INTERACTIONS) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    genres = np.zeros((N_ITEMS, len(GENRES)), dtype=bool)
    for item in range(N_ITEMS):
        genres[item, rng.choice(len(GENRES), rng.integers(1, 4), replace=False)] = True
    titles = [f"item {i} ({GENRES[np.flatnonzero(g)[0]]})" for i, g in enumerate(genres)]
    return make_dataset(
        "ml-1m-sized", "the scale benchmark's generator", user=users, item=items,
        timestamp=steps, rating=rng.choice(5, N_INTERACTIONS, p=[.06, .11, .26, .35, .22]) + 1.0,
        item_ids=np.arange(N_ITEMS), titles=titles, genres=genres, genre_names=GENRES,
    )  # fmt: skip


class Work:
    """What a chapter's process reads and leaves for later ones, in the benchmark's folder."""

    def __init__(self, folder: Path, device: torch.device, steps: int, seed: int):
        self.folder, self.device, self.steps, self.seed = folder, device, steps, seed
        with open(folder / "data.pkl", "rb") as f:
            self.dataset, self.split = pickle.load(f)

    def model(self, name: str, train: bool = False):
        """The full profile's `name` on the dataset: trained for a few steps and saved (chapter
        2), else loaded."""
        model_config, train_fields = models.REGISTRY[name].settings["full"]
        torch.manual_seed(self.seed)
        net = zoo.build(name, self.dataset, self.split, **model_config)
        net.to(self.device)
        path = self.folder / f"{name}.pt"
        if train:
            few_steps(net, self.split, TrainConfig(**train_fields).batch_size, self.steps)
            torch.save(net.state_dict(), path)
        else:
            net.load_state_dict(torch.load(path, map_location=self.device))
        return net.eval()

    def sae(self) -> SAE:
        """Chapter 3's SAE of SASRec's states (`zoo.sae_settings`, full), saved by chapter 3."""
        return SAE.load(self.folder / "sae").to(self.device)

    def fit_config(self, settings: FitConfig) -> FitConfig:
        return replace(settings, max_steps=self.steps, eval_every=self.steps, seed=self.seed)


def few_steps(model, split, batch_size: int, steps: int, lr: float = 1e-3) -> None:
    """`steps` steps of `train.train`'s loop (none for a model without weights to learn)."""
    if not any(p.requires_grad for p in model.parameters()):
        return
    users, histories, _ = stage_data(split, "train")
    rng = np.random.default_rng(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for batch, _ in itertools.islice(
        batches(users, histories, model.n_items, batch_size, rng), steps
    ):
        loss = model.loss(batch.to(model.device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()


# -- each chapter's heavy path ---------------------------------------------------------------


def base_models(work: Work) -> dict:
    """Chapter 2: every base model trained (a few steps) and evaluated on every user."""
    found = {}
    for name in zoo.MODELS:
        model = work.model(name, train=True)
        found[f"{name} valid ndcg@10"] = evaluate(model, work.split, "valid")["ndcg@10"]
    return found


def training_saes(work: Work) -> dict:
    """Chapter 3 (and the zoo's SAE of chapters 4 and 5): SASRec's states at every position,
    the book's TopK SAE fitted on them, its metrics."""
    model = work.model("sasrec")
    x = collect(model, work.split, "train", "all")
    config, settings = zoo.sae_settings(model.config.hidden_size, "full", work.seed)
    sae = fit(x, config, work.fit_config(settings), progress=False)
    sae.save(work.folder / "sae")
    return {"positions": len(x), "d_sae": config.d_sae, "fvu": sae_metrics(sae, x)["fvu"]}


def sasrec_features(work: Work) -> dict:
    """Chapter 4: every position's codes, genre scores and top items of the SAE's features,
    SASRec's raw dimensions and a rotation of them, in two views; a feature's dashboard."""
    model, sae, dataset, split = work.model("sasrec"), work.sae(), work.dataset, work.split
    x, items = collect(model, split, "train", "all", items=True)
    items = items.cpu().numpy()
    context = features.position_index(split, model.config.max_len)
    z = features.sparse_codes(sae, x)
    with torch.no_grad():
        predicted = torch.cat([model.scores_from_hidden(c, None).argmax(1) for c in x.split(8_192)])
    predicted = predicted.cpu().numpy()
    keep = dataset.genres.sum(0) >= 10
    centred = x.cpu() - x.cpu().mean(0)
    rotation = interpret.random_rotation(x.shape[1], work.seed)
    coordinates = {"SAE features": z, "raw": interpret.signed(centred),
                   "rotation": interpret.signed(centred @ rotation)}  # fmt: skip
    views = {
        "input": dataset.genres[items][:, keep],
        "predicted": dataset.genres[predicted][:, keep],
    }
    scores = {(kind, view): features.per_feature(interpret.genre_scores, acts, labels, 100)
              for kind, acts in coordinates.items() for view, labels in views.items()}  # fmt: skip
    tops = {kind: features.per_feature(interpret.top_items, acts, items, 100)
            for kind, acts in coordinates.items()}  # fmt: skip
    counts = interpret.association_pass_rates(scores, tops, 0.5, 10)
    rate = features.firing_counts(z) / len(x)
    with torch.no_grad():
        effects = model.scores_from_hidden(sae.W_dec * sae.input_scale, None).cpu().numpy()
    j = int(rate.argmax())
    features.feature_card(j, z[:, j].to_dense(), items, context, split, dataset, effects[j])
    return {"positions": len(x), "active": len(z.values()), "sae pass": int(counts["pass"].iloc[0])}


def steering(work: Work) -> dict:
    """Chapter 5: genre directions (SAE feature, probe, centroid), each feature's peak
    activation, strength sweeps on half the users each, the moderate strengths."""
    model, sae, dataset, split = work.model("sasrec"), work.sae(), work.dataset, work.split
    x, items = collect(model, split, "train", "all", items=True)
    genres = ["Drama", "Comedy"]  # two of the chapter's genres: each adds a probe and a sweep
    probe = interpret.probe_direction  # its L-BFGS iterations cut: memory does not grow with them
    interpret.probe_direction = lambda x, labels: probe(x, labels, steps=work.steps)
    chosen, directions = steer.genre_directions(
        model, sae, split, dataset, x, items.cpu().numpy(), genres, 100, 10
    )
    with torch.no_grad():
        peak = torch.stack([sae.encode(c).max(0).values for c in x.split(8_192)]).max(0).values
    order = np.random.default_rng(work.seed).permutation(len(split.users))
    users = {"validation": np.sort(order[::2]), "test": np.sort(order[1::2])}
    norm = float(collect(model, split, "test")[users["validation"]].norm(dim=1).mean())
    table = steer.compare(model, split, dataset, directions, [0.0, 1.0], norm, users)
    return {
        "genres": len(chosen),
        "peak max": float(peak.max()),
        "rows": len(steer.moderate(table)),
    }


def two_tower_concepts(work: Work) -> dict:
    """Chapter 6: an SAE of MF's user and item embeddings with the prediction-aware term,
    fidelity on held-out users, purity of the item codes."""
    mf, split, dataset = work.model("mf"), work.split, work.dataset
    order = np.random.default_rng(work.seed).permutation(len(split.users))
    held_out, train_rows = np.sort(order[: len(order) // 5]), np.sort(order[len(order) // 5 :])
    x, term = two_tower.sae_inputs(mf, split, train_rows, work.seed)
    config = SAEConfig(x.shape[1], 256, "topk", 16, pred_coefficient=1.0)
    sae = fit(x, config, work.fit_config(FitConfig(batch_size=512)), prediction=term,
              progress=False)  # fmt: skip
    fidelity = two_tower.fidelity(mf, sae, split, held_out)
    with torch.no_grad():
        codes = sae.encode(two_tower.embeddings(mf)[1]).cpu()
    purity = interpret.purity_table(codes, dataset, ["Comedy", "Horror", "Drama"])
    return {"rbo": fidelity["rbo"], "purity@10": float(purity["purity@10"].mean())}


def matryoshka_hierarchies(work: Work) -> dict:
    """Chapter 7, section 4: a Matryoshka and a BatchTopK SAE (64 + 192 + 768 features) on
    SASRec's states at every position, each described: groups, profile, genre scores, tree."""
    model, dataset, split = work.model("sasrec"), work.dataset, work.split
    x, items = collect(model, split, "train", "all", items=True)
    items = items.cpu().numpy()
    d = model.config.hidden_size
    sizes = (d, 3 * d, 12 * d)
    settings = work.fit_config(zoo.fit_settings("sasrec", "full"))
    found = {}
    for variant in ("matryoshka", "batchtopk"):
        groups = sizes if variant == "matryoshka" else ()
        config = SAEConfig(d_in=d, d_sae=sum(sizes), variant=variant, k=8, groups=groups)
        sae = fit(x, config, settings, progress=False)
        codes = features.sparse_codes(sae, x)
        groups = hierarchy.feature_groups(sae, codes, sizes)
        table = hierarchy.profile(codes, groups, items, dataset.genres, dataset.popularity, 50)
        features.per_feature(interpret.genre_scores, codes, dataset.genres[items], 50, min_active=5)
        parent = hierarchy.tree(codes, groups)
        found[f"{variant} roots"] = int((parent < 0).sum())
        found[f"{variant} profiled"] = len(table)
        found[f"{variant} fvu"] = sae_metrics(sae, x)["fvu"]
    return found


def knobs_in_elsa(work: Work) -> dict:
    """Chapter 8: ELSA (d = 256) on paper C's user split, trained a few steps; 50 random views
    of every training user's row; the knob SAE (2,048 features) on them, spliced into ELSA;
    the items' codes and the concept maps; a steering summary."""
    dataset = work.dataset
    split = user_split(dataset)
    torch.manual_seed(work.seed)
    elsa = ELSA(ELSAConfig(dataset.n_items, 256)).to(work.device)
    few_steps(elsa, split, knobs.TRAIN_ELSA.batch_size, work.steps)
    x_views = knobs.views(elsa, split, 50, keep=0.8, seed=work.seed)
    settings = work.fit_config(FitConfig(batch_size=1_024))
    sae = fit(x_views, knobs.sae_config(256, 2_048, 16), settings, progress=False)
    spliced = evaluate(Spliced(elsa, sae), split, "test", ks=(20,))
    codes = knobs.item_codes(elsa, sae).cpu()
    activity = interpret.concept_activity(codes, dataset.genres)
    fires = (codes > 0).sum(0)
    maps = {"best characterizes": interpret.best_characterizes(activity, 5, fires, 20)}
    # every test user (`knobs.steerable` keeps those who saw none of the genre: often none here)
    pairs = [(dataset.genre_names.index("Drama"), np.arange(len(split.users["test"])))]
    knobs.steering_summary(elsa, sae, split, dataset, pairs, maps, [0.0, 0.3], (1,))
    return {"views": len(x_views), "spliced ndcg@20": spliced["ndcg@20"]}


def ground_truth(work: Work) -> dict:
    """Chapter 9: SASRec (hidden 64) on the synthetic answer-key data, a few steps; the four SAE
    variants (128 features) on its states, each scored against the planted concepts."""
    data = load_dataset("synthetic", seed=work.seed)
    split = leave_one_out(data)
    torch.manual_seed(work.seed)
    model_config, train_fields = models.REGISTRY["sasrec"].settings["full"]
    sasrec = zoo.build("sasrec", data, split, **{**model_config, "hidden_size": 64})
    few_steps(sasrec.to(work.device), split, TrainConfig(**train_fields).batch_size, work.steps)
    trained = zoo.Trained(sasrec, None, data, split, Path(), False)
    x, items = recovery.samples(trained)
    concepts = data.truth.item_concepts[items]
    found = {"samples": len(x)}
    for variant in ("relu", "topk", "batchtopk", "matryoshka"):
        settings = work.fit_config(zoo.fit_settings("items", "full", work.seed))
        sae, _ = recovery.fit(x, variant, (8, 24, 96), 4, settings, rounds=1)
        found[f"{variant} f1"] = recovery.score(sae, x, concepts, data.truth.parent, (8, 24, 96))[
            "f1"
        ]
    return found


PATHS = {
    "02_base_models": base_models,
    "03_training_saes": training_saes,
    "04_sasrec_features": sasrec_features,
    "05_steering_sasrec": steering,
    "06_two_tower_concepts": two_tower_concepts,
    "07_matryoshka_hierarchies": matryoshka_hierarchies,
    "08_knobs_in_elsa": knobs_in_elsa,
    "09_ground_truth": ground_truth,
}


def run_one(name: str, folder: Path, device: str, steps: int, seed: int) -> None:
    """In a chapter's own process: its path, and what it found, written for the parent."""
    seed_everything(seed)
    work = Work(folder, pick_device(device), steps, seed)
    start = time.perf_counter()
    found = PATHS[name](work)
    found = {k: v if isinstance(v, int) else round(float(v), 4) for k, v in found.items()}
    report = {"seconds": round(time.perf_counter() - start, 1), "found": found,
              "ran_on": sorted(devices_of(torch.zeros(0, device=work.device)))}  # fmt: skip
    (folder / f"{name}.json").write_text(json.dumps(report))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="training steps per model and SAE")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", default="quick", choices=["ci", "quick", "full"])
    parser.add_argument("--device", help="default: cpu, or auto (a GPU if any) for --profile full")
    parser.add_argument("--only", nargs="*", choices=list(PATHS), help="default: every chapter")
    parser.add_argument("--chapter", choices=list(PATHS), help=argparse.SUPPRESS)  # a child
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.device = args.device or ("auto" if args.profile == "full" else "cpu")
    if args.chapter:
        return run_one(args.chapter, args.folder, args.device, args.steps, args.seed)

    with tempfile.TemporaryDirectory(prefix="recsae-scale-") as tmp:
        folder = Path(tmp)
        dataset = ml1m_sized(args.seed)
        with open(folder / "data.pkl", "wb") as f:
            pickle.dump((dataset, leave_one_out(dataset)), f)
        chapters, ran_on = {}, set()
        for name in args.only or PATHS:
            command = [sys.executable, __file__, "--chapter", name, "--folder", tmp,
                       "--device", args.device, "--steps", str(args.steps),
                       "--seed", str(args.seed)]  # fmt: skip
            child = subprocess.Popen(command)
            _, status, usage = os.wait4(child.pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"the {name} path failed (exit status {status}): see above")
            peak_mb = round(usage.ru_maxrss / 1024)  # Linux reports kilobytes
            report = json.loads((folder / f"{name}.json").read_text())
            ran_on.update(report.pop("ran_on"))
            chapters[name] = {"peak_host_mb": peak_mb, "under_bar": peak_mb <= BAR_MB, **report}
            print(f"{name}: peak {peak_mb:,} MB in {report['seconds']} s", flush=True)
    interactions = dataset.interactions.groupby("user").size()
    write_report(
        result_path("scale", args.profile),
        {"benchmark": "scale", "profile": args.profile, "sizes": "the full profile's",
         "seed": args.seed, "steps": args.steps,
         "dataset": {"users": dataset.n_users, "items": dataset.n_items,
                     "interactions": len(dataset.interactions),
                     "history lengths": [int(interactions.min()), int(interactions.max())]},
         "measure": "peak resident memory (ru_maxrss) of each chapter's process, from os.wait4",
         "bar_mb": BAR_MB, "all_under_bar": all(c["under_bar"] for c in chapters.values()),
         "chapters": chapters},
        ran_on,
    )  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
