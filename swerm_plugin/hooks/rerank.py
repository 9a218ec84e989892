"""Default ``swerm_select``: the rerank policy.

Highest probability first; ties go to a submitted run, then fewer steps, then a smaller patch.
Candidates with an empty patch always come last, and unscored ones after the scored.
"""

from __future__ import annotations

from swerm_plugin.hookspecs import hookimpl
from swerm_plugin.trajectory import CandidateGroup, Score, Trajectory


def rank_key(trajectory: Trajectory, score: Score | None) -> tuple[bool, float, bool, int, int]:
    """Sort key (ascending is better) for one candidate."""
    p = score.probability if score is not None else None
    return (
        not trajectory.has_patch,
        -p if p is not None else float("inf"),
        trajectory.exit_status != "submitted",
        len(trajectory.steps),
        len(trajectory.patch),
    )


def rank(group: CandidateGroup, scores: list[Score | None]) -> list[int]:
    """Candidate indices, best first (stable: equal candidates keep their order)."""
    keys = [rank_key(t, s) for t, s in zip(group.candidates, scores, strict=True)]
    return sorted(range(len(keys)), key=keys.__getitem__)


@hookimpl(trylast=True)
def swerm_select(group: CandidateGroup, scores: list[Score | None]) -> list[int]:
    return rank(group, scores)
