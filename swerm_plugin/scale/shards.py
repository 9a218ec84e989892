"""Where a Ray job's results go: shards in a folder, plus the usual scores JSONL.

Every finished batch of records becomes one shard, ``part-<run>-<n>.jsonl``, written atomically
(temp file + rename): a shard on disk is complete, whatever happened to the job after. The same
records are then appended to the scores JSONL (:class:`~swerm_plugin.scores.ScoresOutput`, which
holds the lock). The shards are the record of what is done: a job killed between the two writes
leaves records in a shard that the JSONL lacks, and the next run appends them before it starts,
so the JSONL ends complete and without duplicates.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swerm_plugin.errors import InputFormatError, OutputFileError
from swerm_plugin.jsonl import atomic_write_bytes, dumps, iter_jsonl, loads
from swerm_plugin.scale.stages import SKIPPED
from swerm_plugin.scores import ScoresOutput, is_score_record

SHARD_NAME = re.compile(r"part-[0-9A-Za-z_-]+\.jsonl")
#: Failures kept by name in a result (all of them are in the output).
MAX_NAMED_FAILURES = 1000


def shard_records(folder: Path) -> Iterator[dict[str, Any]]:
    """Every record of every finished shard in ``folder`` (name order)."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise OutputFileError(f"{folder} is not a folder; swerm keeps the job's shards there")
    for path in sorted(p for p in folder.iterdir() if SHARD_NAME.fullmatch(p.name)):
        try:
            for number, record in iter_jsonl(path, torn_tail="error"):
                if not is_score_record(record):
                    raise OutputFileError(f"{path}, line {number}: not a swerm score record")
                yield record
        except InputFormatError as exc:
            raise OutputFileError(
                f"{exc}; shards are written whole, so this one was changed after swerm wrote it",
                hint=f"move {path} away to score its trajectories again",
            ) from None


class ShardedOutput:
    """The scores JSONL and its shard folder, resumed together. Use as a context manager;
    :attr:`done` holds the content hashes already recorded (error records included, as in
    ``swerm score -o``)."""

    def __init__(self, output: str | Path, shards: str | Path, *, inputs: Sequence[Path]) -> None:
        self.sink = ScoresOutput(output, inputs=inputs)
        self.folder = Path(shards)
        self.recovered = 0
        self._run = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self._count = 0

    @property
    def done(self) -> set[str]:
        return self.sink.done

    def __enter__(self) -> ShardedOutput:
        self.sink.__enter__()
        try:
            self._recover()
        except BaseException:
            self.sink.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.sink.__exit__(*exc)

    def _recover(self) -> None:
        """Append the records of shards the JSONL lacks (a job killed between the writes)."""
        missing = []
        for record in shard_records(self.folder):
            if record["content_hash"] not in self.sink.done:
                self.sink.done.add(record["content_hash"])
                missing.append(record)
        if missing:
            self.sink.write_all(missing)
        self.recovered = len(missing)

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        """One shard, then the same records appended to the JSONL."""
        self._count += 1
        path = self.folder / f"part-{self._run}-{self._count:06d}.jsonl"
        atomic_write_bytes(path, b"".join(dumps(record) + b"\n" for record in records))
        self.sink.write_all(records)
        self.sink.done.update(record["content_hash"] for record in records)


@dataclass
class Tally:
    """What a job did, counted as its records arrive."""

    scored: int = 0
    failed: int = 0
    skipped: int = 0
    duplicates: int = 0
    shards: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)

    def count(self, record: dict[str, Any]) -> None:
        if record.get("raw") is not None and record.get("error") is None:
            self.scored += 1
            return
        self.failed += 1
        if len(self.failures) < MAX_NAMED_FAILURES:
            self.failures.append(
                {k: record.get(k) for k in ("instance_id", "source_path", "attempt", "error")}
            )


class Collector:
    """Takes finished rows at the driver: drops duplicates, counts, and hands records on in
    batches of at least ``shard_size`` records, or every ``flush_s`` seconds, whichever first."""

    def __init__(
        self,
        deliver: Callable[[list[dict[str, Any]]], None],
        *,
        shard_size: int,
        flush_s: float,
    ) -> None:
        self.deliver = deliver
        self.shard_size = shard_size
        self.flush_s = flush_s
        self.tally = Tally()
        self._seen: set[str] = set()
        self._pending: list[dict[str, Any]] = []
        self._last = time.monotonic()

    def take(self, rows: Iterable[tuple[str, str, bytes]]) -> None:
        for key, status, raw in rows:
            if status == SKIPPED:
                self.tally.skipped += 1
            elif key in self._seen:
                self.tally.duplicates += 1
            else:
                self._seen.add(key)
                record = loads(raw)
                self.tally.count(record)
                self._pending.append(record)
        if len(self._pending) >= self.shard_size or (
            self._pending and time.monotonic() - self._last >= self.flush_s
        ):
            self.flush()

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            self.deliver(pending)
            self.tally.shards += 1
        self._last = time.monotonic()
