"""Deprecated: ``agent_class: swerm_plugin.adapters.minisweagent.SwermAgent``.

Use ``swerm_plugin.integrations.mini.SwermAgent``. This alias resolves on first use (so
importing it never imports mini-swe-agent) and warns once per process.
"""

from __future__ import annotations

import warnings

NEW_PATH = "swerm_plugin.integrations.mini.SwermAgent"


def __getattr__(name: str) -> object:
    if name == "SwermAgent":
        warnings.warn(
            f"swerm_plugin.adapters.minisweagent.SwermAgent is deprecated; use {NEW_PATH} "
            "(in mini's YAML: agent_class: swerm_plugin.integrations.mini.SwermAgent)",
            DeprecationWarning,
            stacklevel=2,
        )
        from swerm_plugin.integrations.mini import SwermAgent

        return SwermAgent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
