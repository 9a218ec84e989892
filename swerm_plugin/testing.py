"""Helpers for testing swerm and swerm plugins; also a pytest plugin (entry point ``pytest11``).

Fixtures: ``mock_backend`` (a :class:`MockRewardBackend`) and ``swerm_pm`` (a fresh plugin
manager with entry-point autoloading off, so tests do not depend on what else is installed).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from typing import ClassVar

import pluggy
import pytest

from swerm_plugin.backends.base import RewardBackend
from swerm_plugin.config import SwermConfig
from swerm_plugin.prompts.prompt import Prompt
from swerm_plugin.trajectory import Score


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
        for prompt in prompts:
            value = self._next()
            common = {
                "backend": self.name,
                "model": "mock",
                "template": prompt.template,
                "template_version": prompt.template_version,
                "n_tokens": prompt.n_tokens,
                "truncated": prompt.truncated,
            }
            if isinstance(value, str):
                out.append(Score(error=value, **common))
            else:
                out.append(Score(raw=value, latency_s=0.0, **common))
        return out


@pytest.fixture
def mock_backend() -> MockRewardBackend:
    """A fresh :class:`MockRewardBackend` with an empty queue."""
    return MockRewardBackend()


@pytest.fixture
def swerm_pm(monkeypatch: pytest.MonkeyPatch) -> Iterator[pluggy.PluginManager]:
    """A fresh plugin manager (built-ins only), installed as the process-wide one for the test."""
    from swerm_plugin import plugins

    monkeypatch.setenv("SWERM_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("SWERM_LOAD_PLUGINS", raising=False)
    plugins.reset_plugin_manager()
    pm = plugins.get_plugin_manager()
    yield pm
    plugins.reset_plugin_manager()
