"""Plugin discovery in one place, and the typed wrapper host code calls hooks through.

Order: third-party entry points (group ``swerm``), then the built-in plugins, then
``check_pending()``. ``SWERM_DISABLE_PLUGIN_AUTOLOAD=1`` skips entry points;
``SWERM_LOAD_PLUGINS=a,b`` loads only the entry points named there (also when autoload is off).
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from swerm_plugin import hookspecs
from swerm_plugin.config import SwermConfig, load_config

if TYPE_CHECKING:
    import click

    from swerm_plugin.adapters.base import TrajectoryAdapter
    from swerm_plugin.backends.base import RewardBackend
    from swerm_plugin.prompts.prompt import Prompt
    from swerm_plugin.trajectory import CandidateGroup, Decision, Score, Trajectory

ENTRY_POINT_GROUP = "swerm"

# Built-in behaviour is made of ordinary plugins on the same hooks.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "swerm_plugin.hooks.calibrate",
    "swerm_plugin.hooks.policy",
    "swerm_plugin.hooks.rerank",
    "swerm_plugin.hooks.logs",
    "swerm_plugin.hooks.commands",
    "swerm_plugin.adapters.plugin",
    "swerm_plugin.prompts.render",
    "swerm_plugin.backends.transformers",
    "swerm_plugin.backends.remote_plugin",
    "swerm_plugin.scoring_cli",
    "swerm_plugin.integrations.commands",
)


class PluginError(RuntimeError):
    """A plugin failed to load or returned something unusable; the message names it."""


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _allow_list(environ: Mapping[str, str]) -> set[str] | None:
    raw = environ.get("SWERM_LOAD_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def _load_entry_points(pm: pluggy.PluginManager, environ: Mapping[str, str]) -> None:
    allowed = _allow_list(environ)
    if allowed is None and _truthy(environ.get("SWERM_DISABLE_PLUGIN_AUTOLOAD")):
        return
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=ep.name)
        except Exception as exc:
            raise PluginError(f"plugin '{ep.name}' ({ep.value}) failed to load: {exc}") from exc


def build_plugin_manager(environ: Mapping[str, str] | None = None) -> pluggy.PluginManager:
    """A new, fully loaded plugin manager (no caching; tests use this)."""
    env = os.environ if environ is None else environ
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    _load_entry_points(pm, env)
    for module_name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    pm.check_pending()
    return pm


_pm: pluggy.PluginManager | None = None


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    global _pm
    if _pm is None:
        _pm = build_plugin_manager()
    return _pm


def reset_plugin_manager() -> None:
    """Forget the process-wide manager (after changing environment variables, in tests)."""
    global _pm, _hooks
    _pm = None
    _hooks = None


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str | None
    hooks: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "hooks": self.hooks}


def list_plugins(pm: pluggy.PluginManager | None = None) -> list[PluginInfo]:
    """Every registered plugin with its version and the hooks it implements."""
    pm = pm or get_plugin_manager()
    versions = {id(plugin): dist.version for plugin, dist in pm.list_plugin_distinfo()}
    own_version = metadata.version("swerm-plugin")
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        is_builtin = isinstance(plugin, ModuleType) and name in BUILTIN_PLUGINS
        version = own_version if is_builtin else versions.get(id(plugin))
        infos.append(PluginInfo(name=name, version=version, hooks=hooks))
    return infos


class Hooks:
    """Typed access to the hooks; host code calls these rather than ``pm.hook.*``."""

    def __init__(self, pm: pluggy.PluginManager, config: SwermConfig | None = None) -> None:
        self.pm = pm
        self._config = config

    @property
    def config(self) -> SwermConfig:
        """The effective config, loaded on first use and announced through ``swerm_configure``."""
        if self._config is None:
            self._config = load_config()
        if not getattr(self, "_configured", False):
            self._configured = True
            self.pm.hook.swerm_configure.call_historic(kwargs={"config": self._config})
        return self._config

    @functools.cached_property
    def _backends(self) -> dict[str, type[RewardBackend]]:
        found: dict[str, type[RewardBackend]] = {}

        def register(cls: type[RewardBackend]) -> None:
            found.setdefault(cls.name, cls)

        self.pm.hook.swerm_register_backends(register=register)
        return found

    def backends(self) -> dict[str, type[RewardBackend]]:
        """Backend classes by name; a plugin registered earlier wins a name clash."""
        return dict(self._backends)

    @functools.cached_property
    def _adapters(self) -> list[TrajectoryAdapter]:
        found: list[TrajectoryAdapter] = []
        self.pm.hook.swerm_register_adapters(register=found.append)
        return found

    def adapters(self) -> list[TrajectoryAdapter]:
        """Trajectory readers in detection order."""
        return list(self._adapters)

    def register_commands(self, cli: click.Group) -> None:
        self.pm.hook.swerm_register_commands(cli=cli)

    def render_prompt(
        self, trajectory: Trajectory, *, template: str, tokenizer: Any, budget: int | None
    ) -> Prompt:
        prompt = self.pm.hook.swerm_render_prompt(
            trajectory=trajectory,
            template=template,
            tokenizer=tokenizer,
            budget=budget,
            config=self.config,
        )
        if prompt is None:
            raise PluginError(f"no plugin rendered template '{template}'")
        return prompt

    def calibrate(self, trajectory: Trajectory, score: Score) -> float | None:
        value = self.pm.hook.swerm_calibrate(trajectory=trajectory, score=score, config=self.config)
        if value is not None and not 0.0 <= value <= 1.0:
            raise PluginError(f"swerm_calibrate returned {value!r}, outside [0, 1]")
        return value

    def decide(self, trajectory: Trajectory, score: Score, attempt: int) -> Decision:
        decision = self.pm.hook.swerm_decide(
            trajectory=trajectory, score=score, attempt=attempt, config=self.config
        )
        if decision is None:
            raise PluginError("no plugin implemented swerm_decide")
        self.pm.hook.swerm_decision_made(trajectory=trajectory, score=score, decision=decision)
        return decision

    def select(self, group: CandidateGroup, scores: list[Score | None]) -> list[int]:
        ranking = self.pm.hook.swerm_select(group=group, scores=scores, config=self.config)
        if ranking is None or sorted(ranking) != list(range(len(group.candidates))):
            raise PluginError(
                f"swerm_select returned {ranking!r} for {len(group.candidates)} candidates; "
                "expected a permutation of their indices"
            )
        return list(ranking)

    def trajectory_finished(self, trajectory: Trajectory) -> None:
        self.pm.hook.swerm_trajectory_finished(trajectory=trajectory)

    def trajectory_scored(self, trajectory: Trajectory, score: Score) -> None:
        self.pm.hook.swerm_trajectory_scored(trajectory=trajectory, score=score)


_hooks: Hooks | None = None


def get_hooks(config: SwermConfig | None = None) -> Hooks:
    """A :class:`Hooks` over the process-wide plugin manager.

    Without ``config`` the cached instance (with the config from the usual layers, loaded on
    first use) is reused; with one, a new instance is made for that config.
    """
    global _hooks
    if config is None and _hooks is not None and _hooks.pm is get_plugin_manager():
        return _hooks
    hooks = Hooks(get_plugin_manager(), config)
    if config is None:
        _hooks = hooks
    return hooks
