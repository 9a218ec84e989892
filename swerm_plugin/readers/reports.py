"""Harness results read as labels: which tasks a run resolved, and which it was evaluated on.

Accepted, from a file or a folder:

* the harness's run report (``resolved_ids``, ``completed_ids``, ``unresolved_ids``,
  ``error_ids``, ``empty_patch_ids``, ...), an sb-cli report, or the pre-Docker harness's final
  report (``resolved``, ``applied``, ``no_apply``, ...);
* mini-swe-agent / sb-cli ``results_summary.json``:
  ``{"instances": [{"instance_id", "resolved"}], "total": ...}``;
* a list of ``{instance_id, resolved}`` objects, ``{instance_id: true|false}``, or per-instance
  ``report.json`` data ``{instance_id: {"resolved": bool, ...}}``;
* a list of resolved ids, or an object whose only id list is ``resolved``;
* OpenHands' ``output.swebench_eval.jsonl`` (records with ``test_result.report.resolved``);
* a folder walked for ``report.json`` files.

:attr:`Labels.complete` says whether the file names every task it evaluated (resolved or not):
then a task it does not mention has no label. A list of only the resolved tasks is not
complete: there a task the run attempted and the list leaves out is unresolved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swerm_plugin.errors import TrajectoryFormatError
from swerm_plugin.readers.fields import Obj, Where, wrong_type
from swerm_plugin.readers.probe import JsonSource, probe

REPORT_EXPECTED = (
    "a SWE-bench run report (resolved_ids, completed_ids, ...), results_summary.json "
    "({instances: [{instance_id, resolved}]}), a list of {instance_id, resolved}, a list or "
    "object of resolved ids, {instance_id: true|false}, per-instance report.json data, OpenHands "
    "output.swebench_eval.jsonl, or a folder of report.json"
)
# Run-report lists whose members were evaluated; a member is resolved iff it is listed as such.
_EVALUATED_KEYS = (
    "completed_ids",
    "unresolved_ids",
    "error_ids",
    "empty_patch_ids",
    "submitted_ids",
    # the pre-Docker harness's final report
    "unresolved",
    "applied",
    "no_apply",
    "generated",
    "with_logs",
    "test_errored",
    "test_timeout",
    "install_fail",
    "reset_failed",
)
# Lists that enumerate every evaluated task: a report with one of them is complete.
_ENUMERATING_KEYS = frozenset({"completed_ids", "submitted_ids", "generated", "with_logs"})
_RESOLVED_KEYS = ("resolved_ids", "resolved")


@dataclass(frozen=True)
class Labels:
    """Resolved (True) or not (False) by instance id, and whether every evaluated task is named."""

    resolved: dict[str, bool]
    complete: bool


def read_labels(path: str | Path) -> Labels:
    """The labels in a harness report file, or in a folder of ``report.json`` files.

    :raises TrajectoryFormatError: the file is not a report, or two reports disagree.
    """
    root = Path(path)
    if root.is_dir():
        return Labels(_read_report_folder(root), complete=True)
    return _read_report_file(root)


def read_resolved(path: str | Path, *, submitted: Iterable[str] | None = None) -> dict[str, bool]:
    """Resolved labels by instance id (see :func:`read_labels`).

    :param submitted: ids the run attempted; those the report does not mark resolved become
        ``False`` (the harness lists what it resolved).
    """
    labels = dict(read_labels(path).resolved)
    for instance_id in submitted or ():
        labels.setdefault(instance_id, False)
    return labels


def _read_report_file(path: Path) -> Labels:
    source = probe(path)
    if source.is_lines or _is_evaluated_record(source.first):
        return Labels(_evaluated_records(source), complete=True)
    _, value = next(source.records())
    return _labels(value, Where(path))


def _is_evaluated_record(value: Any) -> bool:
    """An OpenHands ``output.swebench_eval.jsonl`` record: ``test_result.report.resolved``."""
    test_result = value.get("test_result") if isinstance(value, dict) else None
    return isinstance(test_result, dict) and isinstance(test_result.get("report"), dict)


def _evaluated_records(source: JsonSource) -> dict[str, bool]:
    labels: dict[str, bool] = {}
    for line, value in source.records():
        where = Where(source.path, line=line if source.is_lines else None)
        if not _is_evaluated_record(value):
            raise where.error(
                "not an evaluated record", field="test_result.report", expected=REPORT_EXPECTED
            )
        record = Obj.of(value, where)
        report = record.obj("test_result").obj("report")
        resolved = report.raw("resolved")
        if not isinstance(resolved, bool):
            raise wrong_type(where, report.name("resolved"), resolved, "true or false")
        labels[record.req_str("instance_id")] = resolved
    return labels


def _read_report_folder(root: Path) -> dict[str, bool]:
    labels: dict[str, bool] = {}
    origin: dict[str, Path] = {}
    reports = sorted(p for p in root.rglob("report.json") if p.is_file())
    if not reports:
        raise TrajectoryFormatError(
            root, "no report.json file under this folder", expected=REPORT_EXPECTED
        )
    for report in reports:
        for instance_id, resolved in _read_report_file(report).resolved.items():
            if instance_id in labels and labels[instance_id] != resolved:
                raise TrajectoryFormatError(
                    report,
                    f"{instance_id} is resolved={resolved} here but resolved={labels[instance_id]}"
                    f" in {origin[instance_id]}; read each run's folder on its own",
                    field=instance_id,
                )
            labels[instance_id], origin[instance_id] = resolved, report
    return labels


def _labels(value: Any, where: Where) -> Labels:
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            return Labels(_instance_entries(value, where, ""), complete=True)
        return Labels({_id(item, where, f"[{i}]"): True for i, item in enumerate(value)}, False)
    doc = Obj.of(value, where)
    if isinstance(value.get("instances"), list):  # results_summary.json
        return Labels(_instance_entries(doc.array("instances"), where, "instances"), True)
    if any(isinstance(value.get(key), list) for key in _RESOLVED_KEYS):
        return _run_report_labels(doc)
    return Labels(_keyed_labels(value, where), complete=True)


def _instance_entries(items: list[Any], where: Where, field: str) -> dict[str, bool]:
    """``[{"instance_id": ..., "resolved": bool}, ...]``."""
    labels: dict[str, bool] = {}
    for i, item in enumerate(items):
        entry = Obj.item(item, where, field, i)
        resolved = entry.raw("resolved")
        if not isinstance(resolved, bool):
            raise wrong_type(where, entry.name("resolved"), resolved, "true or false")
        labels[entry.req_str("instance_id")] = resolved
    return labels


def _keyed_labels(value: dict[str, Any], where: Where) -> dict[str, bool]:
    """``{instance_id: bool}`` or ``{instance_id: {"resolved": bool, ...}}``."""
    labels: dict[str, bool] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            labels[key] = item
            continue
        entry = Obj.of(item, where, key)
        resolved = entry.raw("resolved")
        if not isinstance(resolved, bool):
            raise wrong_type(where, entry.name("resolved"), resolved, "true or false")
        instance_id = entry.scalar_text("instance_id") or key
        if labels.get(instance_id, resolved) != resolved:
            raise entry.error(
                f"{instance_id} is listed as both resolved and unresolved", "resolved", "one label"
            )
        labels[instance_id] = resolved
    return labels


def _run_report_labels(doc: Obj) -> Labels:
    resolved_key = next(key for key in _RESOLVED_KEYS if isinstance(doc.raw(key), list))
    resolved = {
        _id(item, doc.where, f"{resolved_key}[{i}]")
        for i, item in enumerate(doc.array(resolved_key))
    }
    labels = dict.fromkeys(sorted(resolved), True)
    for key in _EVALUATED_KEYS:
        for i, item in enumerate(doc.array(key)):
            instance_id = _id(item, doc.where, f"{key}[{i}]")
            labels.setdefault(instance_id, instance_id in resolved)
    complete = any(isinstance(doc.raw(key), list) for key in _ENUMERATING_KEYS)
    return Labels(labels, complete=complete)


def _id(item: Any, where: Where, field: str) -> str:
    if isinstance(item, str) and item:
        return item
    raise wrong_type(where, field, item, "an instance id string")
