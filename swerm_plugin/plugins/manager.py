"""Plugin discovery in one place, and the typed wrapper host code calls hooks through.

Order: third-party entry points (group ``swerm``), then the built-in plugins, then
``check_pending()``. ``SWERM_DISABLE_PLUGIN_AUTOLOAD=1`` skips entry points;
``SWERM_LOAD_PLUGINS=a,b`` loads only the entry points named there (also when autoload is off).

One :class:`Hooks` exists per configuration object (:func:`get_hooks`), so ``swerm_configure``
runs once per configuration, however many tasks and attempts use it.
"""

from __future__ import annotations

import functools
import importlib
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from swerm_plugin.config import SwermConfig, env_flag, load_config
from swerm_plugin.errors import ConfigError, PluginError, UnknownTemplateError
from swerm_plugin.plugins import hookspecs

if TYPE_CHECKING:
    import click

    from swerm_plugin.backends.base import GroupScorer, RewardBackend
    from swerm_plugin.calibration.calibrators import Calibrator
    from swerm_plugin.model import CandidateGroup, Decision, Score, Trajectory
    from swerm_plugin.presets.preset import VerifierPreset
    from swerm_plugin.prompts.prompt import Prompt
    from swerm_plugin.prompts.templates import PromptTemplate
    from swerm_plugin.readers.base import TrajectoryAdapter

ENTRY_POINT_GROUP = "swerm"

# Built-in behaviour is made of ordinary plugins on the same hooks (swerm_plugin.builtins).
BUILTIN_PLUGINS: tuple[str, ...] = (
    "swerm_plugin.builtins.readers",
    "swerm_plugin.builtins.templates",
    "swerm_plugin.builtins.presets",
    "swerm_plugin.builtins.render",
    "swerm_plugin.builtins.backends",
    "swerm_plugin.builtins.calibrate",
    "swerm_plugin.builtins.policy",
    "swerm_plugin.builtins.select",
    "swerm_plugin.builtins.logs",
    "swerm_plugin.builtins.commands",
)


def _allow_list(environ: Mapping[str, str]) -> set[str] | None:
    raw = environ.get("SWERM_LOAD_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def _load_entry_points(pm: pluggy.PluginManager, environ: Mapping[str, str]) -> None:
    allowed = _allow_list(environ)
    if allowed is None and env_flag("SWERM_DISABLE_PLUGIN_AUTOLOAD", environ):
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


_lock = threading.RLock()
_pm: pluggy.PluginManager | None = None
# One Hooks per configuration object, keyed by id(); the entry keeps the config alive, so an
# id is never reused while cached. Configs are few (one per run), so this stays small.
_hooks_by_config: dict[int, tuple[SwermConfig, Hooks]] = {}
_default_hooks: Hooks | None = None
_MAX_CACHED_CONFIGS = 64


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    global _pm
    with _lock:
        if _pm is None:
            _pm = build_plugin_manager()
        return _pm


def reset_plugin_manager() -> None:
    """Forget the process-wide manager and every cached :class:`Hooks` (after changing
    environment variables, in tests)."""
    global _pm, _default_hooks
    with _lock:
        _pm = None
        _default_hooks = None
        _hooks_by_config.clear()


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


def _registry(hook: Any, key: Callable[[Any], str]) -> dict[str, Any]:
    """Call a ``register`` hook; the first registration of a name wins."""
    found: dict[str, Any] = {}

    def register(item: Any) -> None:
        found.setdefault(key(item), item)

    hook(register=register)
    return found


class Hooks:
    """Typed access to the hooks; host code calls these rather than ``pm.hook.*``.

    Get one with :func:`get_hooks`. The registries (backends, readers, templates, calibrators)
    are collected once per instance.
    """

    def __init__(self, pm: pluggy.PluginManager, config: SwermConfig | None = None) -> None:
        self.pm = pm
        self._config = config
        self._configured = False
        self._configure_lock = threading.Lock()

    @property
    def config(self) -> SwermConfig:
        """The effective config, loaded on first use and announced through ``swerm_configure``
        (once per :class:`Hooks`, so once per configuration)."""
        with self._configure_lock:
            if self._config is None:
                self._config = load_config()
            if not self._configured:
                self._configured = True
                self.pm.hook.swerm_configure.call_historic(kwargs={"config": self._config})
        return self._config

    # --- registries ---

    @functools.cached_property
    def _backends(self) -> dict[str, type[RewardBackend] | type[GroupScorer]]:
        return _registry(self.pm.hook.swerm_register_backends, lambda cls: cls.name)

    def backends(self) -> dict[str, type[RewardBackend] | type[GroupScorer]]:
        """Backend and group-scorer classes by name; a plugin registered earlier wins a clash."""
        return dict(self._backends)

    @functools.cached_property
    def _adapters(self) -> list[TrajectoryAdapter]:
        found: list[TrajectoryAdapter] = []
        self.pm.hook.swerm_register_adapters(register=found.append)
        return found

    def adapters(self) -> list[TrajectoryAdapter]:
        """Trajectory readers in detection order."""
        return list(self._adapters)

    @functools.cached_property
    def _templates(self) -> dict[str, PromptTemplate]:
        return _registry(self.pm.hook.swerm_register_templates, lambda t: t.name)

    def templates(self) -> dict[str, PromptTemplate]:
        """Prompt templates by name."""
        return dict(self._templates)

    def template(self, name: str) -> PromptTemplate:
        """The template registered as ``name``."""
        try:
            return self._templates[name]
        except KeyError:
            known = ", ".join(sorted(self._templates))
            raise UnknownTemplateError(
                f"unknown prompt template '{name}'; choose one of: {known}"
            ) from None

    def check_template(self, name: str) -> None:
        """Fail early on a template nobody can render: not registered, and no plugin other than
        the built-in one implements ``swerm_render_prompt`` (it may render names of its own)."""
        if name in self._templates:
            return
        renderers = [
            impl.plugin_name
            for impl in self.pm.hook.swerm_render_prompt.get_hookimpls()
            if impl.plugin_name not in BUILTIN_PLUGINS
        ]
        if not renderers:
            self.template(name)  # raises UnknownTemplateError naming the known ones

    @functools.cached_property
    def _presets(self) -> dict[str, VerifierPreset]:
        return _registry(self.pm.hook.swerm_register_presets, lambda p: p.name)

    def presets(self) -> dict[str, VerifierPreset]:
        """Verifier presets by name, in registration order."""
        return dict(self._presets)

    def preset(self, name: str) -> VerifierPreset:
        """The preset registered as ``name``."""
        try:
            return self._presets[name]
        except KeyError:
            known = ", ".join(sorted(self._presets))
            raise ConfigError(
                f"unknown verifier preset '{name}'; choose one of: {known}",
                hint="swerm presets lists them with their sources",
            ) from None

    @functools.cached_property
    def _calibrators(self) -> dict[str, type[Calibrator]]:
        return _registry(self.pm.hook.swerm_register_calibrators, lambda cls: cls.method)

    def calibrators(self) -> dict[str, type[Calibrator]]:
        """Calibrator classes by method name."""
        return dict(self._calibrators)

    def register_commands(self, cli: click.Group) -> None:
        self.pm.hook.swerm_register_commands(cli=cli)

    # --- pipeline ---

    def render_prompt(
        self,
        trajectory: Trajectory,
        *,
        template: str | PromptTemplate,
        tokenizer: Any,
        budget: int | None,
        markup: Sequence[str] | None = None,
    ) -> Prompt:
        prompt = self.pm.hook.swerm_render_prompt(
            trajectory=trajectory,
            template=template,
            tokenizer=tokenizer,
            budget=budget,
            config=self.config,
            markup=markup,
        )
        if prompt is None:
            name = template if isinstance(template, str) else template.name
            raise PluginError(f"no plugin rendered template '{name}'")
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
        if len(scores) != len(group.candidates):
            raise PluginError(
                f"{group.instance_id}: {len(group.candidates)} candidates but {len(scores)} scores"
            )
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


def get_hooks(config: SwermConfig | None = None) -> Hooks:
    """The :class:`Hooks` for ``config`` over the process-wide plugin manager.

    The same object comes back for the same configuration object, so its ``swerm_configure``
    call and its registries happen once. Without ``config``, the one instance whose config is
    loaded from the usual layers on first use.
    """
    global _default_hooks
    pm = get_plugin_manager()
    with _lock:
        if config is None:
            if _default_hooks is None or _default_hooks.pm is not pm:
                _default_hooks = Hooks(pm)
            return _default_hooks
        cached = _hooks_by_config.get(id(config))
        if cached is None or cached[0] is not config or cached[1].pm is not pm:
            cached = (config, Hooks(pm, config))
            _hooks_by_config[id(config)] = cached
            while len(_hooks_by_config) > _MAX_CACHED_CONFIGS:
                del _hooks_by_config[next(iter(_hooks_by_config))]
        return cached[1]
