"""Micro-batching: the trajectories of concurrent requests are scored together.

A request's trajectories wait in a bounded queue. A batch starts when ``batch_concurrency``
allows; it takes the waiting requests (whole, in arrival order) up to ``max_batch_tokens``
estimated tokens or ``max_batch_size`` trajectories, having waited at most ``max_wait_ms``
after the first of them arrived for others to join. While one batch is being scored the next
one fills up, so under load every batch is full and the service runs at the backend's batch
throughput; a lone request waits only ``max_wait_ms``.

A request that gives up (timeout, client gone) leaves the queue; if its batch is already being
scored, its scores are dropped. :meth:`MicroBatcher.drain` stops taking requests and returns when
every accepted one has been answered (graceful shutdown).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from swerm_plugin.model import Score, Trajectory

#: Scores one batch of trajectories, one score each, in order (``Verifier.ascore``).
ScoreFn = Callable[[list[Trajectory]], Awaitable[list[Score]]]
#: Characters per token assumed when estimating a prompt's size before it is rendered.
CHARS_PER_TOKEN = 4


class QueueFull(Exception):
    """The queue cannot take this request now; retry after a while."""


class ShuttingDown(Exception):
    """The service is stopping and takes no new requests."""


def estimate_tokens(trajectory: Trajectory, cap: int | None = None) -> int:
    """A rough prompt size for batching (about 4 characters a token), at most ``cap``."""
    chars = len(trajectory.problem_statement) + len(trajectory.patch)
    for step in trajectory.steps:
        chars += len(step.content) + len(step.thought) + len(step.action) + len(step.observation)
    tokens = chars // CHARS_PER_TOKEN + 1
    return tokens if cap is None else min(tokens, cap)


@dataclass(frozen=True)
class BatchLimits:
    max_batch_tokens: int = 131072
    max_batch_size: int = 64
    max_wait_s: float = 0.005
    concurrency: int = 1
    max_queue: int = 1024


@dataclass
class _Job:
    trajectories: list[Trajectory]
    tokens: int
    future: asyncio.Future[list[Score]]
    arrived: float = field(default_factory=time.monotonic)


#: Called with the batch size (trajectories) as each batch starts.
BatchObserver = Callable[[int], None]


class MicroBatcher:
    """Groups concurrent :meth:`submit` calls into batches for ``score`` (see the module docs).

    Create it inside the event loop that will use it, then :meth:`start` it.
    """

    def __init__(
        self,
        score: ScoreFn,
        limits: BatchLimits,
        *,
        size: Callable[[Trajectory], int] = estimate_tokens,
        on_batch: BatchObserver | None = None,
    ) -> None:
        self._score = score
        self.limits = limits
        self._size = size
        self._on_batch = on_batch
        self._pending: deque[_Job] = deque()
        self._waiting = 0  # trajectories in _pending
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(limits.concurrency)
        self._running: set[asyncio.Task[None]] = set()
        self._worker: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def waiting(self) -> int:
        """Trajectories queued and not yet in a batch."""
        return self._waiting

    @property
    def closing(self) -> bool:
        """Whether :meth:`drain` has begun (no new requests are taken)."""
        return self._closing

    @property
    def in_flight(self) -> int:
        """Batches being scored now."""
        return len(self._running)

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name="swerm-batcher")

    async def submit(self, trajectories: Sequence[Trajectory]) -> list[Score]:
        """The scores of ``trajectories``, in order, once their batch is scored.

        :raises QueueFull: taking them would exceed ``max_queue`` waiting trajectories.
        :raises ShuttingDown: :meth:`drain` has begun.
        """
        if self._closing:
            raise ShuttingDown("the service is shutting down")
        items = list(trajectories)
        if not items:
            return []
        if self._waiting and self._waiting + len(items) > self.limits.max_queue:
            raise QueueFull(
                f"{self._waiting} trajectories are waiting (at most {self.limits.max_queue})"
            )
        job = _Job(
            items, sum(self._size(t) for t in items), asyncio.get_running_loop().create_future()
        )
        self._pending.append(job)
        self._waiting += len(items)
        self._wake.set()
        try:
            return await job.future
        except asyncio.CancelledError:
            self._forget(job)
            raise

    def _forget(self, job: _Job) -> None:
        if job in self._pending:
            self._pending.remove(job)
            self._waiting -= len(job.trajectories)

    async def drain(self) -> None:
        """Take no new requests; return once every accepted one is answered."""
        self._closing = True
        self._wake.set()
        if self._worker is not None:
            await self._worker
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    # --- the worker ---

    async def _run(self) -> None:
        while True:
            while not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
            await self._slots.acquire()
            batch = await self._collect()
            if not batch:
                self._slots.release()
                continue
            task = asyncio.create_task(self._score_batch(batch), name="swerm-batch")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _collect(self) -> list[_Job]:
        """Wait until a batch is full (at most ``max_wait_s`` after the oldest arrival); take it."""
        limits = self.limits
        while self._pending and not self._closing and not self._full():
            remaining = self._pending[0].arrived + limits.max_wait_s - time.monotonic()
            if remaining <= 0:
                break
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                break
        batch: list[_Job] = []
        tokens = count = 0
        while self._pending:
            job = self._pending[0]
            size = len(job.trajectories)
            over = tokens + job.tokens > limits.max_batch_tokens
            if batch and (over or count + size > limits.max_batch_size):
                break
            self._pending.popleft()
            self._waiting -= size
            if job.future.done():  # its request gave up while waiting
                continue
            batch.append(job)
            tokens += job.tokens
            count += size
        return batch

    def _full(self) -> bool:
        tokens = sum(job.tokens for job in self._pending)
        return tokens >= self.limits.max_batch_tokens or self._waiting >= self.limits.max_batch_size

    async def _score_batch(self, batch: list[_Job]) -> None:
        trajectories = [t for job in batch for t in job.trajectories]
        if self._on_batch is not None:
            self._on_batch(len(trajectories))
        try:
            scores = await self._score(trajectories)
            if len(scores) != len(trajectories):
                raise RuntimeError(f"{len(scores)} scores for {len(trajectories)} trajectories")
        except Exception as exc:
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        finally:
            self._slots.release()
        start = 0
        for job in batch:
            end = start + len(job.trajectories)
            if not job.future.done():
                job.future.set_result(scores[start:end])
            start = end
