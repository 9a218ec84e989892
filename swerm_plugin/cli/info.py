"""``swerm plugins`` and ``swerm config show``: what is installed and what is configured."""

from __future__ import annotations

import json
from typing import Any

import click

from swerm_plugin.cli.options import (
    config_from,
    json_option,
    print_json,
)
from swerm_plugin.config import SECRET_MASK
from swerm_plugin.plugins.manager import get_plugin_manager, list_plugins


def toml_value(value: Any) -> str:
    """A config value as TOML writes it (an unset optional value as ``(unset)``)."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value.startswith("(missing") or value == SECRET_MASK else json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


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
    from swerm_plugin.cli.tables import Column, print_table

    effective = config_from().effective()
    if as_json:
        print_json(effective)
        return
    rows = [[key, toml_value(e["value"]), e["source"]] for key, e in effective.items()]
    print_table("swerm configuration", [Column("key"), Column("value"), Column("source")], rows)
