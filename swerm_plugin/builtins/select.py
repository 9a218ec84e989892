"""Default ``swerm_select``: :func:`swerm_plugin.decisions.ranking.select_ranking`."""

from __future__ import annotations

from swerm_plugin.config import SwermConfig
from swerm_plugin.decisions.ranking import select_ranking
from swerm_plugin.model import CandidateGroup, Score
from swerm_plugin.plugins.hookspecs import hookimpl


# No default values on hook implementations: pluggy before 1.7 would then pass nothing.
@hookimpl(trylast=True)
def swerm_select(
    group: CandidateGroup, scores: list[Score | None], config: SwermConfig
) -> list[int]:
    return select_ranking(group, scores, config)
