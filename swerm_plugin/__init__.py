"""swerm: execution-free reward-model scoring for coding-agent harnesses.

The public API is imported lazily (``swerm_plugin.Verifier`` loads the verifier on first use),
so ``import swerm_plugin`` stays cheap and imports nothing that imports it back.
"""

from __future__ import annotations

from importlib import import_module, metadata
from typing import TYPE_CHECKING, Any

try:
    __version__ = metadata.version("swerm-plugin")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

_PUBLIC = {
    "CandidateGroup": "swerm_plugin.model",
    "Decision": "swerm_plugin.model",
    "Score": "swerm_plugin.model",
    "Step": "swerm_plugin.model",
    "Trajectory": "swerm_plugin.model",
    "SwermConfig": "swerm_plugin.config",
    "load_config": "swerm_plugin.config",
    "SwermError": "swerm_plugin.errors",
    "Verifier": "swerm_plugin.verifier",
    "hookimpl": "swerm_plugin.plugins.hookspecs",
}

if TYPE_CHECKING:
    from swerm_plugin.config import SwermConfig, load_config
    from swerm_plugin.errors import SwermError
    from swerm_plugin.model import CandidateGroup, Decision, Score, Step, Trajectory
    from swerm_plugin.plugins.hookspecs import hookimpl
    from swerm_plugin.verifier import Verifier

__all__ = [
    "CandidateGroup",
    "Decision",
    "Score",
    "Step",
    "SwermConfig",
    "SwermError",
    "Trajectory",
    "Verifier",
    "__version__",
    "hookimpl",
    "load_config",
]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
