"""JSON and JSON Lines, read and written one way everywhere in swerm.

Reading: :func:`loads` parses one value; :func:`iter_jsonl` streams a JSON Lines file one record
at a time (memory bounded by the largest record), with an explicit policy for a torn last line
(a line without its newline that does not parse: a writer is still running, or was killed).

Writing: :func:`atomic_open` writes a temp file in the target's folder, fsyncs it and renames it
over the target, so a reader (or a crash) never sees half a file. The new file keeps the mode of
the file it replaces, or gets the usual mode for a new file (``0o666`` minus the umask).
:func:`append_jsonl` adds one record as one flushed write.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

import msgspec
import orjson

from swerm_plugin.errors import InputFormatError

BOM = codecs.BOM_UTF8
#: ``"skip"``: warn (:class:`TruncatedRecordWarning`) and stop before a torn last line;
#: ``"error"``: raise on it like on any other bad line.
TornTail = Literal["skip", "error"]
#: Receives each bad line's error when the caller keeps going past bad lines.
OnBadLine = Callable[[InputFormatError], None]

_decoder = msgspec.json.Decoder()


class TruncatedRecordWarning(UserWarning):
    """The last line of a JSON Lines file was cut off (the writer is still running)."""


def loads(data: bytes | str) -> Any:
    """Parse one JSON value; a failure raises ``orjson.JSONDecodeError`` with line and column.

    msgspec builds the Python objects straight from the bytes, with no intermediate document,
    so a record's peak memory is about its bytes plus its objects (orjson's is a third more).
    The rare failure is parsed again by orjson, whose error says where the problem is. Deep
    nesting is an error here, never a ``RecursionError``.
    """
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return orjson.loads(data)
    except RecursionError:  # nested deeper than any real record: a format error, with a place
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        raise orjson.JSONDecodeError("JSON nested too deeply (recursion limit)", text, 0) from None


def json_problem(exc: orjson.JSONDecodeError, data: bytes) -> tuple[str, int | None]:
    """A readable problem and the 1-based line (within ``data``) for a parse failure."""
    if "UTF-8" in exc.msg:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            line = data.count(b"\n", 0, bad.start) + 1
            return f"bytes that are not valid UTF-8 at byte {bad.start}", line
        return "text that is not valid UTF-8 (unpaired surrogate)", None
    if "recursion" in exc.msg.lower() or "depth" in exc.msg.lower():
        return "JSON nested too deeply to be a real record", exc.lineno
    problem = f"invalid JSON: {exc.msg} (column {exc.colno})"
    if exc.msg.startswith("unexpected end of data"):
        problem = "truncated JSON: the data ends in the middle of a value"
    return problem, exc.lineno


def iter_jsonl(
    path: str | Path,
    *,
    torn_tail: TornTail,
    on_bad_line: OnBadLine | None = None,
    error: type[InputFormatError] = InputFormatError,
    expected: str = "one JSON value per line",
) -> Iterator[tuple[int, Any]]:
    """Stream ``(line number, value)`` from a JSON Lines file; blank lines are skipped.

    A line that does not parse raises ``error`` naming the file and line, unless
    ``on_bad_line`` is given: then it receives the error and reading goes on. A torn last line
    follows ``torn_tail``.
    """
    source = Path(path)
    with source.open("rb") as fh:
        for line_no, raw in enumerate(fh, 1):
            if raw.isspace():
                continue
            try:
                value = loads(raw[3:] if line_no == 1 and raw.startswith(BOM) else raw)
            except orjson.JSONDecodeError as exc:
                if not raw.endswith(b"\n") and torn_tail == "skip":
                    warnings.warn(
                        f"{source}, line {line_no}: skipped a truncated last record "
                        f"({len(raw)} bytes, no final newline; is the run still writing?)",
                        TruncatedRecordWarning,
                        stacklevel=2,
                    )
                    return
                problem, _ = json_problem(exc, raw)
                bad = error(source, problem, line=line_no, expected=expected)
                if on_bad_line is None:
                    raise bad from None
                on_bad_line(bad)
                continue
            del raw  # the parsed value is all a caller needs; do not keep the bytes too
            yield line_no, value
            # Unbind before reading on: otherwise this record stays alive while the next one is
            # read and parsed, and peak memory doubles.
            del value


def torn_tail_length(path: str | Path) -> int:
    """Bytes after the last newline of ``path`` (0 when it ends cleanly or does not exist)."""
    try:
        with Path(path).open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            if size == 0:
                return 0
            tail = 0
            while tail < size:
                step = min(65536, size - tail)
                fh.seek(size - tail - step)
                chunk = fh.read(step)
                cut = chunk.rfind(b"\n")
                if cut != -1:
                    return tail + step - cut - 1
                tail += step
            return size
    except FileNotFoundError:
        return 0


# --- writing ------------------------------------------------------------------------------

_umask_lock = threading.Lock()
_UMASK_LINE = re.compile(rb"^Umask:\s*([0-7]+)", re.MULTILINE)


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    with contextlib.suppress(OSError):
        match = _UMASK_LINE.search(Path("/proc/self/status").read_bytes())
        if match:
            return int(match.group(1), 8)
    with _umask_lock:  # elsewhere: set and restore, under a lock against other threads
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[IO[bytes]]:
    """Open a binary temp file that replaces ``path`` only when the block exits cleanly."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path) as fh:
        fh.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dumps(record: Any) -> bytes:
    """One record as compact JSON (non-string keys and odd values as text)."""
    return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS, default=str)


def atomic_write_json(path: str | Path, data: Any) -> None:
    option = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    atomic_write_bytes(path, orjson.dumps(data, option=option, default=str) + b"\n")


def atomic_write_jsonl(path: str | Path, records: Iterable[Any]) -> None:
    with atomic_open(path) as fh:
        for record in records:
            fh.write(dumps(record) + b"\n")


def append_jsonl(path: str | Path, record: Any) -> None:
    """Append one record as a single write, flushed, so an interrupted run loses at most it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("ab") as fh:
        fh.write(dumps(record) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
