"""The answer key (chapter 9): noisy tags, the papers' metrics on them, ReLU at a target L0. The
matching of concepts to features is in test_interpret.py; the generator's determinism and its
truth's consistency are in test_data.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsae_lite import hierarchy, recovery
from recsae_lite.activations import planted
from recsae_lite.data import load_dataset
from recsae_lite.sae import FitConfig


@pytest.fixture(scope="module")
def truth():
    return load_dataset("synthetic", seed=7, n_users=200).truth


def test_noisy_labels_drop_and_swap_the_stated_shares(truth):
    concepts = truth.item_concepts
    n_true = concepts.sum()
    assert (recovery.noisy_labels(concepts, 0.0, 0.0) == concepts).all()
    dropped = recovery.noisy_labels(concepts, 0.3, 0.0, seed=1)
    assert not (dropped & ~concepts).any()  # only removals
    assert dropped.sum() / n_true == pytest.approx(0.7, abs=0.05)
    swapped = recovery.noisy_labels(concepts, 0.0, 0.3, seed=1)
    assert swapped.sum() == n_true  # each wrong tag replaces a right one
    assert (swapped & ~concepts).sum() / n_true == pytest.approx(0.3, abs=0.05)
    assert (recovery.noisy_labels(concepts, 0.2, 0.2, seed=5)
            == recovery.noisy_labels(concepts, 0.2, 0.2, seed=5)).all()  # fmt: skip
    with pytest.raises(ValueError, match="drop"):
        recovery.noisy_labels(concepts, 0.7, 0.5)


def test_label_metrics_fall_with_noisy_tags(truth):
    concepts = truth.item_concepts
    codes = torch.as_tensor(concepts, dtype=torch.float32) * torch.rand(len(concepts), 1)
    matched = np.arange(concepts.shape[1])
    clean = recovery.label_metrics(codes, concepts, matched)
    assert clean["purity@10"] == 1.0 and clean["recovered"] == 1.0
    assert clean["tf-idf hits"] > 0.5
    noisy = recovery.label_metrics(codes, recovery.noisy_labels(concepts, 0.3, 0.3), matched)
    assert noisy["association"] < clean["association"]
    assert noisy["recovered"] < clean["recovered"]


def test_order_agreement():
    assert recovery.order_agreement([1, 2, 3], [10, 20, 30]) == 1.0
    assert recovery.order_agreement([1, 2, 3], [3, 2, 1]) == 0.0
    assert recovery.order_agreement([1, 1, 1], [1, 2, 3]) == 0.5  # a constant score cannot tell
    assert recovery.order_agreement([1, 3, 2], [1, 2, 3]) == pytest.approx(2 / 3)


def test_fit_brings_relu_to_the_target_l0():
    x, _ = planted(2_000, d_in=8, n_directions=16, active=2, seed=0)
    sizes, k = (4, 12), 3
    fit = FitConfig(max_steps=1_000, batch_size=500)  # the default rate, as before
    sae, l1 = recovery.fit(x, "relu", sizes, k, fit, l1=1.0, rounds=6)
    with torch.no_grad():
        l0 = (sae.encode(x) > 0).float().sum(1).mean().item()
    assert abs(l0 - k) <= 0.2 * k and l1 > 1.0  # the first weight was far too small
    assert sae.config.l1_coefficient == l1
    short = FitConfig(max_steps=20, batch_size=500)
    topk, none = recovery.fit(x, "topk", sizes, k, short)
    assert none is None and topk.config.k == k and topk.config.d_sae == sum(sizes)
    matryoshka, _ = recovery.fit(x, "matryoshka", sizes, k, short)
    assert matryoshka.config.groups == sizes


def test_hierarchy_config_passes_options_and_nests_only_matryoshka():
    config = hierarchy.sae_config(4, "relu", (8,), 2, l1_coefficient=7.0)
    assert config.l1_coefficient == 7.0 and config.groups == ()
    assert hierarchy.sae_config(4, "matryoshka", (2, 6), 2).groups == (2, 6)


def test_chapter_9_figures_have_a_trace_per_line_and_panel():
    import pandas as pd

    from recsae_lite import viz

    values = {"recovered": [0.1, 0.2, 0.3, 0.4], "f1": [0.5, 0.6, 0.7, 0.8]}
    table = pd.DataFrame({"model": list("aabb"), "variant": list("xyxy"), **values})
    bars = viz.grouped_bars(table, "model", "variant", "recovered", "t", line=(0.05, "chance"))
    assert [t.name for t in bars.data] == ["x", "y"] and list(bars.data[1].y) == [0.2, 0.4]
    lines = viz.metric_lines(table, "model", ["recovered", "f1"], "variant", "t")
    assert len(lines.data) == 4 and sum(t.showlegend for t in lines.data) == 2
