"""Registers the built-in calibration methods, and the default ``swerm_calibrate``: the
configured calibrator file, or the raw score unchanged."""

from __future__ import annotations

from collections.abc import Callable

from swerm_plugin.calibration.calibrators import BUILTIN_CALIBRATORS, Calibrator
from swerm_plugin.calibration.store import load_calibrator
from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import CalibrationError
from swerm_plugin.model import Score
from swerm_plugin.plugins.hookspecs import hookimpl


# trylast: a plugin's method of the same name registers first and wins.
@hookimpl(trylast=True)
def swerm_register_calibrators(register: Callable[[type[Calibrator]], None]) -> None:
    for cls in BUILTIN_CALIBRATORS:
        register(cls)


@hookimpl(trylast=True)
def swerm_calibrate(score: Score, config: SwermConfig) -> float | None:
    if score.raw is None:
        return None
    if config.calibrator is None:
        return score.raw
    calibrator = load_calibrator(config.calibrator)
    fitted_kind = calibrator.fitted_on_.get("score_kind")
    if fitted_kind is not None and fitted_kind != score.kind:
        raise CalibrationError(
            f"calibrator {config.calibrator} was fitted on {fitted_kind} scores, not on "
            f"{score.kind} scores; fit one on these scores with `swerm calibrate`"
        )
    return float(calibrator.transform([score.raw])[0])
