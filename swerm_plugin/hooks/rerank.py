"""Default ``swerm_select``: the rerank policy.

Highest probability first; ties go to the candidate more others agree with (consensus, unless
``policy.consensus = "off"``), then to a submitted run, then fewer steps, then a smaller patch.
Candidates with an empty patch always come last, and unscored ones after the scored. With
``policy.consensus = "hybrid"`` the probability itself is mixed with the consensus vote share.
"""

from __future__ import annotations

from collections.abc import Sequence

from swerm_plugin.config import SwermConfig
from swerm_plugin.hookspecs import hookimpl
from swerm_plugin.trajectory import CandidateGroup, Score, Trajectory

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
            p = (1.0 - hybrid_weight) * p + hybrid_weight * share
        keys.append(_key(trajectory, p, share))
    return sorted(range(len(keys)), key=keys.__getitem__)


def _scored_by_consensus(scores: Sequence[Score | None]) -> bool:
    from swerm_plugin.consensus import BACKEND_NAME

    return any(s is not None for s in scores) and all(
        s is None or s.backend == BACKEND_NAME for s in scores
    )


@hookimpl(trylast=True)
def swerm_select(
    group: CandidateGroup, scores: list[Score | None], config: SwermConfig | None = None
) -> list[int]:
    policy = config.policy if config is not None else None
    mode = policy.consensus if policy is not None else "tiebreak"
    if mode == "off" or _scored_by_consensus(scores) or len(group.candidates) < 2:
        return rank(group, scores)
    from swerm_plugin.consensus import DEFAULT_SIMILARITY, consensus_scores

    similarity = policy.consensus_similarity if policy is not None else DEFAULT_SIMILARITY
    shares = consensus_scores([t.patch for t in group.candidates], similarity=similarity)
    weight = policy.consensus_weight if policy is not None and mode == "hybrid" else None
    return rank(group, scores, consensus=shares.tolist(), hybrid_weight=weight)
