"""The plugin system: hook specifications and the manager that finds and calls plugins."""

from swerm_plugin.plugins.hookspecs import hookimpl
from swerm_plugin.plugins.manager import (
    BUILTIN_PLUGINS,
    ENTRY_POINT_GROUP,
    Hooks,
    PluginInfo,
    build_plugin_manager,
    get_hooks,
    get_plugin_manager,
    list_plugins,
    reset_plugin_manager,
)

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "Hooks",
    "PluginInfo",
    "build_plugin_manager",
    "get_hooks",
    "get_plugin_manager",
    "hookimpl",
    "list_plugins",
    "reset_plugin_manager",
]
