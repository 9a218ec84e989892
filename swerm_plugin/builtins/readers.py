"""Registers the built-in framework readers, in detection order."""

from __future__ import annotations

from collections.abc import Callable

from swerm_plugin.plugins.hookspecs import hookimpl
from swerm_plugin.readers.base import TrajectoryAdapter


def builtin_adapters() -> list[TrajectoryAdapter]:
    """One instance of each built-in reader, in detection order."""
    from swerm_plugin.readers.minisweagent import MiniSweAgentAdapter
    from swerm_plugin.readers.native import SwermTrajectoryReader
    from swerm_plugin.readers.openhands import OpenHandsV0Adapter
    from swerm_plugin.readers.openhands_sdk import OpenHandsSdkAdapter
    from swerm_plugin.readers.predictions import SwebenchPredictionsAdapter
    from swerm_plugin.readers.sweagent import SweAgentAdapter

    return [
        SweAgentAdapter(),
        MiniSweAgentAdapter(),
        OpenHandsV0Adapter(),
        OpenHandsSdkAdapter(),
        SwermTrajectoryReader(),
        SwebenchPredictionsAdapter(),
    ]


# trylast: third-party readers register first, so they are tried first.
@hookimpl(trylast=True)
def swerm_register_adapters(register: Callable[[TrajectoryAdapter], None]) -> None:
    for adapter in builtin_adapters():
        register(adapter)
