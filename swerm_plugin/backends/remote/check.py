"""``remote check``: ask each configured endpoint whether it is up and serves the model."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from swerm_plugin.backends.remote.http import RemoteClient
from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import RemoteError


@dataclass
class EndpointCheck:
    """What one endpoint answered."""

    url: str
    healthy: bool = False
    latency_ms: float | None = None
    models: list[str] = field(default_factory=list)
    max_model_len: int | None = None
    problem: str = ""


async def check_endpoint(url: str, config: SwermConfig) -> EndpointCheck:
    """``/health`` and ``/v1/models`` of one endpoint, once each, without retries."""
    remote = config.remote
    client = RemoteClient(
        [url], api_key=remote.api_key, timeout_s=min(remote.timeout_s, 10.0), max_retries=0
    )
    check = EndpointCheck(client.pool.endpoints[0].shown)
    try:
        start = time.perf_counter()
        try:
            await client.request_json("GET", "/health", what="/health")
        except RemoteError as exc:
            if exc.status != 404:  # OpenAI-compatible servers need not have /health
                check.problem = str(exc)
                return check
        check.latency_ms = (time.perf_counter() - start) * 1000
        reply = await client.get_json("/v1/models", what="/v1/models")
    except RemoteError as exc:
        check.problem = str(exc)
        return check
    finally:
        await client.aclose()
    cards = [c for c in (reply.get("data") or []) if isinstance(c, dict)]
    check.models = [str(c.get("id")) for c in cards]
    check.healthy = True
    if config.model is not None:
        if config.model not in check.models:
            check.healthy = False
            check.problem = f"does not serve '{config.model}'"
        else:
            length = cards[check.models.index(config.model)].get("max_model_len")
            check.max_model_len = length if isinstance(length, int) else None
    return check


async def check_endpoints(config: SwermConfig) -> list[EndpointCheck]:
    urls = config.remote.endpoints
    return list(await asyncio.gather(*(check_endpoint(url, config) for url in urls)))
