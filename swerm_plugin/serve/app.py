"""The ASGI app: thin routes over :class:`~swerm_plugin.serve.service.ScoringService`.

Routes: ``POST /v1/score``, ``POST /v1/rerank``, ``POST /v1/reward`` (verl client),
``POST /v1/openrlhf/reward`` (OpenRLHF's remote reward model), ``GET /healthz`` and
``GET /metrics``. Every error is ``{"error": {"kind", "message"}}`` with its status; the
message never holds a secret or trajectory text, and nothing here logs a body.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import RewardError, SwermError, TrajectoryFormatError, VerifierError
from swerm_plugin.scores import score_record
from swerm_plugin.serve import payloads
from swerm_plugin.serve.metrics import ServeMetrics
from swerm_plugin.serve.service import Problem, ScoringService
from swerm_plugin.serve.settings import ServeSettings
from swerm_plugin.verifier import Verifier

log = logging.getLogger("swerm.serve")

Handler = Callable[[Request], Awaitable[Response]]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json", headers=headers
    )


def problem_response(problem: Problem) -> Response:
    headers = {"Retry-After": str(problem.retry_after)} if problem.retry_after else None
    if problem.status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    body = {"error": {"kind": problem.kind, "message": problem.message}}
    return json_response(body, problem.status, headers)


def as_problem(exc: Exception, route: str) -> Problem:
    """The answer for an exception a route raised (unknown ones are logged, not shown)."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, TrajectoryFormatError):
        return Problem(422, "invalid_trajectory", str(exc))
    if isinstance(exc, VerifierError):
        return Problem(502, "scoring_failed", str(exc))
    if isinstance(exc, RewardError):
        return Problem(422, "reward_error", str(exc))
    name = type(exc).__name__
    log.error(
        "swerm serve: %s failed with %s", route, name, exc_info=log.isEnabledFor(logging.DEBUG)
    )
    kind = "plugin_error" if isinstance(exc, SwermError) else "internal"
    return Problem(500, kind, f"internal error ({name}); see the server log")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    too_large = Problem(413, "body_too_large", f"the body exceeds {limit} bytes")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


class ServeApp:
    """Builds the Starlette app for one service and holds what its routes share."""

    def __init__(self, service: ScoringService, api_key: str | None) -> None:
        self.service = service
        self.settings = service.settings
        self.metrics = service.metrics
        self._key = api_key.encode() if api_key is not None else None

    def authorized(self, request: Request) -> bool:
        if self._key is None:
            return True
        header = request.headers.get("authorization", "")
        given = header[7:] if header[:7].lower() == "bearer " else ""
        given = given or request.headers.get("x-api-key", "")
        return hmac.compare_digest(given.encode(), self._key)

    def route(self, name: str, handler: Handler, *, protected: bool = True) -> Handler:
        """``handler`` with auth, error answers and the request metrics around it."""

        async def endpoint(request: Request) -> Response:
            start = time.perf_counter()
            try:
                if protected and not self.authorized(request):
                    raise Problem(401, "unauthorized", "missing or wrong API key")
                response = await handler(request)
            except Exception as exc:
                problem = as_problem(exc, name)
                self.metrics.errors.labels(problem.kind).inc()
                response = problem_response(problem)
            self.metrics.requests.labels(name, str(response.status_code)).inc()
            self.metrics.latency.labels(name).observe(time.perf_counter() - start)
            return response

        return endpoint

    # --- routes ---

    async def _body(self, request: Request) -> bytes:
        return await read_body(request, self.settings.max_body_bytes)

    async def score(self, request: Request) -> Response:
        trajectories = payloads.trajectories_from_body(
            await self._body(request),
            key="trajectories",
            limit=self.settings.max_trajectories,
            adapters=self.service.hooks.adapters(),
        )
        results = await self.service.score_and_decide(trajectories)
        records = [score_record(t, s, decision=d.model_dump(mode="json")) for t, s, d in results]
        failed = sum(1 for _, s, _ in results if not s.ok)
        return json_response(
            {"results": records, "scored": len(records) - failed, "failed": failed}
        )

    async def rerank(self, request: Request) -> Response:
        from swerm_plugin.decisions.rerank import decision_records

        candidates = payloads.trajectories_from_body(
            await self._body(request),
            key="candidates",
            limit=self.settings.max_trajectories,
            adapters=self.service.hooks.adapters(),
        )
        task = await self.service.rerank(candidates)
        records = decision_records(task)
        for record, index in zip(records, task.ranking, strict=True):
            record["index"] = index
        return json_response(
            {
                "instance_id": task.group.instance_id,
                "chosen": task.ranking[0],
                "decision": task.decision.model_dump(mode="json"),
                "candidates": records,
            }
        )

    async def reward(self, request: Request) -> Response:
        rollouts, mode = payloads.rollouts_from_body(
            await self._body(request),
            limit=self.settings.max_trajectories,
            default_mode=self.settings.reward_mode,
        )
        rewards, scores = await self.service.rewards(rollouts, mode)
        records = [
            score_record(t, s, reward=r) for t, s, r in zip(rollouts, scores, rewards, strict=True)
        ]
        return json_response({"rewards": rewards, "mode": mode, "results": records})

    async def openrlhf(self, request: Request) -> Response:
        mode = payloads.check_mode(request.query_params.get("mode"), self.settings.reward_mode)
        rollouts = payloads.openrlhf_rollouts(
            await self._body(request), limit=self.settings.max_trajectories, mode=mode
        )
        rewards, scores = await self.service.rewards(rollouts, mode)
        extra = {
            "swerm_raw": [s.raw for s in scores],
            "swerm_probability": [s.probability for s in scores],
            "swerm_truncated": [float(s.truncated) for s in scores],
        }
        return json_response({"rewards": rewards, "scores": rewards, "extra_logs": extra})

    async def healthz(self, request: Request) -> Response:
        ready, reason = await self.service.readiness()
        body = {"status": "ready" if ready else "unavailable", "reason": reason}
        body.update(self.service.describe())
        headers = None if ready else {"Retry-After": "5"}
        return json_response(body, 200 if ready else 503, headers)

    def build(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            await self.service.start()
            try:
                yield
            finally:
                await self.service.stop()

        routes = [
            Route("/v1/score", self.route("score", self.score), methods=["POST"]),
            Route("/v1/rerank", self.route("rerank", self.rerank), methods=["POST"]),
            Route("/v1/reward", self.route("reward", self.reward), methods=["POST"]),
            Route("/v1/openrlhf/reward", self.route("openrlhf", self.openrlhf), methods=["POST"]),
            Route("/healthz", self.route("healthz", self.healthz, protected=False)),
            Route("/metrics", self.metrics.asgi_app(), methods=["GET"]),
        ]
        app = Starlette(routes=routes, lifespan=lifespan)
        app.state.service = self.service
        return app


def create_app(
    config: SwermConfig,
    settings: ServeSettings | None = None,
    *,
    verifier: Verifier | None = None,
    on_failure: Callable[[str], None] | None = None,
) -> Starlette:
    """The ``swerm serve`` ASGI app for ``config``; run it under uvicorn (or Ray Serve).

    :param verifier: a verifier to serve (the caller closes it); by default the app builds one
        from ``config`` at start-up, in the background: ``/healthz`` says when it is ready.
    :param on_failure: called with the reason if the backend fails to load.
    :raises ConfigError: ``settings.api_key_env`` names an unset variable.
    """
    settings = settings or ServeSettings()
    service = ScoringService(
        config, settings, verifier=verifier, metrics=ServeMetrics(), on_failure=on_failure
    )
    return ServeApp(service, settings.api_key()).build()
