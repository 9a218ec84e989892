"""The scoring service without HTTP: one verifier, a micro-batcher in front of it, readiness,
and the three things callers ask for (scores with decisions, a reranked group, RL rewards).

Everything a request may fail with is a :class:`Problem`: an HTTP status, an error kind (the
``kind`` label of the errors metric) and a message that is safe to send back (it never holds a
secret or trajectory text).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from swerm_plugin.config import SwermConfig
from swerm_plugin.decisions.rerank import TaskDecision, rerank_group
from swerm_plugin.decisions.rewards import RewardMode, reward_for
from swerm_plugin.errors import RewardError
from swerm_plugin.model import CandidateGroup, Decision, Score, Trajectory
from swerm_plugin.plugins.manager import get_hooks
from swerm_plugin.serve.batching import (
    BatchLimits,
    MicroBatcher,
    QueueFull,
    ShuttingDown,
    estimate_tokens,
)
from swerm_plugin.serve.metrics import ServeMetrics
from swerm_plugin.serve.settings import ServeSettings
from swerm_plugin.verifier import Verifier

log = logging.getLogger("swerm.serve")

#: Seconds a remote backend's reachability answer is reused by /healthz.
REACHABILITY_TTL_S = 5.0
#: Retry-After while the backend loads.
LOADING_RETRY_AFTER_S = 5


class Problem(Exception):
    """A request that cannot be served as asked (see the module docs)."""

    def __init__(
        self, status: int, kind: str, message: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.retry_after = retry_after


class ScoringService:
    """One verifier behind a :class:`~swerm_plugin.serve.batching.MicroBatcher`.

    :param verifier: a ready verifier to serve (the caller keeps it); without one, the service
        builds it from ``config`` when it starts and closes it when it stops.
    :param on_failure: called with the reason when the backend fails to load (the command
        line stops the server then); without it the service stays up, answering 503.
    """

    def __init__(
        self,
        config: SwermConfig,
        settings: ServeSettings,
        *,
        verifier: Verifier | None = None,
        metrics: ServeMetrics | None = None,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.on_failure = on_failure
        self.settings = settings
        self.metrics = metrics or ServeMetrics()
        self.hooks = get_hooks(config)
        self.verifier = verifier
        self._owns_verifier = verifier is None
        self.batcher: MicroBatcher | None = None
        self._warm_up_task: asyncio.Task[None] | None = None
        self._loaded = False
        self._problem = "loading the backend"
        self._remote = False
        self._reachable: tuple[float, bool, str] = (0.0, False, "not checked yet")
        self._token_cap: int | None = None

    # --- lifetime ---

    async def start(self) -> None:
        """Start batching and begin loading the backend (``ready`` turns true when loaded)."""
        s = self.settings
        limits = BatchLimits(
            max_batch_tokens=s.max_batch_tokens,
            max_batch_size=s.max_batch_size,
            max_wait_s=s.max_wait_ms / 1000,
            concurrency=s.batch_concurrency,
            max_queue=s.max_queue,
        )
        self.batcher = MicroBatcher(
            self._score_batch,
            limits,
            size=lambda t: estimate_tokens(t, self._token_cap),
            on_batch=self.metrics.batch_size.observe,
        )
        self.batcher.start()
        batcher = self.batcher
        self.metrics.queue_depth.set_function(lambda: batcher.waiting)
        self.metrics.batches_in_flight.set_function(lambda: batcher.in_flight)
        self._warm_up_task = asyncio.create_task(self._warm_up(), name="swerm-warm-up")

    async def stop(self) -> None:
        """Answer every accepted request, then release the backend."""
        if self.batcher is not None:
            await self.batcher.drain()
        if self._warm_up_task is not None:
            await asyncio.gather(self._warm_up_task, return_exceptions=True)
        if self._owns_verifier and self.verifier is not None:
            await asyncio.to_thread(self.verifier.close)
        self.metrics.ready.set(0)

    async def _warm_up(self) -> None:
        try:
            if self.verifier is None:
                self.verifier = await asyncio.to_thread(Verifier, self.config)
            await asyncio.to_thread(self._load, self.verifier)
        except Exception as exc:
            self._problem = f"the backend failed to load: {type(exc).__name__}: {exc}"
            log.error("swerm serve: %s", self._problem)
            if self.on_failure is not None:
                self.on_failure(self._problem)
            return
        self._loaded = True
        self._problem = ""
        log.info("swerm serve: backend '%s' ready", self.verifier.backend.name)

    def _load(self, verifier: Verifier) -> None:
        """Load weights now (local backends) and learn the prompt budget (remote: one request)."""
        load = getattr(verifier.backend, "load", None)
        if callable(load):
            load()
        self._token_cap = verifier.budget
        try:
            from swerm_plugin.backends.remote.base import RemoteBackend
        except ImportError:  # the remote extra is not installed: not a remote backend
            return
        self._remote = isinstance(verifier.backend, RemoteBackend)

    # --- readiness ---

    async def readiness(self) -> tuple[bool, str]:
        """Whether scoring can start now, and why not: the backend is loaded (local) or at least
        one endpoint answers (remote; checked at most every few seconds)."""
        if not self._loaded:
            return False, self._problem
        if self.batcher is None or self.batcher.closing:
            return False, "shutting down"
        if not self._remote:
            self.metrics.ready.set(1)
            return True, "ready"
        checked_at, reachable, why = self._reachable
        if time.monotonic() - checked_at > REACHABILITY_TTL_S:
            from swerm_plugin.backends.remote.check import check_endpoints

            checks = await check_endpoints(self.config)
            reachable = any(check.healthy for check in checks)
            why = "ready" if reachable else "; ".join(f"{c.url}: {c.problem}" for c in checks)
            self._reachable = (time.monotonic(), reachable, why)
        self.metrics.ready.set(1 if reachable else 0)
        return reachable, why

    def _require_loaded(self) -> MicroBatcher:
        if not self._loaded or self.batcher is None:
            raise Problem(503, "not_ready", self._problem, retry_after=LOADING_RETRY_AFTER_S)
        return self.batcher

    # --- scoring ---

    async def _score_batch(self, trajectories: list[Trajectory]) -> list[Score]:
        assert self.verifier is not None
        return await self.verifier.ascore(trajectories)

    async def score(self, trajectories: Sequence[Trajectory]) -> list[Score]:
        """One score per trajectory, in order, through the micro-batcher."""
        batcher = self._require_loaded()
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                scores = await batcher.submit(trajectories)
        except QueueFull as exc:
            raise Problem(
                503, "queue_full", str(exc), retry_after=self.settings.retry_after_s
            ) from None
        except ShuttingDown as exc:
            raise Problem(503, "shutting_down", str(exc)) from None
        except TimeoutError:
            raise Problem(
                504, "timeout", f"no scores within {self.settings.timeout_s:g} s; retry later"
            ) from None
        for score in scores:
            self.metrics.trajectories.labels("ok" if score.ok else "failed").inc()
        return scores

    async def score_and_decide(
        self, trajectories: Sequence[Trajectory]
    ) -> list[tuple[Trajectory, Score, Decision]]:
        """Scores, each with the ``swerm_decide`` decision for its trajectory's attempt."""
        scores = await self.score(trajectories)
        return [
            (t, s, self.hooks.decide(t, s, attempt=t.attempt))
            for t, s in zip(trajectories, scores, strict=True)
        ]

    async def rerank(self, candidates: Sequence[Trajectory]) -> TaskDecision:
        """The candidates of one task ranked by ``swerm_select``, the winner decided on."""
        ids = sorted({t.instance_id for t in candidates})
        if len(ids) != 1:
            raise Problem(
                422,
                "mixed_tasks",
                f"rerank takes the candidates of one task; got instance ids {ids[:5]}"
                + (" ..." if len(ids) > 5 else ""),
            )
        scores: list[Score | None] = list(await self.score(candidates))
        group = CandidateGroup(instance_id=ids[0], candidates=list(candidates))
        return rerank_group(group, scores, self.hooks)

    async def rewards(
        self, rollouts: Sequence[Trajectory], mode: RewardMode
    ) -> tuple[list[float], list[Score]]:
        """An RL reward per rollout (:func:`~swerm_plugin.decisions.rewards.reward_for`); any
        rollout that could not be scored fails the request: a failure is never a number."""
        scores = await self.score(rollouts)
        failed = [f"[{i}] {s.error or 'unscored'}" for i, s in enumerate(scores) if not s.ok]
        if failed:
            raise Problem(
                502, "scoring_failed", f"{len(failed)} rollout(s) not scored: " + "; ".join(failed)
            )
        try:
            rewards = [reward_for(t, s, mode=mode) for t, s in zip(rollouts, scores, strict=True)]
        except RewardError as exc:
            raise Problem(422, "reward_error", str(exc)) from None
        return rewards, scores

    def describe(self) -> dict[str, Any]:
        """What /healthz shows besides readiness (no secrets)."""
        backend = self.verifier.backend if self.verifier is not None else None
        return {
            "pid": os.getpid(),  # tells replicas apart behind a load balancer
            "backend": backend.name if backend is not None else self.config.backend,
            "model": (backend.model_name if backend is not None else None) or self.config.model,
            "template": self.config.template,
            "queue": self.batcher.waiting if self.batcher is not None else 0,
            "batches_in_flight": self.batcher.in_flight if self.batcher is not None else 0,
        }
