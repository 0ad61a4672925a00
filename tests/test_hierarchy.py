"""Matryoshka hierarchies: groups, the tree of features, and its agreement with a planted one."""

import numpy as np
import pandas as pd
import pytest
import torch

from recsae_lite import hierarchy, viz
from recsae_lite.data import load_dataset


def test_frequency_groups_put_the_most_frequent_features_first():
    codes = torch.tensor([[1.0, 0, 2, 0], [1, 0, 0, 3], [1, 0, 2, 0]])  # fires 3, 0, 2, 1 times
    assert hierarchy.frequency_groups(codes, (1, 1, 2)).tolist() == [0, 2, 1, 2]
    with pytest.raises(ValueError, match="must sum to the 4 features"):
        hierarchy.frequency_groups(codes, (1, 1))


def test_tree_hangs_a_feature_under_the_earlier_one_it_fires_with_most():
    # features 0, 1 in group 0; 2, 3 in group 1; 4 in group 2
    codes = torch.tensor([
        [1.0, 0, 1, 0, 1],
        [1, 0, 1, 0, 1],
        [0, 1, 0, 1, 1],
        [0, 1, 1, 0, 1],
        [0, 0, 0, 0, 0],
    ])  # fmt: skip
    parent = hierarchy.tree(codes, np.array([0, 0, 1, 1, 2]))
    # 2 fires with 0 twice, with 1 once; 3 only with 1; 4 with 2 three times, with 0 and 1 twice
    assert parent.tolist() == [-1, -1, 0, 1, 2]
    assert hierarchy.ancestors(parent, 4) == [2, 0]
    silent = hierarchy.tree(torch.zeros(3, 3), np.array([0, 1, 1]))
    assert silent.tolist() == [-1, -1, -1]


def test_agreement_of_a_planted_tree():
    concept_parent = np.array([-1, -1, 0, 0, 1])  # parents 0, 1; children 2, 3 of 0; 4 of 1
    parent = np.array([-1, -1, 0, 2, 0])  # features: 2 under 0, 3 under 2, 4 under 0
    # best feature of each concept: parents -> 0, 1; children -> 2, 3, 4
    assert hierarchy.agreement(parent, np.array([0, 1, 2, 3, 4]), concept_parent) == 2 / 3
    # a child whose best feature is its parent's own does not hang under it
    assert hierarchy.agreement(parent, np.array([0, 1, 0, 3, 4]), concept_parent) == 1 / 3
    with pytest.raises(ValueError, match="two-level"):
        hierarchy.agreement(parent, np.array([0, 1]), np.array([-1, -1]))


def test_the_planted_dictionary_recovers_its_own_hierarchy():
    # codes that are the truth itself: each concept's best feature is its own column, with F1 1
    truth = load_dataset("synthetic", seed=0, n_users=20).truth
    codes = torch.as_tensor(truth.item_concepts, dtype=torch.float32)
    groups = (truth.parent >= 0).astype(int)  # parents in group 0, children in group 1
    best, f1 = hierarchy.best_features(codes, truth.item_concepts)
    assert (best == np.arange(len(best))).all() and np.allclose(f1, 1.0)
    scores = hierarchy.score(codes, groups, truth.item_concepts, truth.parent)
    assert scores["agreement"] == 1.0 and scores["parent group"] == 0.0


def test_profile_reads_the_top_items():
    genres = np.array([[1, 0], [0, 1], [1, 0], [1, 0]], dtype=bool)
    popularity = np.array([10, 20, 30, 40])
    codes = torch.tensor([[1.0, 0], [1, 0], [0, 0], [0, 2]])  # feature 0: items 0, 1; 1: item 3
    table = hierarchy.profile(codes, np.array([0, 1]), np.arange(4), genres, popularity, top=2)
    first, second = table.to_dict("records")
    assert first["genre entropy"] == pytest.approx(1.0)  # one film of each genre
    assert first["popularity"] == pytest.approx((0.25 + 0.5) / 2)  # percentile ranks
    assert second["genre entropy"] == 0.0 and second["distinct items"] == 1
    assert first["firing rate"] == 0.5


def test_tree_figure_shows_the_features_that_fire_under_one_root():
    parent = np.array([-1, -1, 0, 2, -1])
    size = np.array([5, 0, 3, 1, 2])  # feature 1 never fires
    icicle = viz.feature_tree(parent, [f"f{j}" for j in range(5)], size, "t").data[0]
    assert list(icicle.ids) == ["all", "f0", "f2", "f3", "f4"]
    assert list(icicle.parents) == ["", "all", "f0", "f2", "all"]
    assert list(icicle.customdata) == [0, 5, 3, 1, 2]


def test_group_profiles_draw_one_line_per_sae_and_measure():
    table = pd.DataFrame({"sae": ["a", "a", "b", "b"], "group": [0, 1, 0, 1],
                          "x": [1.0, 2, 3, 4], "y": [0.5, 0.5, 0.1, 0.2]})  # fmt: skip
    fig = viz.group_profiles(table, ["x", "y"])
    assert len(fig.data) == 4
    assert list(fig.data[0].y) == [1.0, 2.0]  # sae a, measure x, by group
