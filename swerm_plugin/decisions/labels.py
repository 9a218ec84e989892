"""Harness results (resolved or not) onto the candidates of N runs.

Either one labels file per run, in the runs' order, or one file that names the run of each
label. Labels come only from harness reports, never from trajectory files: a trajectory cannot
declare itself resolved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from swerm_plugin.errors import CandidatesError, InputFormatError
from swerm_plugin.jsonl import iter_jsonl, loads

if TYPE_CHECKING:
    from swerm_plugin.decisions.runs import Run


def apply_labels(runs: Sequence[Run], label_paths: Sequence[Path]) -> None:
    """Set every trajectory's ``label`` from harness results.

    Either one labels file per run, in the runs' order (any report
    :func:`swerm_plugin.readers.swebench.read_resolved` reads), or one file for all runs that
    names the run of each label: JSON ``{run_id: [resolved ids] | {instance_id: bool}}``, or
    JSON Lines ``{"run_id", "instance_id", "resolved"}``. A task a run attempted but its labels
    do not mention counts as unresolved (the harness lists only what it resolved).
    """
    from swerm_plugin.readers.swebench import attach_labels, read_resolved

    if len(label_paths) == len(runs):
        for run, path in zip(runs, label_paths, strict=True):
            submitted = [t.instance_id for t in run.trajectories]
            labels = read_resolved(path, submitted=submitted)
            run.trajectories = attach_labels(run.trajectories, labels)
        return
    if len(label_paths) == 1:
        by_run = read_run_labels(label_paths[0], [run.run_id for run in runs])
        for run in runs:
            run.trajectories = attach_labels(run.trajectories, by_run[run.run_id], missing=False)
        return
    raise CandidatesError(
        f"{len(label_paths)} --labels files for {len(runs)} runs: give one per run, in the "
        "same order as the runs, or one file that names the run of each label"
    )


def read_run_labels(path: Path, run_ids: Sequence[str]) -> dict[str, dict[str, bool]]:
    """Labels for several runs from one file that names the run of each label."""
    expected = (
        'JSON {"<run_id>": [resolved ids] or {"<instance_id>": true|false}} or JSON Lines '
        '{"run_id", "instance_id", "resolved"}'
    )
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise CandidatesError(f"{path}: cannot read labels ({exc.strerror})") from None
    by_run: dict[str, dict[str, bool]] = {}
    try:
        document = loads(text)
        records: Iterable[Any] | None = None
    except orjson.JSONDecodeError:
        document = None
        records = _json_lines(path)
    if records is not None:
        for number, record in enumerate(records, start=1):
            run = record.get("run_id") or record.get("model_name_or_path")
            iid, resolved = record.get("instance_id"), record.get("resolved")
            if (
                not isinstance(run, str)
                or not isinstance(iid, str)
                or not isinstance(resolved, bool)
            ):
                raise CandidatesError(f"{path}, line {number}: expected {expected}")
            by_run.setdefault(run, {})[iid] = resolved
    elif isinstance(document, dict):
        for run, value in document.items():
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                by_run[run] = dict.fromkeys(value, True)
            elif isinstance(value, dict) and all(isinstance(v, bool) for v in value.values()):
                by_run[run] = dict(value)
            else:
                raise CandidatesError(f"{path}, run {run!r}: expected {expected}")
    else:
        raise CandidatesError(f"{path}: expected {expected}")
    missing = [run for run in run_ids if run not in by_run]
    if missing:
        raise CandidatesError(
            f"{path} names runs {sorted(by_run)} but not {missing}; with several runs give one "
            "--labels file per run (in the runs' order) or a file that names every run"
        )
    return by_run


def _json_lines(path: Path) -> list[Any]:
    try:
        records = list(iter_jsonl(path, torn_tail="error"))
    except InputFormatError as exc:
        raise CandidatesError(str(exc)) from None
    for number, record in records:
        if not isinstance(record, dict):
            raise CandidatesError(f"{path}, line {number}: expected a JSON object")
    return [record for _, record in records]
