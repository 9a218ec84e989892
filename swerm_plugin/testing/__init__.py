"""Helpers for testing swerm and swerm plugins, importable without pytest.

* :func:`make_tiny_model`: a tiny random verifier with its tokenizer, built locally;
* :class:`MockRewardBackend`: queued scores, every call recorded;
* :func:`run_cli`: ``swerm ARGS...`` in-process, output and exit code captured;
* :mod:`.vllm_cpu`: a real vLLM server on this machine's CPU;
* :mod:`.judge_server`: a scripted OpenAI-compatible server standing in for an API model;
* :mod:`.pytest_plugin`: the fixtures, registered with pytest through the ``pytest11`` entry
  point.
"""

from swerm_plugin.testing.cli import CliResult, run_cli
from swerm_plugin.testing.mock import MockRewardBackend
from swerm_plugin.testing.tiny_model import (
    TINY_CHAT_TEMPLATE,
    TINY_SPECIAL_TOKENS,
    make_tiny_model,
    make_tiny_tokenizer,
)

__all__ = [
    "TINY_CHAT_TEMPLATE",
    "TINY_SPECIAL_TOKENS",
    "CliResult",
    "MockRewardBackend",
    "make_tiny_model",
    "make_tiny_tokenizer",
    "run_cli",
]
