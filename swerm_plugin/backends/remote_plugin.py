"""Built-in plugin: registers the remote backends (``vllm``, ``openai``, ``classify``) and adds
``swerm remote check``, which asks every configured endpoint whether it is up and serves the model.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from swerm_plugin.hookspecs import hookimpl

if TYPE_CHECKING:
    from swerm_plugin.backends.base import RewardBackend
    from swerm_plugin.config import SwermConfig


@hookimpl(trylast=True)
def swerm_register_backends(register: Callable[[type[RewardBackend]], None]) -> None:
    from swerm_plugin.backends.classify import ClassifyBackend
    from swerm_plugin.backends.openai import OpenAIBackend
    from swerm_plugin.backends.vllm import VllmBackend

    register(VllmBackend)
    register(OpenAIBackend)
    register(ClassifyBackend)


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
    from swerm_plugin.backends.http import RemoteClient, RemoteError

    remote = config.remote
    client = RemoteClient(
        [url], api_key=remote.api_key, timeout_s=min(remote.timeout_s, 10.0), max_retries=0
    )
    check = EndpointCheck(client.pool.endpoints[0].url)
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


@click.group("remote")
def remote_group() -> None:
    """Inference servers used by the vllm, openai and classify backends."""


@remote_group.command("check")
@click.option(
    "--endpoint",
    "endpoints",
    multiple=True,
    help="Server root URL (repeatable); default: remote.endpoints from the config.",
)
@click.option("--model", help="Served model name to look for; default: model from the config.")
def check_command(endpoints: tuple[str, ...], model: str | None) -> None:
    """Ask each endpoint for /health and its models; exit 1 if one is down or lacks the model."""
    from rich.console import Console
    from rich.table import Table

    from swerm_plugin.config import load_config

    overrides = {"endpoints": list(endpoints)} if endpoints else None
    config = load_config(model=model, remote=overrides)
    if not config.remote.endpoints:
        raise click.UsageError("no endpoints: pass --endpoint URL or set remote.endpoints")
    checks = asyncio.run(check_endpoints(config))
    table = Table(title="swerm remote check")
    for column in ("endpoint", "status", "latency", "models", "max_model_len"):
        table.add_column(column)
    for check in checks:
        status = "[green]ok[/]" if check.healthy else f"[red]{check.problem or 'down'}[/]"
        latency = "" if check.latency_ms is None else f"{check.latency_ms:.0f} ms"
        table.add_row(
            check.url,
            status,
            latency,
            ", ".join(check.models),
            "" if check.max_model_len is None else str(check.max_model_len),
        )
    Console().print(table)
    failed = sum(not check.healthy for check in checks)
    if failed:
        raise click.ClickException(f"{failed} of {len(checks)} endpoints failed the check")


@hookimpl
def swerm_register_commands(cli: click.Group) -> None:
    cli.add_command(remote_group)
