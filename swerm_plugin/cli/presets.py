"""``swerm presets``: the verifier presets, their settings and where each fact comes from."""

from __future__ import annotations

import click

from swerm_plugin.cli.options import json_option, print_json, printable, stdout_console


@click.command("presets")
@click.argument("name", required=False)
@json_option
def presets_command(name: str | None, as_json: bool) -> int:
    """List the verifier presets (or show one): backend, template, weights, sources, and the
    recommended `vllm serve` command. Use one with `verifier = "NAME"` or `--verifier NAME`."""
    from swerm_plugin.plugins.manager import get_hooks

    hooks = get_hooks()
    presets = [hooks.preset(name)] if name else list(hooks.presets().values())
    if as_json:
        print_json([preset.as_dict() for preset in presets])
        return 0
    if name:
        _show(presets[0].as_dict())
        return 0
    from rich.table import Table

    table = Table(title="swerm verifier presets")
    for column in ("name", "backend", "template"):
        table.add_column(column, no_wrap=True)
    table.add_column("summary", overflow="fold")
    for preset in presets:
        row = (preset.name, preset.backend, preset.template, preset.summary)
        table.add_row(*(printable(cell) for cell in row))
    stdout_console().print(table)
    click.echo("swerm presets NAME shows one preset with its sources and serve command.")
    return 0


def _show(entry: dict[str, object]) -> None:
    for key in ("name", "summary", "weights", "base", "backend", "template"):
        click.echo(f"{key}: {printable(str(entry[key]))}")
    click.echo("settings:")
    for key, value in dict(entry["settings"]).items():  # type: ignore[call-overload]
        click.echo(f"  {key} = {value!r}")
    click.echo(f"serve: {entry['serve']}")
    click.echo("sources:")
    for source in entry["sources"]:  # type: ignore[attr-defined]
        click.echo(f"  - {printable(str(source))}")
    if entry.get("notes"):
        click.echo(f"notes: {printable(str(entry['notes']))}")
