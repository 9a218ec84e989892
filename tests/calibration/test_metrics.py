"""Metrics against scikit-learn and against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score

from swerm_plugin.calibration import (
    CalibrationError,
    accuracy_at,
    auroc,
    bootstrap_change,
    bootstrap_ci,
    brier_score,
    calibration_summary,
    expected_calibration_error,
    reliability_curve,
)
from swerm_plugin.calibration.metrics import _auroc_fast, _brier_fast


def test_ece_by_hand() -> None:
    # Two equal-width bins: (0, .5] holds .2, .4 (mean .3, 1 of 2 resolved: gap .2);
    # (.5, 1] holds .6, .8, 1.0 (mean .8, 3 of 3 resolved: gap .2). ECE = 2/5·.2 + 3/5·.2 = .2
    p = [0.2, 0.4, 0.6, 0.8, 1.0]
    y = [0, 1, 1, 1, 1]
    assert expected_calibration_error(p, y, n_bins=2) == pytest.approx(0.2)
    # A probability exactly on an edge belongs to the lower bin, as in scikit-learn.
    curve = reliability_curve([0.5, 0.5], [1, 0], n_bins=2)
    assert list(curve.count) == [2, 0]


def test_reliability_curve_matches_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(size=500)
    y = (rng.uniform(size=500) < p**2).astype(int)
    curve = reliability_curve(p, y, n_bins=10)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    filled = curve.count > 0
    np.testing.assert_allclose(curve.fraction_positive[filled], prob_true)
    np.testing.assert_allclose(curve.mean_predicted[filled], prob_pred)
    # ECE from scikit-learn's curve plus the bin counts computed independently
    counts = np.histogram(p, bins=np.linspace(0, 1, 11))[0]
    expected = np.sum(counts[counts > 0] * np.abs(prob_true - prob_pred)) / p.size
    assert curve.ece == pytest.approx(expected)


def test_equal_mass_bins_split_evenly_and_perfect_scores_have_zero_ece() -> None:
    p = np.linspace(0.01, 0.99, 47)
    curve = reliability_curve(p, (p > 0.5).astype(int), n_bins=5, strategy="quantile")
    assert curve.count.sum() == 47 and curve.count.max() - curve.count.min() <= 1
    assert expected_calibration_error([0.0, 1.0, 1.0], [0, 1, 1]) == 0.0


def test_brier_auroc_accuracy_against_scikit_learn_and_hand() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=300)
    y = (rng.uniform(size=300) < p).astype(int)
    assert brier_score(p, y) == pytest.approx(brier_score_loss(y, p))
    assert auroc(p, y) == pytest.approx(roc_auc_score(y, p))
    # the numpy versions used inside the bootstrap agree, ties included
    tied = np.round(p, 1)
    assert _auroc_fast(tied, y) == pytest.approx(roc_auc_score(y, tied))
    assert _brier_fast(p, y) == pytest.approx(brier_score_loss(y, p))
    # by hand: pairs (pos, neg): (.9,.1) win, (.9,.8) win, (.4,.1) win, (.4,.8) lose → 3/4
    assert auroc([0.9, 0.4, 0.1, 0.8], [1, 1, 0, 0]) == pytest.approx(0.75)
    assert accuracy_at([0.9, 0.4, 0.1, 0.8], [1, 1, 0, 0]) == pytest.approx(0.5)
    assert brier_score([1.0, 0.5], [1, 0]) == pytest.approx(0.125)


def test_auroc_is_nan_with_one_class() -> None:
    assert np.isnan(auroc([0.1, 0.9], [1, 1]))


def test_bootstrap_interval_brackets_the_estimate() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(size=400)
    y = (rng.uniform(size=400) < p).astype(int)
    interval = bootstrap_ci(brier_score, p, y, n_resamples=300, seed=2)
    assert interval.low < interval.estimate < interval.high
    assert interval.high - interval.low < 0.05  # ~±2 standard errors of a Brier on 400 points
    summary = calibration_summary(p, y, n_resamples=200)
    assert set(summary["ci"]) == {"ece", "brier", "auroc"}
    assert summary["ci"]["auroc"]["low"] < summary["auroc"] < summary["ci"]["auroc"]["high"]


def test_the_paired_bootstrap_interval_of_a_change() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(size=400)
    y = (rng.uniform(size=400) < p).astype(int)
    same = bootstrap_change(brier_score, p, p, y, n_resamples=100)
    assert same.estimate == same.low == same.high == 0.0  # the pairing cancels everything
    worse = bootstrap_change(brier_score, np.clip(p + 0.3, 0, 1), p, y, n_resamples=200)
    assert 0.0 < worse.low < worse.estimate < worse.high
    with pytest.raises(CalibrationError, match="3 scores but 400 labels"):
        bootstrap_change(brier_score, p, p[:3], y)


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([0.2, 1.4], [0, 1], r"scores\[1\] = 1.4 is not a probability"),
        ([0.2, float("nan")], [0, 1], r"scores\[1\] is nan; drop failed scores"),
        ([0.2, 0.3], [0, 1, 1], "2 scores but 3 labels"),
        ([0.2, 0.3], [0, 2], "labels must be 0/1"),
        ([], [], "no scores given"),
    ],
)
def test_bad_input_is_named(scores: list[float], labels: list[int], message: str) -> None:
    with pytest.raises(CalibrationError, match=message):
        brier_score(scores, labels)


def test_bad_bin_settings() -> None:
    with pytest.raises(CalibrationError, match="n_bins must be at least 1"):
        expected_calibration_error([0.5], [1], n_bins=0)
    with pytest.raises(CalibrationError, match="unknown bin strategy 'log'"):
        expected_calibration_error([0.5], [1], strategy="log")  # type: ignore[arg-type]
