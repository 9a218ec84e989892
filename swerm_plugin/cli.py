"""The ``swerm`` command line. Subcommands beyond the core ones come from plugins
(``swerm_register_commands``), built-in features included."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import click
import orjson
from rich.console import Console
from rich.table import Table

from swerm_plugin import __version__
from swerm_plugin.config import load_config
from swerm_plugin.plugins import get_hooks, get_plugin_manager, list_plugins

err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    """One JSON document on stdout (pretty, keys in insertion order)."""
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="swerm")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
def cli(debug: bool) -> None:
    """Execution-free reward-model scoring for coding-agent trajectories."""
    if debug:
        import logging

        from rich.logging import RichHandler

        logging.basicConfig(level=logging.DEBUG, handlers=[RichHandler(console=err_console)])


@cli.command("plugins")
def plugins_command() -> None:
    """List every registered plugin (built-ins included) as JSON."""
    print_json([info.as_dict() for info in list_plugins(get_plugin_manager())])


@cli.group("config")
def config_group() -> None:
    """Inspect the effective configuration."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def config_show(as_json: bool) -> None:
    """Print every config value and the layer it came from (secrets masked)."""
    effective = load_config().effective()
    if as_json:
        print_json(effective)
        return
    table = Table(title="swerm configuration")
    table.add_column("key", style="bold")
    table.add_column("value")
    table.add_column("source", style="dim")
    for key, entry in effective.items():
        table.add_row(key, repr(entry["value"]), entry["source"])
    Console().print(table)


def _debug_requested(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get("SWERM_DEBUG", "") not in {"", "0"}


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: one clear error line, tracebacks only with ``--debug``."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        get_hooks().register_commands(cli)
        cli.main(args=args, prog_name="swerm", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("swerm: aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("swerm: interrupted", err=True)
        return 130
    except Exception as exc:
        if _debug_requested(args):
            raise
        click.echo(f"swerm: error: {exc}", err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
