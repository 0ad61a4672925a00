"""Benchmark: SAE training-step throughput next to its dense matmuls alone, and FVU at equal steps.

    python benchmarks/sae_speed.py [--threads 1] [--quality-steps 2000] [--seed 0]

Speed: for each variant and shape (d_in in {64, 256}, d_sae in {1024, 4096}, k 8, batch 4096), the
time of one `Fit.step()`, the step of `sae.fit` (batch draw, losses, backward, removal of
the parallel gradient, clipping, Adam, decoder-norm constraint, dead-feature bookkeeping) and of its
ceiling: the six dense matmuls of that step alone (encoder and decoder, forward and both
backward), called alternately with it (median time of each, so that load slows both alike).
ratio_to_ceiling = step throughput / ceiling throughput: 1.0 is a step as fast as its dense matmuls;
a sparse decoder can exceed it. step_over_floor: the step's time over that of the one matmul every
method must do, the encoder's forward pass. On CPU, and on CUDA when there is one.

Quality: each variant trained at the reference shape (d_in 64, d_sae 1024, k 8) on synthetic
data (sparse non-negative combinations of 512 unit directions plus noise), twice with the same seed
and hyperparameters: with `SAE.losses` and with the plain dense implementation of
`recsae_lite.sae_reference`. FVU, L0 and dead fraction on held-out samples, for both.

Writes benchmarks/results/sae_speed.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from common import devices_of, result_path, write_report  # a script: benchmarks/ is on the path

from recsae_lite import sae_reference
from recsae_lite.activations import planted
from recsae_lite.metrics import sae_metrics
from recsae_lite.sae import SAE, VARIANTS, Fit, FitConfig, SAEConfig, fit

SHAPES = [(64, 1024), (64, 4096), (256, 1024), (256, 4096)]  # (d_in, d_sae)
K, BATCH, N_TRAIN, N_TEST = 8, 4096, 100_000, 10_000


def synthetic(n: int, d_in: int, seed: int) -> torch.Tensor:
    """(n, d_in): sums of 4 of 512 planted unit directions, plus noise."""
    return planted(n, d_in, n_directions=512, active=4, noise=0.05, seed=seed)[0]


def sae_config(variant: str, d_in: int, d_sae: int) -> SAEConfig:
    groups = (d_sae // 8, d_sae // 8, d_sae // 4, d_sae // 2) if variant == "matryoshka" else ()
    # relu: an L1 weight for a sparse code (the default 5 leaves hundreds of features active)
    l1 = 250.0
    return SAEConfig(d_in=d_in, d_sae=d_sae, variant=variant, k=K, groups=groups, l1_coefficient=l1)


def dense_matmuls(d_in: int, d_sae: int, device: torch.device):
    """The ceiling: the six matmuls of a step, on preallocated tensors (outputs included)."""
    shapes = {"x": (BATCH, d_in), "W_enc": (d_in, d_sae), "z": (BATCH, d_sae)}
    shapes |= {"W_dec": (d_sae, d_in), "grad_x_hat": (BATCH, d_in), "grad_pre": (BATCH, d_sae)}
    t = {name: torch.randn(shape, device=device) for name, shape in shapes.items()}
    out = {name: torch.empty(shape, device=device) for name, shape in shapes.items()}

    def step():
        torch.mm(t["x"], t["W_enc"], out=out["z"])  # encoder forward: pre-activations
        torch.mm(t["z"], t["W_dec"], out=out["x"])  # decoder forward: x_hat
        torch.mm(t["grad_x_hat"], t["W_dec"].T, out=out["z"])  # decoder backward: grad z
        torch.mm(t["z"].T, t["grad_x_hat"], out=out["W_dec"])  # decoder backward: grad W_dec
        torch.mm(t["grad_pre"], t["W_enc"].T, out=out["x"])  # encoder backward: grad input
        torch.mm(t["x"].T, t["grad_pre"], out=out["W_enc"])  # encoder backward: grad W_enc

    return step


def encoder_matmul(d_in: int, d_sae: int, device: torch.device):
    """The floor: the encoder's forward matmul alone, which every SAE's step must do."""
    x, W_enc = torch.randn(BATCH, d_in, device=device), torch.randn(d_in, d_sae, device=device)
    out = torch.empty(BATCH, d_sae, device=device)
    return lambda: torch.mm(x, W_enc, out=out)


def median_ms(fns, device: torch.device, steps: int, seconds: float, warmup: int = 2) -> list:
    """Median milliseconds per call of each of fns, called in turn so that load from other
    processes falls on all of them alike: `warmup` rounds, then `steps` rounds or, once 3 are
    done, as many as fit in `seconds`."""
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    for _ in range(warmup):
        for fn in fns:
            fn()
    times, start = [[] for _ in fns], time.perf_counter()
    while len(times[0]) < steps and (len(times[0]) < 3 or time.perf_counter() - start < seconds):
        for fn, kept in zip(fns, times, strict=True):
            sync()
            begin = time.perf_counter()
            fn()
            sync()
            kept.append(time.perf_counter() - begin)
    return [statistics.median(kept) * 1000 for kept in times]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["quick", "full"],
                        help="the same cases; full names the result file of a GPU run")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (the issue used 1)")
    parser.add_argument("--quality-steps", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per case, at most")
    parser.add_argument("--seconds", type=float, default=2.0, help="or fewer (>= 3) in this time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/sae_speed.json")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    data = {d_in: synthetic(N_TRAIN, d_in, args.seed) for d_in in {d for d, _ in SHAPES}}
    speed, ran_on = [], set()
    print(
        f"{'device':>6} {'variant':>10} {'d_in':>5} {'d_sae':>5} {'step ms':>8} "
        f"{'samples/s':>10} {'ceiling ms':>10} {'ratio':>6}"
    )
    for device in devices:
        for d_in, d_sae in SHAPES:
            x, matmuls = data[d_in].to(device), dense_matmuls(d_in, d_sae, device)
            floor_fn = encoder_matmul(d_in, d_sae, device)
            for variant in VARIANTS:
                torch.manual_seed(args.seed)
                sae = SAE(sae_config(variant, d_in, d_sae)).to(device)
                trainer = Fit(sae, x, FitConfig(batch_size=BATCH, seed=args.seed))
                timed = [matmuls, floor_fn, trainer.step]
                ceiling, floor, step = median_ms(timed, device, args.steps, args.seconds)
                ran_on |= devices_of(sae, trainer.x)
                row = {
                    "device": sae.W_dec.device.type,  # where the step ran
                    "variant": variant,
                    "d_in": d_in,
                    "d_sae": d_sae,
                    "k": K,
                    "batch": BATCH,
                    "step_ms": round(step, 2),
                    "samples_per_s": round(BATCH / step * 1000),
                    "ceiling_ms": round(ceiling, 2),
                    "ratio_to_ceiling": round(ceiling / step, 3),
                    "floor_ms": round(floor, 2),  # the encoder's matmul alone
                    "step_over_floor": round(step / floor, 2),  # the aim: <= 2 for topk
                }
                speed.append(row)
                print(
                    f"{device.type:>6} {variant:>10} {d_in:>5} {d_sae:>5} {step:>8.1f} "
                    f"{row['samples_per_s']:>10} {ceiling:>10.1f} {ceiling / step:>6.2f}",
                    flush=True,
                )

    # quality at equal steps, at the reference shape, on CUDA when there is one
    x = synthetic(N_TRAIN + N_TEST, 64, args.seed + 1)
    x_train, x_test = x[:N_TRAIN].to(devices[-1]), x[N_TRAIN:].to(devices[-1])
    quality = []
    header = ("variant", 10), ("losses", 11), ("steps", 5), ("FVU", 6), ("L0", 6), ("dead", 5)
    print("\n" + " ".join(f"{name:>{width}}" for name, width in header) + " seconds")
    for variant in VARIANTS:
        for name, losses in (("recsae_lite", SAE.losses), ("plain", sae_reference.losses)):
            steps = args.quality_steps  # all of them: no early stop, for equal steps
            config = FitConfig(max_steps=steps, batch_size=BATCH, patience=steps, seed=args.seed)
            sae = fit(x_train, sae_config(variant, 64, 1024), config, progress=False, losses=losses)
            history = sae.history
            ran_on |= devices_of(sae)
            metrics = sae_metrics(sae, x_test)
            quality.append(
                {
                    "variant": variant,
                    "losses": name,
                    "steps": args.quality_steps,
                    "fvu": round(metrics["fvu"], 4),
                    "l0": round(metrics["l0"], 2),
                    "dead_fraction": round(metrics["dead_fraction"], 4),
                    "seconds": round(history.seconds, 1),
                }
            )
            print(
                f"{variant:>10} {name:>11} {args.quality_steps:>5} {metrics['fvu']:>6.3f} "
                f"{metrics['l0']:>6.1f} {metrics['dead_fraction']:>5.2f} {history.seconds:>7.0f}",
                flush=True,
            )

    report = {
        "benchmark": "sae_speed",
        "profile": args.profile,
        "seed": args.seed,
        "threads": args.threads,
        "speed": speed,
        "quality": quality,
    }
    write_report(args.out or result_path("sae_speed", args.profile), report, ran_on)


if __name__ == "__main__":
    main(sys.argv[1:])
