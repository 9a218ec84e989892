"""Registers the built-in prompt templates: ``swe-rm`` (swerm's own), the published verifiers'
exact formats ``swe-gym`` and ``r2e-gym``, and the OpenHands critics' ``openhands-critic`` and
``openhands-critic-value``."""

from __future__ import annotations

from collections.abc import Callable

from swerm_plugin.plugins.hookspecs import hookimpl
from swerm_plugin.prompts.critic import OpenHandsCriticTemplate, OpenHandsValueTemplate
from swerm_plugin.prompts.formats import R2eGymTemplate, SweGymTemplate
from swerm_plugin.prompts.templates import PromptTemplate, SweRmTemplate

#: The built-in templates, in the order ``swerm`` lists them.
BUILTIN_TEMPLATES: tuple[PromptTemplate, ...] = (
    SweRmTemplate(),
    SweGymTemplate(),
    R2eGymTemplate(),
    OpenHandsCriticTemplate(),
    OpenHandsValueTemplate(),
)


# trylast: a plugin's template of the same name registers first and wins.
@hookimpl(trylast=True)
def swerm_register_templates(register: Callable[[PromptTemplate], None]) -> None:
    for template in BUILTIN_TEMPLATES:
        register(template)
