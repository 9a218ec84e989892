"""Mixing a reward model's probability with the selector: ``(1 - w) * p + w * share``.

``policy.consensus = "hybrid"`` ranks by that mix, ``w = policy.consensus_weight``.
:func:`fit_hybrid_weight` picks ``w`` on labelled runs (``swerm calibrate
--fit-consensus-weight``): the weight on a grid whose pick over all candidates resolves the
most tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from swerm_plugin.model import CandidateGroup, Score
from swerm_plugin.selection.selector import Selector

#: The weights tried: 0, 0.05, …, 1.
WEIGHT_GRID: tuple[float, ...] = tuple(round(i / 20, 2) for i in range(21))


def hybrid_shares(group: CandidateGroup) -> np.ndarray:
    """The selector's share of each candidate as the hybrid mixes it in (one task on its own:
    run-relative priors compare the task's candidates)."""
    return Selector().shares(group)


@dataclass(frozen=True)
class HybridTask:
    """One task's scored, labelled candidates with a patch."""

    p: np.ndarray
    shares: np.ndarray
    labels: np.ndarray


def hybrid_tasks(
    groups: Sequence[CandidateGroup],
    scores: Sequence[Sequence[Score | None]],
    *,
    calibrate: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[HybridTask]:
    """The tasks a hybrid weight can be fitted on: candidates with a patch, a model probability
    and a label (the others cannot be ranked by the mix or tell whether it picked right).

    ``p`` is each score's probability, or ``calibrate(raw)`` when given (the calibrator the
    ranking will use).
    """
    out = []
    for group, group_scores in zip(groups, scores, strict=True):
        keep: list[int] = []
        p: list[float] = []
        for i, (trajectory, score) in enumerate(zip(group.candidates, group_scores, strict=True)):
            if score is None or score.kind != "p_yes" or not score.ok:
                continue
            value = score.raw if calibrate is not None else score.probability
            if trajectory.has_patch and trajectory.label is not None and value is not None:
                keep.append(i)
                p.append(value)
        if keep:
            probabilities = calibrate(np.array(p)) if calibrate is not None else np.array(p)
            labels = np.array([bool(group.candidates[i].label) for i in keep])
            out.append(HybridTask(probabilities, hybrid_shares(group)[keep], labels))
    return out


def hybrid_accuracy(tasks: Sequence[HybridTask], weight: float) -> float:
    """Share of tasks whose pick by the mix resolves them (ties: the mean of the tied)."""
    hits = []
    for task in tasks:
        mixed = (1.0 - weight) * task.p + weight * task.shares
        tied = np.isclose(mixed, mixed.max(), rtol=1e-12, atol=1e-12)
        hits.append(float(task.labels[tied].mean()))
    return float(np.mean(hits)) if hits else float("nan")


@dataclass(frozen=True)
class HybridFit:
    """The fitted weight, and the accuracy (fraction of tasks) at every weight tried."""

    weight: float
    accuracy: dict[float, float]
    n_tasks: int
    n_informative: int  # tasks with both a resolved and an unresolved candidate


def fit_hybrid_weight(
    tasks: Sequence[HybridTask], grid: Sequence[float] = WEIGHT_GRID
) -> HybridFit:
    """The weight on ``grid`` with the best accuracy; among equally good weights the middle one
    (the plateau's centre moves least when the data change)."""
    if not tasks:
        raise ValueError("no task has a scored, labelled candidate with a patch")
    accuracy = {float(w): hybrid_accuracy(tasks, w) for w in grid}
    best = max(accuracy.values())
    tied = [w for w, a in accuracy.items() if np.isclose(a, best, rtol=0, atol=1e-12)]
    informative = sum(1 for t in tasks if t.labels.any() and not t.labels.all())
    return HybridFit(
        weight=tied[(len(tied) - 1) // 2],
        accuracy=accuracy,
        n_tasks=len(tasks),
        n_informative=informative,
    )
