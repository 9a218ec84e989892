"""JSON and JSON Lines input with errors that name the file, the line and what went wrong.

Every built-in reader goes through :func:`probe`, so bad bytes (an empty file, a binary file,
non-UTF-8 text, truncated or malformed JSON) all end as one :class:`TrajectoryFormatError`.
JSON Lines are streamed one line at a time: memory stays bounded by the largest record, whatever
the file size. A last line without its newline that does not parse is a record still being
written (the run is alive): it is skipped with a :class:`TruncatedRecordWarning`.
"""

from __future__ import annotations

import codecs
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import msgspec
import orjson

from swerm_plugin.adapters.base import TrajectoryFormatError

#: Bytes read to decide whether a file is text at all.
HEAD_BYTES = 64 * 1024

_BOM = codecs.BOM_UTF8


_decoder = msgspec.json.Decoder()


def loads(data: bytes | str) -> Any:
    """Parse one JSON value; a failure raises ``orjson.JSONDecodeError`` with line and column.

    msgspec builds the Python objects straight from the bytes, with no intermediate document,
    so a record's peak memory is about its bytes plus its objects (orjson's is a third more).
    The rare failure is parsed again by orjson, whose error says where the problem is.
    """
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return orjson.loads(data)


class TruncatedRecordWarning(UserWarning):
    """The last line of a JSON Lines file was cut off (the writer is still running)."""


class JsonSource:
    """One file, probed: a single JSON document, or JSON Lines with the first record parsed.

    ``first`` is the document (or the first record) so a reader can be chosen without parsing
    twice; :meth:`records` hands it over and forgets it, so a stream never holds it twice.
    """

    __slots__ = ("first", "first_line", "kind", "path")

    def __init__(
        self, path: Path, kind: Literal["document", "lines"], first: Any, first_line: int
    ) -> None:
        self.path = path
        self.kind = kind
        self.first = first
        self.first_line = first_line

    @property
    def is_lines(self) -> bool:
        return self.kind == "lines"

    def records(self) -> Iterator[tuple[int, Any]]:
        """``(line number, value)`` for each record; a document is one record at its first line."""
        first, self.first = self.first, None
        if self.kind == "document":
            yield self.first_line, first
            return
        del first  # the stream below parses line one again rather than keep a second copy
        yield from iter_lines(self.path)


def _error(
    path: Path, problem: str, *, line: int | None = None, expected: str
) -> TrajectoryFormatError:
    return TrajectoryFormatError(path, problem, line=line, expected=expected)


def _decode_problem(exc: orjson.JSONDecodeError, data: bytes) -> tuple[str, int | None]:
    """A readable problem and the 1-based line (within ``data``) for a parse failure."""
    if "UTF-8" in exc.msg:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            line = data.count(b"\n", 0, bad.start) + 1
            return f"bytes that are not valid UTF-8 at byte {bad.start}", line
        return "text that is not valid UTF-8 (unpaired surrogate)", None
    problem = f"invalid JSON: {exc.msg} (column {exc.colno})"
    if exc.msg.startswith("unexpected end of data"):
        problem = "truncated JSON: the data ends in the middle of a value"
    return problem, exc.lineno


def _check_text(path: Path, head: bytes) -> None:
    if not head:
        raise _error(path, "empty file (0 bytes)", expected="a JSON document or JSON Lines")
    if b"\x00" in head:
        raise _error(
            path,
            "binary file (it contains NUL bytes)",
            expected="UTF-8 JSON text; is this a compressed or binary file?",
        )


def parse_document(path: Path, data: bytes, *, first_line: int = 1) -> Any:
    """Parse ``data`` (the whole file, or one line of it) as one JSON value."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        return loads(data)
    except orjson.JSONDecodeError as exc:
        problem, line = _decode_problem(exc, data)
        at = None if line is None else first_line + line - 1
        raise _error(path, problem, line=at, expected="valid UTF-8 JSON") from None


def probe(path: str | Path) -> JsonSource:
    """Open ``path`` and decide whether it is one JSON document or JSON Lines.

    JSON Lines: the first non-blank line parses on its own and more lines follow. Anything else
    is parsed as a single document (pretty-printed ``.traj`` files, ``preds.json``, ...).
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            _check_text(path, fh.read(HEAD_BYTES))
            fh.seek(0)
            line_no = 0
            first_raw = b""
            for raw in fh:
                line_no += 1
                if not raw.isspace():
                    first_raw = raw
                    break
            if not first_raw:
                raise _error(path, "the file holds only whitespace", expected="JSON")
            if line_no == 1 and first_raw.startswith(_BOM):
                first_raw = first_raw[len(_BOM) :]
            try:
                first = loads(first_raw)
            except orjson.JSONDecodeError:
                pass  # not one value per line: parse the whole file as a document below
            else:
                if any(not raw.isspace() for raw in fh):
                    return JsonSource(path, "lines", first, line_no)
                return JsonSource(path, "document", first, line_no)
        data = path.read_bytes()
    except OSError as exc:
        raise TrajectoryFormatError(
            path, f"cannot be read: {exc.strerror or exc}", expected="a readable file"
        ) from None
    return JsonSource(path, "document", parse_document(path, data), 1)


def iter_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """Stream ``(line number, value)`` from a JSON Lines file; blank lines are skipped."""
    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh, 1):
            if raw.isspace():
                continue
            try:
                value = loads(raw[3:] if line_no == 1 and raw.startswith(_BOM) else raw)
            except orjson.JSONDecodeError as exc:
                if not raw.endswith(b"\n"):
                    warnings.warn(
                        f"{path}, line {line_no}: skipped a truncated last record "
                        f"({len(raw)} bytes, no final newline; is the run still writing?)",
                        TruncatedRecordWarning,
                        stacklevel=2,
                    )
                    return
                problem, _ = _decode_problem(exc, raw)
                raise _error(
                    path, problem, line=line_no, expected="one JSON value per line"
                ) from None
            del raw  # the parsed value is all a reader needs; do not keep the bytes too
            yield line_no, value
            # Unbind before reading on: otherwise this record stays alive while the next one is
            # read and parsed, and peak memory doubles.
            del value
