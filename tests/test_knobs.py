"""Paper C's pieces: the user split, the ranking metrics and the steering mix (its TF-IDF maps are
in test_interpret.py)."""

import numpy as np
import pytest
import torch

from recsae_lite import knobs
from recsae_lite.data import DataError, load_dataset, user_split
from recsae_lite.models.elsa import ELSA, ELSAConfig
from recsae_lite.sae import SAE, SAEConfig


def test_user_split_follows_the_protocol():
    d = load_dataset("synthetic", seed=0, n_users=200)
    split = user_split(d, min_positives=5, seed=42)
    sizes = {k: len(v) for k, v in split.users.items()}
    assert sizes == {"train": 160, "valid": 20, "test": 20}
    everyone = np.concatenate(list(split.users.values()))
    assert len(np.unique(everyone)) == 200  # no user in two parts
    sequences = d.sequences()
    for stage in ("valid", "test"):
        for user, shown, held in zip(split.users[stage], split.inputs[stage],
                                     split.targets[stage], strict=True):  # fmt: skip
            assert not set(shown) & set(held)
            assert sorted([*shown, *held]) == sorted(sequences[user])  # nothing lost
            assert len(held) == max(1, round(0.2 * len(sequences[user])))
    assert user_split(d, seed=42).users["test"].tolist() == split.users["test"].tolist()
    assert user_split(d, seed=1).users["test"].tolist() != split.users["test"].tolist()


def test_user_split_keeps_positive_ratings_only():
    d = load_dataset("synthetic", seed=0, n_users=60)
    d.interactions["rating"] = np.where(d.interactions["item"] % 2 == 0, 5.0, 1.0)
    split = user_split(d)
    for items in split.train:
        assert (items % 2 == 0).all()
    with pytest.raises(DataError, match="lower min_positives"):
        user_split(d, min_positives=10_000)


def test_ranking_on_a_hand_made_example():
    scores = torch.tensor([[5.0, 4, 3, 2, 1]])
    inputs = torch.tensor([[1.0, 0, 0, 0, 0]])  # item 0 is shown, so masked
    targets = torch.tensor([[0.0, 0, 1, 0, 1]])
    result = knobs.ranking(scores, inputs, targets, k=2)  # top 2: items 1, 2
    assert result["recall"].item() == pytest.approx(1 / 2)  # 1 hit of min(2, 2) targets
    ideal = 1 + 1 / np.log2(3)
    assert result["ndcg"].item() == pytest.approx((1 / np.log2(3)) / ideal)


def test_mix_with_alpha_zero_is_the_identity_and_keeps_the_l1_norm():
    z = torch.relu(torch.randn(6, 32))
    assert torch.equal(knobs.mix(z, 3, 0.0), z)
    for neurons in (3, [3, 7, 9]):
        mixed = knobs.mix(z, neurons, 0.3)
        assert torch.allclose(mixed.sum(-1), z.sum(-1))
    one = knobs.mix(z, 3, 1.0)
    assert torch.allclose(one[:, 3], z.sum(-1)) and one[:, :3].eq(0).all()


def test_steering_with_alpha_zero_gives_the_lists_with_the_sae():
    torch.manual_seed(0)
    model = ELSA(ELSAConfig(n_items=30, hidden_size=8)).eval()
    sae = SAE(SAEConfig(d_in=8, d_sae=16, k=4)).eval()
    x = (torch.rand(5, 30) < 0.3).float()
    plain = knobs.scores(model, x, sae)
    steered = knobs.scores(model, x, sae, lambda z: knobs.mix(z, 2, 0.0))
    assert torch.equal(plain, steered)
    assert not torch.allclose(plain, knobs.scores(model, x, sae, lambda z: knobs.mix(z, 2, 0.5)))
