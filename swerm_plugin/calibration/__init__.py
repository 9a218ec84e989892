"""Turning raw verifier scores into probabilities that mean what they say, and measuring it.

Heavy dependencies (scikit-learn, scipy, matplotlib) are imported inside the functions that
need them, so importing this package stays cheap.
"""

from swerm_plugin.calibration.calibrators import (
    BUILTIN_CALIBRATORS,
    METHODS,
    AutoCalibrator,
    Calibrator,
    IsotonicCalibration,
    PlattScaling,
    TemperatureScaling,
    calibrator_from_dict,
    cross_val_calibrate,
    make_calibrator,
    registered_calibrators,
)
from swerm_plugin.calibration.metrics import (
    Interval,
    ReliabilityCurve,
    accuracy_at,
    auroc,
    bootstrap_change,
    bootstrap_ci,
    brier_score,
    calibration_summary,
    expected_calibration_error,
    log_loss,
    reliability_curve,
)
from swerm_plugin.calibration.store import load_calibrator
from swerm_plugin.calibration.thresholds import (
    PrecisionThreshold,
    RiskCoverageCurve,
    clopper_pearson_lower,
    precision_threshold,
    risk_coverage_curve,
)
from swerm_plugin.errors import CalibrationError, InfeasibleTargetError, NotFittedError

__all__ = [
    "BUILTIN_CALIBRATORS",
    "METHODS",
    "AutoCalibrator",
    "CalibrationError",
    "Calibrator",
    "InfeasibleTargetError",
    "Interval",
    "IsotonicCalibration",
    "NotFittedError",
    "PlattScaling",
    "PrecisionThreshold",
    "ReliabilityCurve",
    "RiskCoverageCurve",
    "TemperatureScaling",
    "accuracy_at",
    "auroc",
    "bootstrap_change",
    "bootstrap_ci",
    "brier_score",
    "calibration_summary",
    "calibrator_from_dict",
    "clopper_pearson_lower",
    "cross_val_calibrate",
    "expected_calibration_error",
    "load_calibrator",
    "log_loss",
    "make_calibrator",
    "precision_threshold",
    "registered_calibrators",
    "reliability_curve",
    "risk_coverage_curve",
]
