"""The ``--check`` rules on ``trajs/`` and on the README's checklist (see :mod:`.check`).

An instance's trajectories are ``trajs/<iid>/`` (swerm's layout, with ``decision.json`` naming
the submitted attempt) or, as in many past submissions, files named ``<iid>.<ext>`` directly in
``trajs/``. The submitted attempt is read with swerm's readers and must be a reasoning trace that
submits exactly the predicted patch; with a decision record, it must also be the very trajectory
swerm scored (same content hash).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swerm_plugin.errors import SwermError
from swerm_plugin.readers.loader import PREDICTIONS_SOURCE
from swerm_plugin.readers.text import stem_of
from swerm_plugin.submission.layout import (
    CHECKLIST,
    DECISION,
    NOT_PASS_AT_1,
    PASS_AT_1_ITEM,
    README,
    TODO,
    TRAJS,
)
from swerm_plugin.submission.logs import same_patch

if TYPE_CHECKING:
    from swerm_plugin.model import Trajectory
    from swerm_plugin.submission.check import CheckReport

_REBUILD = "build the folder again with swerm submission from the runs' trajectory files"


@dataclass
class _Found:
    """What ``check_trajs`` found, rule by rule."""

    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    untraced: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    lost_attempts: list[str] = field(default_factory=list)
    attempts: dict[str, int | None] = field(default_factory=dict)


def _decision(folder: Path) -> dict[str, Any] | None:
    path = folder / DECISION
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _named(entries: list[Path], iid: str) -> list[Path]:
    return sorted(p for p in entries if stem_of(p) == iid or p.name == iid)


def _locate(trajs: Path, iid: str) -> tuple[Path | None, dict[str, Any] | None, int | None]:
    """The submitted attempt's file, the decision record, and the number of attempts: exact
    from a decision record, else several when several files are there, else unknown."""
    folder = trajs / iid
    if folder.is_dir():
        decision = _decision(folder)
        if decision is not None:
            chosen = decision.get("chosen_file")
            n = decision.get("n_attempts")
            path = folder / chosen if isinstance(chosen, str) else None
            return path, decision, n if isinstance(n, int) else None
        found = _named(list(folder.iterdir()), iid)
        every = [p for p in folder.rglob("*") if stem_of(p) == iid]
        return (found[0] if len(found) == 1 else None), None, len(every) if len(every) > 1 else None
    found = _named([p for p in trajs.iterdir() if p.name != iid], iid)
    return (found[0] if len(found) == 1 else None), None, None


def _read_chosen(path: Path, iid: str, decision: dict[str, Any] | None) -> Trajectory | None:
    from swerm_plugin.readers import load

    try:
        read = [t for t in load(path) if t.instance_id == iid]
    except (SwermError, OSError):
        return None
    top = (decision or {}).get("candidates") or [{}]
    want_hash, want_attempt = top[0].get("content_hash"), top[0].get("attempt")
    for trajectory in read:
        if trajectory.content_hash() == want_hash:
            return trajectory
    matching = [t for t in read if want_attempt is None or t.attempt == want_attempt]
    chosen = matching or read
    return chosen[0] if chosen else None


def _check_one(trajs: Path, iid: str, patch: str, found: _Found) -> None:
    path, decision, n = _locate(trajs, iid)
    found.attempts[iid] = n
    if path is None or not path.exists():
        found.missing.append(iid)
        return
    for candidate in (decision or {}).get("candidates") or []:
        name = candidate.get("file") if isinstance(candidate, dict) else None
        if isinstance(name, str) and not (trajs / iid / name).exists():
            found.lost_attempts.append(iid)
            break
    trajectory = _read_chosen(path, iid, decision)
    if trajectory is None:
        found.unreadable.append(iid)
        return
    if trajectory.source == PREDICTIONS_SOURCE:
        found.untraced.append(iid)
    top = ((decision or {}).get("candidates") or [{}])[0]
    if decision is not None and top.get("content_hash") != trajectory.content_hash():
        found.changed.append(iid)
    abstained = bool((decision or {}).get("submitted_patch_empty")) and not patch.strip()
    if not abstained and not same_patch(trajectory.patch, patch):
        found.mismatched.append(iid)


def check_trajs(
    folder: Path, patches: dict[str, str] | None, report: CheckReport
) -> dict[str, int | None]:
    """Check every predicted instance's trajectories; returns the attempts per instance
    (``None`` where the folder does not show how many there were)."""
    trajs = folder / TRAJS
    if patches is None or not trajs.is_dir():
        return {}
    found = _Found()
    for iid, patch in sorted(patches.items()):
        _check_one(trajs, iid, patch, found)
    _report(found, report)
    orphans = {p.name if p.is_dir() else stem_of(p) for p in trajs.iterdir()} - set(patches)
    if orphans:
        report.add(
            "orphan_trajectory",
            "trajs/ has trajectories of instances that all_preds.jsonl does not predict",
            "remove them, or add the instances' predictions",
            orphans,
        )
    return found.attempts


def _report(found: _Found, report: CheckReport) -> None:
    rules = [
        (
            "missing_trajectory",
            found.missing,
            "some instances have no trajectory of the "
            "submitted attempt in trajs/ (one reasoning trace per instance is required)",
            _REBUILD,
        ),
        (
            "missing_trajectory",
            found.lost_attempts,
            "some decision.json files name attempt files that are missing",
            _REBUILD,
        ),
        (
            "unreadable_trajectory",
            found.unreadable,
            "some submitted attempts' trajectories cannot be read",
            "give each instance's trajectory in its framework's own format",
        ),
        (
            "no_reasoning_trace",
            found.untraced,
            "some submitted attempts are predictions "
            "records, not reasoning traces (their runs were given as predictions only)",
            _REBUILD,
        ),
        (
            "trajectory_mismatch",
            found.mismatched,
            "some trajectories do not submit the patch that all_preds.jsonl predicts",
            "put the trajectory of the submitted attempt in trajs/",
        ),
        (
            "trajectory_changed",
            found.changed,
            "some trajectories differ from the one swerm "
            "scored and chose (content hash in decision.json)",
            _REBUILD,
        ),
    ]
    for rule, instances, message, fix in rules:
        if instances:
            report.add(rule, message, fix, instances)


def _attempts_tag(metadata: dict[str, Any] | None) -> str | None:
    tags = (metadata or {}).get("tags")
    system = tags.get("system") if isinstance(tags, dict) else None
    value = system.get("attempts") if isinstance(system, dict) else None
    return None if value is None else str(value).strip()


def check_readme(
    folder: Path,
    metadata: dict[str, Any] | None,
    attempts: dict[str, int | None],
    report: CheckReport,
) -> None:
    """The checklist is there, verbatim, and neither it nor metadata.yaml contradicts the data."""
    from swerm_plugin.submission.readme import checklist_boxes

    path = folder / README
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
    boxes = checklist_boxes(text) if text is not None else {}
    several = [iid for iid, n in attempts.items() if n is not None and n > 1]
    single = bool(attempts) and all(n == 1 for n in attempts.values())
    copy = "copy the checklist from SWE-bench/experiments checklist.md, word for word"
    for item in CHECKLIST if text is not None else ():
        if item not in boxes:
            report.add("checklist_missing", f"README.md lacks the checklist item '{item}'", copy)
    untick = "untick 'Is a pass@1 submission' and say it is not a pass@1 submission"
    if boxes.get(PASS_AT_1_ITEM) and several:
        report.add(
            "checklist_contradiction",
            "README.md ticks 'Is a pass@1 submission' but some instances have several attempts",
            untick,
            several,
        )
    if text is not None and several and NOT_PASS_AT_1 not in text.lower():
        report.add(
            "checklist_contradiction",
            f"README.md does not say '{NOT_PASS_AT_1}' though some instances have several attempts",
            untick,
            several,
        )
    if single and boxes.get(PASS_AT_1_ITEM) is False:
        report.add(
            "checklist_contradiction",
            "every instance has one attempt but README.md leaves 'Is a pass@1 submission' unticked",
            "tick it if the system attempted each instance once",
            severity="warning",
        )
    _check_attempts_tag(_attempts_tag(metadata), single, several, report)
    todo = [line for line in (text or "").splitlines() if TODO in line]
    if todo:
        report.add(
            "placeholder",
            f"README.md still has {len(todo)} {TODO} line(s), e.g. '{todo[0][:80]}'",
            f"write what each {TODO} line asks for, and delete the marker",
        )


def _check_attempts_tag(
    tag: str | None, single: bool, several: list[str], report: CheckReport
) -> None:
    if tag is None:
        report.add(
            "metadata",
            "metadata.yaml has no tags.system.attempts",
            'set it to "2+" (several attempts per instance, one chosen) or "1"',
        )
    elif several and tag == "1":
        report.add(
            "checklist_contradiction",
            "metadata.yaml says tags.system.attempts: 1 but some instances have several attempts",
            'set tags.system.attempts to "2+"',
            several,
        )
    elif single and tag != "1":
        report.add(
            "checklist_contradiction",
            f"metadata.yaml says tags.system.attempts: {tag} but every instance has one attempt",
            'set tags.system.attempts to "1"',
        )
