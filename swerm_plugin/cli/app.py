"""The root ``swerm`` group and the console-script entry point.

Every error, usage errors included, is one line ``swerm: error: ...`` on stderr plus at most one
``hint:`` line; tracebacks only with ``--debug`` (accepted before or after the subcommand) or
``SWERM_DEBUG=1``. Exit codes: 0 done, 1 failed, 2 usage error, 3 partial (results written, but
some items failed or were skipped), 130 interrupted.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

from swerm_plugin import __version__
from swerm_plugin.cli.options import err_console
from swerm_plugin.config import env_flag
from swerm_plugin.errors import ConfigError, SwermError
from swerm_plugin.plugins.manager import get_hooks

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="swerm")
@click.option(
    "--debug", is_flag=True, help="Show tracebacks and debug logs (also after the subcommand)."
)
def cli(debug: bool) -> None:
    """Execution-free reward-model scoring for coding-agent trajectories."""
    if debug:
        from rich.logging import RichHandler

        logging.basicConfig(level=logging.DEBUG, handlers=[RichHandler(console=err_console)])


def _error(message: str, hint: str | None = None) -> None:
    click.echo(f"swerm: error: {message}", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)


def _split_debug(args: list[str]) -> tuple[list[str], bool]:
    """Take ``--debug`` out of the arguments wherever it stands (before a ``--``)."""
    end = args.index("--") if "--" in args else len(args)
    debug = "--debug" in args[:end]
    kept = [a for a in args[:end] if a != "--debug"] + args[end:]
    return kept, debug


def _debug_from_env() -> bool:
    try:
        return bool(env_flag("SWERM_DEBUG"))
    except ConfigError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit code."""
    args, debug = _split_debug(list(sys.argv[1:] if argv is None else argv))
    debug = debug or _debug_from_env()
    if debug:
        args = ["--debug", *args]
    try:
        get_hooks().register_commands(cli)
        result = cli.main(args=args, prog_name="swerm", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "swerm"
        _error(exc.format_message(), f"run '{command} --help' for the options")
        return EXIT_USAGE
    except click.ClickException as exc:
        _error(exc.format_message())
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("swerm: interrupted", err=True)
        return EXIT_INTERRUPTED
    except SwermError as exc:
        if debug:
            raise
        _error(str(exc), exc.hint)
        return EXIT_FAILED
    except Exception as exc:
        if debug:
            raise
        _error(f"{type(exc).__name__}: {exc}", "run again with --debug for the traceback")
        return EXIT_FAILED
    return result if isinstance(result, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
