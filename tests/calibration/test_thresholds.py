"""Guaranteed-precision thresholds and the risk–coverage curve."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from swerm_plugin.calibration import (
    CalibrationError,
    InfeasibleTargetError,
    clopper_pearson_lower,
    precision_threshold,
    risk_coverage_curve,
)


def test_clopper_pearson_by_hand() -> None:
    # n successes of n: the bound L solves L^n = delta.
    assert clopper_pearson_lower(10, 10, 0.05) == pytest.approx(0.05 ** (1 / 10))
    assert clopper_pearson_lower(0, 10, 0.05) == 0.0
    assert np.isnan(clopper_pearson_lower(0, 0, 0.05))
    # Definition: P(Binomial(n, L) >= k) = delta at the bound.
    k, n = 37, 50
    bound = float(clopper_pearson_lower(k, n, 0.1))
    assert binom.sf(k - 1, n, bound) == pytest.approx(0.1)


def draw(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated scores: P(resolved | s) = s, s uniform, so precision above t is (1 + t) / 2."""
    s = rng.uniform(size=n)
    return s, (rng.uniform(size=n) < s).astype(int)


def true_precision(t: float) -> float:
    return (1 + t) / 2


def test_guarantee_holds_in_simulation() -> None:
    target, delta, repeats = 0.8, 0.1, 300
    rng = np.random.default_rng(2024)
    guaranteed_misses = naive_misses = 0
    thresholds = []
    for _ in range(repeats):
        s, y = draw(1000, rng)
        try:
            threshold = precision_threshold(s, y, target=target, delta=delta).threshold
        except InfeasibleTargetError:
            threshold = 1.0  # refusing to accept anything never misses the target
        thresholds.append(threshold)
        guaranteed_misses += true_precision(threshold) < target
        # Naive rule: the lowest grid threshold whose observed precision reaches the target.
        grid = np.linspace(0, 1, 101)
        observed = [y[s >= t].mean() if np.any(s >= t) else 0.0 for t in grid]
        naive = grid[np.argmax(np.array(observed) >= target)]
        naive_misses += true_precision(naive) < target
    assert guaranteed_misses / repeats <= delta
    assert naive_misses / repeats > 0.3  # the simulation can detect a rule without a guarantee
    # and the guarantee is not bought by refusing almost everything (ideal threshold: 0.6)
    assert np.mean(thresholds) < 0.8


def test_result_fields_by_hand() -> None:
    s = np.array([0.95] * 60 + [0.55] * 30 + [0.1] * 40)
    y = np.array([1] * 60 + [1] * 15 + [0] * 15 + [0] * 40)
    chosen = precision_threshold(s, y, target=0.8, delta=0.05)
    # From 0.55 down the observed precision is 75/90 = .83, but its lower bound at
    # 0.05/101 is below .8; above 0.55 all 60 resolve, bound (0.05/101)^(1/60) = .88. So the
    # lowest qualifying grid value is 0.56, accepting the 60 sure ones.
    assert float(clopper_pearson_lower(75, 90, 0.05 / 101)) < 0.8
    assert chosen.threshold == pytest.approx(0.56)
    assert (chosen.n_accepted, chosen.precision) == (60, 1.0)
    assert chosen.coverage == pytest.approx(60 / 130)
    assert chosen.lower_bound == pytest.approx((0.05 / 101) ** (1 / 60))


def test_infeasible_target_says_what_to_do() -> None:
    with pytest.raises(InfeasibleTargetError, match="label more trajectories"):
        precision_threshold([0.9, 0.8, 0.2], [1, 1, 0], target=0.95)
    with pytest.raises(CalibrationError, match="target precision must be in"):
        precision_threshold([0.9], [1], target=1.0)


def test_risk_coverage_by_hand() -> None:
    curve = risk_coverage_curve([0.9, 0.8, 0.8, 0.3], [1, 0, 1, 0])
    np.testing.assert_allclose(curve.thresholds, [0.9, 0.8, 0.3])
    np.testing.assert_allclose(curve.coverage, [0.25, 0.75, 1.0])
    np.testing.assert_allclose(curve.risk, [0.0, 1 / 3, 0.5])
    assert curve.aurc == pytest.approx(0.25 * 0 + 0.5 * (1 / 3) + 0.25 * 0.5)
