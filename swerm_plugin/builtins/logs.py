"""Built-in notification listener: each stage is logged on the ``swerm`` logger (debug level)."""

from __future__ import annotations

import logging

from swerm_plugin.model import Decision, Score, Trajectory
from swerm_plugin.plugins.hookspecs import hookimpl

log = logging.getLogger("swerm")


@hookimpl
def swerm_trajectory_finished(trajectory: Trajectory) -> None:
    log.debug(
        "finished %s attempt %d (%s)",
        trajectory.instance_id,
        trajectory.attempt,
        trajectory.exit_status,
    )


@hookimpl
def swerm_trajectory_scored(trajectory: Trajectory, score: Score) -> None:
    if score.error:
        log.warning("scoring %s failed: %s", trajectory.instance_id, score.error)
    else:
        log.debug(
            "scored %s: raw=%.4f calibrated=%s",
            trajectory.instance_id,
            score.raw or 0.0,
            score.calibrated,
        )


@hookimpl
def swerm_decision_made(trajectory: Trajectory, decision: Decision) -> None:
    log.info(
        "%s attempt %d: %s (%s)",
        trajectory.instance_id,
        trajectory.attempt,
        decision.action,
        decision.reason,
    )
