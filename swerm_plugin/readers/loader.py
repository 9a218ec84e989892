"""Find trajectory files, pick the reader for each by its content, and read them.

A file is offered to every registered reader in order (third-party plugins first): a plain
:class:`TrajectoryAdapter` through ``sniff(path, head)``, a :class:`JsonReader` through the
once-parsed content, which the chosen reader then reads: no file is parsed twice. A folder is
walked in name order; a folder a reader claims as a whole (an OpenHands SDK conversation) is one
source. Inside a walk, files named like trajectories (``*.traj``, ``*.traj.json``,
``output*.jsonl``, ``events.jsonl``, ``preds.json``) must be readable, while other files (logs,
configs, reports, labels) are ignored when no reader wants them. Hidden files and OpenHands'
evaluation results (``*.swebench_eval.jsonl``) are not read. Copies of the same attempts are
dropped: predictions files when the walk found trajectories, ``output.jsonl`` beside
``output.critic_attempt_<k>.jsonl``, and SWE-agent's ``attempt_<n>/<iid>.traj`` beside the
``<iid>.traj`` that holds every attempt.

With ``on_error`` a bad file or record is handed to it and reading goes on (the caller reports
it); without, the first one raises.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from swerm_plugin.errors import InputFormatError, TrajectoryFormatError
from swerm_plugin.model import Trajectory
from swerm_plugin.readers.base import JsonReader, TrajectoryAdapter
from swerm_plugin.readers.probe import HEAD_BYTES, JsonSource, ParsedSource, probe
from swerm_plugin.readers.text import default_run_id

log = logging.getLogger("swerm.readers")

PREDICTIONS_FORMAT = "swebench-predictions"
#: ``Trajectory.source`` of an attempt read from a predictions file: a patch, no steps.
PREDICTIONS_SOURCE = "swebench/predictions"
#: Receives each file or record that could not be read, when the caller reads past them.
OnError = Callable[[InputFormatError], None]

_TRAJECTORY_NAME = re.compile(
    r".+\.traj|.+\.traj\.json|output(\.critic_attempt_\d+)?\.jsonl|events\.jsonl|"
    r"(all_)?preds\.jsonl?"
)
# OpenHands' evaluation results: the records again, with empty histories and test reports.
_EVALUATION_RESULTS = re.compile(r".+\.swebench_eval\.jsonl")
_CRITIC_ATTEMPT_FILE = re.compile(r"output\.critic_attempt_\d+\.jsonl")
_ATTEMPT_DIR = re.compile(r"attempt_\d+")


@dataclass(frozen=True)
class Source:
    """One readable thing found under a path: a file or a folder, and the reader for it."""

    path: Path
    adapter: TrajectoryAdapter

    @property
    def format(self) -> str:
        return self.adapter.name


def registered_adapters() -> list[TrajectoryAdapter]:
    """The readers registered through ``swerm_register_adapters``, in detection order."""
    from swerm_plugin.plugins.manager import get_hooks

    return get_hooks().adapters()


def _formats_tried(adapters: Sequence[TrajectoryAdapter]) -> str:
    described = []
    for adapter in adapters:
        description = getattr(adapter, "description", "")
        described.append(f"{adapter.name} ({description})" if description else adapter.name)
    return "; ".join(described) or "none (no reader is registered)"


def _read_head(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(HEAD_BYTES)
    except OSError as exc:
        raise TrajectoryFormatError(
            path, f"cannot be read: {exc.strerror or exc}", expected="a readable file"
        ) from None


@dataclass
class _Detected:
    """The reader chosen for one file, with the probe it was chosen on (JSON readers only)."""

    adapter: TrajectoryAdapter | None
    source: JsonSource | None = None

    def read(self, path: Path) -> Iterator[Trajectory]:
        assert self.adapter is not None
        if self.source is not None:
            assert isinstance(self.adapter, JsonReader)
            return self.adapter.read_source(self.source)
        return self.adapter.read(path)


def _detect(path: Path, adapters: Sequence[TrajectoryAdapter]) -> _Detected:
    """Offer ``path`` to each reader in order; a JSON problem is raised only if none claims it."""
    head = _read_head(path)
    source: JsonSource | None = None
    problem: TrajectoryFormatError | None = None
    probed = False
    for adapter in adapters:
        if isinstance(adapter, JsonReader):
            if not probed:
                probed = True
                try:
                    source = probe(path)
                except TrajectoryFormatError as exc:
                    problem = exc
            if source is not None and adapter.accepts_source(source):
                return _Detected(adapter, source)
        elif adapter.sniff(path, head):
            return _Detected(adapter)
    if problem is not None:
        raise problem
    return _Detected(None)


def _unknown(path: Path, adapters: Sequence[TrajectoryAdapter]) -> TrajectoryFormatError:
    return TrajectoryFormatError(
        path,
        "unknown trajectory format",
        expected=f"one of the formats tried: {_formats_tried(adapters)}",
    )


@dataclass(frozen=True)
class _Entry:
    """A file (or claimed folder) found by a walk, before it is read."""

    path: Path
    folder_reader: TrajectoryAdapter | None = None

    @property
    def must_read(self) -> bool:
        """Named like a trajectory file: an unknown format is an error, not a file to ignore."""
        return self.folder_reader is not None or bool(_TRAJECTORY_NAME.fullmatch(self.path.name))


def _walk(folder: Path, adapters: Sequence[TrajectoryAdapter]) -> Iterator[_Entry]:
    whole = next((a for a in adapters if a.sniff_dir(folder)), None)
    if whole is not None:
        yield _Entry(folder, whole)
        return
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or _EVALUATION_RESULTS.fullmatch(entry.name):
            continue  # hidden files, temp files of an atomic write, evaluation results
        if entry.is_dir() and not entry.is_symlink():
            yield from _walk(entry, adapters)
        elif entry.is_file():
            yield _Entry(entry)


def _drop_copies_by_name(entries: list[_Entry]) -> list[_Entry]:
    paths = {entry.path for entry in entries}
    critic_folders = {e.path.parent for e in entries if _CRITIC_ATTEMPT_FILE.fullmatch(e.path.name)}
    kept = []
    for entry in entries:
        path = entry.path
        if path.name == "output.jsonl" and path.parent in critic_folders:
            reason = "output.jsonl repeats the records of output.critic_attempt_<k>.jsonl"
        elif _ATTEMPT_DIR.fullmatch(path.parent.name) and path.parent.parent / path.name in paths:
            reason = "the retry agent's top-level .traj holds every attempt"
        else:
            kept.append(entry)
            continue
        log.debug("skipping %s: %s", path, reason)
    return kept


def _entries(root: Path, adapters: Sequence[TrajectoryAdapter]) -> list[_Entry]:
    if not root.exists():
        raise TrajectoryFormatError(root, "no such file or folder", expected="an existing path")
    if root.is_dir():
        return _drop_copies_by_name(list(_walk(root, adapters)))
    if not root.is_file():  # a FIFO or a device: reading it would hang or read nothing
        raise TrajectoryFormatError(
            root, "not a regular file (a pipe or a device)", expected="a regular file or a folder"
        )
    return [_Entry(root, None)]


def _detect_entry(
    entry: _Entry, adapters: Sequence[TrajectoryAdapter], *, single: bool
) -> _Detected | None:
    """The reader for one entry; ``None`` for a file in a walk that no reader wants."""
    if entry.folder_reader is not None:
        return _Detected(entry.folder_reader)
    try:
        detected = _detect(entry.path, adapters)
    except TrajectoryFormatError:
        if single or entry.must_read:
            raise
        log.debug("ignoring %s: not a trajectory file", entry.path)
        return None
    if detected.adapter is None:
        if single or entry.must_read:
            raise _unknown(entry.path, adapters)
        log.debug("ignoring %s: no reader recognises it", entry.path)
        return None
    return detected


def _sources(
    root: Path, adapters: Sequence[TrajectoryAdapter], on_error: OnError | None
) -> Iterator[tuple[Source, _Detected]]:
    """Each readable source under ``root`` with its detection, in walk order."""
    single = not root.is_dir()
    for entry in _entries(root, adapters):
        try:
            detected = _detect_entry(entry, adapters, single=single)
        except TrajectoryFormatError as exc:
            if on_error is None:
                raise
            on_error(exc)
            continue
        if detected is not None:
            assert detected.adapter is not None
            yield Source(entry.path, detected.adapter), detected


def find_sources(
    path: str | Path,
    *,
    adapters: Sequence[TrajectoryAdapter] | None = None,
    on_error: OnError | None = None,
) -> list[Source]:
    """What :func:`load` would read under ``path``, with the reader chosen for each; with
    ``on_error``, a file that no reader can take is handed to it and the search goes on."""
    readers = list(adapters) if adapters is not None else registered_adapters()
    found = [source for source, _ in _sources(Path(path), readers, on_error)]
    if any(source.format != PREDICTIONS_FORMAT for source in found):
        found = [source for source in found if source.format != PREDICTIONS_FORMAT]
    return found


def read_sources(
    path: str | Path,
    *,
    run_id: str | None = None,
    adapters: Sequence[TrajectoryAdapter] | None = None,
    on_error: OnError | None = None,
) -> Iterator[tuple[Source, Trajectory]]:
    """Every trajectory under ``path`` with the source it came from (see :func:`load`)."""
    root = Path(path)
    readers = list(adapters) if adapters is not None else registered_adapters()
    held: list[tuple[Source, Trajectory]] = []  # predictions, until we know no trajectory came
    seen_trajectories = False
    found_any = False
    for source, detected in _sources(root, readers, on_error):
        found_any = True
        if detected.source is not None:
            detected.source.on_bad_line = on_error
        is_predictions = source.format == PREDICTIONS_FORMAT and root.is_dir()
        if is_predictions and seen_trajectories:
            continue
        for trajectory in _read_checked(source, detected, run_id, on_error):
            if is_predictions and not seen_trajectories:
                held.append((source, trajectory))
            elif not is_predictions:
                seen_trajectories = True
                yield source, trajectory
    if not found_any and root.is_dir():
        raise TrajectoryFormatError(
            root,
            "no trajectory files found in this folder",
            expected=f"files in one of: {_formats_tried(readers)}",
        )
    if not seen_trajectories:
        yield from held
    elif held:
        log.debug("skipping predictions files: they duplicate the trajectories beside them")


def _read_checked(
    source: Source, detected: _Detected, run_id: str | None, on_error: OnError | None
) -> Iterator[Trajectory]:
    try:
        for trajectory in detected.read(source.path):
            if not isinstance(trajectory, Trajectory):
                raise TypeError(
                    f"reader {source.adapter.name!r} yielded {type(trajectory).__name__} "
                    f"for {source.path}; readers must yield Trajectory objects"
                )
            if run_id is not None:
                trajectory.run_id = run_id
            elif trajectory.run_id is None:
                trajectory.run_id = default_run_id(source.path, trajectory.instance_id)
            if trajectory.source_path is None:
                trajectory.source_path = str(source.path)
            trajectory.metadata.setdefault("reader", source.format)
            yield trajectory
    except TrajectoryFormatError as exc:
        if on_error is None:
            raise
        on_error(exc)


def load(
    path: str | Path,
    *,
    run_id: str | None = None,
    adapters: Sequence[TrajectoryAdapter] | None = None,
    on_error: OnError | None = None,
) -> Iterator[Trajectory]:
    """Yield every trajectory in a file or under a folder, detecting each format by content.

    :param run_id: set as every trajectory's ``run_id``; by default it is what the file says
        (OpenHands ``metadata.eval_output_dir``), else the name of the run folder holding the
        file (``<run>/<iid>/<iid>.traj`` → ``<run>``).
    :param adapters: readers to use instead of the registered ones.
    :param on_error: receives each file or record that cannot be read, and reading goes on;
        without it the first one raises.
    :raises TrajectoryFormatError: a file is malformed, or in no known format, or a folder
        holds no trajectories; the message names the file, line or record and the field.
    """
    for _, trajectory in read_sources(path, run_id=run_id, adapters=adapters, on_error=on_error):
        yield trajectory


def detect_format(path: str | Path, *, adapters: Sequence[TrajectoryAdapter] | None = None) -> str:
    """The reader name for ``path``; for a folder, the names found, sorted and joined by ``+``.

    :raises TrajectoryFormatError: unknown format, or a folder without trajectories.
    """
    sources = find_sources(path, adapters=adapters)
    if not sources:
        raise TrajectoryFormatError(
            path, "no trajectory files found in this folder", expected="trajectory files"
        )
    return "+".join(sorted({source.format for source in sources}))


def read_parsed(
    source: ParsedSource, *, adapters: Sequence[TrajectoryAdapter] | None = None
) -> list[Trajectory]:
    """The trajectories of a document already in memory (a request body), read by the first
    registered JSON reader that accepts it: the file readers' path without a file.

    :raises TrajectoryFormatError: no JSON reader recognises it, or the chosen one finds it
        malformed (the message names ``source.path``, the record and the field).
    """
    readers = [
        a
        for a in (adapters if adapters is not None else registered_adapters())
        if isinstance(a, JsonReader)
    ]
    adapter = next((a for a in readers if a.accepts(source.first, lines=source.is_lines)), None)
    if adapter is None:
        raise _unknown(source.path, readers)
    trajectories = list(adapter.read_source(source))
    for trajectory in trajectories:
        if not isinstance(trajectory, Trajectory):
            raise TypeError(
                f"reader {adapter.name!r} yielded {type(trajectory).__name__}; readers must "
                "yield Trajectory objects"
            )
        trajectory.source_path = None  # the name stands for a request, not a file
    return trajectories
