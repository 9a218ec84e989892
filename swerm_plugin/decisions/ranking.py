"""How the candidates of one task are ranked (the default ``swerm_select``).

Highest probability first; ties go to the candidate the no-model selector prefers (agreement
with the others first, unless ``policy.consensus = "off"``), then to a submitted run, then fewer
steps, then a smaller patch. Candidates with an empty patch always come last, and unscored ones
after the scored. With ``policy.consensus = "hybrid"`` the probability itself is mixed with the
selector's share: ``(1 - w) * p + w * share``, ``w = policy.consensus_weight``.
"""

from __future__ import annotations

from collections.abc import Sequence

from swerm_plugin.config import SwermConfig
from swerm_plugin.model import CandidateGroup, Score, Trajectory

RankKey = tuple[bool, float, float, bool, int, int]


def rank_key(trajectory: Trajectory, score: Score | None, consensus: float = 0.0) -> RankKey:
    """Sort key (ascending is better) for one candidate; ``consensus`` is its vote share."""
    p = score.probability if score is not None else None
    return _key(trajectory, p, consensus)


def _key(trajectory: Trajectory, p: float | None, consensus: float) -> RankKey:
    return (
        not trajectory.has_patch,
        -p if p is not None else float("inf"),
        -consensus,
        trajectory.exit_status != "submitted",
        len(trajectory.steps),
        len(trajectory.patch),
    )


def rank(
    group: CandidateGroup,
    scores: Sequence[Score | None],
    *,
    consensus: Sequence[float] | None = None,
    hybrid_weight: float | None = None,
) -> list[int]:
    """Candidate indices, best first (stable: equal candidates keep their order).

    :param consensus: vote shares per candidate, used to break probability ties.
    :param hybrid_weight: when given (with ``consensus``), rank by
        ``(1 - w) * p + w * consensus`` instead of ``p``.
    """
    shares = list(consensus) if consensus is not None else [0.0] * len(group.candidates)
    keys = []
    for trajectory, score, share in zip(group.candidates, scores, shares, strict=True):
        p = score.probability if score is not None else None
        if p is not None and hybrid_weight is not None:
            p = hybrid(p, share, weight=hybrid_weight)
        keys.append(_key(trajectory, p, share))
    return sorted(range(len(keys)), key=keys.__getitem__)


def hybrid(p: float, share: float, *, weight: float) -> float:
    """The hybrid score ``(1 - weight) * p + weight * share`` of a probability and a vote share."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"consensus weight must be in [0, 1], got {weight}")
    return (1.0 - weight) * p + weight * share


def _all_vote_shares(scores: Sequence[Score | None]) -> bool:
    return any(s is not None for s in scores) and all(
        s is None or s.kind == "vote_share" for s in scores
    )


def select_ranking(
    group: CandidateGroup, scores: Sequence[Score | None], config: SwermConfig
) -> list[int]:
    """The default ranking: by score, with the no-model selector's share (agreement on the
    change, then priors; :class:`~swerm_plugin.selection.Selector`) as ``policy.consensus``
    says. Here the selector sees one task, so its run-relative priors compare the task's own
    candidates."""
    from swerm_plugin.selection.hybrid import hybrid_shares

    policy = config.policy
    if policy.consensus == "off" or _all_vote_shares(scores) or len(group.candidates) < 2:
        return rank(group, scores)
    shares = hybrid_shares(group)
    weight = policy.consensus_weight if policy.consensus == "hybrid" else None
    return rank(group, scores, consensus=shares.tolist(), hybrid_weight=weight)
