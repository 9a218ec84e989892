"""Built-in plugin: registers the framework readers and the ``swerm inspect`` command."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from swerm_plugin.hookspecs import hookimpl

if TYPE_CHECKING:
    import click

    from swerm_plugin.adapters.base import TrajectoryAdapter


def builtin_adapters() -> list[TrajectoryAdapter]:
    """One instance of each built-in reader, in detection order."""
    from swerm_plugin.adapters.minisweagent import MiniSweAgentAdapter
    from swerm_plugin.adapters.openhands import OpenHandsV0Adapter
    from swerm_plugin.adapters.openhands_sdk import OpenHandsSdkAdapter
    from swerm_plugin.adapters.predictions import SwebenchPredictionsAdapter
    from swerm_plugin.adapters.sweagent import SweAgentAdapter

    return [
        SweAgentAdapter(),
        MiniSweAgentAdapter(),
        OpenHandsV0Adapter(),
        OpenHandsSdkAdapter(),
        SwebenchPredictionsAdapter(),
    ]


# trylast: third-party readers register first, so they are tried first.
@hookimpl(trylast=True)
def swerm_register_adapters(register: Callable[[TrajectoryAdapter], None]) -> None:
    for adapter in builtin_adapters():
        register(adapter)


@hookimpl
def swerm_register_commands(cli: click.Group) -> None:
    from swerm_plugin.adapters.cli import inspect_command

    cli.add_command(inspect_command)
