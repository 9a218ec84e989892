"""Registers the built-in prompt templates (``swe-rm``, ``swe-gym``, ``r2e-gym``)."""

from __future__ import annotations

from collections.abc import Callable

from swerm_plugin.plugins.hookspecs import hookimpl
from swerm_plugin.prompts.templates import BUILTIN_TEMPLATES, PromptTemplate


# trylast: a plugin's template of the same name registers first and wins.
@hookimpl(trylast=True)
def swerm_register_templates(register: Callable[[PromptTemplate], None]) -> None:
    for template in BUILTIN_TEMPLATES:
        register(template)
