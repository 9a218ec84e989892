"""``swerm submission --check``: is a submission folder ready for the leaderboard?

Each rule has its own message and says what to fix: where the folder sits and what it holds, the
predictions (one per instance, one model name, no empty patch), ``metadata.yaml`` (the fields the
leaderboard reads, no placeholder left), ``trajs/`` (a reasoning trace per instance that submits
exactly the predicted patch), ``logs/`` (the harness's logs of these very patches) and the
README's checklist against the data. Problems of severity ``error`` must be fixed (exit 1);
``warning`` ones are worth a look.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from swerm_plugin.errors import SubmissionError
from swerm_plugin.submission.layout import (
    KEPT_BY_GET_RESULTS,
    LOGS,
    METADATA,
    PREDICTIONS,
    README,
    RESULTS,
    SPLIT_SIZES,
    SPLITS,
    TRAJS,
    folder_name_ok,
    split_of,
)
from swerm_plugin.submission.logs import same_patch

Severity = Literal["error", "warning"]
_EXAMPLES = 5


@dataclass(frozen=True)
class Problem:
    """One rule a submission breaks: what is wrong, for which instances, and what to do."""

    rule: str
    message: str
    fix: str
    instances: tuple[str, ...] = ()
    severity: Severity = "error"

    def describe(self) -> str:
        text = self.message
        if self.instances:
            shown = ", ".join(self.instances[:_EXAMPLES])
            more = len(self.instances) - _EXAMPLES
            text += f" ({len(self.instances)}: {shown}{f', and {more} more' if more > 0 else ''})"
        return f"{text}; fix: {self.fix}"

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "instances": list(self.instances),
        }


@dataclass
class CheckReport:
    """Every problem found in one folder."""

    folder: Path
    problems: list[Problem] = field(default_factory=list)

    def add(
        self,
        rule: str,
        message: str,
        fix: str,
        instances: Iterable[str] = (),
        severity: Severity = "error",
    ) -> None:
        self.problems.append(Problem(rule, message, fix, tuple(sorted(instances)), severity))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "ok": self.ok,
            "problems": [p.to_json() for p in self.problems],
        }


def check_submission(folder: Path) -> CheckReport:
    """Check a submission folder (``evaluation/<split>/<date>_<name>``) against every rule."""
    from swerm_plugin.submission.check_trajs import check_readme, check_trajs

    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionError(f"{folder}: no such folder; give evaluation/<split>/<date>_<name>")
    report = CheckReport(folder)
    _check_location(folder, report)
    _check_entries(folder, report)
    predictions = _check_predictions(folder, report)
    metadata = _check_metadata(folder, report)
    attempts = check_trajs(folder, predictions, report)
    _check_logs(folder, predictions, report)
    check_readme(folder, metadata, attempts, report)
    return report


def _check_location(folder: Path, report: CheckReport) -> None:
    where = "move it to evaluation/<split>/<YYYYMMDD>_<name> in your fork of SWE-bench/experiments"
    if split_of(folder) is None:
        report.add(
            "location",
            f"the folder is not inside evaluation/<split>/ (its parent is "
            f"'{folder.resolve().parent.name}'; splits: {', '.join(SPLITS)}), and "
            "analysis/get_results.py takes the split from there",
            where,
        )
    if not folder_name_ok(folder):
        report.add("location", f"the folder is named '{folder.name}', not <YYYYMMDD>_<name>", where)


def _check_entries(folder: Path, report: CheckReport) -> None:
    names = {entry.name for entry in folder.iterdir()}
    required = {
        PREDICTIONS: "the harness-ready predictions (swerm submission writes them)",
        METADATA: "the leaderboard's metadata",
        README: "the README with the checklist",
        TRAJS: "one reasoning trace per instance",
        LOGS: "the SWE-bench harness's logs; evaluate all_preds.jsonl and build with --logs",
    }
    alternatives = {PREDICTIONS: "preds.json", METADATA: "metadata.yml"}
    for name, what in required.items():
        if name not in names and alternatives.get(name) not in names:
            report.add("missing_file", f"{name} is missing", f"add {name}: {what}")
    extra = sorted(names - KEPT_BY_GET_RESULTS - {RESULTS})
    if extra:
        report.add(
            "extra_entry",
            f"analysis/get_results.py deletes every other top-level entry: {', '.join(extra)}",
            "move them out of the submission folder",
        )


def _read_prediction_lines(path: Path, report: CheckReport) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        report.add("predictions", f"{path.name} cannot be read ({exc})", "write it again")
        return records
    if path.suffix == ".json":
        try:
            value = json.loads(text)
        except ValueError as exc:
            report.add("predictions", f"{path.name} is not JSON ({exc})", "write it again")
            return records
        return list(value.values() if isinstance(value, dict) else value)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            report.add(
                "predictions",
                f"{path.name}, line {number} is not JSON",
                "one JSON object per line",
            )
    return records


def _check_predictions(folder: Path, report: CheckReport) -> dict[str, str] | None:
    path = folder / PREDICTIONS
    if not path.is_file():
        path = folder / "preds.json"
        if not path.is_file():
            return None
    patches: dict[str, str] = {}
    duplicates, models = set(), set()
    keys = ("instance_id", "model_name_or_path", "model_patch")
    for index, record in enumerate(_read_prediction_lines(path, report), 1):
        if not isinstance(record, dict) or any(key not in record for key in keys):
            report.add(
                "predictions",
                f"{path.name}, record {index} lacks one of {', '.join(keys)}",
                "every prediction needs all three keys (sb-cli requires them)",
            )
            continue
        iid = str(record["instance_id"])
        if iid in patches:
            duplicates.add(iid)
        patches[iid] = record["model_patch"] or ""
        models.add(str(record["model_name_or_path"]))
    if duplicates:
        report.add(
            "duplicate_instance",
            f"{path.name} predicts some instances twice; the harness keeps only the last",
            "keep one prediction per instance",
            duplicates,
        )
    if len(models) > 1:
        report.add(
            "predictions",
            f"{path.name} names {len(models)} model_name_or_path values: {sorted(models)}",
            "use one model_name_or_path for every prediction (sb-cli requires it)",
        )
    empty = [iid for iid, patch in patches.items() if not patch.strip()]
    if empty:
        report.add(
            "empty_patch",
            "some predictions have an empty model_patch; the harness counts them unresolved "
            "and get_results lists them as no_generation",
            "submit a patch for each, or accept that they count as unresolved and remove them",
            empty,
        )
    _check_coverage(folder, patches, report)
    return patches


def _check_coverage(folder: Path, patches: dict[str, str], report: CheckReport) -> None:
    split = split_of(folder)
    size = SPLIT_SIZES.get(split or "")
    if size is not None and len(patches) < size:
        report.add(
            "split_coverage",
            f"all_preds.jsonl covers {len(patches)} of the {size} instances of {split}; the "
            "leaderboard counts the others as unresolved",
            "run the agent on every instance of the split if that was not the intent",
            severity="warning",
        )


def _check_metadata(folder: Path, report: CheckReport) -> dict[str, Any] | None:
    from swerm_plugin.submission.metadata import placeholders, read_metadata

    path = folder / METADATA if (folder / METADATA).is_file() else folder / "metadata.yml"
    if not path.is_file():
        return None
    try:
        document = read_metadata(path)
    except SubmissionError as exc:
        report.add("metadata", str(exc), "fix the YAML syntax")
        return None
    info = document.get("info") if isinstance(document, dict) else None
    tags = document.get("tags") if isinstance(document, dict) else None
    if not isinstance(info, dict) or not isinstance(info.get("name"), str) or not info["name"]:
        report.add(
            "metadata",
            f"{path.name} has no info.name; get_leaderboard.py skips such a submission silently",
            "add info: {name: ...} (swerm submission writes the full shape)",
        )
    if not isinstance(tags, dict) or not isinstance(tags.get("checked"), bool):
        report.add(
            "metadata",
            f"{path.name}: tags.checked is not the boolean false (a text value shows as checked)",
            "write `checked: false` under tags",
        )
    left = placeholders(document)
    if left:
        report.add(
            "placeholder",
            f"{path.name} still has placeholders at {', '.join(left)}",
            "replace each TODO(swerm) value",
        )
    return document if isinstance(document, dict) else None


def _check_logs(folder: Path, patches: dict[str, str] | None, report: CheckReport) -> None:
    logs = folder / LOGS
    if patches is None or not logs.is_dir():
        return
    missing, no_files, mismatched = [], [], []
    for iid, patch in patches.items():
        if not patch.strip():
            continue  # the harness does not evaluate an empty patch
        instance = logs / iid
        if not instance.is_dir():
            missing.append(iid)
        elif (
            not (instance / "patch.diff").is_file() or not (instance / "test_output.txt").is_file()
        ):
            no_files.append(iid)
        elif not same_patch((instance / "patch.diff").read_text(errors="replace"), patch):
            mismatched.append(iid)
    harness = "evaluate all_preds.jsonl with the SWE-bench harness and copy its logs (--logs)"
    if missing:
        report.add("missing_logs", "some instances have no logs/<instance_id>/", harness, missing)
    if no_files:
        report.add(
            "missing_logs",
            "some logs/<instance_id>/ lack patch.diff or test_output.txt, which get_results reads",
            harness,
            no_files,
        )
    if mismatched:
        report.add(
            "logs_mismatch",
            "some logs/<instance_id>/patch.diff differ from all_preds.jsonl: those logs "
            "evaluated another prediction",
            harness,
            mismatched,
        )
