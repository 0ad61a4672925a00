"""Base models, the training loop and the zoo, on a small synthetic dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsae_lite import zoo
from recsae_lite.data import leave_one_out, load_dataset
from recsae_lite.models import make_batch
from recsae_lite.train import TrainConfig, evaluate, train

NAMES = ["mf", "ncf", "neumf", "elsa", "sasrec"]
SMALL = {"mf": {"hidden_size": 8}, "ncf": {"hidden_size": 8}, "elsa": {"hidden_size": 8},
         "neumf": {"hidden_size": 8, "mlp": (16, 8)},
         "sasrec": {"hidden_size": 8, "max_len": 20, "n_layers": 2}}  # fmt: skip


@pytest.fixture(scope="module")
def data():
    dataset = load_dataset("synthetic", seed=1, n_users=60, n_items=40, seq_len=(5, 25))
    return dataset, leave_one_out(dataset)


def small(name, data, **config):
    torch.manual_seed(0)
    dataset, split = data
    return zoo.build(name, dataset, split, **{**SMALL.get(name, {}), **config}).eval()


def batch_of(split, n_items, rows=slice(0, 8)):
    users = split.users[rows]
    return make_batch(users, split.history("test")[rows], n_items)


@pytest.mark.parametrize("name", NAMES)
def test_scores_from_hidden_is_the_rest_of_the_model(name, data, device):
    model = small(name, data).to(device)
    batch = batch_of(data[1], model.n_items).to(device)
    with torch.no_grad():
        scores = model.scores(batch)
        assert scores.shape == (8, model.n_items)
        assert torch.allclose(model.scores_from_hidden(model.hidden(batch), batch), scores)


def test_sasrec_continues_from_any_layer(data):
    model = small("sasrec", data)
    batch = batch_of(data[1], model.n_items)
    with torch.no_grad():
        scores = model.scores(batch)
        for layer in range(model.config.n_layers + 1):
            h = model.hidden(batch, layer=layer)
            again = model.scores_from_hidden(h, batch, layer=layer)
            assert torch.allclose(again, scores, atol=1e-5)
        # an edit at layer 1 must change the output
        h = model.hidden(batch, layer=1)
        assert not torch.allclose(model.scores_from_hidden(h + 1.0, batch, layer=1), scores)
    with pytest.raises(ValueError, match="layer 3 does not exist"):
        model.hidden(batch, layer=3)


def test_sasrec_masks_padding_and_keeps_the_most_recent_items(data):
    model = small("sasrec", data)
    items = np.array([3, 5, 7, 9])
    with torch.no_grad():
        alone = model.scores(make_batch([0], [items], model.n_items))
        padded = model.scores(make_batch([0, 1], [items, np.arange(30)], model.n_items))[0]
        assert torch.allclose(alone[0], padded, atol=1e-5), "padding changed the scores"
        long = np.concatenate([np.arange(30), items])  # longer than max_len = 20
        recent = long[-model.config.max_len :]
        assert torch.allclose(
            model.scores(make_batch([0], [long], model.n_items)),
            model.scores(make_batch([0], [recent], model.n_items)),
        )


def test_sasrec_by_length_groups_computes_what_the_whole_padded_batch_does(data, monkeypatch):
    from recsae_lite.models import sasrec

    model = small("sasrec", data)
    monkeypatch.setattr(sasrec, "LENGTH_GROUP", 3)  # several groups of different widths
    batch = batch_of(data[1], model.n_items, slice(0, 10))
    history = batch.history[:, -model.config.max_len :]
    assert len({int(n) for n in (history != model.n_items).sum(1)}) > 3, "lengths all alike"
    with torch.no_grad():
        whole = model.states(batch)[0][:, -1]  # every row padded to the longest
        assert torch.allclose(model.hidden(batch), whole, atol=1e-5)
        full = batch.history[:, -(model.config.max_len + 1) :]
        inputs, targets = full[:, :-1], full[:, 1:]
        x, mask = model._embed(inputs)
        states = model._run(x, mask, 0, model.config.n_layers)
        valid = (inputs != model.n_items) & (targets != model.n_items)
        logits = states[valid] @ model.item_embeddings().T
        expected = torch.nn.functional.cross_entropy(logits, targets[valid])
        assert torch.allclose(model.loss(batch), expected, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_bad_batches_get_clear_errors(name, data):
    model = small(name, data)
    with pytest.raises(ValueError, match="outside the catalogue"):
        model.hidden(make_batch([0], [np.array([1, model.n_items + 3])], model.n_items))
    with pytest.raises(ValueError, match="empty batch"):
        make_batch([], [], model.n_items)


def test_two_tower_models_refuse_unknown_users(data):
    model = small("mf", data)
    with pytest.raises(ValueError, match="user code 999"):
        model.hidden(make_batch([999], [np.array([1])], model.n_items))


@pytest.mark.parametrize("name", ["ncf", "neumf"])
def test_mlp_models_score_all_items_like_pairs(name, data):
    model = small(name, data)
    batch = batch_of(data[1], model.n_items, slice(0, 3))
    with torch.no_grad():
        u = model.hidden(batch)[:, None].expand(-1, model.n_items, -1)
        items = torch.arange(model.n_items).expand(3, -1)
        pairs = model.pair_logits(u, model.item_emb(items), batch.users[:, None], items)
        assert torch.allclose(model.scores(batch), pairs, atol=1e-5)


def test_neumf_joins_a_gmf_and_an_mlp_tower(data):
    model = small("neumf", data)
    d = model.config.hidden_size  # each tower's; the embeddings are [GMF | MLP], 2 * d
    g = torch.Generator().manual_seed(0)
    u, i = torch.randn(5, 2 * d, generator=g), torch.randn(5, 2 * d, generator=g)
    codes = torch.zeros(5, dtype=torch.long)
    with torch.no_grad():
        h, b = model.predict.weight[0], model.predict.bias
        model.predict.weight[0, d:] = 0.0  # the MLP tower silenced: GMF alone, h_G . (p * q)
        gmf = (u[:, :d] * i[:, :d] * h[:d]).sum(1) + b
        assert torch.allclose(model.pair_logits(u, i, codes, codes), gmf, atol=1e-5)
        model.predict.weight[0, d:] = torch.randn(model.config.mlp[-1], generator=g)
        model.predict.weight[0, :d] = 0.0  # the GMF tower silenced: its halves change nothing
        other = torch.cat([torch.randn(5, d, generator=g), u[:, d:]], 1)
        assert torch.allclose(model.pair_logits(u, i, codes, codes),
                              model.pair_logits(other, i, codes, codes), atol=1e-6)  # fmt: skip
        assert model.hidden(batch_of(data[1], model.n_items)).shape == (8, 2 * d)


def test_elsa_item_embeddings_have_unit_norm(data):
    norms = small("elsa", data).item_embeddings().norm(dim=-1)
    assert torch.allclose(norms, torch.ones_like(norms))


def test_popularity_ranks_by_training_counts(data):
    dataset, split = data
    model = small("pop", data)
    counts = np.bincount(np.concatenate(split.train), minlength=dataset.n_items)
    assert np.array_equal(model.scores(batch_of(split, dataset.n_items))[0].numpy(), counts)
    with pytest.raises(NotImplementedError, match="no hidden"):
        model.hidden(batch_of(split, dataset.n_items))


def test_training_is_deterministic_and_restores_the_best_weights(data, device):
    config = TrainConfig(epochs=6, batch_size=16, lr=1e-2, patience=2, seed=3)
    runs = []
    for _ in range(2):
        model = small("sasrec", data).to(device)
        history = train(model, data[1], config, progress=False)
        runs.append((model.state_dict(), history))
    (first, history), (second, _) = runs
    assert all(torch.equal(first[k], second[k]) for k in first)
    best = max(history.valid_ndcg)
    assert history.valid_ndcg[history.epoch.index(history.best_epoch)] == best
    model.load_state_dict(first)
    assert evaluate(model, data[1], "valid")["ndcg@10"] == pytest.approx(best)


def test_training_lowers_the_loss(data, device):
    model = small("mf", data).to(device)
    config = TrainConfig(epochs=20, batch_size=16, lr=5e-2, patience=100)
    history = train(model, data[1], config, progress=False)
    assert history.train_loss[-1] < 0.8 * history.train_loss[0]


def test_zoo_trains_once_and_refuses_tampered_checkpoints(data, tmp_path, monkeypatch):
    monkeypatch.setenv("RECSAE_CACHE", str(tmp_path))
    dataset = data[0]
    first = zoo.model("mf", dataset, profile="ci", progress=False)
    assert not first.loaded and first.path.exists()
    again = zoo.model("mf", dataset, profile="ci", progress=False)
    assert again.loaded
    weights = again.model.state_dict()
    assert all(torch.equal(v, weights[k]) for k, v in first.model.state_dict().items())

    other = zoo.model("mf", dataset, profile="ci", progress=False, hidden_size=4)
    assert other.path != first.path and not other.loaded

    blob = bytearray(first.path.read_bytes())
    blob[-5] ^= 0xFF  # flip bits in the weights
    first.path.write_bytes(bytes(blob))
    with pytest.warns(UserWarning, match="checksum"):
        retrained = zoo.model("mf", dataset, profile="ci", progress=False)
    assert not retrained.loaded

    first.path.write_bytes(first.path.read_bytes()[:100])  # truncated
    with pytest.warns(UserWarning, match="unusable"):
        assert not zoo.model("mf", dataset, profile="ci", progress=False).loaded
    assert zoo.model("mf", dataset, profile="ci", progress=False).loaded
    assert not list(tmp_path.rglob(".*.safetensors.*")), "a temporary file was left behind"


def test_zoo_names_unknown_models_and_settings(data):
    with pytest.raises(ValueError, match="unknown model 'gru'"):
        zoo.model("gru", data[0])
    with pytest.raises(TypeError, match="no setting width"):
        zoo.build("mf", *data, width=3)
