"""Codes kept sparse and statistics computed a block of features at a time (`features`): the same
numbers as on the dense code matrix, which at ML-1M's scale would not fit in memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsae_lite import features, hierarchy, interpret
from recsae_lite.sae import SAE, SAEConfig

N, D_IN, D_SAE = 300, 6, 24
BLOCK = N * 5  # blocks of 5 features: 24 features take 5 blocks, the last of 4


@pytest.fixture(scope="module")
def case():
    """A TopK SAE's dense codes of N states, with ties among the activations (rounded to a
    tenth), every position's item and its genres."""
    torch.manual_seed(0)
    sae = SAE(SAEConfig(d_in=D_IN, d_sae=D_SAE, variant="topk", k=3)).eval()
    x = torch.randn(N, D_IN)
    with torch.no_grad():
        sae.W_enc.mul_(10.0)  # pre-activations of several units: rounding leaves ties, not zeros
        dense = (sae.encode(x) * 10).round() / 10
    rng = np.random.default_rng(0)
    items = rng.integers(0, 40, N)
    genres = rng.random((40, 5)) < 0.3
    return sae, x, dense, items, genres[items]


def test_sparse_codes_are_the_dense_codes_chunk_by_chunk(case, device):
    sae, x, *_ = case
    sae_on, x_on = SAE(sae.config).to(device), x.to(device)
    sae_on.load_state_dict(sae.state_dict())
    codes = features.sparse_codes(sae_on.eval(), x_on, chunk=64)  # 5 chunks, the last of 44
    assert codes.is_sparse and codes.device.type == "cpu" and codes.shape == (N, D_SAE)
    assert len(codes.values()) == N * 3  # only the k active features of each state are kept
    with torch.no_grad():
        assert torch.equal(codes.to_dense(), sae_on.encode(x_on).cpu())


@pytest.mark.parametrize("layout", ["sparse", "dense"])  # dense codes: sliced the same way
def test_per_feature_statistics_equal_the_dense_ones(case, layout):
    *_, dense, items, labels = case
    codes = dense.to_sparse() if layout == "sparse" else dense

    def blocked(statistic, *args, **kwargs):
        return features.per_feature(statistic, codes, *args, size=BLOCK, **kwargs)

    widths = blocked(lambda b: np.full(b.shape[1], b.shape[1]))
    assert widths.tolist() == [5] * 20 + [4] * 4  # each feature's block
    assert torch.equal(blocked(lambda b: b.max(0).values), dense.max(0).values)
    assert torch.equal(features.firing_counts(codes), (dense > 0).sum(0))
    assert torch.allclose(blocked(lambda b: b.sum(0)), dense.sum(0))
    tops = blocked(interpret.top_items, items, 10)
    for mine, whole in zip(tops, interpret.top_items(dense, items, 10), strict=True):
        assert np.array_equal(mine, whole)
    np.testing.assert_array_equal(
        blocked(interpret.genre_scores, labels, 10, min_active=3),
        interpret.genre_scores(dense, labels, 10, min_active=3),
    )  # NaN where the same features fire too rarely


def test_hierarchy_reads_sparse_codes_as_dense_ones(case):
    *_, dense, items, labels = case
    sparse = dense.to_sparse()
    sizes = (4, 8, 12)
    groups = hierarchy.frequency_groups(dense, sizes)
    assert np.array_equal(hierarchy.frequency_groups(sparse, sizes), groups)
    assert np.array_equal(hierarchy.tree(sparse, groups), hierarchy.tree(dense, groups))
    popularity = np.arange(40) + 1
    genres = np.eye(5, dtype=bool)[np.arange(40) % 5]
    profiles = [
        hierarchy.profile(c, groups, items, genres, popularity, 10) for c in (sparse, dense)
    ]
    assert profiles[0].equals(profiles[1])
    concepts = labels  # five "concepts" per position
    for mine, whole in zip(
        hierarchy.best_features(sparse, concepts),
        hierarchy.best_features(dense, concepts),
        strict=True,
    ):
        assert np.array_equal(mine, whole)
