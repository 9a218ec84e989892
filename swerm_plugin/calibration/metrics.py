"""Calibration and ranking metrics for P(resolved) scores: ECE, Brier, log-loss, AUROC.

Pure functions of ``(probabilities, labels)``. scikit-learn provides AUROC, Brier and log-loss;
it has no ECE, so the reliability curve and ECE are computed here, with scikit-learn's bin
convention (equal-width bins closed on the right, ``(a, b]``, and 0 in the first bin).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from swerm_plugin.calibration._validate import ArrayLike, scores_and_labels
from swerm_plugin.errors import CalibrationError

BinStrategy = Literal["uniform", "quantile"]
Metric = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class ReliabilityCurve:
    """Per-bin statistics of a reliability diagram; empty bins have ``count == 0`` and NaNs."""

    lower: np.ndarray
    upper: np.ndarray
    count: np.ndarray
    mean_predicted: np.ndarray
    fraction_positive: np.ndarray
    strategy: BinStrategy

    @property
    def ece(self) -> float:
        """Expected calibration error: the count-weighted mean gap between bins' accuracy and
        confidence, ``Σ |B|/n · |mean(y) − mean(p)|``."""
        filled = self.count > 0
        gaps = np.abs(self.fraction_positive[filled] - self.mean_predicted[filled])
        return float(np.sum(self.count[filled] * gaps) / self.count.sum())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReliabilityCurve:
        """Inverse of :meth:`as_dict` (``None`` entries become NaN)."""

        def arr(key: str) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in data[key]], dtype=float)

        return cls(
            lower=arr("lower"),
            upper=arr("upper"),
            count=np.asarray(data["count"], dtype=int),
            mean_predicted=arr("mean_predicted"),
            fraction_positive=arr("fraction_positive"),
            strategy=data["strategy"],
        )

    def as_dict(self) -> dict[str, Any]:
        def clean(values: np.ndarray) -> list[float | None]:
            return [None if np.isnan(v) else float(v) for v in values]

        return {
            "strategy": self.strategy,
            "lower": clean(self.lower),
            "upper": clean(self.upper),
            "count": [int(c) for c in self.count],
            "mean_predicted": clean(self.mean_predicted),
            "fraction_positive": clean(self.fraction_positive),
        }


def reliability_curve(
    probs: ArrayLike, labels: ArrayLike, *, n_bins: int = 15, strategy: BinStrategy = "uniform"
) -> ReliabilityCurve:
    """Bin the probabilities and compare each bin's mean prediction with its resolve rate.

    :param strategy: ``"uniform"``: ``n_bins`` equal-width bins over [0, 1]; ``"quantile"``:
        equal-mass bins (sorted scores split into ``n_bins`` groups whose sizes differ by at most
        one), the "adaptive" variant that keeps every bin populated.
    """
    p, y = scores_and_labels(probs, labels)
    if n_bins < 1:
        raise CalibrationError(f"n_bins must be at least 1, got {n_bins}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        bin_of = np.searchsorted(edges[1:-1], p, side="left")
        lower, upper = edges[:-1], edges[1:]
    elif strategy == "quantile":
        order = np.argsort(p, kind="stable")
        groups = np.array_split(order, min(n_bins, p.size))
        bin_of = np.empty(p.size, dtype=int)
        for b, members in enumerate(groups):
            bin_of[members] = b
        lower = np.array([p[g].min() for g in groups])
        upper = np.array([p[g].max() for g in groups])
    else:
        raise CalibrationError(f"unknown bin strategy '{strategy}'; use 'uniform' or 'quantile'")
    k = lower.size
    count = np.bincount(bin_of, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.bincount(bin_of, weights=p, minlength=k) / count
        fraction_positive = np.bincount(bin_of, weights=y, minlength=k) / count
    return ReliabilityCurve(lower, upper, count, mean_predicted, fraction_positive, strategy)


def expected_calibration_error(
    probs: ArrayLike, labels: ArrayLike, *, n_bins: int = 15, strategy: BinStrategy = "uniform"
) -> float:
    """ECE with ``n_bins`` bins (15 equal-width by default; ``strategy="quantile"``: equal-mass)."""
    return reliability_curve(probs, labels, n_bins=n_bins, strategy=strategy).ece


def brier_score(probs: ArrayLike, labels: ArrayLike) -> float:
    """Mean squared error ``mean((p - y)²)`` of the probabilities."""
    from sklearn.metrics import brier_score_loss

    p, y = scores_and_labels(probs, labels)
    return float(brier_score_loss(y, p, pos_label=1))


def log_loss(probs: ArrayLike, labels: ArrayLike) -> float:
    """Mean negative log-likelihood of the labels (natural log)."""
    from sklearn.metrics import log_loss as sk_log_loss

    p, y = scores_and_labels(probs, labels)
    return float(sk_log_loss(y, p, labels=[0, 1]))


def auroc(scores: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve: P(a resolved candidate outscores an unresolved one), ties
    counting half. NaN when only one class is present (it is undefined then)."""
    from sklearn.metrics import roc_auc_score

    p, y = scores_and_labels(scores, labels)
    if y.min() == y.max():
        return float("nan")
    return float(roc_auc_score(y, p))


def accuracy_at(probs: ArrayLike, labels: ArrayLike, threshold: float = 0.5) -> float:
    """Share of correct calls when predicting "resolved" exactly when ``p >= threshold``."""
    p, y = scores_and_labels(probs, labels)
    return float(np.mean((p >= threshold).astype(int) == y))


def _brier_fast(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2))


def _auroc_fast(p: np.ndarray, y: np.ndarray) -> float:
    """AUROC as the Mann–Whitney statistic from mid-ranks (ties count half)."""
    from scipy.stats import rankdata

    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile-bootstrap confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float

    def as_dict(self) -> dict[str, float]:
        return {"value": self.estimate, "low": self.low, "high": self.high}


def bootstrap_ci(
    metric: Metric,
    probs: ArrayLike,
    labels: ArrayLike,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of ``metric(probs, labels)`` over resampled examples.

    Resamples where the metric is undefined (NaN, e.g. AUROC with one class) are left out.
    """
    p, y = scores_and_labels(probs, labels)
    return _percentile_bootstrap(
        lambda idx: metric(p[idx], y[idx]),
        p.size,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )


def bootstrap_change(
    metric: Metric,
    after: ArrayLike,
    before: ArrayLike,
    labels: ArrayLike,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Paired bootstrap interval of ``metric(after) − metric(before)``: both sides see the same
    resampled examples, so what the examples have in common cancels out."""
    a, y = scores_and_labels(after, labels)
    b, _ = scores_and_labels(before, labels)  # as many as the labels, so as many as after
    return _percentile_bootstrap(
        lambda idx: metric(a[idx], y[idx]) - metric(b[idx], y[idx]),
        a.size,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )


def _percentile_bootstrap(
    statistic: Callable[[np.ndarray], float],
    n: int,
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> Interval:
    """``statistic`` of all ``n`` examples, with the percentile interval of its value on
    ``n_resamples`` resamples (index arrays drawn with replacement); NaN values are left out."""
    if not 0.0 < confidence < 1.0:
        raise CalibrationError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_resamples, n))
    values = np.array([statistic(idx) for idx in draws])
    values = values[~np.isnan(values)]
    estimate = statistic(np.arange(n))
    if values.size == 0:
        return Interval(estimate, float("nan"), float("nan"), confidence)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return Interval(estimate, float(low), float(high), confidence)


def calibration_summary(
    probs: ArrayLike,
    labels: ArrayLike,
    *,
    n_bins: int = 15,
    n_resamples: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Every metric at once, as a JSON-ready dict; with ``n_resamples`` also 95 % bootstrap
    intervals (``ci``) for ECE, Brier and AUROC."""
    p, y = scores_and_labels(probs, labels)

    def ece(a: np.ndarray, b: np.ndarray) -> float:
        return expected_calibration_error(a, b, n_bins=n_bins)

    summary: dict[str, Any] = {
        "n": int(p.size),
        "n_resolved": int(y.sum()),
        "auroc": auroc(p, y),
        "ece": ece(p, y),
        "ece_equal_mass": expected_calibration_error(p, y, n_bins=n_bins, strategy="quantile"),
        "brier": brier_score(p, y),
        "log_loss": log_loss(p, y),
        "accuracy": accuracy_at(p, y),
    }
    if n_resamples:
        # numpy versions of Brier and AUROC: scikit-learn's input validation would dominate the
        # thousand calls (the tests check they agree with scikit-learn).
        metrics: dict[str, Metric] = {"ece": ece, "brier": _brier_fast, "auroc": _auroc_fast}
        summary["ci"] = {
            name: bootstrap_ci(fn, p, y, n_resamples=n_resamples, seed=seed).as_dict()
            for name, fn in metrics.items()
        }
    return summary
