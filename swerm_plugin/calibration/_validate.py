"""Input checks shared by calibrators, metrics and thresholds: one clear error per mistake."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from swerm_plugin.errors import CalibrationError

ArrayLike = Sequence[float] | Sequence[bool] | Sequence[int] | np.ndarray


def as_probabilities(values: ArrayLike, name: str = "scores") -> np.ndarray:
    """A 1-D float array of probabilities in [0, 1], or :class:`CalibrationError`."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise CalibrationError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise CalibrationError(f"{name}[{bad}] is {arr[bad]}; drop failed scores first")
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        bad = int(np.flatnonzero((arr < 0.0) | (arr > 1.0))[0])
        raise CalibrationError(f"{name}[{bad}] = {arr[bad]} is not a probability in [0, 1]")
    return arr


def as_labels(values: ArrayLike, n: int) -> np.ndarray:
    """A 1-D int array of 0/1 labels of length ``n``, or :class:`CalibrationError`."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise CalibrationError(f"labels must be one-dimensional, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise CalibrationError(f"{n} scores but {arr.shape[0]} labels; give one label per score")
    if arr.dtype != bool and not np.all(np.isin(arr, (0, 1))):
        raise CalibrationError("labels must be 0/1 or True/False (resolved or not)")
    return arr.astype(int)


def scores_and_labels(
    scores: ArrayLike, labels: ArrayLike, *, both_classes: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(scores, labels)``; ``both_classes`` demands resolved and unresolved examples."""
    p = as_probabilities(scores)
    y = as_labels(labels, p.shape[0])
    if p.size == 0:
        raise CalibrationError("no scores given")
    if both_classes and (y.min() == y.max()):
        which = "resolved" if y[0] == 1 else "unresolved"
        raise CalibrationError(
            f"all {y.size} labels are {which}; fitting needs both resolved and unresolved examples"
        )
    return p, y


def logit(p: np.ndarray, eps: float) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [eps, 1 - eps], so 0 and 1 stay finite."""
    clipped = np.clip(p, eps, 1.0 - eps)
    return np.log(clipped) - np.log1p(-clipped)


def sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free for large |z|
    return out
