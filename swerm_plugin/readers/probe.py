"""Opening a file once to tell a JSON document from JSON Lines, with errors that name the file,
the line and what went wrong.

Every built-in reader goes through :func:`probe`, so bad bytes (an empty file, a binary file,
non-UTF-8 text, truncated or malformed JSON) all end as one :class:`TrajectoryFormatError`.
JSON Lines are streamed one line at a time (:func:`swerm_plugin.jsonl.iter_jsonl`): memory stays
bounded by the largest record, whatever the file size. A torn last line is a record still being
written (the run is alive): it is skipped with a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

import orjson

from swerm_plugin.errors import TrajectoryFormatError
from swerm_plugin.jsonl import BOM, OnBadLine, iter_jsonl, json_problem, loads

#: Bytes read to decide whether a file is text at all.
HEAD_BYTES = 64 * 1024
T = TypeVar("T")


class JsonSource:
    """One file, probed: a single JSON document, or JSON Lines with the first record parsed.

    ``first`` is the document (or the first record) so a reader can be chosen without parsing
    twice; :meth:`records` hands it over and forgets it, so a stream never holds it twice.
    """

    __slots__ = ("first", "first_line", "kind", "on_bad_line", "path")

    def __init__(
        self, path: Path, kind: Literal["document", "lines"], first: Any, first_line: int
    ) -> None:
        self.path = path
        self.kind = kind
        self.first = first
        self.first_line = first_line
        #: When set, a malformed JSON Lines record goes here and reading goes on.
        self.on_bad_line: OnBadLine | None = None

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
        yield from iter_jsonl(
            self.path, torn_tail="skip", on_bad_line=self.on_bad_line, error=TrajectoryFormatError
        )

    def convert(self, make: Callable[[], T]) -> T | None:
        """``make()`` for one record; when :attr:`on_bad_line` is set, a record that is not
        readable is reported there and skipped (``None``), so the good records are kept."""
        try:
            return make()
        except TrajectoryFormatError as exc:
            if self.on_bad_line is None:
                raise
            self.on_bad_line(exc)
            return None


def _error(
    path: Path, problem: str, *, line: int | None = None, expected: str
) -> TrajectoryFormatError:
    return TrajectoryFormatError(path, problem, line=line, expected=expected)


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
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        return loads(data)
    except orjson.JSONDecodeError as exc:
        problem, line = json_problem(exc, data)
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
            if line_no == 1 and first_raw.startswith(BOM):
                first_raw = first_raw[len(BOM) :]
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


class ParsedSource(JsonSource):
    """A :class:`JsonSource` whose records are already parsed (a request body, an in-memory
    document): ``path`` only names it in error messages, nothing is read from a file."""

    __slots__ = ("_rest",)

    def __init__(self, name: str | Path, records: list[tuple[int, Any]]) -> None:
        line, first = records[0]
        super().__init__(Path(name), "lines" if len(records) > 1 else "document", first, line)
        self._rest = records[1:]

    def records(self) -> Iterator[tuple[int, Any]]:
        first, self.first = self.first, None
        rest, self._rest = self._rest, []
        yield self.first_line, first
        yield from rest


def probe_bytes(data: bytes, name: str | Path) -> ParsedSource:
    """:func:`probe` for bytes in memory: one JSON document, or JSON Lines (each line parsed,
    a bad one named by its line). ``name`` stands for the file in error messages."""
    path = Path(name)
    _check_text(path, data[:HEAD_BYTES])
    lines = [(n, raw) for n, raw in enumerate(data.splitlines(), 1) if raw.strip()]
    if not lines:
        raise _error(path, "the body holds only whitespace", expected="JSON")
    if len(lines) > 1:
        try:
            loads(lines[0][1].removeprefix(BOM))
        except orjson.JSONDecodeError:
            pass  # not one value per line: a pretty-printed document
        else:
            return ParsedSource(
                path, [(n, parse_document(path, raw, first_line=n)) for n, raw in lines]
            )
    return ParsedSource(path, [(1, parse_document(path, data))])
