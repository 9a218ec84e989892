"""What runs on the Ray workers: read (tasks), render (tasks), score (actors).

Nothing here imports Ray: these are the plain functions and the class that
:mod:`swerm_plugin.scale.job` hands to Ray Data. Every row carries the same columns from stage to
stage:

* ``key``: the trajectory's ``content_hash`` (or, for an input that could not be read, a key
  made from where it was and what went wrong, stable from one run to the next);
* ``status``: ``todo``, ``skipped`` (already in the output), ``error`` or ``scored``;
* ``trajectory`` / ``rendered``: pickles of the :class:`~swerm_plugin.model.Trajectory` and of its
  prompt (or error score), passed between swerm's own workers only;
* ``record``: the JSON score record (:func:`~swerm_plugin.scores.score_record`) once known.

A failure stays with its row: an unreadable file or document becomes an error record, a prompt
that cannot be rendered or scored becomes the trajectory's error score, as in ``swerm score``.
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from swerm_plugin.config import SwermConfig
from swerm_plugin.jsonl import dumps
from swerm_plugin.model import Score, Trajectory
from swerm_plugin.prompts.prompt import Prompt
from swerm_plugin.scores import score_record
from swerm_plugin.verifier import Verifier

TODO, SKIPPED, FAILED, SCORED = "todo", "skipped", "error", "scored"
COLUMNS = ("key", "status", "trajectory", "rendered", "record")
#: Prefix of the key of an input that could not be read (never a sha256 hex digest).
READ_ERROR_KEY = "read-error:"

Row = dict[str, Any]


def _row(key: str, status: str, *, trajectory: bytes = b"", record: bytes = b"") -> Row:
    return {
        "key": key,
        "status": status,
        "trajectory": trajectory,
        "rendered": b"",
        "record": record,
    }


def trajectory_row(trajectory: Trajectory, done: frozenset[str]) -> Row:
    key = trajectory.content_hash()
    if key in done:
        return _row(key, SKIPPED)
    return _row(key, TODO, trajectory=pickle.dumps(trajectory, pickle.HIGHEST_PROTOCOL))


def error_row(where: str, message: str, *, fmt: str = "", salt: bytes = b"") -> Row:
    """The error record of an input that never became a trajectory."""
    digest = hashlib.sha256(f"{where}\0{message}\0".encode() + salt).hexdigest()
    key = READ_ERROR_KEY + digest
    placeholder = Trajectory(instance_id="", source=fmt or "unreadable", source_path=where)
    record = score_record(placeholder, Score(error=f"read failed: {message}"), content_hash=key)
    return _row(key, FAILED, record=dumps(record))


def _reader(name: str) -> Any:
    from swerm_plugin.readers.loader import registered_adapters

    for adapter in registered_adapters():
        if adapter.name == name:
            return adapter
    raise LookupError(f"no reader named {name!r} is registered on this worker")


def read_source(row: Row, *, done: frozenset[str]) -> list[Row]:
    """Every trajectory of one source (a file, or a folder a reader takes whole)."""
    from swerm_plugin.errors import InputFormatError
    from swerm_plugin.readers.loader import read_sources

    path, fmt = Path(row["path"]), str(row["format"])
    problems: list[InputFormatError] = []
    rows: list[Row] = []
    try:
        for _, trajectory in read_sources(path, adapters=[_reader(fmt)], on_error=problems.append):
            rows.append(trajectory_row(trajectory, done))
    except Exception as exc:  # a reader's bug or an I/O error: this file's error, not the job's
        rows.append(error_row(str(path), f"{type(exc).__name__}: {exc}", fmt=fmt))
    rows.extend(error_row(str(path), str(problem), fmt=fmt) for problem in problems)
    return _drop_done(rows, done)


def _drop_done(rows: list[Row], done: frozenset[str]) -> list[Row]:
    """Error rows already recorded become skipped rows (their record is in the output)."""
    return [_row(r["key"], SKIPPED) if r["key"] in done else r for r in rows]


def _json_readers() -> list[Any]:
    from swerm_plugin.readers.base import JsonReader
    from swerm_plugin.readers.loader import registered_adapters

    return [a for a in registered_adapters() if isinstance(a, JsonReader)]


def _document_value(raw: Any, where: str) -> Any:
    from swerm_plugin.readers.probe import parse_document

    if isinstance(raw, str):
        raw = raw.encode()
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError(
            f"a document must be JSON text (str or bytes), not {type(raw).__name__}; "
            "serialise it with json.dumps"
        )
    return parse_document(Path(where), bytes(raw))


def read_document(
    row: Row, *, column: str, path_column: str | None, done: frozenset[str]
) -> list[Row]:
    """The trajectories of one JSON document (a row of a user's Ray Dataset)."""
    from swerm_plugin.readers.probe import JsonSource
    from swerm_plugin.readers.text import default_run_id

    raw = row[column]
    salt = raw.encode() if isinstance(raw, str) else bytes(raw) if isinstance(raw, bytes) else b""
    given = str(row[path_column]) if path_column and row.get(path_column) else None
    where = given or f"document-{hashlib.sha256(salt).hexdigest()[:16]}"
    rows: list[Row] = []
    try:
        value = _document_value(raw, where)
        readers = _json_readers()
        reader = next((r for r in readers if r.accepts(value, lines=False)), None)
        if reader is None:
            names = ", ".join(r.name for r in readers)
            raise ValueError(f"unknown trajectory format (readers tried: {names})")
        for trajectory in reader.read_source(JsonSource(Path(where), "document", value, 1)):
            if given is not None:
                trajectory.source_path = trajectory.source_path or given
                run_id = default_run_id(Path(given), trajectory.instance_id)
                trajectory.run_id = trajectory.run_id or run_id
            rows.append(trajectory_row(trajectory, done))
    except Exception as exc:  # bad JSON, unknown format, a reader's bug: this document only
        message = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        rows.append(error_row(where, message, salt=salt))
    return _drop_done(rows, done)


# --- rendering (CPU tasks) ---

_renderers: dict[str, Verifier] = {}


def _renderer(config: SwermConfig) -> Verifier:
    """One verifier per worker process and configuration: it holds the tokenizer (a local
    model's weights are loaded only when it scores, which a renderer never does)."""
    key = config.model_dump_json()
    verifier = _renderers.get(key)
    if verifier is None:
        for old in _renderers.values():
            old.close()
        _renderers.clear()
        verifier = _renderers[key] = Verifier(config)
    return verifier


def columns(table: Any) -> dict[str, list[Any]]:
    """A pyarrow table (a batch) as plain Python lists, one per column."""
    return {name: table.column(name).to_pylist() for name in table.column_names}


def table(data: Mapping[str, list[Any]]) -> Any:
    """Columns back to a pyarrow table, with explicit types (never numpy's fixed-width bytes)."""
    import pyarrow as pa

    types = {"key": pa.string(), "status": pa.string()}
    return pa.table({n: pa.array(v, types.get(n, pa.binary())) for n, v in data.items()})


def _todo(data: Mapping[str, list[Any]]) -> list[int]:
    return [i for i, status in enumerate(data["status"]) if status == TODO]


def render_batch(batch: Any, *, config: SwermConfig) -> Any:
    """Render the ``todo`` rows: ``rendered`` gets the prompt, or the error score."""
    data = columns(batch)
    todo = _todo(data)
    if todo:
        trajectories = [pickle.loads(data["trajectory"][i]) for i in todo]
        for i, item in zip(todo, _renderer(config).render_all(trajectories), strict=True):
            data["rendered"][i] = pickle.dumps(item, pickle.HIGHEST_PROTOCOL)
    return table(data)


# --- scoring (actors) ---


class ScoreActor:
    """One :class:`~swerm_plugin.verifier.Verifier` per actor; scores what the render tasks
    prepared. Ray Data builds it once per actor and calls it with batches of rows.

    :param threads: torch intra-op threads for a local model on CPU actors (Ray gives an actor
        with a fraction of a CPU a single thread otherwise).
    """

    def __init__(self, config: SwermConfig, threads: int | None = None) -> None:
        if threads:
            with contextlib.suppress(ImportError):
                import torch

                torch.set_num_threads(threads)
        with contextlib.suppress(ImportError):  # no weight-loading bars from every actor
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
        self.verifier = Verifier(config)
        load = getattr(self.verifier.backend, "load", None)
        if callable(load):
            load()  # a local model's weights: now, rather than inside the first batch

    def __call__(self, batch: Any) -> Any:
        data = columns(batch)
        todo = _todo(data)
        trajectories = [pickle.loads(data["trajectory"][i]) for i in todo]
        rendered = [pickle.loads(data["rendered"][i]) for i in todo]
        for i, record in zip(todo, self.score(trajectories, rendered), strict=True):
            data["status"][i] = SCORED
            data["record"][i] = record
        return table({name: data[name] for name in ("key", "status", "record")})

    def score(self, trajectories: list[Trajectory], rendered: list[Prompt | Score]) -> list[bytes]:
        """One JSON record per trajectory; an unexpected failure gives every one its error."""
        if not trajectories:
            return []
        try:
            scores = self.verifier.score_rendered(trajectories, rendered)
        except Exception as exc:
            if self.verifier.config.on_error == "raise":
                raise
            scores = [Score(error=f"scoring failed: {type(exc).__name__}: {exc}")] * len(
                trajectories
            )
        return [dumps(score_record(t, s)) for t, s in zip(trajectories, scores, strict=True)]


def records_of(batch: Any) -> Iterable[tuple[str, str, bytes]]:
    """``(key, status, record)`` of each row of a finished batch (a pyarrow table)."""
    data = columns(batch)
    return zip(data["key"], data["status"], data["record"], strict=True)
