"""Default ``swerm_calibrate``: the configured calibrator file, or the raw score unchanged."""

from __future__ import annotations

from swerm_plugin.config import SwermConfig
from swerm_plugin.hookspecs import hookimpl
from swerm_plugin.trajectory import Score


@hookimpl(trylast=True)
def swerm_calibrate(score: Score, config: SwermConfig) -> float | None:
    if score.raw is None:
        return None
    if config.calibrator is None:
        return score.raw
    from swerm_plugin.calibration import load_calibrator

    return float(load_calibrator(config.calibrator).transform([score.raw])[0])
