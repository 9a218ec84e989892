"""``swerm remote check``: health and served models of every configured endpoint."""

from __future__ import annotations

import asyncio

import click

from swerm_plugin.cli.options import config_from, printable, say


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
    from swerm_plugin.backends.remote.check import check_endpoints
    from swerm_plugin.cli.tables import Column, print_table

    overrides = {"endpoints": list(endpoints)} if endpoints else None
    config = config_from(model=model, remote=overrides)
    if not config.remote.endpoints:
        raise click.UsageError("no endpoints: pass --endpoint URL or set remote.endpoints")
    checks = asyncio.run(check_endpoints(config))
    columns = [
        Column("endpoint", "whole"),
        Column("status"),
        Column("latency", "number"),
        Column("models"),
        Column("max_model_len", "number"),
    ]
    rows = [
        [
            check.url,
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
            say(f"{check.url}: {printable(check.problem or 'down')}")
    failed = sum(not check.healthy for check in checks)
    if failed:
        raise click.ClickException(f"{failed} of {len(checks)} endpoints failed the check")
