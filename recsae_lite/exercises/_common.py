"""Judging an exercise's answer (no need to read): the error, the comparison, tiny fixtures."""

from typing import NoReturn

import numpy as np
import torch

from .. import steer
from ..models.sasrec import SASRec, SASRecConfig
from ..sae import SAE, SAEConfig

__all__ = [
    "ExerciseError", "fail", "judge", "judge_edit", "randn", "same", "tiny_sae", "tiny_sasrec",
]  # fmt: skip


class ExerciseError(AssertionError):
    """An exercise's answer is wrong; the message says what was expected and the likely mistake."""


def fail(exercise: str, message: str) -> NoReturn:
    raise ExerciseError(f"Exercise {exercise}: {message}")


def _array(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
    if isinstance(value, (tuple, list)):
        value = [_array(v) for v in value]
    return np.asarray(value, dtype=np.float64)


def same(a, b) -> bool:
    a, b = _array(a), _array(b)
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True)


def judge(exercise: str, got, expected, mistakes: dict[str, object], success: str) -> None:
    """Pass when `got` matches `expected`; else raise, naming the first mistake whose answer
    (a value of `mistakes`; None for one that gives NaN or inf) `got` matches."""
    if same(got, expected):
        print(f"Exercise {exercise} passed: {success}")
        return
    got_array, want = _array(got), _array(expected)
    if got_array.shape != want.shape:
        fail(exercise, f"your answer has shape {got_array.shape}, expected {want.shape}")
    if not np.isfinite(got_array).all() and np.isfinite(want).all():
        mistake = next((m for m, wrong in mistakes.items() if wrong is None), None)
        fail(exercise, f"your answer holds NaN or inf. {mistake or 'Look for a 0 / 0.'}")
    for mistake, wrong in mistakes.items():
        if wrong is not None and same(got, wrong):
            fail(exercise, mistake)
    gap = np.nanmax(np.abs(got_array - want))
    fail(
        exercise,
        f"your answer differs from the library's by up to {gap:.3g}, and matches none "
        "of the usual mistakes; compare it with the chapter's text step by step.",
    )


def judge_edit(exercise, fn, sae, h, j, value, mode, no_op, success, constant=None) -> None:
    """Judge fn(sae, h, j, value): feature j of h's codes edited as steer.feature_edit's `mode`
    does, keeping the SAE's error term. no_op: (h0, v0, what), an edit that changes nothing, so
    fn(sae, h0, j, v0) must give h0 exactly. constant: the mistake of adding value W_dec[j] to
    every state, for the modes where that is wrong."""
    with torch.no_grad():
        expected = steer.feature_edit(sae, {j: value}, mode)(h)
        z = sae.encode(h)
        z_new = z.clone()
        z_new[:, j] = {"add": z[:, j] + value, "scale": z[:, j] * value, "set": value}[mode]
        mistakes = {
            "you decoded the edited code, which replaces h by the SAE's reconstruction: add only "
            "the change, h + (z' - z) W_dec * input_scale, so that the error term stays.": (
                sae.decode(z_new)
            ),
            "W_dec is in the SAE's normalised units: multiply the change by sae.input_scale.": (
                h + (z_new - z)[:, j : j + 1] * sae.W_dec[j]
            ),
        }
        if constant:
            mistakes[constant] = h + value * sae.W_dec[j] * sae.input_scale
        h0, v0, what = no_op
        got, unchanged = fn(sae, h, j, value), fn(sae, h0, j, v0)
    if same(got, expected) and not same(unchanged, h0):
        fail(
            exercise,
            f"{what} must leave h exactly as it was (the SAE's error term is kept): "
            "add only the change (z' - z) W_dec * input_scale to h; do not decode z'.",
        )
    judge(exercise, got, expected, mistakes, success)


def randn(*shape, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def tiny_sae(variant="topk", d_in=8, d_sae=32, k=4, groups=(), seed=0) -> tuple[SAE, torch.Tensor]:
    """An untrained SAE with non-trivial input scaling and biases, and data x (200, d_in) for it."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        sae = SAE(SAEConfig(d_in, d_sae, variant, k=k, groups=groups))
    x = randn(200, d_in, seed=seed) * torch.linspace(0.5, 3.0, d_in) + 2.0  # off-centre
    sae.fit_normalisation(x)
    with torch.no_grad():
        sae.b_dec.copy_(0.3 * randn(d_in, seed=seed + 1))
        sae.b_enc.copy_(0.5 * randn(d_sae, seed=seed + 2))
    return sae.eval(), x


def tiny_sasrec(n_items=30, d=8, seed=0, dropout=0.1) -> SASRec:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        config = SASRecConfig(n_items, hidden_size=d, n_layers=1, dropout=dropout, max_len=10)
        return SASRec(config).eval()
