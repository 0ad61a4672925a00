"""Paper B's pieces on small two-tower models: the prediction-aware term, fidelity, the overwrite
edit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsae_lite import two_tower, zoo
from recsae_lite.data import leave_one_out, load_dataset
from recsae_lite.interventions import Spliced, feature_edit
from recsae_lite.sae import SAE, FitConfig, SAEConfig, fit
from recsae_lite.train import recommend


@pytest.fixture(scope="module")
def data():
    dataset = load_dataset("synthetic", seed=2, n_users=40, n_items=30, seq_len=(5, 15))
    return dataset, leave_one_out(dataset)


@pytest.fixture(scope="module", params=["mf", "ncf"])
def model(request, data):
    torch.manual_seed(0)
    return zoo.build(request.param, *data, hidden_size=6).eval()


def identity_sae(d: int) -> SAE:
    """z = relu([x, -x]), x_hat = relu(x) - relu(-x) = x: a perfect reconstruction."""
    sae = SAE(SAEConfig(d_in=d, d_sae=2 * d, variant="relu", l1_coefficient=0.0))
    eye = torch.eye(d)
    with torch.no_grad():
        sae.W_enc.copy_(torch.cat([eye, -eye], dim=1))
        sae.W_dec.copy_(torch.cat([eye, -eye], dim=0))
    return sae


def test_pair_term_is_zero_for_a_perfect_reconstruction(model):
    users, items = two_tower.embeddings(model)
    sae = identity_sae(6)
    term = two_tower.prediction_term(model, users, items, n_pairs=64)
    assert term(sae).item() < 1e-10
    with torch.no_grad():
        sae.W_dec[0, 0] = 1.5  # coordinate 0 of positive inputs comes back too large
    assert term(sae).item() > 1e3 * 1e-10  # the pair scores moved (embeddings are ~0.1)


def test_the_sae_inputs_term_scores_each_user_with_their_own_biases(data):
    # the term of a subset of users (the SAE's training rows) draws pairs among them; f needs each
    # user's own code (MF adds the user's bias): recomputed here by hand from the same draws
    dataset, split = data
    torch.manual_seed(0)
    model = zoo.build("mf", dataset, split, hidden_size=6).eval()
    with torch.no_grad():
        model.user_bias.weight.normal_(0, 3.0)  # biases that differ from user to user
    rows = np.arange(5, 25)
    x, term = two_tower.sae_inputs(model, split, rows, seed=3)
    sae = identity_sae(6)
    with torch.no_grad():
        sae.W_dec[0, 0] = 1.5
    codes = torch.as_tensor(split.users[rows])
    users, items = x[: len(rows)], x[len(rows) :]
    generator = torch.Generator().manual_seed(3)
    u = torch.randint(0, len(users), (1024,), generator=generator)
    i = torch.randint(0, len(items), (1024,), generator=generator)
    with torch.no_grad():
        biases = model.bias + model.user_bias.weight[codes[u], 0] + model.item_bias.weight[i, 0]
        f = biases + (users[u] * items[i]).sum(-1)
        f_hat = biases + (sae(users[u]) * sae(items[i])).sum(-1)
        expected = (f_hat - f).pow(2).mean() / f.var() * 6
        assert term(sae).item() == pytest.approx(expected.item(), rel=1e-5)


def test_pair_term_trains_towards_the_models_scores(model, data):
    users, items = two_tower.embeddings(model)
    x = torch.cat([users, items])

    def train(w_pred):
        config = SAEConfig(d_in=6, d_sae=8, variant="topk", k=1, pred_coefficient=w_pred)
        term = two_tower.prediction_term(model, users, items, n_pairs=256)
        settings = FitConfig(max_steps=150, batch_size=64, lr=1e-2, warmup_steps=1, patience=99)
        sae = fit(x, config, settings, prediction=term, progress=False)
        u = torch.arange(len(users))[:, None].expand(-1, len(items))
        i = torch.arange(len(items))[None].expand(len(users), -1)
        with torch.no_grad():
            f = model.pair_logits(users[u], items[i], u, i)
            uh, ih = sae(users), sae(items)
            return (model.pair_logits(uh[u], ih[i], u, i) - f).pow(2).mean().item()

    assert train(w_pred=5.0) < train(w_pred=0.0)


def test_fidelity_of_a_perfect_reconstruction_is_one(model, data):
    split = data[1]
    result = two_tower.fidelity(model, identity_sae(6).eval(), split, np.arange(10), k=5)
    assert result["rbo"] == pytest.approx(1.0)
    assert result["kendall_tau"] == pytest.approx(1.0)


def test_a_prefix_reconstructs_from_its_first_features_only(model, data):
    split = data[1]
    sae = identity_sae(6).eval()  # feature j < 6 carries coordinate j of the positive inputs
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    assert torch.equal(two_tower.reconstruct(sae, x, prefix=12), x)
    first_two = torch.tensor([[1.0, 2.0, 0.0, 0.0, 0.0, 0.0]])
    assert torch.equal(two_tower.reconstruct(sae, x, prefix=2), first_two)
    full = two_tower.fidelity(model, sae, split, np.arange(10), k=5, prefix=12)
    assert full["rbo"] == pytest.approx(1.0)
    none = two_tower.fidelity(model, sae, split, np.arange(10), k=5, prefix=0)
    assert none["rbo"] < 1.0  # every embedding rebuilt as 0: the lists follow the biases only


def test_overwriting_a_feature_with_its_own_value_is_the_identity(model, data):
    split = data[1]
    users, items = two_tower.embeddings(model)
    torch.manual_seed(1)
    sae = SAE(SAEConfig(d_in=6, d_sae=12, variant="topk", k=3)).eval()
    sae.fit_normalisation(torch.cat([users, items]))
    row, feature = 3, 5
    own = sae.encode(users[split.users[[row]]])[0, feature].item()
    plain = recommend(model, split, [row], k=5)
    same = recommend(Spliced(model, feature_edit(sae, feature, own, "set")), split, [row], k=5)
    assert np.array_equal(same, plain)
    moved = Spliced(model, feature_edit(sae, feature, own + 50.0, "set"))
    assert not np.array_equal(recommend(moved, split, [row], k=5), plain)


def test_value_slider_and_its_frames_use_one_function():
    import pandas as pd

    from recsae_lite import widgets

    calls = []

    def table_for(v):
        calls.append(v)
        return pd.DataFrame({"value": [v]})

    widget, frames = widgets.value_slider(table_for, [0.0, 1.0, 2.0])
    assert sorted(set(calls)) == [0.0, 1.0, 2.0] and list(frames) == [0.0, 1.0, 2.0]
    widget.children[0].value = 2.0
    assert calls[-1] == 2.0 and widget.children[1].value == frames[2.0].to_html(index=False)
