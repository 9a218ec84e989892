"""Prompt rendering: templates, token budgets and sanitising of untrusted trajectory text."""

from swerm_plugin.prompts.prompt import Prompt

__all__ = ["Prompt"]
