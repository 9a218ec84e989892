"""The environment variables that steer swerm itself: the one flag that switches integrations
on, yes/no switches, where swerm keeps its state, and the config file named by ``SWERM_CONFIG``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from swerm_plugin.errors import ConfigError

ENV_PREFIX = "SWERM_"
# Variables that steer swerm itself rather than set a config key.
RESERVED_ENV = frozenset(
    {
        *("SWERM", "SWERM_CONFIG", "SWERM_DISABLE_PLUGIN_AUTOLOAD", "SWERM_LOAD_PLUGINS"),
        *("SWERM_DEBUG", "SWERM_STATE_DIR"),
        # the trainer-side clients of `swerm serve` (swerm_plugin/serve/clients.py)
        *("SWERM_SERVE_URL", "SWERM_SERVE_API_KEY"),
    }
)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def env_flag(name: str, environ: Mapping[str, str] | None = None) -> bool | None:
    """A yes/no environment variable: ``None`` when unset or empty, else its truth value.

    The one parser for every swerm switch (``SWERM``, ``SWERM_DEBUG``,
    ``SWERM_DISABLE_PLUGIN_AUTOLOAD``): ``1/true/yes/on`` and ``0/false/no/off``, any case.
    Anything else is an error rather than a guess.
    """
    env = os.environ if environ is None else environ
    text = env.get(name, "").strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(
        f"environment variable {name}={env[name]!r} is not a yes/no value; use 1 or 0 "
        "(also true/false, yes/no, on/off)"
    )


def config_file_from_env(environ: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if environ is None else environ
    named = env.get("SWERM_CONFIG")
    return Path(named).expanduser() if named else None


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where swerm keeps what belongs to no run folder (default decisions logs):
    ``SWERM_STATE_DIR``, else ``$XDG_STATE_HOME/swerm``, else ``~/.local/state/swerm``."""
    env = os.environ if environ is None else environ
    if env.get("SWERM_STATE_DIR"):
        return Path(env["SWERM_STATE_DIR"]).expanduser()
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "swerm"


def is_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """The one flag that switches integrations on: ``SWERM_CONFIG`` set, or ``SWERM=1``."""
    env = os.environ if environ is None else environ
    return bool(env.get("SWERM_CONFIG")) or env_flag("SWERM", env) is True
