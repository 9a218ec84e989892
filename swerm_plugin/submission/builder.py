"""Writing a submission folder from reranked runs: what ``swerm submission`` calls.

The folder is built beside its target under a temporary name and renamed into place when
complete, so a failure leaves nothing half-written; an existing non-empty folder is never
overwritten, and no input is modified. After writing, the folder is checked with the same rules
as ``--check``: what remains for a person to do (placeholders, logs) is listed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swerm_plugin.errors import SubmissionError
from swerm_plugin.submission.layout import (
    DECISION,
    LOGS,
    METADATA,
    PREDICTIONS,
    README,
    TRAJS,
    slug,
    submission_folder,
)
from swerm_plugin.submission.record import SubmissionFacts

if TYPE_CHECKING:
    from swerm_plugin.decisions.rerank import TaskDecision
    from swerm_plugin.decisions.runs import Run
    from swerm_plugin.evaluation.evaluate import EvalReport
    from swerm_plugin.submission.attempts import AttemptFile
    from swerm_plugin.submission.check import CheckReport


@dataclass(frozen=True)
class SubmissionRequest:
    """Where the folder goes and what it is called."""

    root: Path
    split: str
    name: str
    model_name: str | None = None  # default: the rerank's, else ``name``
    date: str | None = None
    logs: Path | None = None
    labels: tuple[Path, ...] = ()

    @property
    def folder(self) -> Path:
        return submission_folder(self.root, self.split, self.date, self.name)


@dataclass
class SubmissionResult:
    """What was written; ``skipped`` names what makes it partial."""

    folder: Path
    facts: SubmissionFacts
    check: CheckReport | None = None
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return bool(self.skipped)

    def to_json(self) -> dict[str, Any]:
        facts = self.facts
        return {
            "folder": str(self.folder),
            "instances": facts.n_instances,
            "max_attempts": facts.max_attempts,
            "pass_at_1": facts.pass_at_1,
            "resolved_by_labels": facts.resolved,
            "skipped": self.skipped,
            "warnings": self.warnings,
            "to_do": [p.to_json() for p in self.check.problems] if self.check else [],
        }


def _refuse_unsafe_target(folder: Path, inputs: Sequence[Path]) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise SubmissionError(
            f"{folder} already exists and is not empty; swerm will not overwrite it",
            hint="remove it, or choose another --name or --date",
        )
    target = folder.resolve()
    for path in inputs:
        source = Path(path).resolve()
        if target == source or source in target.parents or target in source.parents:
            raise SubmissionError(
                f"{folder} overlaps the input {path}; write the submission elsewhere (-o)"
            )


def build_submission(
    tasks: Sequence[TaskDecision],
    runs: Sequence[Run],
    request: SubmissionRequest,
    *,
    facts: SubmissionFacts,
    report: EvalReport | None = None,
) -> SubmissionResult:
    """Write ``evaluation/<split>/<date>_<name>/`` under ``request.root`` and check it."""
    from swerm_plugin.submission.check import check_submission

    folder = request.folder
    inputs = [run.path for run in runs] + list(request.labels)
    _refuse_unsafe_target(folder, [*inputs, *([request.logs] if request.logs else [])])
    staging = folder.parent / f".{folder.name}.swerm-tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        result = _write(staging, tasks, runs, request, facts, report)
        if folder.exists():
            folder.rmdir()  # empty, checked above
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result.folder = folder
    result.check = check_submission(folder)
    return result


def _write(
    staging: Path,
    tasks: Sequence[TaskDecision],
    runs: Sequence[Run],
    request: SubmissionRequest,
    facts: SubmissionFacts,
    report: EvalReport | None,
) -> SubmissionResult:
    from swerm_plugin.decisions.rerank import prediction_records
    from swerm_plugin.jsonl import atomic_write_json
    from swerm_plugin.readers.swebench import write_predictions
    from swerm_plugin.submission.attempts import SourceIndex, TrajsWriter
    from swerm_plugin.submission.metadata import render_metadata
    from swerm_plugin.submission.readme import render_readme
    from swerm_plugin.submission.record import decision_document, gather_facts

    write_predictions(
        staging / PREDICTIONS,
        prediction_records(tasks, model_name=request.model_name or request.name),
    )
    writer = TrajsWriter(staging / TRAJS, SourceIndex(runs))
    placed = [writer.place(task) for task in tasks]
    writer.write()
    for task, files in zip(tasks, placed, strict=True):
        document = decision_document(task, files, scorer=facts.scorer, selector=facts.selector)
        atomic_write_json(staging / TRAJS / slug(task.group.instance_id) / DECISION, document)
    gather_facts(tasks, placed, base=facts)
    result = SubmissionResult(staging, facts)
    _note_untraced(tasks, placed, result)
    facts.logs = request.logs is not None
    if request.logs is not None:
        _copy_logs(request.logs, staging / LOGS, tasks, result)
    else:
        result.warnings.append(
            "logs/ is not written: evaluate all_preds.jsonl with the SWE-bench harness, then copy "
            "its per-instance log folders into logs/ (or build afresh with --logs)"
        )
    (staging / METADATA).write_text(render_metadata(facts), encoding="utf-8")
    (staging / README).write_text(render_readme(facts, report), encoding="utf-8")
    return result


def _note_untraced(
    tasks: Sequence[TaskDecision], placed: Sequence[Sequence[AttemptFile]], result: SubmissionResult
) -> None:
    for task, files in zip(tasks, placed, strict=True):
        missing = [f for f in files if not f.is_trace]
        if missing:
            runs = sorted({f.trajectory.run_id or "?" for f in missing})
            result.skipped.append(
                {
                    "instance_id": task.group.instance_id,
                    "reason": f"no reasoning trace for {len(missing)} of {len(files)} attempts "
                    f"(run(s) {', '.join(runs)} gave predictions only)",
                }
            )
    if result.skipped:
        result.warnings.append(
            f"trajs/ is incomplete: {len(result.skipped)} instance(s) have attempts without a "
            "reasoning trace; give those runs' trajectory files to complete it"
        )


def _copy_logs(
    source: Path, target: Path, tasks: Sequence[TaskDecision], result: SubmissionResult
) -> None:
    from swerm_plugin.submission.logs import copy_logs

    outcome = copy_logs(source, target, {t.group.instance_id: t.patch for t in tasks})
    target.mkdir(exist_ok=True)
    reasons = {
        "missing": f"no log folder under {source}",
        "mismatched": f"its log under {source} evaluated another patch (patch.diff differs)",
    }
    for kind, iids in (("missing", outcome.missing), ("mismatched", outcome.mismatched)):
        for iid in iids:
            result.skipped.append({"instance_id": iid, "reason": f"logs: {reasons[kind]}"})
    if outcome.missing or outcome.mismatched:
        result.warnings.append(
            f"logs/ covers {len(outcome.copied)} of the instances with a patch: "
            f"{len(outcome.missing)} have no log, {len(outcome.mismatched)} a log of another patch"
        )
