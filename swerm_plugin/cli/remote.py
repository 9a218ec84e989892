"""``swerm remote check``: health and served models of every configured endpoint."""

from __future__ import annotations

import asyncio

import click

from swerm_plugin.cli.options import config_from, printable, say, stdout_console


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
    from rich.table import Table
    from rich.text import Text

    from swerm_plugin.backends.remote.check import check_endpoints

    overrides = {"endpoints": list(endpoints)} if endpoints else None
    config = config_from(model=model, remote=overrides)
    if not config.remote.endpoints:
        raise click.UsageError("no endpoints: pass --endpoint URL or set remote.endpoints")
    checks = asyncio.run(check_endpoints(config))
    table = Table(title="swerm remote check")
    for column in ("endpoint", "status", "latency", "models", "max_model_len"):
        table.add_column(column)
    for check in checks:
        status = Text("ok", "green") if check.healthy else Text("failed", "red")
        latency = "" if check.latency_ms is None else f"{check.latency_ms:.0f} ms"
        table.add_row(
            printable(check.url),
            status,
            latency,
            printable(", ".join(check.models)),
            "" if check.max_model_len is None else str(check.max_model_len),
        )
    stdout_console().print(table)
    for check in checks:
        if not check.healthy:  # whole, as plain text: a server's message may hold [brackets]
            say(f"{check.url}: {printable(check.problem or 'down')}")
    failed = sum(not check.healthy for check in checks)
    if failed:
        raise click.ClickException(f"{failed} of {len(checks)} endpoints failed the check")
