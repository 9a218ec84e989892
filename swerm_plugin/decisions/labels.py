"""Harness results (resolved or not) onto the candidates of N runs.

Either one labels file per run, in the runs' order, or one file that names the run of each
label. Labels come only from harness reports, never from trajectory files: a trajectory cannot
declare itself resolved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from swerm_plugin.errors import CandidatesError, InputFormatError
from swerm_plugin.jsonl import iter_jsonl, loads
from swerm_plugin.readers.reports import Labels

if TYPE_CHECKING:
    from swerm_plugin.decisions.runs import Run


#: Receives what does not fit: ("unlabelled", message) for candidates a labels file leaves out.
OnProblem = Callable[[str, str], None]


def apply_labels(
    runs: Sequence[Run], label_paths: Sequence[Path], *, on_problem: OnProblem | None = None
) -> None:
    """Set every trajectory's ``label`` from harness results, checking that they fit.

    Either one labels file per run, in the runs' order (any report
    :func:`swerm_plugin.readers.reports.read_labels` reads), or one file for all runs that
    names the run of each label: JSON ``{run_id: [resolved ids] | {instance_id: bool}}``, or
    JSON Lines ``{"run_id", "instance_id", "resolved"}``.

    A file that lists only resolved tasks counts the rest of the run as unresolved (the harness
    lists only what it resolved). A file that says resolved *or not* for each task it evaluated
    leaves the tasks it does not mention unlabelled; each is reported to ``on_problem``. A file
    that marks as resolved a task the run has no patch for cannot belong to that run: refused.
    """
    if len(label_paths) == len(runs):
        for run, path in zip(runs, label_paths, strict=True):
            _label_run(run, _read(path), str(path), runs, on_problem)
        return
    if len(label_paths) == 1:
        by_run = _labels_naming_runs(label_paths[0], runs)
        for run in runs:
            where = f"{label_paths[0]} [{run.run_id}]"
            _label_run(run, by_run[run.run_id], where, runs, on_problem)
        return
    raise CandidatesError(
        f"{len(label_paths)} --labels files for {len(runs)} runs: give one per run, in the "
        "same order as the runs, or one file that names the run of each label"
    )


def _labels_naming_runs(path: Path, runs: Sequence[Run]) -> dict[str, Labels]:
    """One --labels for several runs: a folder with a report per run folder (matched by run
    name), or a file that names the run of each label. One run's labels are refused."""
    names = [run.run_id for run in runs]
    if path.is_dir() and any((path / name).exists() for name in names):
        missing = [name for name in names if not (path / name).exists()]
        if missing:
            raise CandidatesError(
                f"{path} has a results folder for some runs but none for {missing}: each run "
                f"needs its own ({path}/<run>/ with its report)"
            )
        return {name: _read(_report_in(path / name)) for name in names}
    try:
        return read_run_labels(path, names)
    except CandidatesError:
        if _is_one_runs_report(path):
            raise CandidatesError(
                f"{path} holds the labels of one run, but {len(runs)} runs were given "
                f"({', '.join(names)}): give one --labels file per run, in the runs' order, "
                'or one file that names the runs ({"<run>": labels, ...})',
                hint="a folder holding several runs is read as one run per run folder",
            ) from None
        raise


def _report_in(folder: Path) -> Path:
    """A run's results folder: its single report file, or the folder (of report.json files)."""
    if folder.is_file():
        return folder
    files = sorted(p for p in folder.glob("*.json") if p.is_file())
    return files[0] if len(files) == 1 else folder


def _is_one_runs_report(path: Path) -> bool:
    from swerm_plugin.errors import TrajectoryFormatError

    try:
        _read(path)
    except TrajectoryFormatError:
        return False
    return True


def _read(path: Path) -> Labels:
    from swerm_plugin.readers.reports import read_labels

    return read_labels(path)


def _patched(run: Run) -> set[str]:
    return {t.instance_id for t in run.trajectories if t.has_patch}


def _label_run(
    run: Run,
    found: Labels,
    where: str,
    runs: Sequence[Run],
    on_problem: OnProblem | None,
) -> None:
    from swerm_plugin.readers.swebench import attach_labels

    labels = found.resolved
    resolved = {iid for iid, value in labels.items() if value}
    foreign = sorted(resolved - _patched(run))
    if foreign:
        better = [r.run_id for r in runs if r is not run and resolved <= _patched(r)]
        hint = f"; it fits run {better[0]}: give --labels in the runs' order" if better else ""
        raise CandidatesError(
            f"{where} marks {len(foreign)} task(s) resolved that run {run.run_id} has no patch "
            f"for (e.g. {', '.join(foreign[:3])}): these labels cannot belong to this run{hint}"
        )
    run.trajectories = attach_labels(
        run.trajectories, labels, missing=None if found.complete else False
    )
    unlabelled = sorted({t.instance_id for t in run.trajectories if t.has_patch} - set(labels))
    if unlabelled and found.complete and on_problem is not None:
        on_problem(
            "unlabelled",
            f"{where} says nothing about {len(unlabelled)} of run {run.run_id}'s "
            f"{len(_patched(run))} tasks with a patch (e.g. {', '.join(unlabelled[:3])}); they "
            "are left out of the figures",
        )


def read_run_labels(path: Path, run_ids: Sequence[str]) -> dict[str, Labels]:
    """Labels for several runs from one file that names the run of each label (a run given as a
    list of resolved ids is not complete: its other tasks are unresolved)."""
    expected = (
        'JSON {"<run_id>": [resolved ids] or {"<instance_id>": true|false}} or JSON Lines '
        '{"run_id", "instance_id", "resolved"}'
    )
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise CandidatesError(f"{path}: cannot read labels ({exc.strerror})") from None
    by_run: dict[str, Labels] = {}
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
            by_run.setdefault(run, Labels({}, complete=True)).resolved[iid] = resolved
    elif isinstance(document, dict):
        for run, value in document.items():
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                by_run[run] = Labels(dict.fromkeys(value, True), complete=False)
            elif isinstance(value, dict) and all(isinstance(v, bool) for v in value.values()):
                by_run[run] = Labels(dict(value), complete=True)
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
