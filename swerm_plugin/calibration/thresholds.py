"""Accept thresholds with a finite-sample precision guarantee, and the risk–coverage curve.

The guarantee: with probability at least ``1 − δ`` over the labelled sample, the chosen
threshold ``t`` has true precision ``P(resolved | score ≥ t) ≥ target``. Each candidate
threshold on a fixed grid is tested with a one-sided Clopper–Pearson bound at level ``δ / |grid|``
(Bonferroni), so the bounds hold for every grid point at once and picking the one with the most
coverage after looking at the data keeps the guarantee. Choosing the threshold where the
*empirical* precision first reaches the target has no such guarantee: it misses the target in
about half of all samples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from swerm_plugin.calibration._validate import ArrayLike, scores_and_labels
from swerm_plugin.errors import CalibrationError, InfeasibleTargetError

#: Thresholds 0.00, 0.01, ..., 1.00: fixed in advance, as the union bound requires.
DEFAULT_GRID = np.round(np.linspace(0.0, 1.0, 101), 10)


def clopper_pearson_lower(k: int | np.ndarray, n: int | np.ndarray, delta: float) -> np.ndarray:
    """One-sided lower confidence bound at level ``1 − delta`` for a binomial rate from ``k``
    successes in ``n`` trials (exact; 0 when ``k = 0``, NaN when ``n = 0``)."""
    from scipy.stats import beta

    if not 0.0 < delta < 1.0:
        raise CalibrationError(f"delta must be in (0, 1), got {delta}")
    k_arr = np.asarray(k, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        bound = beta.ppf(delta, k_arr, n_arr - k_arr + 1.0)
    bound = np.where(k_arr == 0, 0.0, bound)
    out: np.ndarray = np.where(n_arr == 0, np.nan, bound)
    return out


@dataclass(frozen=True)
class PrecisionThreshold:
    """The chosen accept threshold and what the sample says about it."""

    threshold: float
    target: float
    delta: float
    lower_bound: float
    precision: float
    coverage: float
    n_accepted: int
    n: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _accepted_counts(
    p: np.ndarray, y: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(accepted, resolved among accepted) for each threshold, accepting ``p >= t``."""
    order = np.argsort(p, kind="stable")
    sorted_p = p[order]
    resolved_above = np.concatenate([np.cumsum(y[order][::-1])[::-1], [0]])
    first = np.searchsorted(sorted_p, thresholds, side="left")
    return p.size - first, resolved_above[first]


def precision_threshold(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    target: float,
    delta: float = 0.05,
    grid: ArrayLike | None = None,
) -> PrecisionThreshold:
    """The lowest grid threshold whose Clopper–Pearson lower bound on precision is ≥ ``target``.

    :param scores: probabilities of the labelled sample (calibrated or raw; the threshold
        applies to the same kind of score).
    :param target: the precision to guarantee, e.g. 0.9.
    :param delta: the allowed failure probability of the guarantee.
    :param grid: candidate thresholds, fixed before seeing the data (default 0.00 … 1.00).
    :raises InfeasibleTargetError: when no threshold qualifies; more labelled data, a lower
        target or a larger ``delta`` help.
    """
    if not 0.0 < target < 1.0:
        raise CalibrationError(f"target precision must be in (0, 1), got {target}")
    p, y = scores_and_labels(scores, labels)
    thresholds = np.unique(np.asarray(DEFAULT_GRID if grid is None else grid, dtype=float))
    n_accepted, n_resolved = _accepted_counts(p, y, thresholds)
    lower = clopper_pearson_lower(n_resolved, n_accepted, delta / thresholds.size)
    ok = np.flatnonzero(np.nan_to_num(lower, nan=0.0) >= target)
    if ok.size == 0:
        best = float(np.nanmax(lower)) if np.any(n_accepted) else 0.0
        raise InfeasibleTargetError(
            f"no threshold reaches precision {target:.0%} with confidence {1 - delta:.0%} on "
            f"{p.size} labelled examples (best lower bound {best:.1%}); label more trajectories, "
            "lower the target or raise delta"
        )
    i = int(ok[0])  # thresholds ascend, so the first qualifying one accepts the most
    return PrecisionThreshold(
        threshold=float(thresholds[i]),
        target=target,
        delta=delta,
        lower_bound=float(lower[i]),
        precision=float(n_resolved[i] / n_accepted[i]),
        coverage=float(n_accepted[i] / p.size),
        n_accepted=int(n_accepted[i]),
        n=int(p.size),
    )


@dataclass(frozen=True)
class RiskCoverageCurve:
    """Selective risk (share of accepted patches that do not resolve) against coverage (share
    accepted), one point per distinct score used as the threshold, highest first."""

    thresholds: np.ndarray
    coverage: np.ndarray
    risk: np.ndarray

    @property
    def aurc(self) -> float:
        """Area under the risk–coverage curve (step-wise from coverage 0); lower is better."""
        widths = np.diff(np.concatenate([[0.0], self.coverage]))
        return float(np.sum(widths * self.risk))

    def as_dict(self) -> dict[str, Any]:
        return {
            "thresholds": self.thresholds.tolist(),
            "coverage": self.coverage.tolist(),
            "risk": self.risk.tolist(),
            "aurc": self.aurc,
        }


def risk_coverage_curve(scores: ArrayLike, labels: ArrayLike) -> RiskCoverageCurve:
    """Risk and coverage when accepting ``score >= t`` for every distinct score ``t``."""
    p, y = scores_and_labels(scores, labels)
    thresholds = np.unique(p)[::-1]
    n_accepted, n_resolved = _accepted_counts(p, y, thresholds)
    return RiskCoverageCurve(
        thresholds=thresholds,
        coverage=n_accepted / p.size,
        risk=1.0 - n_resolved / n_accepted,
    )
