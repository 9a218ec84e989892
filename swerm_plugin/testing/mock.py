"""A reward backend for tests: queued answers, every call recorded (for plugin authors too)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import ClassVar

from swerm_plugin.backends.base import RewardBackend
from swerm_plugin.config import SwermConfig
from swerm_plugin.model import Score
from swerm_plugin.prompts.prompt import Prompt


class MockRewardBackend(RewardBackend):
    """Returns queued scores in order and records every call.

    ``queue(0.9, 0.1, "boom")`` queues two probabilities and one failure (a string becomes
    ``Score.error``). When the queue is empty, ``default`` is used; with no default that is an
    error, so a test never silently scores with a value it did not choose.
    """

    name: ClassVar[str] = "mock"

    def __init__(
        self,
        config: SwermConfig | None = None,
        scores: Sequence[float | str] = (),
        default: float | None = None,
    ) -> None:
        super().__init__(config if config is not None else SwermConfig())
        self._queue: deque[float | str] = deque(scores)
        self.default = default
        self.calls: list[list[Prompt]] = []

    def queue(self, *scores: float | str) -> None:
        self._queue.extend(scores)

    @property
    def prompts(self) -> list[Prompt]:
        """Every prompt seen, across calls."""
        return [p for call in self.calls for p in call]

    def _next(self) -> float | str:
        if self._queue:
            return self._queue.popleft()
        if self.default is None:
            raise AssertionError("MockRewardBackend: no queued score left; call queue(...) first")
        return self.default

    def score_batch(self, prompts: Sequence[Prompt]) -> list[Score]:
        self.calls.append(list(prompts))
        out = []
        for _ in prompts:
            value = self._next()
            if isinstance(value, str):
                out.append(Score(error=value))
            else:
                out.append(Score(raw=value, latency_s=0.0))
        return out
