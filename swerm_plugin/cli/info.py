"""``swerm plugins`` and ``swerm config show``: what is installed and what is configured."""

from __future__ import annotations

import click

from swerm_plugin.cli.options import (
    config_from,
    json_option,
    print_json,
    printable,
    stdout_console,
)
from swerm_plugin.plugins.manager import get_plugin_manager, list_plugins


@click.command("plugins")
def plugins_command() -> None:
    """List every registered plugin (built-ins included) and its hooks, as JSON."""
    print_json([info.as_dict() for info in list_plugins(get_plugin_manager())])


@click.group("config")
def config_group() -> None:
    """Inspect the effective configuration."""


@config_group.command("show")
@json_option
def config_show(as_json: bool) -> None:
    """Print every config value and the layer it came from (secrets masked)."""
    from rich.table import Table

    effective = config_from().effective()
    if as_json:
        print_json(effective)
        return
    table = Table(title="swerm configuration")
    table.add_column("key", style="bold")
    table.add_column("value")
    table.add_column("source", style="dim")
    for key, entry in effective.items():
        table.add_row(key, printable(repr(entry["value"])), printable(entry["source"]))
    stdout_console().print(table)
