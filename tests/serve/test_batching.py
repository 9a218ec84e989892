"""The micro-batcher's contract, with a scoring function that records the batches it gets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from swerm_plugin.model import Score, Trajectory
from swerm_plugin.serve.batching import (
    BatchLimits,
    MicroBatcher,
    QueueFull,
    ShuttingDown,
    estimate_tokens,
)


def trajectory(i: int, chars: int = 40) -> Trajectory:
    return Trajectory(instance_id=f"t-{i}", source="test/1", problem_statement="x" * chars)


class Recorder:
    """Scores a trajectory as its index / 100; waits on ``gate`` first; remembers batch sizes."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def __call__(self, trajectories: list[Trajectory]) -> list[Score]:
        self.batches.append([t.instance_id for t in trajectories])
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return [Score(raw=int(t.instance_id[2:]) / 100) for t in trajectories]


def run(test: Callable[..., Any]) -> Any:
    return asyncio.run(test())


def test_concurrent_submits_become_one_batch() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        batcher = MicroBatcher(recorder, BatchLimits(max_wait_s=0.05))
        batcher.start()
        results = await asyncio.gather(*(batcher.submit([trajectory(i)]) for i in range(10)))
        assert [r[0].raw for r in results] == [i / 100 for i in range(10)]
        assert recorder.batches == [[f"t-{i}" for i in range(10)]]
        await batcher.drain()

    run(scenario)


def test_batches_close_at_the_size_and_token_limits() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        limits = BatchLimits(max_wait_s=0.05, max_batch_size=4, max_batch_tokens=1000)
        batcher = MicroBatcher(recorder, limits)
        batcher.start()
        await asyncio.gather(*(batcher.submit([trajectory(i)]) for i in range(6)))
        assert [len(b) for b in recorder.batches] == [4, 2]
        recorder.batches.clear()
        big = [trajectory(i, chars=1600) for i in range(3)]  # 401 estimated tokens each
        await asyncio.gather(*(batcher.submit([t]) for t in big))
        assert [len(b) for b in recorder.batches] == [2, 1]
        await batcher.drain()

    run(scenario)


def test_one_request_is_never_split_and_its_order_is_kept() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        batcher = MicroBatcher(recorder, BatchLimits(max_wait_s=0.01, max_batch_size=2))
        batcher.start()
        scores = await batcher.submit([trajectory(i) for i in (5, 3, 9)])
        assert [s.raw for s in scores] == [0.05, 0.03, 0.09]
        assert recorder.batches == [["t-5", "t-3", "t-9"]]
        assert await batcher.submit([]) == []
        await batcher.drain()

    run(scenario)


def test_a_full_queue_refuses_and_a_cancelled_request_leaves_it() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        recorder.gate.clear()
        batcher = MicroBatcher(recorder, BatchLimits(max_wait_s=0.001, max_queue=2))
        batcher.start()
        first = asyncio.create_task(batcher.submit([trajectory(0)]))
        await asyncio.sleep(0.02)  # in flight, held at the gate
        waiting = [asyncio.create_task(batcher.submit([trajectory(i)])) for i in (1, 2)]
        await asyncio.sleep(0.01)
        assert batcher.waiting == 2 and batcher.in_flight == 1
        with pytest.raises(QueueFull, match="2 trajectories are waiting"):
            await batcher.submit([trajectory(3)])
        waiting[0].cancel()
        await asyncio.sleep(0)
        assert batcher.waiting == 1
        recorder.gate.set()
        assert (await first)[0].raw == 0.0 and (await waiting[1])[0].raw == 0.02
        assert recorder.batches == [["t-0"], ["t-2"]]
        await batcher.drain()

    run(scenario)


def test_a_scoring_failure_reaches_every_request_of_the_batch() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        recorder.fail = RuntimeError("backend down")
        batcher = MicroBatcher(recorder, BatchLimits(max_wait_s=0.02))
        batcher.start()
        results = await asyncio.gather(
            *(batcher.submit([trajectory(i)]) for i in range(3)), return_exceptions=True
        )
        assert [str(r) for r in results] == ["backend down"] * 3
        recorder.fail = None
        assert (await batcher.submit([trajectory(4)]))[0].raw == 0.04  # it keeps working
        await batcher.drain()

    run(scenario)


def test_drain_answers_what_was_accepted_and_refuses_the_rest() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        recorder.gate.clear()
        limits = BatchLimits(max_wait_s=0.001, max_batch_size=1)
        batcher = MicroBatcher(recorder, limits)
        batcher.start()
        accepted = [asyncio.create_task(batcher.submit([trajectory(i)])) for i in range(4)]
        await asyncio.sleep(0.02)
        draining = asyncio.create_task(batcher.drain())
        await asyncio.sleep(0.02)
        with pytest.raises(ShuttingDown):
            await batcher.submit([trajectory(9)])
        assert not draining.done()
        recorder.gate.set()
        await draining
        assert [(await task)[0].raw for task in accepted] == [0.0, 0.01, 0.02, 0.03]
        assert len(recorder.batches) == 4

    run(scenario)


def test_token_estimate() -> None:
    t = trajectory(0, chars=400)
    assert estimate_tokens(t) == 101 and estimate_tokens(t, cap=50) == 50
