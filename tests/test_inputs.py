"""Bad input to an SAE and to a chapter's set-up: each gets an error that says what was wrong and
what to do, before anything is computed or changed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsae_lite import _nb
from recsae_lite.sae import SAE, SAEConfig, SAETrainConfig, train_sae


@pytest.fixture
def sae() -> SAE:
    torch.manual_seed(0)
    model = SAE(SAEConfig(d_in=8, d_sae=32, variant="topk", k=4))
    model.fit_normalisation(torch.randn(100, 8) * 2 + 1)
    return model.eval()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_encode_refuses_nan_and_inf(sae, bad):
    x = torch.randn(6, 8)
    x[4, 2] = bad
    with pytest.raises(ValueError, match=r"passed to encode hold NaN or inf \(first in row 4\)"):
        sae.encode(x)
    with pytest.raises(ValueError, match="NaN or inf"):
        sae(x)


def test_float64_input_is_converted(sae):
    x = torch.randn(6, 8)
    assert torch.equal(sae.encode(x.double()), sae.encode(x))
    assert sae.encode(x.double()).dtype == torch.float32
    assert torch.equal(sae(x.double()), sae(x))


def test_a_numpy_array_or_one_vector_gets_a_hint(sae):
    with pytest.raises(TypeError, match=r"got ndarray: convert it with torch\.as_tensor"):
        sae.encode(np.zeros((2, 8)))
    with pytest.raises(ValueError, match=r"got shape \(8,\): for one vector, pass x\[None\]"):
        sae.encode(torch.zeros(8))


def test_input_on_another_device_is_named(sae):
    with pytest.raises(ValueError, match=r"on meta and the SAE on cpu: move them"):
        sae.encode(torch.zeros(2, 8, device="meta"))


def test_training_on_an_empty_set_says_so(sae):
    with pytest.raises(
        ValueError, match=r"no hidden states to fit the SAE on \(x has shape \(0, 8\)"
    ):
        train_sae(sae, torch.zeros(0, 8), SAETrainConfig(steps=2), progress=False)


@pytest.mark.parametrize("device", ["mps", "tpu", "cuda:7", "meta", ""])
def test_a_device_torch_cannot_use_here_lists_the_choices(device):
    if device == "cuda:7" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has mps")
    with pytest.raises(ValueError, match=rf"DEVICE={device!r} cannot be used .*'auto', 'cpu'"):
        _nb.pick_device(device)


def test_setup_refuses_a_bad_device_before_changing_anything():
    torch.manual_seed(5)
    state = torch.random.get_rng_state()
    with pytest.raises(ValueError, match="DEVICE='tpu'"):
        _nb.setup(seed=0, device="tpu", profile="ci")
    assert torch.equal(torch.random.get_rng_state(), state)  # not seeded: nothing was set


@pytest.mark.parametrize(
    "seed, device, error, match",
    [
        (-1, "auto", ValueError, r"SEED must be from 0 to 2\*\*32 - 1, got -1"),
        (2**32, "auto", ValueError, "SEED must be from 0"),
        (True, "auto", TypeError, "SEED must be an integer, got True"),
        (1.5, "auto", TypeError, "SEED must be an integer"),
        (0, None, TypeError, "DEVICE must be a string"),
    ],
)
def test_setup_names_a_bad_seed_or_device(seed, device, error, match):
    with pytest.raises(error, match=match):
        _nb.setup(seed=seed, device=device, profile="ci")
