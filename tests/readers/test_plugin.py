"""The readers and ``swerm inspect`` reach the host through the plugin hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import click
import pluggy

from swerm_plugin import hookimpl
from swerm_plugin.builtins import commands as commands_plugin
from swerm_plugin.builtins import readers as adapters_plugin
from swerm_plugin.model import Trajectory
from swerm_plugin.plugins import BUILTIN_PLUGINS, Hooks, hookspecs
from swerm_plugin.readers import TrajectoryAdapter, load

BUILTIN_NAMES = [
    "swe-agent",
    "mini-swe-agent",
    "openhands-v0",
    "openhands-sdk",
    "swerm",
    "swebench-predictions",
]


class _TextTrajectories(TrajectoryAdapter):
    name: ClassVar[str] = "text-demo"

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.startswith(b"TASK ")

    def read(self, path: Path) -> Iterator[Trajectory]:
        yield Trajectory(instance_id=path.read_text().split()[1], source="text-demo/1")


class _ThirdParty:
    @hookimpl
    def swerm_register_adapters(self, register: Callable[[TrajectoryAdapter], None]) -> None:
        register(_TextTrajectories())


def _manager(*plugins: object) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for plugin in plugins:
        pm.register(plugin)
    return pm


def test_builtin_plugin_is_listed() -> None:
    assert "swerm_plugin.builtins.readers" in BUILTIN_PLUGINS


def test_third_party_readers_come_before_the_builtins() -> None:
    # Registered in the order the host does it: entry points first, then built-ins.
    pm = _manager(_ThirdParty(), adapters_plugin)
    names = [adapter.name for adapter in Hooks(pm).adapters()]
    assert names == ["text-demo", *BUILTIN_NAMES]


def test_load_uses_the_registered_readers(tmp_path: Path, monkeypatch) -> None:
    pm = _manager(_ThirdParty(), adapters_plugin)
    monkeypatch.setattr(
        "swerm_plugin.readers.loader.registered_adapters", lambda: Hooks(pm).adapters()
    )
    path = tmp_path / "task.txt"
    path.write_text("TASK demo__demo-3\n")
    [traj] = load(path)
    assert (traj.instance_id, traj.source) == ("demo__demo-3", "text-demo/1")


def test_inspect_is_registered_as_a_command() -> None:
    group = click.Group("swerm")
    _manager(commands_plugin).hook.swerm_register_commands(cli=group)
    assert "inspect" in group.commands


def test_the_process_wide_manager_has_the_readers(swerm_pm: pluggy.PluginManager) -> None:
    names = [adapter.name for adapter in Hooks(swerm_pm).adapters()]
    assert names[-len(BUILTIN_NAMES) :] == BUILTIN_NAMES
