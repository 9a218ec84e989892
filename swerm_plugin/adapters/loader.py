"""Find trajectory files, pick the reader for each by its content, and read them.

A file is offered to every registered reader in order (third-party plugins first): a plain
:class:`TrajectoryAdapter` through ``sniff(path, head)``, a built-in JSON reader through the
once-parsed content. A folder is walked in name order; a folder a reader claims as a whole (an
OpenHands SDK conversation) is one source. Inside a walk, files named like trajectories
(``*.traj``, ``*.traj.json``, ``output*.jsonl``, ``events.jsonl``, ``preds.json``) must be
readable, while other files (logs, configs, reports) are skipped when no reader wants them.
Hidden files and OpenHands' evaluation results (``*.swebench_eval.jsonl``) are not read.
Copies of the same attempts are dropped: predictions files when the walk found trajectories,
``output.jsonl`` beside ``output.critic_attempt_<k>.jsonl``, and SWE-agent's
``attempt_<n>/<iid>.traj`` beside the ``<iid>.traj`` that holds every attempt.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from swerm_plugin.adapters._common import JsonAdapter, default_run_id
from swerm_plugin.adapters._json import HEAD_BYTES, JsonSource, probe
from swerm_plugin.adapters.base import TrajectoryAdapter, TrajectoryFormatError
from swerm_plugin.trajectory import Trajectory

log = logging.getLogger("swerm.adapters")

PREDICTIONS_FORMAT = "swebench-predictions"
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
    from swerm_plugin.plugins import get_hooks

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


class _Detection:
    """The reader chosen for one file, with the probe it was chosen on (JSON readers only)."""

    def __init__(self, adapter: TrajectoryAdapter | None, source: JsonSource | None) -> None:
        self.adapter = adapter
        self.source = source


def _detect_file(path: Path, adapters: Sequence[TrajectoryAdapter]) -> _Detection:
    """Offer ``path`` to each reader in order; a JSON problem is raised only if none claims it."""
    head = _read_head(path)
    source: JsonSource | None = None
    problem: TrajectoryFormatError | None = None
    probed = False
    for adapter in adapters:
        if isinstance(adapter, JsonAdapter):
            if not probed:
                probed = True
                try:
                    source = probe(path)
                except TrajectoryFormatError as exc:
                    problem = exc
            if source is not None and adapter.accepts(source.first, lines=source.is_lines):
                return _Detection(adapter, source)
        elif adapter.sniff(path, head):
            return _Detection(adapter, None)
    if problem is not None:
        raise problem
    return _Detection(None, source)


def _unknown(path: Path, adapters: Sequence[TrajectoryAdapter]) -> TrajectoryFormatError:
    return TrajectoryFormatError(
        path,
        "unknown trajectory format",
        expected=f"one of the formats tried: {_formats_tried(adapters)}",
    )


def find_sources(
    path: str | Path, *, adapters: Sequence[TrajectoryAdapter] | None = None
) -> list[Source]:
    """What :func:`load` would read under ``path``, with the reader chosen for each."""
    root = Path(path)
    readers = list(adapters) if adapters is not None else registered_adapters()
    if not root.exists():
        raise TrajectoryFormatError(root, "no such file or folder", expected="an existing path")
    if not root.is_dir():
        detection = _detect_file(root, readers)
        if detection.adapter is None:
            raise _unknown(root, readers)
        return [Source(root, detection.adapter)]
    found: list[Source] = []
    _walk(root, readers, found)
    return _drop_copies(found)


def _claiming(folder: Path, adapters: Sequence[TrajectoryAdapter]) -> TrajectoryAdapter | None:
    return next((a for a in adapters if a.sniff_dir(folder)), None)


def _walk(folder: Path, adapters: Sequence[TrajectoryAdapter], found: list[Source]) -> None:
    whole = _claiming(folder, adapters)
    if whole is not None:
        found.append(Source(folder, whole))
        return
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or _EVALUATION_RESULTS.fullmatch(entry.name):
            continue  # hidden files, temp files of an atomic write, evaluation results
        if entry.is_dir() and not entry.is_symlink():
            _walk(entry, adapters, found)
        elif entry.is_file():
            if _TRAJECTORY_NAME.fullmatch(entry.name):
                detection = _detect_file(entry, adapters)
                if detection.adapter is None:
                    raise _unknown(entry, adapters)
                found.append(Source(entry, detection.adapter))
                continue
            try:
                detection = _detect_file(entry, adapters)
            except TrajectoryFormatError as exc:
                log.debug("skipping %s: %s", entry, exc)
                continue
            if detection.adapter is not None:
                found.append(Source(entry, detection.adapter))


def _drop_copies(found: list[Source]) -> list[Source]:
    paths = {source.path for source in found}
    has_trajectories = any(source.format != PREDICTIONS_FORMAT for source in found)
    critic_folders = {s.path.parent for s in found if _CRITIC_ATTEMPT_FILE.fullmatch(s.path.name)}
    kept = []
    for source in found:
        path = source.path
        if has_trajectories and source.format == PREDICTIONS_FORMAT:
            reason = "predictions duplicate the trajectories found beside them"
        elif path.name == "output.jsonl" and path.parent in critic_folders:
            reason = "output.jsonl repeats the records of output.critic_attempt_<k>.jsonl"
        elif _ATTEMPT_DIR.fullmatch(path.parent.name) and path.parent.parent / path.name in paths:
            reason = "the retry agent's top-level .traj holds every attempt"
        else:
            kept.append(source)
            continue
        log.debug("skipping %s: %s", path, reason)
    return kept


def _read(source: Source, detection: _Detection | None) -> Iterator[Trajectory]:
    if detection is not None and detection.source is not None:
        assert isinstance(source.adapter, JsonAdapter)
        return source.adapter.read_source(detection.source)
    return source.adapter.read(source.path)


def load(
    path: str | Path,
    *,
    run_id: str | None = None,
    adapters: Sequence[TrajectoryAdapter] | None = None,
) -> Iterator[Trajectory]:
    """Yield every trajectory in a file or under a folder, detecting each format by content.

    :param run_id: set as every trajectory's ``run_id``; by default it is what the file says
        (OpenHands ``metadata.eval_output_dir``), else the name of the run folder holding the
        file (``<run>/<iid>/<iid>.traj`` → ``<run>``).
    :param adapters: readers to use instead of the registered ones.
    :raises TrajectoryFormatError: a file is malformed, or in no known format, or a folder
        holds no trajectories; the message names the file, line or record and the field.
    """
    root = Path(path)
    readers = list(adapters) if adapters is not None else registered_adapters()
    pairs: list[tuple[Source, _Detection | None]]
    if root.is_file():
        # Detect and read with one parse of the file.
        detection = _detect_file(root, readers)
        if detection.adapter is None:
            raise _unknown(root, readers)
        pairs = [(Source(root, detection.adapter), detection)]
    else:
        sources = find_sources(root, adapters=readers)
        if not sources:
            raise TrajectoryFormatError(
                root,
                "no trajectory files found in this folder",
                expected=f"files in one of: {_formats_tried(readers)}",
            )
        pairs = [(source, None) for source in sources]
    return _load(pairs, run_id)


def _load(
    pairs: list[tuple[Source, _Detection | None]], run_id: str | None
) -> Iterator[Trajectory]:
    for source, detection in pairs:
        for trajectory in _read(source, detection):
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
