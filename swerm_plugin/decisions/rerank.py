"""Rerank each task's candidates, decide on the winner, and write predictions and the log.

The decisions log is JSON Lines with one record per candidate: ``instance_id``, ``run_id``,
``attempt``, ``content_hash``, ``rank`` (0 = chosen), ``chosen``, every
:class:`~swerm_plugin.model.Score` field, and for the chosen candidate ``decision`` (the
:class:`~swerm_plugin.model.Decision`) and ``submitted_patch_empty`` (true when the
rejection abstained). Both output files are written atomically, and the log doubles as a scores
file (``--scores``), so a rerank with another policy needs no rescoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swerm_plugin.decisions.policy import submission_patch
from swerm_plugin.model import CandidateGroup, Decision, Score, Trajectory
from swerm_plugin.plugins.manager import Hooks
from swerm_plugin.scores import score_record

NOT_SCORED = "not scored: no score was given or computed for this candidate"


@dataclass(frozen=True)
class TaskDecision:
    """The outcome for one task: the ranking, the decision on the winner, the patch to submit."""

    group: CandidateGroup
    scores: list[Score | None]
    ranking: list[int]
    decision: Decision
    patch: str

    @property
    def chosen(self) -> Trajectory:
        return self.group.candidates[self.ranking[0]]


def rerank_group(group: CandidateGroup, scores: list[Score | None], hooks: Hooks) -> TaskDecision:
    """Rank with ``swerm_select``, then decide on the top candidate with ``swerm_decide``.

    Offline there is no agent to send back, so the decision is taken as on the last allowed
    attempt: accept or reject, never retry. A top candidate without a score is rejected (the
    reason says so) unless ``policy.allow_unscored`` accepts it: no score, no verdict.
    """
    ranking = hooks.select(group, scores)
    best = group.candidates[ranking[0]]
    score = scores[ranking[0]]
    config = hooks.config
    if score is None and best.has_patch:
        allowed = config.policy.allow_unscored
        decision = Decision(
            action="accept" if allowed else "reject",
            reason=f"{NOT_SCORED}; "
            + ("accepted: policy.allow_unscored" if allowed else "rejected: no score, no verdict"),
        )
    else:
        decision = hooks.decide(best, score or Score(), attempt=config.policy.max_attempts)
    return TaskDecision(
        group=group,
        scores=scores,
        ranking=ranking,
        decision=decision,
        patch=submission_patch(best, decision, config),
    )


def decision_records(task: TaskDecision) -> list[dict[str, Any]]:
    """The decisions-log lines of one task, best-ranked first."""
    records = []
    for position, index in enumerate(task.ranking):
        trajectory = task.group.candidates[index]
        score = task.scores[index]
        record = score_record(
            trajectory, score or Score(error=NOT_SCORED), rank=position, chosen=position == 0
        )
        if position == 0:
            record["decision"] = task.decision.model_dump(mode="json")
            record["submitted_patch_empty"] = not task.patch.strip()
        records.append(record)
    return records


def write_outputs(
    tasks: Sequence[TaskDecision],
    *,
    predictions: Path,
    decisions: Path,
    model_name: str,
) -> None:
    """Harness-ready predictions (one per task) and the decisions log, each written atomically."""
    from swerm_plugin.jsonl import atomic_write_jsonl
    from swerm_plugin.readers.swebench import Prediction, write_predictions

    write_predictions(
        predictions,
        [
            Prediction(
                instance_id=t.group.instance_id, model_name_or_path=model_name, model_patch=t.patch
            )
            for t in tasks
        ],
    )
    atomic_write_jsonl(decisions, (record for t in tasks for record in decision_records(t)))
