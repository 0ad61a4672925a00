"""benchmarks/_measures.py: the measures the benchmarks share, each checked against the package's
own definition recomputed on explicitly resampled data, or against an answer worked by hand."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from recsae_lite import hierarchy, interpret, two_tower, zoo
from recsae_lite.data import leave_one_out, load_dataset
from recsae_lite.sae import SAE, SAEConfig

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # _measures imports common, as the scripts do
spec = importlib.util.spec_from_file_location("_measures", BENCHMARKS / "_measures.py")
measures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(measures)


@pytest.fixture(scope="module")
def positions():
    """Activations at 600 positions of 30 users (20 each), with items and two label views."""
    rng = np.random.default_rng(0)
    n, users = 600, np.repeat(np.arange(30), 20)
    acts = torch.as_tensor(rng.normal(size=(n, 12)), dtype=torch.float32)
    acts[:, :4] = acts[:, :4].clamp_min(0)  # some coordinates fire on part of the positions only
    acts[:, 4] = torch.as_tensor(rng.normal(size=n) + 3 * (users < 3))  # fires for 3 users
    items = rng.integers(0, 40, n)
    items[acts[:, 5].argsort(descending=True)[:60].numpy()] = 7  # an item feature
    labels = {"a": rng.random((n, 5)) < 0.3, "b": rng.random((n, 5)) < 0.5}
    labels["a"][acts[:, 6].numpy() > 0.5, 2] = True  # a coordinate about label 2
    return acts, users, items, labels


def package_scores(acts, items, labels, top, min_items):
    """interpret's genre scores and item features, as chapter 4 computes them."""
    tops = interpret.top_items(acts, items, top)
    return ({view: interpret.genre_scores(acts, v, top) for view, v in labels.items()},
            interpret.item_features(tops, min_items))  # fmt: skip


def test_top_positions_give_the_package_scores_on_every_user(positions):
    acts, users, items, labels = positions
    found = measures.TopPositions(acts.split(100), users, items, labels, depth=200, top=50)
    scores, item_features = found.scores(np.ones(30), min_items=10)
    expected, expected_items = package_scores(acts, items, labels, 50, 10)
    for view in labels:
        np.testing.assert_allclose(scores[view][0], expected[view], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(item_features[0], expected_items)
    assert expected_items[5] and not expected_items.all()  # the test data has both kinds


def test_top_positions_count_a_user_drawn_twice_twice(positions):
    # a resample that draws users [0, 0, 3, 7, 7, 7, ...] is the data with user 0's positions
    # twice, user 3's once, user 7's three times: the package's scores of that data
    acts, users, items, labels = positions
    found = measures.TopPositions(acts, users, items, labels, depth=300, top=50)
    rows = np.random.default_rng(1).integers(0, 30, (3, 30))
    counts = measures.counts_of(rows, 30)
    scores, item_features = found.scores(counts, min_items=10)
    for b, drawn in enumerate(rows):
        explicit = np.concatenate([np.flatnonzero(users == u) for u in drawn])
        resampled = {view: v[explicit] for view, v in labels.items()}
        expected, expected_items = package_scores(acts[explicit], items[explicit], resampled,
                                                  50, 10)  # fmt: skip
        for view in labels:
            np.testing.assert_allclose(scores[view][b], expected[view], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(item_features[b], expected_items)
    assert found.ran_out == 0 and found.scored == 3 * 12


def test_pass_shares_fail_item_features_and_count_every_coordinate(positions):
    acts, users, items, labels = positions
    found = measures.TopPositions(acts, users, items, labels, depth=200, top=50)
    expected, expected_items = package_scores(acts, items, labels, 50, 10)
    shares = found.pass_shares(np.ones(30), 0.3, min_items=10)
    for view in labels:
        passing = (interpret.best_score(expected[view]) >= 0.3) & ~expected_items
        assert shares[view][0] == pytest.approx(passing.sum() / 12)  # over all 12 coordinates
    assert shares["a"][0] > 0  # coordinate 6 is about label 2


def test_a_shallow_depth_is_counted_when_it_runs_out(positions):
    acts, users, items, labels = positions
    found = measures.TopPositions(acts, users, items, labels, depth=40, top=50)
    found.scores(np.ones(30))
    # every coordinate positive on more than 40 positions fills 40 places of 50
    assert found.ran_out == int(((acts > 0).sum(0) > 40).sum()) and found.scored == 12


def test_resampled_computes_the_draws_bootstrap_interval_makes():
    calls = []

    def batch(rows):  # the share of draws of unit 0, one resample a row
        calls.append(len(rows))
        return list((rows == 0).mean(1))

    resampled = measures.Resampled(10, batch, resamples=120, block=50)
    assert calls == [50, 50, 20]
    figure = measures.over_units(10, lambda rows: resampled(rows), resamples=120)
    assert calls == [50, 50, 20, 1]  # only the full data (every unit once) was not known ahead
    explicit = measures.over_units(10, lambda rows: np.mean(rows == 0), resamples=120)
    assert figure["value"] == explicit["value"] == pytest.approx(0.1)
    assert figure["ci"] == pytest.approx(explicit["ci"])


def test_counts_of_a_resample():
    np.testing.assert_array_equal(measures.counts_of(np.array([[0, 0, 2], [1, 2, 2]]), 4),
                                  [[2, 0, 1, 0], [0, 1, 2, 0]])  # fmt: skip


def test_along_interpolates_at_the_first_crossing():
    x, y = np.array([0.0, 0.1, 0.3, 0.2, 0.6]), np.array([0.0, 1.0, 3.0, 5.0, 9.0])
    assert measures.along(x, y, 0.2) == pytest.approx(2.0)  # halfway from (.1, 1) to (.3, 3)
    assert measures.along(x, y, 0.4) == pytest.approx(7.0)  # past the dip, (.2, 5) to (.6, 9)
    assert measures.along(x, y, 0.0) == 0.0 and np.isnan(measures.along(x, y, 0.7))


def test_at_equal_levels_compares_where_both_curves_reach():
    # a reaches cost .4, b .2: levels .04, .08, ..., .2; a gains 10 x its cost, b 5 x
    cost_a, gain_a = np.array([0, 0.2, 0.4]), np.array([0, 2.0, 4.0])
    cost_b, gain_b = np.array([0, 0.1, 0.2]), np.array([0, 0.5, 1.0])
    a, b = measures.at_equal_levels(cost_a, gain_a, cost_b, gain_b, n=5)
    np.testing.assert_allclose(a, [0.4, 0.8, 1.2, 1.6, 2.0])
    np.testing.assert_allclose(b, [0.2, 0.4, 0.6, 0.8, 1.0])
    assert measures.at_equal_levels(cost_a, gain_a, np.zeros(3), gain_b)[0].size == 0
    # the furthest level is where the shorter curve ends, and it is reached, whatever the rounding
    # here start + (reach - start) * 5 / 5 rounds to just beyond reach
    start, reach = -0.004097352393619469, -0.00016527635528529094
    x_a, x_b = np.array([start, reach]), np.array([start, reach / 2])
    a, b = measures.at_equal_levels(x_a, np.array([0.0, 4.0]), x_b, np.array([0.0, 4.0]))
    assert a[-1] == 4.0 and not np.isnan(b).any()


def test_coverage_of_the_lists_of_resampled_users():
    lists = np.array([[0, 1], [1, 2], [5, 6]])
    assert measures.coverage(lists, np.array([0, 1, 1]), 10) == pytest.approx(0.3)
    assert measures.coverage(lists, np.array([2, 2]), 4) == pytest.approx(0.5)


def test_weighted_activity_is_concept_activity_of_the_resampled_items():
    rng = np.random.default_rng(2)
    codes = torch.as_tensor(rng.random((30, 8)) * (rng.random((30, 8)) < 0.3)).float()
    concepts = rng.random((30, 4)) < 0.4
    concepts[:, 3] = False  # an empty concept: 0 everywhere
    activity = measures.WeightedActivity(codes, concepts)
    rows = rng.integers(0, 30, 30)
    expected = interpret.concept_activity(codes[rows], concepts[rows])
    found = activity(measures.counts_of(rows, 30)[0])
    torch.testing.assert_close(found, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(activity(np.ones(30)), interpret.concept_activity(codes, concepts))


def test_untrained_sae_starts_where_fit_starts_and_reads_standardised_input():
    x = torch.randn(500, 6) * 3 + 1
    config = SAEConfig(6, 24, "topk", 3)
    control = measures.untrained(config, x, seed=4)
    start = SAE(config, torch.Generator().manual_seed(4))  # what sae.fit begins from
    torch.testing.assert_close(control.W_dec, start.W_dec)
    torch.testing.assert_close(control.W_enc, start.W_enc)
    x_norm = control.normalise(x)
    torch.testing.assert_close(x_norm.mean(0), torch.zeros(6), atol=1e-5, rtol=0)
    assert x_norm.pow(2).sum(1).mean().item() == pytest.approx(6, rel=1e-4)
    assert not control.training


def test_halves_split_every_row_once_the_same_way():
    rows = measures.halves(11)
    assert sorted([*rows["validation"], *rows["test"]]) == list(range(11))
    np.testing.assert_array_equal(rows["test"], measures.halves(11)["test"])


def test_child_agreement_terms_average_to_the_agreement():
    # features 0, 1 fire on parents 0, 1; 2 and 3 on their children (concepts 2, 3 under 0;
    # 4 under 1); feature 4 on concept 4's samples, where feature 0 fires as well as feature 1:
    # the tie hangs it under feature 0, so concept 4 is not under its parent
    concepts = np.zeros((10, 5), dtype=bool)
    concepts[0:4, 0] = concepts[0:2, 2] = concepts[2:4, 3] = True
    concepts[4:8, 1] = concepts[4:6, 4] = True
    codes = torch.zeros(10, 5)
    codes[0:4, 0] = codes[4:8, 1] = codes[0:2, 2] = codes[2:4, 3] = 1.0
    codes[4:6, 4] = codes[4:6, 0] = 1.0
    groups = np.array([0, 0, 1, 1, 1])
    parent_of = np.array([-1, -1, 0, 0, 1])
    terms = measures.child_agreement(codes, groups, concepts, parent_of)
    np.testing.assert_array_equal(terms, [np.nan, np.nan, 1.0, 1.0, 0.0])
    tree = hierarchy.tree(codes, groups)
    best = hierarchy.best_features(codes, concepts)[0]
    assert np.nanmean(terms) == pytest.approx(hierarchy.agreement(tree, best, parent_of))


def test_ratio_of_two_counts_ties_at_zero():
    assert measures.ratio(3, 4) == 0.75 and measures.ratio(2, 0) == np.inf
    assert measures.ratio(0, 0) == 1.0 and measures.ratio(0, 5) == 0.0


@pytest.mark.parametrize("name", ["mf", "ncf"])
def test_fidelity_per_user_averages_to_two_towers_fidelity(name):
    dataset = load_dataset("synthetic", seed=2, n_users=40, n_items=30, seq_len=(5, 15))
    split = leave_one_out(dataset)
    torch.manual_seed(0)
    model = zoo.build(name, dataset, split, hidden_size=6).eval()
    sae = SAE(SAEConfig(6, 12, "topk", 2), torch.Generator().manual_seed(0))
    sae.fit_normalisation(torch.cat(two_tower.embeddings(model)))
    rows = np.arange(0, 40, 3)
    each = measures.fidelity_per_user(model, sae, split, rows, k=10)
    means = two_tower.fidelity(model, sae, split, rows, k=10)
    for measure, values in each.items():
        assert values.shape == (len(rows),)
        assert np.nanmean(values) == pytest.approx(means[measure]), measure
    assert 0 < means["rbo_paper_b"] < 1  # a lossy SAE: the lists differ, but not entirely


def test_the_quick_fits_are_those_fit_budget_chose():
    """zoo.FITS["quick"] is benchmarks/results/fit_budget.json's choice per kind, not a guess."""
    import json

    chosen = {
        f["fit"]: f
        for f in json.loads((BENCHMARKS / "results/fit_budget.json").read_text())["fits"]
    }
    kinds = {"sasrec": ["sasrec states, topk", "sasrec states, matryoshka"],
             "two_tower": ["mf users and items, w_pred 1"], "elsa": ["elsa views, k 16"],
             "items": ["synthetic items, matryoshka"]}  # fmt: skip
    for kind, fits in kinds.items():
        settings = zoo.fit_settings(kind, "quick")
        assert {(chosen[f]["lr"], chosen[f]["batch"]) for f in fits} == {
            (settings.lr, settings.batch_size)
        }, kind
        assert settings.max_steps == max(chosen[f]["cap"] for f in fits), kind
    with pytest.raises(ValueError, match="unknown kind of fit 'sae'"):
        zoo.fit_settings("sae", "quick")
