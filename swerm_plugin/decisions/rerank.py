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
from typing import TYPE_CHECKING, Any

from swerm_plugin.decisions.policy import submission_patch
from swerm_plugin.errors import CandidatesError
from swerm_plugin.model import CandidateGroup, Decision, Score, Trajectory
from swerm_plugin.plugins.manager import Hooks
from swerm_plugin.scores import score_record

if TYPE_CHECKING:
    from swerm_plugin.readers.swebench import Prediction

DEFAULT_MODEL_NAME = "swerm-rerank"
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


def prediction_records(tasks: Sequence[TaskDecision], *, model_name: str) -> list[Prediction]:
    """The harness-ready prediction of each task: its submitted patch under ``model_name``."""
    from swerm_plugin.readers.swebench import Prediction

    return [
        Prediction(
            instance_id=t.group.instance_id, model_name_or_path=model_name, model_patch=t.patch
        )
        for t in tasks
    ]


def write_outputs(
    tasks: Sequence[TaskDecision],
    *,
    predictions: Path,
    decisions: Path,
    model_name: str,
) -> None:
    """Harness-ready predictions (one per task) and the decisions log, each written atomically."""
    from swerm_plugin.jsonl import atomic_write_jsonl
    from swerm_plugin.readers.swebench import write_predictions

    write_predictions(predictions, prediction_records(tasks, model_name=model_name))
    atomic_write_jsonl(decisions, (record for t in tasks for record in decision_records(t)))


def read_outputs(
    groups: Sequence[CandidateGroup], *, predictions: Path, decisions: Path
) -> tuple[list[TaskDecision], str]:
    """The task decisions an earlier rerank took, read back from its two outputs.

    ``groups`` are the same runs read again (in the same order, so run ids match); each
    decisions-log record is matched to its candidate by run id, attempt and content hash. Nothing
    is rescored or reselected. Returns the decisions and the predictions' model name.

    :raises CandidatesError: the outputs do not belong to these runs, or disagree.
    """
    from swerm_plugin.readers.swebench import read_predictions

    submitted = {p.instance_id: p for p in read_predictions(predictions)}
    names = sorted({p.model_name_or_path or "" for p in submitted.values()})
    if len(names) != 1 or not names[0]:
        raise CandidatesError(
            f"{predictions}: expected one model_name_or_path in every prediction, found {names}"
        )
    logged = _records_by_task(decisions)
    by_id = {g.instance_id: g for g in groups}
    differ = sorted((set(submitted) ^ set(by_id)) | (set(logged) ^ set(by_id)))
    if differ:
        raise CandidatesError(
            f"{predictions} and {decisions} do not cover the same tasks as these runs "
            f"(first difference: {differ[0]})",
            hint=_SAME_RUNS,
        )
    tasks = [
        _read_task(by_id[iid], logged[iid], submitted[iid].model_patch or "")
        for iid in sorted(submitted)
    ]
    return tasks, names[0]


_SAME_RUNS = "pass the same runs, in the same order, as to the `swerm rerank` that wrote them"


def _records_by_task(path: Path) -> dict[str, list[dict[str, Any]]]:
    from swerm_plugin.errors import InputFormatError
    from swerm_plugin.jsonl import iter_jsonl

    out: dict[str, list[dict[str, Any]]] = {}
    try:
        for number, record in iter_jsonl(path, torn_tail="error"):
            if not isinstance(record, dict) or not isinstance(record.get("rank"), int):
                raise CandidatesError(f"{path}, line {number}: not a swerm decisions-log record")
            out.setdefault(str(record.get("instance_id")), []).append(record)
    except InputFormatError as exc:
        raise CandidatesError(str(exc)) from None
    except OSError as exc:
        raise CandidatesError(f"{path}: cannot read the decisions log ({exc.strerror})") from None
    return out


def _read_task(group: CandidateGroup, records: list[dict[str, Any]], patch: str) -> TaskDecision:
    """One task's decision from its log records (matched to ``group``'s candidates)."""
    from swerm_plugin.scores import score_from_record

    keys = [(t.run_id, t.attempt, t.content_hash()) for t in group.candidates]
    ranking: list[int] = []
    scores: list[Score | None] = [None] * len(keys)
    for record in sorted(records, key=lambda r: r["rank"]):
        key = (record.get("run_id"), record.get("attempt"), record.get("content_hash"))
        if key not in keys or keys.index(key) in ranking:
            raise CandidatesError(
                f"{group.instance_id}: the decisions log names a candidate these runs do not "
                f"hold (run {key[0]}, attempt {key[1]})",
                hint=_SAME_RUNS,
            )
        ranking.append(keys.index(key))
        scores[ranking[-1]] = score_from_record(record)
    top = min(records, key=lambda r: r["rank"])
    if len(ranking) != len(keys) or not isinstance(top.get("decision"), dict):
        raise CandidatesError(
            f"{group.instance_id}: the decisions log ranks {len(ranking)} of its "
            f"{len(keys)} candidates, or has no decision for the chosen one",
            hint=_SAME_RUNS,
        )
    decision = Decision.model_validate(top["decision"])
    chosen = group.candidates[ranking[0]]
    if patch != chosen.patch and (patch.strip() or not top.get("submitted_patch_empty")):
        raise CandidatesError(
            f"{group.instance_id}: the predictions' patch is not the chosen candidate's "
            f"(run {chosen.run_id}, attempt {chosen.attempt})",
            hint=_SAME_RUNS,
        )
    return TaskDecision(group, scores, ranking, decision, patch)
