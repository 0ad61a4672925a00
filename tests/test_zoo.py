"""The zoo's keys and its random numbers: what a caller draws after a zoo call is the same whether
the model was trained or loaded, and checkpoints are kept apart by the device type they were
trained on. (Its files are tested in test_storage.py.)"""

from __future__ import annotations

import pytest
import torch

from recsae_lite import models, zoo
from recsae_lite.data import load_dataset
from recsae_lite.sae import FitConfig, SAEConfig
from recsae_lite.train import TrainConfig


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("synthetic", seed=1, n_users=60, n_items=40, seq_len=(5, 25))


@pytest.fixture(autouse=True)
def empty_zoo(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSAE_ZOO", str(tmp_path / "zoo"))


def draws_after(call) -> torch.Tensor:
    """What the global generator gives after `call`, from seed 0."""
    torch.manual_seed(0)
    call()
    return torch.rand(5)


@pytest.mark.parametrize("name", ["mf", "sasrec"])
def test_a_model_call_leaves_the_callers_random_numbers_alone(dataset, name):
    untouched = draws_after(lambda: None)
    trained = []
    after_training = draws_after(
        lambda: trained.append(zoo.model(name, dataset, "ci", progress=False))
    )
    loaded = []
    after_loading = draws_after(
        lambda: loaded.append(zoo.model(name, dataset, "ci", progress=False))
    )
    assert not trained[0].loaded and loaded[0].loaded
    assert torch.equal(after_training, untouched) and torch.equal(after_loading, untouched)
    # and the model itself depends on its seed only, not on the caller's generator
    torch.manual_seed(123)
    again = zoo.model(name, dataset, "ci", progress=False)
    for key, value in trained[0].model.state_dict().items():
        assert torch.equal(again.model.state_dict()[key], value)


def test_an_sae_call_leaves_the_callers_random_numbers_alone(dataset):
    trained = zoo.model("mf", dataset, "ci", progress=False)
    config = SAEConfig(d_in=16, d_sae=32, variant="topk", k=4)
    train_config = FitConfig(max_steps=3, batch_size=64)
    untouched = draws_after(lambda: None)
    saes = []
    after_training = draws_after(
        lambda: saes.append(zoo.sae(trained, config, train_config, "last", progress=False))
    )
    after_loading = draws_after(
        lambda: saes.append(zoo.sae(trained, config, train_config, "last", progress=False))
    )
    assert torch.equal(after_training, untouched) and torch.equal(after_loading, untouched)
    (first, _), (second, _) = saes
    assert torch.equal(first.W_dec, second.W_dec)


def test_the_key_records_the_device_type(dataset):
    """A CPU-trained and a GPU-trained checkpoint are kept apart (their numbers differ)."""

    def key(device):
        return zoo._key("mf", dataset, {}, TrainConfig(), device)

    assert key("cpu") != key("cuda")
    assert key("cuda") == key("cuda:0") == key(torch.device("cuda", 1))  # the type, not the index
    assert key("cpu") == key(torch.device("cpu"))


def test_a_training_override_is_a_model_of_its_own(dataset):
    # paper A's SASRec+ row (benchmarks/base_models.py) overrides the learning rate: it must train
    # its own checkpoint, not load the profile's, and train with what it asked for: at lr 0 the
    # weights stay where the seed put them
    plain = zoo.model("mf", dataset, "ci", progress=False)
    frozen = zoo.model("mf", dataset, "ci", progress=False, training={"lr": 0.0})
    assert not plain.loaded and not frozen.loaded and frozen.path != plain.path
    torch.manual_seed(0)
    ci_config = models.REGISTRY["mf"].settings["ci"][0]
    start = zoo.build("mf", dataset, frozen.split, **ci_config).state_dict()
    for key, value in frozen.model.state_dict().items():
        assert torch.equal(value.cpu(), start[key]), key
    assert any(not torch.equal(v.cpu(), start[k]) for k, v in plain.model.state_dict().items())
    assert zoo.model("mf", dataset, "ci", progress=False, training={"lr": 0.0}).loaded
