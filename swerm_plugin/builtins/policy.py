"""Default ``swerm_decide``: :func:`swerm_plugin.decisions.policy.decide`."""

from __future__ import annotations

from swerm_plugin.config import SwermConfig
from swerm_plugin.decisions.policy import decide
from swerm_plugin.model import Decision, Score, Trajectory
from swerm_plugin.plugins.hookspecs import hookimpl


@hookimpl(trylast=True)
def swerm_decide(
    trajectory: Trajectory, score: Score, attempt: int, config: SwermConfig
) -> Decision:
    return decide(trajectory, score, attempt, config)
