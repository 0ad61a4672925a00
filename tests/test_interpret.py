"""The interpretation measures (recsae_lite.interpret) on hand-made examples: genre association,
purity@K, paper C's TF-IDF maps, entropy and KL, the probe, and matching to planted concepts."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from recsae_lite import interpret, knobs, zoo
from recsae_lite.data import leave_one_out, load_dataset
from recsae_lite.sae import SAE, SAEConfig

# ------------------------------------------------------------------------------------------------
# association with genres (paper A)


def test_genre_scores_on_a_hand_made_example():
    # 10 positions; genre 0 on positions 0-4 (base rate 0.5), genre 1 on position 9 only
    labels = np.zeros((10, 2), dtype=bool)
    labels[:5, 0] = True
    labels[9, 1] = True
    acts = torch.zeros(10, 3)
    acts[:4, 0] = torch.tensor([4.0, 3.0, 2.0, 1.0])  # feature 0: its 4 positions are all genre 0
    acts[[0, 5, 6, 7], 1] = 1.0  # feature 1: 1 of its 4 positions is genre 0: below chance
    acts[0, 2] = 1.0  # feature 2: fires once: too rare to judge
    scores = interpret.genre_scores(acts, labels, top=4, min_active=2)
    assert scores[0, 0] == pytest.approx(1.0)  # (1 - 0.5) / (1 - 0.5)
    assert scores[0, 1] == pytest.approx((0 - 0.1) / 0.9)
    assert scores[1, 0] == pytest.approx((0.25 - 0.5) / 0.5)
    assert np.isnan(scores[2]).all()
    best = interpret.best_genres(scores[:2], ["A", "B"])
    assert list(best["best genre"]) == ["A", "B"]
    assert interpret.label(best.loc[0], 0.5) == "A (1.00)"
    assert interpret.label(best.loc[1], 0.5) == "mixed"


def test_genre_scores_refuse_misaligned_labels():
    with pytest.raises(ValueError, match="3 positions of activations but 2 labels"):
        interpret.genre_scores(torch.ones(3, 2), np.zeros((2, 4), dtype=bool))


def test_pass_rates_leave_item_features_out():
    # feature 0 fires on 3 distinct items (an item feature at min_items 4), feature 1 on 4
    items = np.array([0, 1, 2, 0, 1, 2, 3, 3])
    acts = torch.tensor([[3.0, 0], [2, 0], [1, 0], [0, 4], [0, 3], [0, 2], [0, 1], [0, 0]])
    tops = {"SAE": interpret.top_items(acts, items, top=4)}
    assert interpret.item_features(tops["SAE"], min_items=4).tolist() == [True, False]
    scores = {("SAE", "input"): np.array([[0.9, 0.1], [0.6, 0.2]])}  # both pass at 0.5
    row = interpret.association_pass_rates(scores, tops, 0.5, min_items=4).iloc[0]
    assert (row["count"], row["item features"], row["scored"], row["pass"]) == (2, 1, 1, 1)
    assert row["pass share"] == 1.0 and row["median best score"] == pytest.approx(0.6)


def test_random_rotation_is_orthogonal_and_seeded():
    q = interpret.random_rotation(6, seed=3)
    assert torch.allclose(q @ q.T, torch.eye(6), atol=1e-5)
    assert torch.equal(q, interpret.random_rotation(6, seed=3))
    assert not torch.equal(q, interpret.random_rotation(6, seed=4))


# ------------------------------------------------------------------------------------------------
# purity@K (paper B)


def test_purity_on_a_hand_made_example():
    concepts = np.array([[1, 0], [1, 0], [0, 1], [1, 1]], dtype=bool)
    acts = np.array([[0.9, 0.0], [0.8, 0.1], [0.1, 0.7], [0.0, 0.9]])
    p = interpret.purity(acts, concepts, k=2)
    assert p[0].tolist() == [1.0, 0.0]  # feature 0: items 0, 1 (concept 0 both)
    assert p[1].tolist() == [0.5, 1.0]  # feature 1: items 3, 2
    with pytest.raises(ValueError, match="k = 5"):
        interpret.purity(acts, concepts, k=5)


def test_purity_is_undefined_for_a_concept_smaller_than_k():
    # concept 1 has 2 items: at k = 3 no feature can reach 1, so its purity is NaN, its ceiling 2/3
    concepts = np.array([[1, 0], [1, 1], [1, 1], [0, 0]], dtype=bool)
    acts = np.array([[0.9], [0.8], [0.7], [0.0]])
    p = interpret.purity(acts, concepts, k=3)
    assert p[0, 0] == 1.0 and np.isnan(p[0, 1])
    assert interpret.purity_ceiling(concepts, 3).tolist() == pytest.approx([1.0, 2 / 3])
    assert interpret.purity(acts, concepts, k=2)[0].tolist() == [1.0, 0.5]  # defined at k = 2


def test_purity_table_picks_each_genres_purest_feature():
    genres = np.array([[1, 0], [1, 0], [0, 1], [1, 1], [0, 0]], dtype=bool)
    dataset = SimpleNamespace(genres=genres, genre_names=["A", "B"])
    acts = np.array([[0.9, 0.1, 0.0], [0.8, 0.0, 0.2], [0.0, 0.9, 0.1],
                     [0.1, 0.8, 0.9], [0.2, 0.3, 0.8]])  # fmt: skip
    table = interpret.purity_table(acts, dataset, ["A", "B"], ks=(2, 3)).set_index("genre")
    assert table.loc["A", "feature"] == 0 and table.loc["A", "purity@2"] == 1.0
    assert table.loc["B", "feature"] == 1 and table.loc["B", "purity@2"] == 1.0
    assert np.isnan(table.loc["B", "purity@3"])  # B has 2 items: purity@3 is undefined
    assert table.loc["B", "ceiling@3"] == pytest.approx(2 / 3)
    # A has 3 items: feature 0's top 3 are items 0, 1 (A) and 4 (not A), below the ceiling of 1
    assert table.loc["A", "purity@3"] == pytest.approx(2 / 3) and table.loc["A", "ceiling@3"] == 1


# ------------------------------------------------------------------------------------------------
# paper C's maps: TF-IDF over the (concept, feature) activity A

# 3 concepts x 4 features
ACTIVITY = torch.tensor([[4.0, 0, 6, 4], [0, 1, 3, 0], [2, 0, 0, 0]])


def test_tfidf_of_a_worked_example():
    # tfidf(A.T): terms = features, documents = concepts. tf: each concept's row over its sum,
    # c0 [4, 0, 6, 4] / 14, c1 [0, 1, 3, 0] / 4, c2 [2, 0, 0, 0] / 2. df: the concepts on which a
    # feature is nonzero: f0 2 (c0, c2), f1 1, f2 2 (c0, c1), f3 1; D = 3 documents, so
    # idf = ln(4 / 3) + 1 = 1.28768 for df 2, ln(4 / 2) + 1 = 1.69315 for df 1
    idf2, idf1 = np.log(4 / 3) + 1, np.log(2) + 1
    weights = interpret.tfidf(ACTIVITY.T)  # (features, concepts)
    expected = torch.tensor([
        [4 / 14 * idf2, 0, 1 * idf2],
        [0, 1 / 4 * idf1, 0],
        [6 / 14 * idf2, 3 / 4 * idf2, 0],
        [4 / 14 * idf1, 0, 0],
    ])  # fmt: skip
    assert torch.allclose(weights, expected.float())
    # an empty document (a concept with no activity) gets zeros, not NaN
    assert interpret.tfidf(torch.tensor([[1.0, 0], [2, 0]]))[:, 1].tolist() == [0.0, 0.0]


def test_best_characterizes_and_most_unique_on_a_worked_example():
    # best characterizes, tf * idf from the test above, per concept:
    #   c0: [.3679, 0, .5519, .4838] -> f2;  c1: [0, .4233, .9658, 0] -> f2;  c2: f0 only -> f0
    assert interpret.best_characterizes(ACTIVITY)[:, 0].tolist() == [2, 2, 0]
    # most unique, tfidf(A): terms = concepts, documents = features. tf: each feature's column
    # over its sum, f0 [4, 0, 2] / 6, f1 [0, 1, 0], f2 [6, 3, 0] / 9, f3 [4, 0, 0] / 4; a
    # concept's idf is the same for all its features, so per concept the largest share wins:
    #   c0: [2/3, 0, 2/3, 1] -> f3;  c1: [0, 1, 1/3, 0] -> f1;  c2: [1/3, 0, 0, 0] -> f0
    assert interpret.most_unique(ACTIVITY)[:, 0].tolist() == [3, 1, 0]
    # the top 2: c0's second best is f3 (.4838), c1's f1 (.4233)
    assert interpret.best_characterizes(ACTIVITY, n=2)[:2].tolist() == [[2, 3], [2, 1]]
    # our option: leave out features firing on few items (f2 fires on 3 of them here)
    fires = torch.tensor([30, 30, 3, 30])
    assert interpret.best_characterizes(ACTIVITY, 1, fires, min_items=5)[:, 0].tolist() == [3, 1, 0]
    assert interpret.best_characterizes(ACTIVITY, 1, fires)[:, 0].tolist() == [2, 2, 0]  # default
    with pytest.raises(ValueError, match="min_items needs fires"):
        interpret.most_unique(ACTIVITY, min_items=5)


def test_both_maps_follow_paper_cs_formula_on_an_elsa_sae():
    dataset = load_dataset("synthetic", seed=0, n_users=60, n_items=40)
    torch.manual_seed(0)
    elsa = zoo.build("elsa", dataset, leave_one_out(dataset), hidden_size=16).eval()
    sae = SAE(SAEConfig(d_in=16, d_sae=64, variant="topk", k=4)).eval()
    codes = knobs.item_codes(elsa, sae)
    A = interpret.concept_activity(codes, dataset.genres).double().numpy()  # (C, F)
    n_concepts = A.shape[0]
    best = interpret.best_characterizes(torch.as_tensor(A))
    unique = interpret.most_unique(torch.as_tensor(A))
    for t in range(n_concepts):
        # best characterizes: A[t, f] / sum_f' A[t, f'] * idf_f, idf_f = ln((C + 1) / (df_f + 1))
        # + 1 with df_f the concepts on which f is active
        df = (A != 0).sum(0)
        score = A[t] / A[t].sum() * (np.log((n_concepts + 1) / (df + 1)) + 1)
        assert (score == score.max()).sum() == 1 and best[t, 0] == score.argmax(), t
        # most unique: A[t, f] / sum_t' A[t', f]
        share = np.divide(A[t], A.sum(0), out=np.zeros_like(A[t]), where=A.sum(0) > 0)
        assert (share == share.max()).sum() == 1 and unique[t, 0] == share.argmax(), t


def test_entropy_and_kl_of_a_one_concept_feature():
    activity = torch.tensor([[1.0, 1], [0, 1]])  # feature 0: one concept; feature 1: both alike
    spread = interpret.concept_entropy_kl(activity)
    assert spread["entropy"].tolist() == pytest.approx([0.0, 1.0])
    # the average distribution is [.75, .25]: KL of [1, 0] is log2(1 / .75), of [.5, .5]
    # .5 log2(.5 / .75) + .5 log2(.5 / .25)
    assert spread["kl"][0] == pytest.approx(np.log2(4 / 3))
    assert spread["kl"][1] == pytest.approx(0.5 * np.log2(2 / 3) + 0.5)


# ------------------------------------------------------------------------------------------------
# the probe


def test_probe_direction_finds_the_labelling_direction():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 6, generator=g) * torch.tensor([1.0, 3, 1, 1, 1, 1])
    labels = x[:, 2] + 0.1 * torch.randn(2000, generator=g) > 0
    direction = interpret.probe_direction(x, labels)
    assert direction.norm().item() == pytest.approx(1.0)
    assert direction[2].item() > 0.95


# ------------------------------------------------------------------------------------------------
# planted concepts


@pytest.fixture(scope="module")
def truth():
    return load_dataset("synthetic", seed=7, n_users=200).truth


def test_assignment_is_the_cheapest_one_to_one_matching():
    rng = np.random.default_rng(0)
    for n, m in [(1, 1), (3, 3), (4, 6), (5, 7)]:
        cost = rng.normal(size=(n, m))
        columns = interpret.assignment(cost)
        assert len(set(columns)) == n  # one-to-one
        best = min(cost[np.arange(n), list(p)].sum() for p in itertools.permutations(range(m), n))
        assert cost[np.arange(n), columns].sum() == pytest.approx(best)
    with pytest.raises(ValueError, match="3 rows"):
        interpret.assignment(np.zeros((3, 2)))


def test_one_to_one_matching_does_not_give_two_concepts_one_feature():
    # feature 0 is the best for both concepts; the matching gives concept 1 feature 1 instead
    concepts = np.array([[1, 1], [1, 0], [0, 1], [0, 0]], dtype=bool)
    codes = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    assert interpret.concept_f1(codes, concepts)[0].tolist() == pytest.approx([2 * 2 / 5, 0.0])
    pairs = interpret.match_concepts(codes, concepts)
    assert sorted(pairs["feature"]) == [0, 1]
    assert pairs.loc[0, "feature"] == 0 and pairs.loc[0, "precision"] == pytest.approx(2 / 3)
    assert pairs.loc[1, "recall"] == pytest.approx(1 / 2)  # feature 1 fires on 1 of its 2


def test_the_planted_dictionary_recovers_every_concept(truth):
    # the perfect "SAE": one feature per planted concept, firing exactly on its items, in an
    # order of its own and among unused features
    concepts = truth.item_concepts
    order = np.random.default_rng(1).permutation(3 * concepts.shape[1])[: concepts.shape[1]]
    codes = torch.zeros(len(concepts), 3 * concepts.shape[1])
    codes[:, order] = torch.as_tensor(concepts, dtype=torch.float32) * 2.5
    pairs = interpret.match_concepts(codes, concepts)
    assert (pairs["feature"].to_numpy() == order).all()
    assert interpret.recovery(codes, concepts) == {
        "recovered": 1.0, "f1": 1.0, "precision": 1.0, "recall": 1.0
    }  # fmt: skip


def test_a_random_dictionary_scores_near_chance(truth):
    concepts = truth.item_concepts
    g = torch.Generator().manual_seed(0)
    codes = torch.rand(len(concepts), 128, generator=g)
    codes = codes * (codes > 0.97)  # about 4 of 128 features fire per item, at random
    scored = interpret.recovery(codes, concepts)
    baseline = interpret.chance_recovery(codes, concepts, seed=3)
    assert scored["recovered"] == baseline["recovered"] == 0.0
    assert abs(scored["f1"] - baseline["f1"]) < 0.05
    # a planted dictionary with noise falls between: it is not near chance
    noisy = codes + 0.0
    noisy[:, : concepts.shape[1]] += torch.as_tensor(concepts, dtype=torch.float32)
    assert interpret.recovery(noisy, concepts)["f1"] > baseline["f1"] + 0.3
