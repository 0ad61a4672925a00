"""Tests of recsae_lite.metrics: hand-computed ranks, NDCG/HR/MRR, coverage, diversity and
popularity on tiny examples, batch accumulation, a random-scores sanity check, and the errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recsae_lite.metrics import (
    RankingMetrics,
    kendall_tau,
    kendall_tau_union,
    mask_seen,
    rbo_extrapolated,
    rbo_truncated,
    target_ranks,
    top_k,
)

# ------------------------------------------------------------------------------------------------
# ranks and the accuracy metrics


def test_ndcg_hr_mrr_by_hand(device):
    scores = torch.tensor(
        [
            [0.9, 0.1, 0.5, 0.3, 0.2],  # target 0 (0.9): nothing higher -> rank 0
            [0.1, 0.8, 0.3, 0.9, 0.5],  # target 4 (0.5): 0.8 and 0.9 higher -> rank 2
            [0.4, 0.3, 0.2, 0.5, 0.1],  # target 4 (0.1): all four higher -> rank 4
        ],
        device=device,
    )
    targets = torch.tensor([0, 4, 4], device=device)
    assert target_ranks(scores, targets).tolist() == [0, 2, 4]

    metrics = RankingMetrics(k=(5, 3), n_items=5)
    metrics.add(scores, targets)
    result = metrics.result()
    # K = 3: ranks 0 and 2 are inside, rank 4 is outside
    assert result["ndcg@3"] == pytest.approx((1 / math.log2(2) + 1 / math.log2(4) + 0) / 3)  # 1/2
    assert result["hr@3"] == pytest.approx(2 / 3)
    assert result["mrr@3"] == pytest.approx((1 / 1 + 1 / 3 + 0) / 3)  # 4/9
    # K = 5: all three inside
    assert result["ndcg@5"] == pytest.approx((1 + 1 / 2 + 1 / math.log2(6)) / 3)
    assert result["hr@5"] == pytest.approx(1.0)
    assert result["mrr@5"] == pytest.approx((1 + 1 / 3 + 1 / 5) / 3)
    assert metrics.ks == (3, 5)


def test_sets_of_targets_by_hand():
    # paper C's protocol: each user has a set of held-out items
    scores = torch.tensor(
        [
            [0.9, 0.8, 0.7, 0.6, 0.5],  # targets {1, 4}: ranks 1 and 4
            [0.1, 0.2, 0.3, 0.4, 0.5],  # targets {0, 1, 2}: ranks 4, 3, 2
        ]
    )
    relevant = torch.tensor([[0, 1, 0, 0, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    metrics = RankingMetrics(k=3, n_items=5)
    metrics.add(scores, relevant)
    per_user = metrics.per_user()
    d = [1 / math.log2(i + 2) for i in range(3)]  # discounts of ranks 0, 1, 2
    # user 0: one hit (rank 1) of min(3, 2) = 2 relevant; ideal DCG d0 + d1
    # user 1: one hit (rank 2) of min(3, 3) = 3; ideal d0 + d1 + d2
    assert per_user["ndcg@3"] == pytest.approx([d[1] / (d[0] + d[1]), d[2] / sum(d)])
    assert per_user["recall@3"] == pytest.approx([1 / 2, 1 / 3])
    assert per_user["hr@3"].tolist() == [1.0, 1.0]
    assert per_user["mrr@3"] == pytest.approx([1 / 2, 1 / 3])
    # one target per user is the same as a set of one
    one = RankingMetrics(k=3, n_items=5)
    one.add(scores, torch.tensor([1, 2]))
    single = RankingMetrics(k=3, n_items=5)
    single.add(scores, torch.nn.functional.one_hot(torch.tensor([1, 2]), 5).bool())
    assert one.result() == pytest.approx(single.result())
    assert one.result()["recall@3"] == one.result()["hr@3"]


def test_ties_count_against_the_target():
    # target 2 (0.5) ties items 0 and 3, and item 1 (0.7) is higher -> rank 3
    scores = torch.tensor([[0.5, 0.7, 0.5, 0.5, 0.1]])
    assert target_ranks(scores, torch.tensor([2])).tolist() == [3]
    metrics = RankingMetrics(k=4, n_items=5)
    metrics.add(scores, torch.tensor([2]))
    assert metrics.result()["hr@4"] == 1.0
    assert metrics.result()["ndcg@4"] == pytest.approx(1 / math.log2(5))
    # a collapsed model (all scores equal) ranks every target last
    assert target_ranks(torch.zeros(2, 5), torch.tensor([0, 4])).tolist() == [4, 4]


def test_top_k_best_first():
    scores = torch.tensor([[0.1, 0.9, 0.3, 0.7], [0.8, 0.2, 0.6, 0.4]])
    assert top_k(scores, 3).tolist() == [[1, 3, 2], [0, 2, 3]]


# ------------------------------------------------------------------------------------------------
# masking seen items


def test_mask_seen(device):
    scores = torch.arange(10, dtype=torch.float32, device=device).reshape(2, 5)
    history = torch.tensor([[5, 5, 1, 3], [5, 0, 2, 4]], device=device)  # pad = 5 = n_items
    masked = mask_seen(scores, history, pad=5)
    inf = float("-inf")
    assert masked.tolist() == [[0, inf, 2, inf, 4], [inf, 6, inf, 8, inf]]
    assert scores.tolist() == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]  # untouched
    # user 1's best item, 4, is seen: its top list skips it
    assert top_k(masked, 2).tolist() == [[4, 2], [3, 1]]


def test_a_masked_target_is_an_error():
    masked = mask_seen(torch.rand(2, 5), torch.tensor([[5, 1], [2, 3]]), pad=5)
    with pytest.raises(ValueError, match="target is among the masked history items"):
        target_ranks(masked, torch.tensor([0, 3]))
    metrics = RankingMetrics(k=2, n_items=5)
    with pytest.raises(ValueError, match="target is among the masked history items"):
        metrics.add(masked, torch.tensor([1, 0]))


# ------------------------------------------------------------------------------------------------
# beyond accuracy: coverage, diversity, popularity


def scores_ranking(lists: list[list[int]], n_items: int) -> torch.Tensor:
    """Scores (B, n_items) whose top lists are `lists`, best first; every other item scores 0."""
    scores = torch.zeros(len(lists), n_items)
    for row, items in enumerate(lists):
        scores[row, items] = torch.arange(len(items), 0, -1, dtype=torch.float32)
    return scores


def test_coverage():
    # top-2 lists {0, 1} and {1, 2}: 3 distinct items of 6
    metrics = RankingMetrics(k=(1, 2), n_items=6)
    metrics.add(scores_ranking([[0, 1], [1, 2]], 6), torch.tensor([0, 1]))
    result = metrics.result()
    assert result["coverage@2"] == pytest.approx(3 / 6)
    assert result["coverage@1"] == pytest.approx(2 / 6)  # {0} and {1}


# items 0: {A}, 1: {A, B}, 2: {B}, 3 and 4: no genres, 5: {A}
GENRES = torch.tensor([[1, 0], [1, 1], [0, 1], [0, 0], [0, 0], [1, 0]], dtype=torch.bool)


def test_diversity():
    metrics = RankingMetrics(k=3, n_items=6, genres=GENRES)
    metrics.add(scores_ranking([[0, 1, 2]], 6), torch.tensor([0]))
    # Jaccard (0,1) = 1/2, (0,2) = 0, (1,2) = 1/2: mean similarity 1/3, diversity 2/3
    assert metrics.result()["diversity@3"] == pytest.approx(2 / 3)


def test_diversity_of_items_without_genres():
    metrics = RankingMetrics(k=(2, 3), n_items=6, genres=GENRES)
    # user 0: items 3, 4 have no genres: similarity 0 by the rule; (3,0) and (4,0) share nothing
    # user 1: items 0 and 5 are both {A}: similarity 1 at K = 2; item 2 {B} shares nothing with them
    metrics.add(scores_ranking([[3, 4, 0], [0, 5, 2]], 6), torch.tensor([0, 0]))
    result = metrics.result()
    assert result["diversity@2"] == pytest.approx((1 + 0) / 2)
    assert result["diversity@3"] == pytest.approx((1 + (0 + 1 + 1) / 3) / 2)  # (1 + 2/3) / 2


def test_diversity_at_1_has_no_pairs():
    metrics = RankingMetrics(k=1, n_items=6, genres=GENRES)
    metrics.add(scores_ranking([[0]], 6), torch.tensor([0]))
    assert math.isnan(metrics.result()["diversity@1"])


def test_popularity():
    popularity = torch.tensor([10.0, 0.0, 4.0, 2.0, 6.0])
    metrics = RankingMetrics(k=2, n_items=5, popularity=popularity)
    metrics.add(scores_ranking([[0, 4], [2, 3]], 5), torch.tensor([0, 0]))
    # user 0: (10 + 6) / 2 = 8; user 1: (4 + 2) / 2 = 3; mean 5.5
    assert metrics.result()["popularity@2"] == pytest.approx(5.5)


# ------------------------------------------------------------------------------------------------
# accumulation and a statistical check


def test_two_batches_equal_one(device):
    gen = torch.Generator().manual_seed(0)
    n_items = 8
    scores = torch.rand(7, n_items, generator=gen)
    targets = torch.randint(n_items, (7,), generator=gen)
    genres = torch.rand(n_items, 3, generator=gen) < 0.5
    popularity = torch.randint(100, (n_items,), generator=gen).float()

    def evaluate(batches):
        metrics = RankingMetrics(k=(1, 3), n_items=n_items, genres=genres, popularity=popularity)
        for rows in batches:
            metrics.add(scores[rows].to(device), targets[rows].to(device))  # genres: moved
        return metrics.result()

    whole, parts = evaluate([slice(0, 7)]), evaluate([slice(0, 3), slice(3, 7)])
    assert set(whole) == {
        f"{name}@{k}"
        for name in ("ndcg", "hr", "recall", "mrr", "coverage", "diversity", "popularity")
        for k in (1, 3)
    }
    for key in whole:
        if key != "diversity@1":  # NaN: no pairs
            assert parts[key] == pytest.approx(whole[key]), key


def test_random_scores_ndcg_near_its_expectation():
    # with random scores the target's rank is uniform on 0..99, so NDCG@10 per user takes the value
    # 1/log2(r + 2) with probability 1/100 for each r < 10, else 0
    n_users, n_items, k = 20_000, 100, 10
    gains = [1 / math.log2(r + 2) for r in range(k)]
    mean = sum(gains) / n_items  # 0.04544
    sd = math.sqrt(sum(g * g for g in gains) / n_items - mean**2)  # 0.151 per user
    gen = torch.Generator().manual_seed(0)
    metrics = RankingMetrics(k=k, n_items=n_items)
    scores = torch.rand(n_users, n_items, generator=gen)
    metrics.add(scores, torch.randint(n_items, (n_users,), generator=gen))
    # 4 standard errors (0.0043): a false failure has odds of about 1 in 16,000
    assert metrics.result()["ndcg@10"] == pytest.approx(mean, abs=4 * sd / math.sqrt(n_users))
    assert metrics.result()["hr@10"] == pytest.approx(0.1, abs=4 * math.sqrt(0.09 / n_users))


# ------------------------------------------------------------------------------------------------
# errors


def test_errors_name_the_problem():
    scores, targets = torch.rand(2, 5), torch.tensor([0, 1])
    with pytest.raises(ValueError, match=r"scores has shape \(2, 5\); expected \(B, 6\)"):
        RankingMetrics(k=2, n_items=6).add(scores, targets)
    with pytest.raises(ValueError, match=r"scores has shape \(5,\)"):
        target_ranks(scores[0], targets)
    with pytest.raises(ValueError, match=r"targets .* shape \(2, 1\); expected .* shape \(2,\)"):
        target_ranks(scores, targets[:, None])
    with pytest.raises(ValueError, match="targets is a torch.float32 tensor"):
        target_ranks(scores, targets.float())
    with pytest.raises(ValueError, match=r"outside 0..4"):
        target_ranks(scores, torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="NaN"):
        target_ranks(torch.full((2, 5), float("nan")), targets)
    with pytest.raises(ValueError, match="k is 6; it must be between 1 and n_items"):
        top_k(scores, 6)
    with pytest.raises(ValueError, match="k is 0"):
        RankingMetrics(k=0, n_items=5)
    with pytest.raises(ValueError, match=r"k is \(10, 3\)"):
        RankingMetrics(k=(10, 3), n_items=5)
    with pytest.raises(ValueError, match=r"genres has shape \(4, 2\)"):
        RankingMetrics(k=2, n_items=5, genres=torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"popularity has shape \(4,\)"):
        RankingMetrics(k=2, n_items=5, popularity=torch.zeros(4))
    with pytest.raises(ValueError, match="not the padding value 9"):
        mask_seen(scores, torch.tensor([[9, 1], [9, 5]]), pad=9)
    with pytest.raises(ValueError, match="no users were added"):
        RankingMetrics(k=2, n_items=5).result()


# ------------------------------------------------------------------------------------------------
# rank agreement of two top lists (chapter 6): ours and paper B's


def test_rbo_extrapolated_is_one_for_the_same_list_and_zero_for_disjoint_lists():
    items = list(range(30))
    assert rbo_extrapolated(items, items) == pytest.approx(1.0)
    assert rbo_extrapolated(items, list(range(30, 60))) == 0.0
    swapped_top = [1, 0, *items[2:]]
    swapped_bottom = [*items[:28], 29, 28]
    assert (rbo_extrapolated(items, swapped_bottom) > rbo_extrapolated(items, swapped_top)
            > rbo_extrapolated(items, items[::-1]))  # fmt: skip
    # by hand, k = 2, p = 0.5: X1 = 0, X2 = 2 -> 2/2 * 0.25 + 1 * (0 + 2/2 * 0.25) = 0.5
    assert rbo_extrapolated([0, 1], [1, 0], p=0.5) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="one length"):
        rbo_extrapolated([1, 2], [1])


def test_rbo_truncated_by_hand():
    # paper B's form: (1 - p) * sum_d p^(d - 1) |A_d & B_d| / d, no extrapolation
    # [1, 2, 3] against [1, 3, 2], p = .9: overlaps 1/1, 1/2, 3/3 at depths 1, 2, 3
    # -> .1 * (1 + .9 * .5 + .81 * 1) = .226
    assert rbo_truncated([1, 2, 3], [1, 3, 2]) == pytest.approx(0.226)
    # identical lists of length k reach 1 - p^k, not 1: .1 * (1 + .9 + .81) = .271
    assert rbo_truncated([1, 2, 3], [1, 2, 3]) == pytest.approx(1 - 0.9**3)
    # k = 30: identical lists score 1 - .9^30 = .958, where the extrapolated form gives 1
    items = list(range(30))
    assert rbo_truncated(items, items) == pytest.approx(1 - 0.9**30)
    assert rbo_extrapolated(items, items) == pytest.approx(1.0)
    assert rbo_truncated(items, list(range(30, 60))) == 0.0
    # the extrapolated form of the first example, with the overlaps X_d = 1, 1, 3:
    # X_3 / 3 * p^3 + (1 - p) / p * (1/1 * .9 + 1/2 * .81 + 3/3 * .729) = .729 + 2.034 / 9
    assert rbo_extrapolated([1, 2, 3], [1, 3, 2]) == pytest.approx(0.729 + 2.034 / 9)


def test_kendall_tau_of_identical_and_reversed_rankings():
    x = np.array([3.0, 1.0, 2.0, 5.0])
    assert kendall_tau(x, x) == 1.0
    assert kendall_tau(x, -x) == -1.0
    assert kendall_tau(x, 2 * x + 7) == 1.0  # only the order counts
    # one discordant pair of 6: (5 - 1) / 6
    assert kendall_tau([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(4 / 6)


def test_kendall_tau_union_by_hand():
    assert kendall_tau_union([1, 2, 3], [1, 2, 3]) == 1.0
    # [1, 2, 3] against [1, 3, 4]: the union 1, 2, 3, 4; ranks in the first list 1, 2, 3, 4 (4
    # is missing: len + 1), in the second 1, 4, 2, 3 (2 is missing). Of the 6 pairs, (2, 3) and
    # (2, 4) are discordant, the other 4 concordant, no ties: (4 - 2) / 6
    assert kendall_tau_union([1, 2, 3], [1, 3, 4]) == pytest.approx(1 / 3)
    # disjoint lists: ranks 1, 2, 3, 4, 4, 4 and 4, 4, 4, 1, 2, 3 over items 1..6. The 9 pairs
    # across the lists are discordant; the 3 pairs inside each list are tied in the other.
    # tau-b = (0 - 9) / sqrt((15 - 3) (15 - 3)) = -.75
    assert kendall_tau_union([1, 2, 3], [4, 5, 6]) == pytest.approx(-0.75)
