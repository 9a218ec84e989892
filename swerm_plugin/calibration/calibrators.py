"""Calibrators: map a raw P(YES) to a probability that the patch resolves the issue.

scikit-learn style: the constructor only stores keyword-only parameters, ``fit(scores, labels)``
learns and returns ``self``, learned state ends in ``_``, ``transform(scores)`` applies it.

- :class:`TemperatureScaling`: ``sigmoid(z / T)`` on the YES-vs-NO logit ``z``; one parameter, so
  it fixes over- or under-confidence but never changes the ranking (AUROC is unchanged).
- :class:`PlattScaling`: ``sigmoid(a z + b)``; also fixes a bias towards YES or NO.
- :class:`IsotonicCalibration`: the best monotone step map; flexible, needs more labels.
- :class:`AutoCalibrator` (``method="auto"``): picks one of these by cross-validated log-loss.

Methods are a registry filled through the ``swerm_register_calibrators`` hook (the built-ins by
:mod:`swerm_plugin.builtins.calibrate`), so a plugin's calibrator works in ``swerm calibrate``
and in the files it writes.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from swerm_plugin.calibration._validate import (
    ArrayLike,
    as_probabilities,
    logit,
    scores_and_labels,
    sigmoid,
)
from swerm_plugin.errors import CalibrationError, NotFittedError

# Probabilities are clipped to [EPS, 1 - EPS] before taking logits; a verifier that says exactly
# 0 or 1 (float rounding of a large logit gap) then maps to a large but finite logit.
EPS = 1e-7
METHODS: tuple[str, ...] = ("temperature", "platt", "isotonic")
FILE_FORMAT = "swerm-calibrator"
FORMAT_VERSION = 1


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    q = np.clip(p, EPS, 1.0 - EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log1p(-q)))


class Calibrator(ABC):
    """Base class: validation, provenance (``fitted_on_``) and (de)serialisable state."""

    method: ClassVar[str]
    #: Names of the learned attributes written to and read from the calibrator file.
    _state_attrs: ClassVar[tuple[str, ...]]

    fitted_on_: dict[str, Any]

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters (what ``type(self)(**params)`` rebuilds)."""
        return {}

    def fit(
        self,
        scores: ArrayLike,
        labels: ArrayLike,
        *,
        source: str | None = None,
        score_kind: str | None = None,
    ) -> Self:
        """Learn the map from raw ``scores`` to calibrated probabilities of ``labels``.

        :param source: a free-text note of where the data came from, kept in the file.
        :param score_kind: what the scores are (``p_yes``, ``vote_share``); kept in the file so
            the calibrator is never applied to another kind of score.
        """
        p, y = scores_and_labels(scores, labels, both_classes=True)
        self._fit(p, y)
        after = self.transform(p)
        self.fitted_on_ = {
            "n": int(p.size),
            "n_resolved": int(y.sum()),
            "score_min": float(p.min()),
            "score_max": float(p.max()),
            "data_sha256": hashlib.sha256(p.tobytes() + y.astype(np.int8).tobytes()).hexdigest(),
            "log_loss_before": _log_loss(p, y),
            "log_loss_after": _log_loss(after, y),
            "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": source,
            "score_kind": score_kind,
        }
        return self

    def transform(self, scores: ArrayLike) -> np.ndarray:
        """Calibrated probabilities for raw ``scores`` (same length and order)."""
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(scores, labels)")
        p = as_probabilities(scores)
        return np.clip(self._transform(p), 0.0, 1.0)

    def fit_transform(self, scores: ArrayLike, labels: ArrayLike) -> np.ndarray:
        return self.fit(scores, labels).transform(scores)

    @property
    def is_fitted(self) -> bool:
        return all(hasattr(self, name) for name in self._state_attrs)

    def state(self) -> dict[str, Any]:
        """The learned attributes as JSON-ready values."""
        return {name: _jsonable(getattr(self, name)) for name in self._state_attrs}

    def set_state(self, state: dict[str, Any]) -> None:
        missing = [name for name in self._state_attrs if name not in state]
        if missing:
            raise CalibrationError(f"{self.method} state lacks {', '.join(missing)}")
        for name in self._state_attrs:
            value = state[name]
            setattr(
                self, name, np.asarray(value, dtype=float) if isinstance(value, list) else value
            )

    def to_dict(self) -> dict[str, Any]:
        """The calibrator file's content: format, method, parameters, state, provenance."""
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted; nothing to save")
        from swerm_plugin import __version__

        return {
            "format": FILE_FORMAT,
            "format_version": FORMAT_VERSION,
            "method": self.method,
            "params": self.get_params(),
            "state": self.state(),
            "fitted_on": self.fitted_on_,
            "swerm_version": __version__,
        }

    def save(self, path: str | Path) -> None:
        """Write the fitted calibrator as a small JSON file, atomically."""
        from swerm_plugin.jsonl import atomic_write_json

        atomic_write_json(path, self.to_dict())

    @abstractmethod
    def _fit(self, p: np.ndarray, y: np.ndarray) -> None: ...

    @abstractmethod
    def _transform(self, p: np.ndarray) -> np.ndarray: ...

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [float(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class TemperatureScaling(Calibrator):
    """``sigmoid(logit(p) / T)``; ``T > 1`` softens an over-confident verifier."""

    method = "temperature"
    _state_attrs = ("temperature_",)

    temperature_: float

    def _fit(self, p: np.ndarray, y: np.ndarray) -> None:
        from scipy.optimize import minimize_scalar

        z = logit(p, EPS)

        def nll(log_t: float) -> float:
            return _log_loss(sigmoid(z / np.exp(log_t)), y)

        # T between e^-6 and e^6 covers any useful temperature; bounded search cannot diverge.
        best = minimize_scalar(nll, bounds=(-6.0, 6.0), method="bounded", options={"xatol": 1e-6})
        self.temperature_ = float(np.exp(best.x))

    def _transform(self, p: np.ndarray) -> np.ndarray:
        return sigmoid(logit(p, EPS) / self.temperature_)


class PlattScaling(Calibrator):
    """``sigmoid(a * logit(p) + b)``, fitted with Platt's smoothed targets.

    The targets ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)`` instead of 1 and 0 keep the fit
    finite when the scores separate the labels perfectly (Platt 1999).
    """

    method = "platt"
    _state_attrs = ("slope_", "intercept_")

    slope_: float
    intercept_: float

    def _fit(self, p: np.ndarray, y: np.ndarray) -> None:
        from scipy.optimize import minimize

        z = logit(p, EPS)
        n_pos = int(y.sum())
        n_neg = y.size - n_pos
        target = np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))

        def loss_and_grad(ab: np.ndarray) -> tuple[float, np.ndarray]:
            q = np.clip(sigmoid(ab[0] * z + ab[1]), 1e-15, 1 - 1e-15)
            loss = -np.sum(target * np.log(q) + (1 - target) * np.log1p(-q))
            residual = q - target
            return float(loss), np.array([np.dot(residual, z), residual.sum()])

        result = minimize(loss_and_grad, x0=np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
        self.slope_, self.intercept_ = (float(v) for v in result.x)

    def _transform(self, p: np.ndarray) -> np.ndarray:
        return sigmoid(self.slope_ * logit(p, EPS) + self.intercept_)


class IsotonicCalibration(Calibrator):
    """The non-decreasing step map that best fits the labels (scikit-learn's isotonic fit).

    Stored as its breakpoints; scores between them are interpolated linearly and scores outside
    the fitted range take the nearest end value, as scikit-learn does with ``out_of_bounds="clip"``.
    """

    method = "isotonic"
    _state_attrs = ("x_thresholds_", "y_thresholds_")

    x_thresholds_: np.ndarray
    y_thresholds_: np.ndarray

    def _fit(self, p: np.ndarray, y: np.ndarray) -> None:
        from sklearn.isotonic import IsotonicRegression

        model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        model.fit(p, y)
        self.x_thresholds_ = np.asarray(model.X_thresholds_, dtype=float)
        self.y_thresholds_ = np.asarray(model.y_thresholds_, dtype=float)

    def _transform(self, p: np.ndarray) -> np.ndarray:
        return np.interp(p, self.x_thresholds_, self.y_thresholds_)


#: The built-in methods, registered by :mod:`swerm_plugin.builtins.calibrate`.
BUILTIN_CALIBRATORS: tuple[type[Calibrator], ...] = (
    TemperatureScaling,
    PlattScaling,
    IsotonicCalibration,
)


def registered_calibrators() -> dict[str, type[Calibrator]]:
    """Every calibration method registered through ``swerm_register_calibrators``."""
    from swerm_plugin.plugins.manager import get_hooks

    return get_hooks().calibrators()


class AutoCalibrator(Calibrator):
    """Chooses among ``methods`` by mean out-of-fold log-loss, then refits the winner on all data.

    Fitted attributes: ``method_`` (the winner), ``calibrator_`` (it, fitted on everything),
    ``cv_log_loss_`` (method → mean held-out log-loss). Saving writes the chosen calibrator,
    with the comparison recorded in its ``fitted_on_``.
    """

    method = "auto"
    _state_attrs = ("method_", "calibrator_", "cv_log_loss_")

    method_: str
    calibrator_: Calibrator
    cv_log_loss_: dict[str, float]

    def __init__(
        self, *, methods: Sequence[str] = METHODS, cv: int = 5, random_state: int = 0
    ) -> None:
        self.methods = tuple(methods)
        self.cv = cv
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        return {"methods": list(self.methods), "cv": self.cv, "random_state": self.random_state}

    def _fit(self, p: np.ndarray, y: np.ndarray) -> None:
        known = registered_calibrators()
        unknown = [m for m in self.methods if m not in known]
        if unknown or not self.methods:
            raise CalibrationError(
                f"unknown calibration method(s) {unknown}; choose from {', '.join(known)}"
            )
        self.cv_log_loss_ = {
            m: _log_loss(cross_val_calibrate(p, y, m, cv=self.cv, seed=self.random_state), y)
            for m in self.methods
        }
        self.method_ = min(self.methods, key=self.cv_log_loss_.__getitem__)
        self.calibrator_ = known[self.method_]().fit(p, y)

    def _transform(self, p: np.ndarray) -> np.ndarray:
        return self.calibrator_.transform(p)

    def to_dict(self) -> dict[str, Any]:
        """The chosen calibrator's file content (its ``fitted_on`` records the selection)."""
        if not self.is_fitted:
            raise NotFittedError("AutoCalibrator is not fitted; nothing to save")
        return self.calibrator_.to_dict()

    def fit(
        self,
        scores: ArrayLike,
        labels: ArrayLike,
        *,
        source: str | None = None,
        score_kind: str | None = None,
    ) -> Self:
        super().fit(scores, labels, source=source, score_kind=score_kind)
        self.fitted_on_["selected_by"] = {
            "criterion": f"mean log-loss over {self.cv}-fold cross-validation",
            "cv_log_loss": dict(self.cv_log_loss_),
        }
        self.calibrator_.fitted_on_ = dict(self.fitted_on_)
        return self


def make_calibrator(method: str = "auto", **params: Any) -> Calibrator:
    """A new, unfitted calibrator: ``"auto"`` or a registered method (``"temperature"``,
    ``"platt"``, ``"isotonic"``, or a plugin's)."""
    if method == "auto":
        return AutoCalibrator(**params)
    known = registered_calibrators()
    if method not in known:
        raise CalibrationError(
            f"unknown calibration method '{method}'; choose from auto, {', '.join(known)}"
        )
    return known[method](**params)


def cross_val_calibrate(
    scores: ArrayLike, labels: ArrayLike, method: str = "auto", *, cv: int = 5, seed: int = 0
) -> np.ndarray:
    """Out-of-fold calibrated probabilities: each score is mapped by a calibrator that never saw
    its own label (stratified ``cv`` folds), so metrics on the result are honest."""
    from sklearn.model_selection import StratifiedKFold

    p, y = scores_and_labels(scores, labels, both_classes=True)
    n_minority = int(min(y.sum(), y.size - y.sum()))
    folds = min(cv, n_minority)
    if folds < 2:
        raise CalibrationError(
            f"cross-validation needs at least 2 resolved and 2 unresolved examples; "
            f"got {int(y.sum())} resolved of {y.size}"
        )
    out = np.empty_like(p)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(p.reshape(-1, 1), y):
        out[test] = make_calibrator(method).fit(p[train], y[train]).transform(p[test])
    return out


def calibrator_from_dict(data: Any, origin: str = "calibrator") -> Calibrator:
    """Rebuild a fitted calibrator from :meth:`Calibrator.to_dict` output; ``origin`` names the
    file in errors."""
    if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
        raise CalibrationError(f"{origin}: not a swerm calibrator file (no format={FILE_FORMAT!r})")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise CalibrationError(
            f"{origin}: calibrator format version {version!r}; this swerm reads version "
            f"{FORMAT_VERSION}: refit it with `swerm calibrate`"
        )
    method = data.get("method")
    known = registered_calibrators()
    if method not in known:
        raise CalibrationError(
            f"{origin}: unknown method {method!r}; expected one of {', '.join(known)} (is the "
            "plugin that provides it installed?)"
        )
    try:
        calibrator = known[method](**data.get("params", {}))
        calibrator.set_state(data.get("state", {}))
    except (TypeError, CalibrationError) as exc:
        raise CalibrationError(f"{origin}: invalid {method} calibrator: {exc}") from None
    calibrator.fitted_on_ = dict(data.get("fitted_on") or {})
    return calibrator
