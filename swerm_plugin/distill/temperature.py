"""One temperature for a YES-vs-NO logit: the ``T`` that minimises the log-loss of
``sigmoid(z / T)`` against targets, hard labels (0/1) or another model's probabilities.

Used twice by ``swerm distill``: on the teacher's logits against the training labels before the
transfer ("trustworthy maximization"), and on the student's logits against the validation
labels (or, without labels, the teacher's transferred probabilities) after training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: ``log T`` is searched in this range: T from about 0.0025 to 400.
LOG_T_BOUNDS = (-6.0, 6.0)


def sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


def log_loss(z: np.ndarray, targets: np.ndarray, temperature: float = 1.0) -> float:
    """Mean ``−[t log p + (1 − t) log(1 − p)]`` with ``p = sigmoid(z / T)``, computed from the
    logit so that confident scores stay finite."""
    scaled = z / temperature
    # log sigmoid(x) = -logaddexp(0, -x); log(1 - sigmoid(x)) = -logaddexp(0, x)
    loss = targets * np.logaddexp(0.0, -scaled) + (1.0 - targets) * np.logaddexp(0.0, scaled)
    return float(np.mean(loss))


def fit_temperature(
    logits: Sequence[float] | np.ndarray, targets: Sequence[float] | np.ndarray
) -> float:
    """The temperature minimising :func:`log_loss` (bounded search on ``log T``)."""
    from scipy.optimize import minimize_scalar

    z = np.asarray(logits, dtype=float)
    t = np.asarray(targets, dtype=float)
    if z.size == 0 or z.shape != t.shape:
        raise ValueError(f"need as many targets as logits, got {t.size} for {z.size}")
    if not np.all(np.isfinite(z)):
        raise ValueError("a logit is not finite")
    best = minimize_scalar(
        lambda log_t: log_loss(z, t, float(np.exp(log_t))),
        bounds=LOG_T_BOUNDS,
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(best.x))
