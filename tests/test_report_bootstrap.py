"""benchmarks/common.py: the user-level bootstrap interval every verdict reads, the shapes of the
"figures" and "knobs" a result file holds, and the device a result file names."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from recsae_lite import report

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("common", ROOT / "benchmarks" / "common.py")
common = importlib.util.module_from_spec(spec)
spec.loader.exec_module(common)


def test_constant_per_user_differences_give_a_zero_width_interval():
    # whatever users a resample draws, each differs by exactly .3: every resample's difference
    # of means is .3
    before = np.random.default_rng(0).normal(0.3, 0.1, 200)
    figure = common.bootstrap_interval(before + 0.3, before)
    assert figure["value"] == pytest.approx(0.3)
    assert figure["ci"] == pytest.approx([0.3, 0.3]) and figure["n"] == 200


def test_pairing_resamples_the_same_users_for_both_methods():
    # mean(a[users]) - mean(b[users]) = mean((a - b)[users]): the paired interval is the
    # interval of the per-user differences, drawn with the same users
    rng = np.random.default_rng(1)
    b = rng.normal(0, 1, 300)
    a = b + rng.normal(0.1, 0.2, 300)
    paired = common.bootstrap_interval(a, b, seed=3)
    assert paired["ci"] == pytest.approx(common.bootstrap_interval(a - b, seed=3)["ci"])
    # far narrower than a's own interval: the users' shared part cancels
    alone = common.bootstrap_interval(a, seed=3)["ci"]
    assert paired["ci"][1] - paired["ci"][0] < 0.5 * (alone[1] - alone[0])
    with pytest.raises(ValueError, match="same users"):
        common.bootstrap_interval(a, b[:-1])


def test_rows_are_users_resampled_whole():
    # every row (a user's figures over two genres) has mean 1: every resample of users does too,
    # whereas resampling single numbers would spread between 0 and 2
    rows = np.array([[0.0, 2.0], [1.0, 1.0], [2.0, 0.0]] * 20)
    assert common.bootstrap_interval(rows)["ci"] == pytest.approx([1.0, 1.0])
    # a statistic of both methods: a ratio of means, each user's after twice their before
    before = np.random.default_rng(2).uniform(0.1, 1, 50)
    ratio_of_means = lambda after, before: after.mean() / before.mean()  # noqa: E731
    ratio = common.bootstrap_interval(2 * before, before, statistic=ratio_of_means)
    assert ratio["value"] == pytest.approx(2.0) and ratio["ci"] == pytest.approx([2.0, 2.0])


def test_the_interval_of_a_normal_mean_has_the_textbook_width_and_coverage():
    rng = np.random.default_rng(4)
    # width: 2 x 1.96 standard errors, s / sqrt(n), for a large sample
    x = rng.normal(5.0, 2.0, 1000)
    low, high = common.bootstrap_interval(x)["ci"]
    assert high - low == pytest.approx(2 * 1.96 * x.std() / np.sqrt(len(x)), rel=0.06)
    # coverage: over 300 samples of 50 from N(2, 1), the 95% interval holds 2 about 94% of the
    # time (the percentile bootstrap of a mean is the normal interval with s / sqrt(n) for
    # n = 50: the t distribution with 49 degrees of freedom gives 94%); the binomial standard
    # error of the count over 300 samples is 1.4 points
    covered = [
        low <= 2.0 <= high
        for seed in range(300)
        for low, high in [common.bootstrap_interval(rng.normal(2.0, 1.0, 50), resamples=500,
                                                    seed=seed)["ci"]]
    ]  # fmt: skip
    assert 0.89 <= np.mean(covered) <= 0.99


def test_the_interval_is_seeded():
    x = np.random.default_rng(5).exponential(1.0, 80)
    assert common.bootstrap_interval(x, seed=7) == common.bootstrap_interval(x, seed=7)
    assert common.bootstrap_interval(x, seed=7)["ci"] != common.bootstrap_interval(x, seed=8)["ci"]


def test_a_result_file_holds_figures_and_knobs_the_report_reads(tmp_path):
    head = {"benchmark": "b", "profile": "ci", "seed": 0}
    figure = common.bootstrap_interval(np.linspace(0.05, 0.09, 40))
    knob = common.knob(0.5, "validation users", "the smallest strength doubling the share")
    common.write_report(
        tmp_path / "b.json", {**head, "figures": {"f": figure}, "knobs": {"k": knob}}, {"cpu"}
    )
    written = json.loads((tmp_path / "b.json").read_text())
    assert written["knobs"]["k"]["chosen on"] == "validation users"
    # the interval of figures from .05 to .09 lies below .10: a rule "at most 10%" holds
    assert report.verdict(*written["figures"]["f"]["ci"], 0.10, "<=") == "holds"
    with pytest.raises(ValueError, match=r"figures\['f'\] of b.json must be"):
        common.write_report(tmp_path / "b.json", {**head, "figures": {"f": 0.07}}, {"cpu"})
    with pytest.raises(ValueError, match=r"knobs\['k'\] of b.json must say"):
        common.write_report(tmp_path / "b.json", {**head, "knobs": {"k": {"value": 1}}}, {"cpu"})


def test_a_result_file_names_the_device_its_work_ran_on(tmp_path, device):
    model, x = torch.nn.Linear(2, 2).to(device), torch.zeros(3, device=device)
    head = {"benchmark": "b", "profile": "ci", "seed": 0}
    common.write_report(tmp_path / "b.json", head, common.devices_of(model, x))
    written = json.loads((tmp_path / "b.json").read_text())
    assert written["machine"]["ran_on"] == [str(x.device)]  # "cpu", or "cuda:0": not the flag
    assert (device.type == "cuda") == ("peak_gpu_memory_mb" in written)
    with pytest.raises(ValueError, match="the devices its work ran on"):
        common.write_report(tmp_path / "b.json", head, set())


def test_a_centred_interval_keeps_the_spread_and_holds_a_shifted_statistic():
    # the share of distinct users among those drawn: 1 on the sample, about 1 - 1/e on every
    # resample (a user drawn twice counts once), so the percentile interval misses the figure
    users = np.arange(400, dtype=float)
    distinct = lambda drawn: len(np.unique(drawn)) / len(drawn)  # noqa: E731
    shifted = common.bootstrap_interval(users, statistic=distinct)
    centred = common.bootstrap_interval(users, statistic=distinct, centred=True)
    assert shifted["ci"][1] < 0.7 and shifted["value"] == centred["value"] == 1.0
    low, high = centred["ci"]
    assert low < 1.0 < high
    assert high - low == pytest.approx(shifted["ci"][1] - shifted["ci"][0])
    # an unshifted statistic (a mean) barely moves
    mean = common.bootstrap_interval(np.sin(users))
    assert common.bootstrap_interval(np.sin(users), centred=True)["ci"] == pytest.approx(
        mean["ci"], abs=0.01
    )
