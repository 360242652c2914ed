"""The one bootstrap engine: stratified group sums, percentile intervals, and the one rule for blocks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from werbench.analysis import bootstrap as bs


def test_group_sums_draw_each_group_its_own_size() -> None:
    values = np.column_stack([np.ones(7), np.arange(7)])
    groups = np.array([0, 0, 0, 2, 2, 1, 0])
    sums = bs.bootstrap_group_sums(values, groups, n_resamples=200, seed=3)
    assert sums.shape == (200, 3, 2)
    assert np.all(sums[:, :, 0] == [4, 1, 2])  # every replicate draws 4, 1 and 2 rows
    # group 1 holds one row (value 5): every replicate draws exactly it
    assert np.all(sums[:, 1, 1] == 5)
    # group 2 holds values 3 and 4: a replicate's sum is 6, 7 or 8
    assert set(np.unique(sums[:, 2, 1])) <= {6.0, 7.0, 8.0}


def test_group_sums_are_a_uniform_resample() -> None:
    """Two rows with values 0 and 1: the resampled sum is Binomial(2, 1/2)."""
    sums = bs.bootstrap_group_sums(np.array([0.0, 1.0]), n_resamples=20_000, seed=1)[:, 0, 0]
    freq = np.bincount(sums.astype(int), minlength=3) / len(sums)
    assert freq == pytest.approx([0.25, 0.5, 0.25], abs=0.015)


def test_group_sums_of_many_distinct_rows_keep_the_mean() -> None:
    values = np.arange(500, dtype=float)
    sums = bs.bootstrap_group_sums(values, n_resamples=4000, seed=5)[:, 0, 0]
    assert sums.mean() == pytest.approx(values.sum(), rel=0.01)
    assert sums.std() == pytest.approx(np.sqrt(len(values)) * values.std(), rel=0.05)


@pytest.mark.parametrize("cost", [0, 10**9])  # every group by multinomial, or every group by index draws
def test_both_ways_of_drawing_resample_the_same(monkeypatch: pytest.MonkeyPatch, cost: int) -> None:
    monkeypatch.setattr(bs, "_MULTINOMIAL_COST", cost)
    values = np.column_stack([np.arange(40.0) % 7, np.ones(40)])
    groups = np.repeat([0, 1, 3], [25, 10, 5])
    sums = bs.bootstrap_group_sums(values, groups, n_resamples=6000, seed=2)
    assert np.all(sums[:, :, 1] == [25, 10, 0, 5])
    for g, rows in ((0, values[:25, 0]), (1, values[25:35, 0]), (3, values[35:, 0])):
        assert sums[:, g, 0].mean() == pytest.approx(rows.sum(), rel=0.02)
        assert sums[:, g, 0].std() == pytest.approx(np.sqrt(len(rows)) * rows.std(), rel=0.06)


def test_ratio_interval_handles_empty_denominators() -> None:
    num = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    den = np.array([[10.0, 0.0], [10.0, 0.0], [10.0, 0.0]])
    lo, hi = bs.ratio_interval(num, den, alpha=0.0)
    assert lo[0] == pytest.approx(0.1) and hi[0] == pytest.approx(0.3)
    assert math.isnan(lo[1]) and math.isnan(hi[1])


def test_one_rule_for_blocks_without_a_label() -> None:
    """Rows sharing a label are one block; a row without one (None, NaN, "") is a block of its own."""
    codes = bs.block_codes(["s1", None, "s2", "s1", "", float("nan"), None])
    assert codes.tolist() == [0, 1, 2, 0, 3, 4, 5]
    sums = bs.block_sums(np.array([[1, 10], [2, 10], [3, 10], [4, 10], [5, 10], [6, 10], [7, 10]]), codes)
    assert sums[:, 0].tolist() == [5, 2, 3, 5, 6, 7]
    # the interval and the breakdown follow the same rule: unlabelled utterances resample one by one
    errors, refs = np.arange(12) % 5, np.full(12, 6)
    unlabelled = [None] * 12
    assert bs.bootstrap_ci(errors, refs, blocks=unlabelled, seed=3) == bs.bootstrap_ci(errors, refs, seed=3)


def test_bootstrap_ci_of_nothing_is_undefined() -> None:
    assert all(math.isnan(x) for x in bs.bootstrap_ci(np.zeros(0), np.zeros(0)))
    assert all(math.isnan(x) for x in bs.bootstrap_ci(np.array([1, 2]), np.array([0, 0])))


def test_group_sums_of_no_rows_without_groups_still_have_the_one_group() -> None:
    """Issue 17: a pair whose systems share no utterance (one failed everywhere) summed nothing, and the
    callers' ``[:, 0, :]`` raised IndexError (a traceback from report, log and the dashboard)."""
    out = bs.bootstrap_group_sums(np.zeros((0, 4)), n_resamples=7)
    assert out.shape == (7, 1, 4) and not out.any()
    assert bs.bootstrap_group_sums(np.zeros((0, 2)), np.zeros(0, int), n_resamples=3).shape == (3, 0, 2)
