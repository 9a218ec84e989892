"""Each attempt's trajectory, copied into ``trajs/<iid>/`` in its own framework's format.

Where an attempt came from (``Trajectory.source_path`` and ``source_record``) says how it is
extracted, always faithfully:

* a file that holds this instance only (mini-swe-agent ``.traj.json``, SWE-agent ``.traj``,
  including the retry agent's file with every attempt, an SDK ``events.jsonl``): the whole file,
  byte for byte;
* a conversation folder (OpenHands SDK ``<conversation>/events/``): the whole folder;
* one line of a JSON Lines file that holds many instances (OpenHands ``output.jsonl``, a
  ``preds.jsonl``): that line's bytes, as a one-line ``.jsonl`` file;
* one element of a JSON document that holds many instances (a ``preds.json``): that element,
  re-serialized as indented JSON (the same value; a document's element has no bytes of its own).

A file with many records is read once, however many instances come from it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson

from swerm_plugin.errors import SubmissionError
from swerm_plugin.readers.loader import PREDICTIONS_SOURCE
from swerm_plugin.submission.layout import slug, trajectory_suffix

if TYPE_CHECKING:
    from swerm_plugin.decisions.rerank import TaskDecision
    from swerm_plugin.decisions.runs import Run
    from swerm_plugin.model import Trajectory

Kind = Literal["file", "folder", "line", "element", "none"]


@dataclass(frozen=True)
class Origin:
    """Where one attempt's own bytes are: a whole file or folder, a line, or an element."""

    kind: Kind
    path: Path | None = None
    record: int | str | None = None

    @property
    def suffix(self) -> str:
        if self.kind == "line":
            return ".jsonl"
        if self.kind == "element":
            return ".json"
        return trajectory_suffix(self.path) if self.kind == "file" and self.path else ""

    def describe(self, name: str) -> str:
        """How the copy was made, for the decision record (``name``: the source, relative)."""
        return {
            "file": f"the whole file {name}, byte for byte",
            "folder": f"the whole folder {name}, byte for byte",
            "line": f"line {self.record} of {name}, byte for byte",
            "element": f"record {self.record!r} of {name}, re-serialized as JSON",
            "none": "no source file: nothing to copy",
        }[self.kind]


@dataclass
class AttemptFile:
    """One candidate of a task and where its trajectory was put."""

    rank: int
    trajectory: Trajectory
    file: str | None  # relative to trajs/<iid>/
    extraction: str
    source_file: str | None  # relative to its run

    @property
    def is_trace(self) -> bool:
        """A reasoning trace, not only a predictions record (or nothing)."""
        return self.file is not None and self.trajectory.source != PREDICTIONS_SOURCE


class SourceIndex:
    """What the runs' files hold: the instances of each source, and each file's JSON kind."""

    def __init__(self, runs: Sequence[Run]) -> None:
        self._instances: dict[str, set[str]] = {}
        self._roots = {run.run_id: run.path for run in runs}
        self._kinds: dict[Path, str] = {}
        for run in runs:
            for trajectory in run.trajectories:
                if trajectory.source_path is not None:
                    held = self._instances.setdefault(trajectory.source_path, set())
                    held.add(trajectory.instance_id)

    def origin(self, trajectory: Trajectory) -> Origin:
        if trajectory.source_path is None:
            return Origin("none")
        path = Path(trajectory.source_path)
        if path.is_dir():
            return Origin("folder", path)
        record = trajectory.source_record
        if record is None:
            return Origin("file", path)
        if self._kind(path) == "lines" and isinstance(record, int):
            return Origin("line", path, record)
        if len(self._instances.get(trajectory.source_path, ())) <= 1:
            return Origin("file", path)  # e.g. the retry agent's file: every attempt of one task
        return Origin("element", path, record)

    def relative(self, trajectory: Trajectory) -> str | None:
        """The source's path inside its run (no machine-specific prefix)."""
        if trajectory.source_path is None:
            return None
        source = Path(trajectory.source_path).resolve()
        root = self._roots.get(trajectory.run_id or "")
        if root is None or not Path(root).is_dir():
            return source.name
        return Path(os.path.relpath(source, Path(root).resolve())).as_posix()

    def _kind(self, path: Path) -> str:
        if path not in self._kinds:
            from swerm_plugin.readers.probe import probe

            self._kinds[path] = probe(path).kind
        return self._kinds[path]


@dataclass
class TrajsWriter:
    """Lays out every task's attempts under ``trajs/``, then copies them in one pass per file."""

    root: Path
    index: SourceIndex
    _pending: list[tuple[Origin, Path]] = field(default_factory=list)

    def place(self, task: TaskDecision) -> list[AttemptFile]:
        """Where each of a task's candidates goes (best-ranked first); nothing is copied yet."""
        iid = task.group.instance_id
        placed: dict[Origin, str] = {}
        files = []
        for rank, index in enumerate(task.ranking):
            trajectory = task.group.candidates[index]
            origin = self.index.origin(trajectory)
            source = self.index.relative(trajectory) or ""
            name: str | None = placed.get(origin)
            extraction = origin.describe(source)
            if origin.kind == "none":
                name = None
            elif name is not None:
                extraction = f"attempt {trajectory.attempt} inside {name} (the same source file)"
            else:
                run = slug(trajectory.run_id or "run")
                folder = "" if rank == 0 else f"rank{rank}.{run}.attempt{trajectory.attempt}/"
                name = placed[origin] = f"{folder}{slug(iid)}{origin.suffix}"
                self._pending.append((origin, self.root / slug(iid) / name))
            files.append(AttemptFile(rank, trajectory, name, extraction, source or None))
        return files

    def write(self) -> None:
        """Copy every placed attempt; files with many records are read once each."""
        lines: dict[Path, dict[int, list[Path]]] = {}
        elements: dict[Path, list[tuple[int | str, Path]]] = {}
        for origin, target in self._pending:
            assert origin.path is not None
            target.parent.mkdir(parents=True, exist_ok=True)
            if origin.kind == "file":
                shutil.copyfile(origin.path, target)
            elif origin.kind == "folder":
                shutil.copytree(origin.path, target)
            elif origin.kind == "line":
                assert isinstance(origin.record, int)
                lines.setdefault(origin.path, {}).setdefault(origin.record, []).append(target)
            else:
                assert origin.record is not None
                elements.setdefault(origin.path, []).append((origin.record, target))
        for path, wanted in lines.items():
            _copy_lines(path, wanted)
        for path, records in elements.items():
            _copy_elements(path, records)
        self._pending.clear()


def _copy_lines(path: Path, wanted: dict[int, list[Path]]) -> None:
    found = set()
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            for target in wanted.get(number, ()):
                target.write_bytes(raw)
                found.add(number)
    missing = sorted(set(wanted) - found)
    if missing:
        raise SubmissionError(
            f"{path} has no line {missing[0]} any more: the file changed while the submission "
            "was written; run the command again"
        )


def _copy_elements(path: Path, records: list[tuple[int | str, Path]]) -> None:
    from swerm_plugin.readers.probe import probe

    document = probe(path).first
    for record, target in records:
        value = _element(document, record)
        if value is None:
            raise SubmissionError(
                f"{path} has no record {record!r} any more; run the command again"
            )
        target.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")


def _element(document: Any, record: int | str) -> Any:
    if isinstance(document, list) and isinstance(record, int) and 0 <= record < len(document):
        return document[record]
    if isinstance(document, dict) and isinstance(record, str):
        return document.get(record)
    return None
