"""Evaluating runs: labelled candidate groups and their scores → an :class:`EvalReport`.

Empty patches are not candidates (they cannot resolve anything and are never picked over a real
patch), nor are candidates without a label (reported when the labels were read); a task left
with none is counted in ``n_tasks_without_candidates`` and, unless ``total_tasks`` is given (then
every missing task counts as unresolved), left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from swerm_plugin.evaluation.best_of_n import (
    RankedTasks,
    consensus_pick,
    evaluate_best_of_n,
    sample_consensus_at_k,
)
from swerm_plugin.model import CandidateGroup, Score

if TYPE_CHECKING:
    from swerm_plugin.backends.base import GroupScorer
    from swerm_plugin.calibration import Calibrator
    from swerm_plugin.plugins.manager import Hooks


def _percent(value: float) -> float:
    return round(100.0 * value, 2)


@dataclass
class EvalReport:
    """The ``swerm eval`` figures, in percent. ``k`` keys are ints here; :meth:`to_json` writes
    them as the strings JSON needs."""

    n_tasks: int
    n_tasks_with_candidates: int
    n_tasks_without_candidates: int
    n_candidates: int
    max_candidates: int
    scorer: str
    random: float
    oracle: float
    best_at_k: dict[int, float]
    best_at_k_ci: dict[int, tuple[float, float]]
    pass_at_k: dict[int, float]
    consensus: float
    consensus_naive: float
    n_subsets: int
    unscored_candidates: int
    #: The k whose best@k is a Monte-Carlo mean over ``n_subsets`` random subsets (the others
    #: are exact averages over every k-subset).
    best_at_k_estimated: tuple[int, ...] = ()
    calibration: dict[str, Any] = field(default_factory=dict)
    #: The scorer without a model whose pick ``consensus`` is: ``{"name", "version"}``.
    selector: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The report as ``swerm eval --json`` prints it and ``eval.json`` stores it."""
        return {
            "n_tasks": self.n_tasks,
            "n_tasks_with_candidates": self.n_tasks_with_candidates,
            "n_tasks_without_candidates": self.n_tasks_without_candidates,
            "n_candidates": self.n_candidates,
            "max_candidates": self.max_candidates,
            "scorer": self.scorer,
            "random": self.random,
            "oracle": self.oracle,
            "best_at_k": {str(k): v for k, v in self.best_at_k.items()},
            "best_at_k_ci": {str(k): list(v) for k, v in self.best_at_k_ci.items()},
            "pass_at_k": {str(k): v for k, v in self.pass_at_k.items()},
            "consensus": self.consensus,
            "consensus_naive": self.consensus_naive,
            "selector": self.selector,
            "n_subsets": self.n_subsets,
            "best_at_k_estimated": list(self.best_at_k_estimated),
            "unscored_candidates": self.unscored_candidates,
            "calibration": self.calibration,
        }


def scored_arrays(
    groups: Sequence[CandidateGroup], scores: Sequence[Sequence[Score | None]]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Raw scores and resolved labels of every scored, labelled candidate with a non-empty
    patch, and how many such candidates had no usable score."""
    raw, labels, unscored = [], [], 0
    for group, group_scores in zip(groups, scores, strict=True):
        for trajectory, score in zip(group.candidates, group_scores, strict=True):
            if not trajectory.has_patch or trajectory.label is None:
                continue
            if score is None or not score.ok or score.raw is None:
                unscored += 1
                continue
            raw.append(score.raw)
            labels.append(trajectory.label)
    return np.array(raw, dtype=float), np.array(labels, dtype=bool), unscored


def calibration_report(
    raw: np.ndarray,
    labels: np.ndarray,
    *,
    calibrator: Calibrator | None = None,
    n_bins: int = 15,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics of the raw scores and of the calibrated ones.

    "After" uses ``calibrator`` when given; otherwise an ``auto`` calibrator is cross-fitted
    (each score calibrated by a model that never saw its label), so the improvement shown is
    what a calibrator fitted on such data achieves on new data.
    """
    from swerm_plugin.calibration import (
        CalibrationError,
        calibration_summary,
        cross_val_calibrate,
        reliability_curve,
    )

    report: dict[str, Any] = {"n": int(raw.size), "n_resolved": int(labels.sum())}
    if raw.size == 0:
        report["skipped"] = "no scored candidates"
        return report

    def summary(values: np.ndarray) -> dict[str, Any]:
        return calibration_summary(
            values, labels, n_bins=n_bins, n_resamples=n_resamples, seed=seed
        )

    report["before"] = summary(raw)
    report["reliability"] = {"before": reliability_curve(raw, labels, n_bins=n_bins).as_dict()}
    try:
        if calibrator is not None:
            after = calibrator.transform(raw)
            report["after_method"] = f"{calibrator.method} (from file)"
        else:
            after = cross_val_calibrate(raw, labels, "auto", seed=seed)
            report["after_method"] = "auto, 5-fold cross-fitted"
    except CalibrationError as exc:
        report["after_skipped"] = str(exc)
        return report
    report["after"] = summary(after)
    report["reliability"]["after"] = reliability_curve(after, labels, n_bins=n_bins).as_dict()
    return report


@dataclass
class _Tasks:
    """Per task with a candidate: ranked labels, the selector's support matrix and the
    baseline hits."""

    ranked: list[list[bool]] = field(default_factory=list)
    support: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    selector_hits: list[float] = field(default_factory=list)
    naive_hits: list[float] = field(default_factory=list)
    all_vote_shares: bool = True
    without: int = 0


def _collect(
    groups: Sequence[CandidateGroup],
    scores: Sequence[Sequence[Score | None]],
    hooks: Hooks,
    selector: GroupScorer,
) -> _Tasks:
    from swerm_plugin.backends.consensus import naive_consensus_scores

    tasks = _Tasks()
    for group, group_scores in zip(groups, scores, strict=True):
        # Unlabelled candidates were reported when the labels were read; they are left out.
        keep = [i for i, t in enumerate(group.candidates) if t.has_patch and t.label is not None]
        if not keep:
            tasks.without += 1
            continue
        sub = CandidateGroup(
            instance_id=group.instance_id, candidates=[group.candidates[i] for i in keep]
        )
        sub_scores = [group_scores[i] for i in keep]
        tasks.all_vote_shares &= all(s is None or s.kind == "vote_share" for s in sub_scores)
        labels = np.array([bool(t.label) for t in sub.candidates])
        tasks.ranked.append([bool(labels[i]) for i in hooks.select(sub, sub_scores)])
        tasks.support.append(selector.support_matrix(sub))
        tasks.labels.append(labels)
        tasks.selector_hits.append(consensus_pick(tasks.support[-1], labels))
        naive = naive_consensus_scores([t.patch for t in sub.candidates])
        tasks.naive_hits.append(float(labels[naive == naive.max()].mean()))
    if not tasks.ranked:
        raise ValueError(
            "no task has a labelled candidate with a non-empty patch; nothing to evaluate "
            "(are the --labels files the runs' own?)"
        )
    return tasks


def _prepared_selector(groups: Sequence[CandidateGroup], hooks: Hooks) -> GroupScorer:
    from swerm_plugin.decisions.runs import group_scorer

    selector = group_scorer(hooks.config)
    selector.prepare(groups)
    return selector


def evaluate_candidates(
    groups: Sequence[CandidateGroup],
    scores: Sequence[Sequence[Score | None]],
    hooks: Hooks,
    *,
    n_subsets: int = 1000,
    seed: int = 0,
    total_tasks: int | None = None,
    calibrator: Calibrator | None = None,
    scorer_name: str = "",
    selector: GroupScorer | None = None,
) -> EvalReport:
    """The ``swerm eval`` report for labelled candidate groups (see the module docs).

    ``selector`` is the scorer without a model (prepared with ``groups``); by default the
    configured one. Its pick over all candidates is the ``consensus`` figure, and without model
    scores best@k re-selects with it inside every random subset.
    """
    selector = selector or _prepared_selector(groups, hooks)
    collected = _collect(groups, scores, hooks, selector)
    tasks = RankedTasks.from_lists(collected.ranked)
    draws = None
    if collected.all_vote_shares:  # no model scores: best@k re-selects within each subset
        draws = sample_consensus_at_k(
            collected.support, collected.labels, n_subsets=n_subsets, seed=seed
        )
    result = evaluate_best_of_n(tasks, n_subsets=n_subsets, seed=seed, draws=draws)
    denominator = tasks.n_tasks if total_tasks is None else total_tasks
    if denominator < tasks.n_tasks:
        raise ValueError(
            f"--total-tasks {total_tasks} is below the {tasks.n_tasks} tasks with candidates"
        )
    scale = tasks.n_tasks / denominator  # tasks outside the runs count as unresolved

    def pct(value: float) -> float:
        return _percent(value * scale)

    raw, resolved, unscored = scored_arrays(groups, scores)
    return EvalReport(
        n_tasks=denominator,
        n_tasks_with_candidates=tasks.n_tasks,
        n_tasks_without_candidates=collected.without,
        n_candidates=int(tasks.counts.sum()),
        max_candidates=tasks.max_candidates,
        scorer=scorer_name,
        random=pct(result.random),
        oracle=pct(result.oracle),
        best_at_k={k: pct(v) for k, v in result.best_at_k.items()},
        best_at_k_ci={k: (pct(lo), pct(hi)) for k, (lo, hi) in result.best_at_k_ci.items()},
        pass_at_k={k: pct(v) for k, v in result.pass_at_k.items()},
        consensus=pct(float(np.mean(collected.selector_hits))),
        consensus_naive=pct(float(np.mean(collected.naive_hits))),
        n_subsets=n_subsets,
        unscored_candidates=unscored,
        best_at_k_estimated=result.estimated,
        calibration=calibration_report(raw, resolved, calibrator=calibrator, seed=seed),
        selector={"name": selector.name, "version": selector.version},
    )
