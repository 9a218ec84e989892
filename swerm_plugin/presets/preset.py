"""The :class:`VerifierPreset` record and how a preset fills a configuration.

Precedence: a preset only fills keys that no layer set. Defaults < preset < ``[tool.swerm]`` /
``swerm.toml`` < ``SWERM_CONFIG`` file < ``SWERM_*`` variables < explicit arguments; so
``verifier = "swe-gym-verifier"`` with ``max_tokens = 16000`` keeps 16000, and
``swerm config show`` names the preset as the source of every key it filled.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import ConfigError

if TYPE_CHECKING:
    from swerm_plugin.plugins.manager import Hooks

#: The config keys a preset may set.
PRESET_KEYS = frozenset(
    {
        "backend",
        "template",
        "verdict_tokens",
        "prefill",
        "max_tokens",
        "remote.classify_route",
        "remote.score_label",
        "remote.activation",
        "remote.group_candidates",
    }
)


@dataclass(frozen=True)
class VerifierPreset:
    """How to feed and read one published verifier.

    :param name: what ``verifier = "..."`` selects.
    :param summary: one line for ``swerm presets``.
    :param weights: where the published weights are (hub id), or why there are none.
    :param base: the base model and head, e.g. ``Qwen3ForSequenceClassification (Qwen3-4B)``.
    :param settings: dotted config keys (one of :data:`PRESET_KEYS`) and their values.
    :param serve: the ``vllm serve`` arguments after the model path.
    :param sources: where each fact comes from (papers, files in the verifier's repository).
    :param notes: what is uncertain, in a sentence or two.
    """

    name: str
    summary: str
    weights: str
    base: str
    settings: Mapping[str, Any]
    serve: tuple[str, ...]
    sources: tuple[str, ...]
    notes: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.settings) - PRESET_KEYS
        if unknown:
            raise ConfigError(
                f"preset '{self.name}' sets {sorted(unknown)}, which a preset cannot set; "
                f"presets set {sorted(PRESET_KEYS)}"
            )
        if not self.sources:
            raise ConfigError(f"preset '{self.name}' names no source")

    @property
    def backend(self) -> str:
        return str(self.settings.get("backend", "auto"))

    @property
    def template(self) -> str:
        return str(self.settings.get("template", "swe-rm"))

    def serve_command(self, model: str = "<MODEL_PATH>") -> str:
        """The recommended ``vllm serve`` command line for ``model``."""
        quoted = model if model == "<MODEL_PATH>" else shlex.quote(model)
        return " ".join(["vllm serve", quoted, shlex.join(self.serve)]).strip()

    def as_dict(self) -> dict[str, Any]:
        """What ``swerm presets --json`` prints for this preset."""
        return {
            "name": self.name,
            "summary": self.summary,
            "backend": self.backend,
            "template": self.template,
            "source": self.sources[0],
            "sources": list(self.sources),
            "weights": self.weights,
            "base": self.base,
            "settings": {key: _plain(value) for key, value in self.settings.items()},
            "serve": self.serve_command(),
            "notes": self.notes,
            **dict(self.extra),
        }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def apply_preset(config: SwermConfig, preset: VerifierPreset) -> SwermConfig:
    """A copy of ``config`` with ``preset``'s settings in every key no layer set."""
    data = config.model_dump(mode="python")
    sources = dict(config._sources)
    for key, value in preset.settings.items():
        if config.source_of(key) != "default":
            continue
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
        sources[key] = f"preset {preset.name}"
    resolved = SwermConfig.model_validate(data)
    resolved._sources = sources
    resolved._preset_applied = preset.name
    return resolved


def resolve_verifier(config: SwermConfig, hooks: Hooks | None = None) -> SwermConfig:
    """``config`` with its ``verifier`` preset applied (the same object when it names none, or
    when it was applied already).

    :raises ConfigError: for a preset name nobody registered.
    """
    if not config.verifier or config._preset_applied == config.verifier:
        return config
    return apply_preset(config, get_preset(config.verifier, hooks))


def get_preset(name: str, hooks: Hooks | None = None) -> VerifierPreset:
    """The preset registered as ``name``."""
    from swerm_plugin.plugins.manager import get_hooks

    return (hooks or get_hooks()).preset(name)


def preset_names(hooks: Hooks | None = None) -> list[str]:
    """Every registered preset name, sorted."""
    from swerm_plugin.plugins.manager import get_hooks

    return sorted((hooks or get_hooks()).presets())
