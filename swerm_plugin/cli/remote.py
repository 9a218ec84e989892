"""``swerm remote check``: health and served models of every configured endpoint."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import click

from swerm_plugin.cli.options import config_from, json_option, print_json, printable, say
from swerm_plugin.config import mask_url

if TYPE_CHECKING:
    from swerm_plugin.backends.remote.check import EndpointCheck


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
@json_option
def check_command(endpoints: tuple[str, ...], model: str | None, as_json: bool) -> None:
    """Ask each endpoint for /health and its models; exit 1 if one is down or lacks the model."""
    from swerm_plugin.backends.remote.check import check_endpoints

    overrides = {"endpoints": list(endpoints)} if endpoints else None
    config = config_from(model=model, remote=overrides)
    if not config.remote.endpoints:
        raise click.UsageError("no endpoints: pass --endpoint URL or set remote.endpoints")
    checks = asyncio.run(check_endpoints(config))
    failed = sum(not check.healthy for check in checks)
    if as_json:
        print_json({"endpoints": [_as_json(check) for check in checks], "failed": failed})
    else:
        _print(checks)
    if failed:
        raise click.ClickException(f"{failed} of {len(checks)} endpoints failed the check")


def _as_json(check: EndpointCheck) -> dict[str, Any]:
    return {
        "endpoint": mask_url(check.url),
        "healthy": check.healthy,
        "latency_ms": check.latency_ms,
        "models": check.models,
        "max_model_len": check.max_model_len,
        "problem": check.problem or None,
    }


def _print(checks: list[EndpointCheck]) -> None:
    from swerm_plugin.cli.tables import Column, print_table

    columns = [
        Column("endpoint", "whole"),
        Column("status"),
        Column("latency", "number"),
        Column("models"),
        Column("max_model_len", "number"),
    ]
    rows = [
        [
            mask_url(check.url),
            "ok" if check.healthy else "failed",
            "" if check.latency_ms is None else f"{check.latency_ms:.0f} ms",
            ", ".join(check.models),
            check.max_model_len,
        ]
        for check in checks
    ]
    print_table("swerm remote check", columns, rows)
    for check in checks:
        if not check.healthy:  # whole, as plain text: a server's message may hold [brackets]
            say(f"{mask_url(check.url)}: {printable(check.problem or 'down')}")
