"""Scores files: one record per scored trajectory, the same shape in every file swerm writes.

``swerm score -o`` output, the rerank score cache and the decisions log all hold
:func:`score_record` lines (the decisions log adds its own fields), so any of them can be read
back with :func:`read_scores` (matched by ``content_hash``).

:class:`ScoresOutput` is an output file that a run appends to and a later run resumes: it only
ever touches a file that is swerm's own output and not one of the run's inputs, cuts a torn last
line (an interrupted write) before appending, and holds an advisory lock while it writes, so two
runs on one file never score the same trajectory twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from swerm_plugin.errors import CandidatesError, InputFormatError, OutputFileError
from swerm_plugin.jsonl import dumps, iter_jsonl, loads, torn_tail_length
from swerm_plugin.model import Score, Trajectory

if TYPE_CHECKING:
    from swerm_plugin.verifier import Verifier

log = logging.getLogger("swerm.scores")

_SCORE_FIELDS = frozenset(Score.model_fields)
#: Keys every score record has; a file whose first record lacks one is not swerm's.
_RECORD_KEYS = frozenset({"content_hash", "raw", "error"})


def score_record(trajectory: Trajectory, score: Score, **extra: Any) -> dict[str, Any]:
    """The JSON record for one scored trajectory (``extra`` fields go after the score's)."""
    return {
        "instance_id": trajectory.instance_id,
        "run_id": trajectory.run_id,
        "attempt": trajectory.attempt,
        "source": trajectory.source,
        "source_path": trajectory.source_path,
        "content_hash": trajectory.content_hash(),
        **score.model_dump(mode="json"),
        **extra,
    }


def is_score_record(record: Any) -> bool:
    return isinstance(record, dict) and record.keys() >= _RECORD_KEYS


def score_from_record(record: dict[str, Any]) -> Score:
    """The :class:`Score` inside a score record (other keys ignored)."""
    return Score.model_validate({k: v for k, v in record.items() if k in _SCORE_FIELDS})


def read_scores(path: str | Path) -> dict[str, Score]:
    """Scores by ``content_hash`` from any swerm scores file (the last record for a hash wins;
    a torn last line is skipped).

    :raises CandidatesError: the file is not a scores file, or a record is malformed.
    """
    source = Path(path)
    scores: dict[str, Score] = {}
    try:
        for number, record in iter_jsonl(source, torn_tail="skip", error=InputFormatError):
            if not isinstance(record, dict) or not isinstance(record.get("content_hash"), str):
                raise CandidatesError(
                    f"{source}, line {number}: no 'content_hash'; expected `swerm score -o` "
                    "output or a swerm decisions log"
                )
            try:
                scores[record["content_hash"]] = score_from_record(record)
            except ValueError as exc:
                raise CandidatesError(f"{source}, line {number}: invalid score: {exc}") from None
    except InputFormatError as exc:
        raise CandidatesError(str(exc)) from None
    except OSError as exc:
        raise CandidatesError(f"{source}: cannot read scores ({exc.strerror})") from None
    return scores


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _first_record(path: Path) -> Any:
    with path.open("rb") as fh:
        for raw in fh:
            if raw.strip():
                try:
                    return loads(raw)
                except orjson.JSONDecodeError:
                    return None
    return None


def _has_topk(record: dict[str, Any], k: int) -> bool:
    top = record.get("topk")
    return isinstance(top, dict) and isinstance(top.get("ids"), list) and len(top["ids"]) >= k


class ScoresOutput:
    """A scores file a run appends to and a later run resumes (see the module docs).

    Use as a context manager: entering checks the file, takes the lock and learns which
    content hashes are already done (:attr:`done`); :meth:`write` appends one record.

    :param inputs: the run's input paths; the output may not be one of them (or inside a
        folder given as input, when it already exists there as a non-swerm file).
    :param retry_errors: treat records that hold an error as not done, so they are scored again.
    :param topk: the run records the top-K log-probs: a record without at least ``topk`` of
        them (from an earlier run without ``--topk``) is not done, so it is scored again.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        inputs: Iterable[str | Path] = (),
        retry_errors: bool = False,
        topk: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.inputs = [Path(p) for p in inputs]
        self.retry_errors = retry_errors
        self.topk = topk
        self.done: set[str] = set()
        self.failed_before: set[str] = set()
        self._lock_file: IO[bytes] | None = None

    def check(self) -> None:
        """Refuse an input, or an existing file that is not swerm's scores output."""
        for given in self.inputs:
            if _same_file(self.path, given):
                raise OutputFileError(
                    f"{self.path} is one of the inputs; swerm never writes into an input file",
                    hint="give -o a new file name, e.g. scores.jsonl",
                )
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        if not self.path.is_file():
            raise OutputFileError(f"{self.path} is not a regular file")
        if not is_score_record(_first_record(self.path)):
            raise OutputFileError(
                f"{self.path} exists and is not a swerm scores file; swerm will not append to "
                "or change it",
                hint="give -o a new file name, or remove the file if it is a stale output",
            )

    def __enter__(self) -> ScoresOutput:
        self.check()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        self._lock_file = lock_path.open("ab")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("waiting for another swerm process that is writing %s", self.path)
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        self._repair_torn_tail()
        self._read_done()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def _repair_torn_tail(self) -> None:
        """Cut a last line left without its newline by an interrupted write (our own file)."""
        torn = torn_tail_length(self.path)
        if torn:
            size = self.path.stat().st_size
            log.warning("%s: removing a torn last line (%d bytes)", self.path, torn)
            with self.path.open("r+b") as fh:
                fh.truncate(size - torn)

    def _read_done(self) -> None:
        if not self.path.exists():
            return
        for record in self._records():
            digest = record["content_hash"]
            if record.get("error") is not None and record.get("raw") is None:
                self.failed_before.add(digest)
                if self.retry_errors:
                    continue
            else:
                self.failed_before.discard(digest)
                if self.topk and not _has_topk(record, self.topk):
                    continue
            self.done.add(digest)

    def _records(self) -> Iterator[dict[str, Any]]:
        try:
            for number, record in iter_jsonl(self.path, torn_tail="error"):
                if not is_score_record(record):
                    raise OutputFileError(
                        f"{self.path}, line {number}: not a swerm score record; is this a swerm "
                        "scores file?"
                    )
                yield record
        except InputFormatError as exc:
            raise OutputFileError(str(exc)) from None

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as one flushed write."""
        self.write_all([record])

    def write_all(self, records: Iterable[dict[str, Any]]) -> None:
        """Append records (a batch of results) as one flushed write."""
        if self._lock_file is None:
            raise RuntimeError("ScoresOutput.write outside its `with` block")
        data = b"".join(dumps(record) + b"\n" for record in records)
        with self.path.open("ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


@dataclass
class ScoreRun:
    """What one scoring run did: each trajectory is counted once, under one of these."""

    scored: int = 0
    failed: int = 0
    already_done: int = 0
    failed_before: int = 0
    duplicates: int = 0
    failures: list[tuple[Trajectory, str]] = field(default_factory=list)
    #: Scores whose verifier calls were billed (an API judge), and what they cost together
    #: (``None`` once one of them had no price).
    billed: int = 0
    cost_usd: float | None = 0.0

    def charge(self, score: Score) -> None:
        if score.prompt_tokens is None and score.cost_usd is None:
            return
        self.billed += 1
        if self.cost_usd is not None:
            self.cost_usd = None if score.cost_usd is None else self.cost_usd + score.cost_usd

    @property
    def usable(self) -> int:
        """Scores that exist now: new ones and those already in the output."""
        return self.scored + self.already_done


def score_into(
    verifier: Verifier,
    trajectories: Sequence[Trajectory],
    write: Callable[[dict[str, Any]], None],
    *,
    output: ScoresOutput | None = None,
    chunk_size: int = 32,
    advance: Callable[[int], None] | None = None,
) -> ScoreRun:
    """Score what ``output`` does not hold yet (every unique trajectory without one) and pass
    each record to ``write`` as its chunk finishes."""
    run = ScoreRun()
    done = set(output.done) if output is not None else set()
    failed_before = output.failed_before if output is not None else set()
    todo: list[Trajectory] = []
    for trajectory in trajectories:
        digest = trajectory.content_hash()
        if digest in done:
            if digest in failed_before:
                run.failed_before += 1
                run.failures.append((trajectory, "failed in an earlier run"))
            elif output is not None and digest in output.done:
                run.already_done += 1
            else:
                run.duplicates += 1
            continue
        done.add(digest)
        todo.append(trajectory)
    for trajectory, score in verifier.score_iter(todo, chunk_size=chunk_size):
        write(score_record(trajectory, score))
        run.charge(score)
        if score.ok:
            run.scored += 1
        else:
            run.failed += 1
            run.failures.append((trajectory, score.error or "no score"))
        if advance is not None:
            advance(1)
    return run
