"""Registers the built-in verifier presets (``swerm_register_presets``)."""

from __future__ import annotations

from collections.abc import Callable

from swerm_plugin.plugins.hookspecs import hookimpl
from swerm_plugin.presets.builtin import BUILTIN_PRESETS
from swerm_plugin.presets.preset import VerifierPreset


# trylast: a plugin's preset of the same name registers first and wins.
@hookimpl(trylast=True)
def swerm_register_presets(register: Callable[[VerifierPreset], None]) -> None:
    for preset in BUILTIN_PRESETS:
        register(preset)
