"""``logs/<iid>/``: the SWE-bench harness's per-instance log folders, copied from a run folder.

The harness writes ``logs/run_evaluation/<run_id>/<model>/<iid>/`` with ``patch.diff``,
``test_output.txt``, ``report.json``, ``eval.sh`` and ``run_instance.log``; any folder above an
instance's is accepted, as long as each instance has one log folder under it. A log folder
whose ``patch.diff`` is not the submitted patch belongs to another predictions file and is not
copied. Instances submitted with an empty patch have no log (the harness skips them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from swerm_plugin.errors import SubmissionError
from swerm_plugin.submission.layout import LOG_FILES, SKIPPED_LOG_ENTRIES


def same_patch(a: str, b: str) -> bool:
    """Two patches are the same text (a final newline aside)."""
    return a.rstrip("\n") == b.rstrip("\n")


def find_instance_logs(root: Path, instance_ids: Collection[str]) -> dict[str, Path]:
    """Each instance's log folder under ``root``: a folder named by the instance id that holds
    one of the harness's log files.

    :raises SubmissionError: an instance has several log folders under ``root``.
    """
    wanted = set(instance_ids)
    found: dict[str, list[Path]] = {}
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d not in SKIPPED_LOG_ENTRIES)
        name = Path(folder).name
        if name in wanted and any(f in files for f in LOG_FILES):
            found.setdefault(name, []).append(Path(folder))
    several = sorted(iid for iid, paths in found.items() if len(paths) > 1)
    if several:
        first = found[several[0]]
        raise SubmissionError(
            f"{root}: {len(several)} instance(s) have several log folders, e.g. {several[0]} in "
            f"{first[0]} and {first[1]}",
            hint="pass the folder of one evaluation: logs/run_evaluation/<run_id>/<model>",
        )
    return {iid: paths[0] for iid, paths in found.items()}


@dataclass
class LogsOutcome:
    """Which instances' logs were copied, and which could not be."""

    copied: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)


def copy_logs(root: Path, target: Path, patches: Mapping[str, str]) -> LogsOutcome:
    """Copy the log folder of every instance submitted with a non-empty patch."""
    found = find_instance_logs(root, patches)
    outcome = LogsOutcome()
    for iid, patch in sorted(patches.items()):
        if not patch.strip():
            continue
        source = found.get(iid)
        if source is None:
            outcome.missing.append(iid)
            continue
        diff = source / "patch.diff"
        if diff.is_file() and not same_patch(diff.read_text(errors="replace"), patch):
            outcome.mismatched.append(iid)
            continue
        shutil.copytree(source, target / iid, ignore=shutil.ignore_patterns(*SKIPPED_LOG_ENTRIES))
        outcome.copied.append(iid)
    return outcome
