"""Registers the built-in scorers: ``transformers`` (local), ``vllm``, ``openai`` and ``classify``
(remote), ``judge`` (an API model as an LLM judge), ``selector`` (the scorer when no model is
configured) and ``consensus`` (plain patch voting)."""

from __future__ import annotations

from collections.abc import Callable

from swerm_plugin.backends.base import GroupScorer, RewardBackend
from swerm_plugin.plugins.hookspecs import hookimpl


# trylast: a plugin's backend of the same name registers first and wins.
@hookimpl(trylast=True)
def swerm_register_backends(
    register: Callable[[type[RewardBackend] | type[GroupScorer]], None],
) -> None:
    # Imported here: the classes pull in their clients only when used, but their modules are
    # still not worth importing for `swerm --help`.
    from swerm_plugin.backends.consensus import ConsensusScorer
    from swerm_plugin.backends.remote.classify import ClassifyBackend
    from swerm_plugin.backends.remote.openai import OpenAIBackend
    from swerm_plugin.backends.remote.vllm import VllmBackend
    from swerm_plugin.backends.selector import SelectorScorer
    from swerm_plugin.backends.transformers import TransformersBackend
    from swerm_plugin.judge.backend import JudgeBackend

    for cls in (TransformersBackend, VllmBackend, OpenAIBackend, ClassifyBackend, JudgeBackend):
        register(cls)
    register(SelectorScorer)
    register(ConsensusScorer)
