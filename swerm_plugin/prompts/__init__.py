"""Prompt rendering: templates, token budgets and sanitising of untrusted trajectory text."""

from swerm_plugin.errors import PromptRenderError, PromptTooLong, UnknownTemplateError
from swerm_plugin.prompts.prompt import Cut, Prompt
from swerm_plugin.prompts.render import render_prompt
from swerm_plugin.prompts.templates import (
    Document,
    PromptTemplate,
    Segment,
    get_template,
    template_names,
)
from swerm_plugin.prompts.tokens import encode_untrusted, render_token_ids, tokenizer_kit

__all__ = [
    "Cut",
    "Document",
    "Prompt",
    "PromptRenderError",
    "PromptTemplate",
    "PromptTooLong",
    "Segment",
    "UnknownTemplateError",
    "encode_untrusted",
    "get_template",
    "render_prompt",
    "render_token_ids",
    "template_names",
    "tokenizer_kit",
]
