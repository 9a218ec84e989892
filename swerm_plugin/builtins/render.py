"""Default ``swerm_render_prompt``: the named template, the budget, safe tokenization."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from swerm_plugin.config import SwermConfig
from swerm_plugin.model import Trajectory
from swerm_plugin.plugins.hookspecs import hookimpl
from swerm_plugin.plugins.manager import get_hooks
from swerm_plugin.prompts.prompt import Prompt
from swerm_plugin.prompts.render import render_prompt
from swerm_plugin.prompts.templates import PromptTemplate


@hookimpl(trylast=True)
def swerm_render_prompt(
    trajectory: Trajectory,
    template: str | PromptTemplate,
    tokenizer: Any,
    budget: int | None,
    config: SwermConfig,
    markup: Sequence[str] | None,
) -> Prompt:
    return render_prompt(
        trajectory,
        template if isinstance(template, PromptTemplate) else get_hooks(config).template(template),
        tokenizer,
        budget,
        verdict_tokens=config.verdict_tokens,
        prefill=config.prefill,
        markup_strings=markup,
    )
