"""The built-in remote plugin: registration, and the serving docs kept in step with the settings.

This is the one test of this area that reads ``docs/`` (``docs/serving.md``).
"""

from __future__ import annotations

from pathlib import Path

import pluggy

from swerm_plugin.backends.remote.classify import ClassifyBackend
from swerm_plugin.backends.remote.openai import OpenAIBackend
from swerm_plugin.backends.remote.vllm import VllmBackend
from swerm_plugin.config import RemoteConfig, SwermConfig
from swerm_plugin.plugins import get_hooks

SERVING_DOCS = Path(__file__).resolve().parents[3] / "docs" / "serving.md"


def test_remote_backends_are_registered_under_their_names(swerm_pm: pluggy.PluginManager) -> None:
    backends = get_hooks(SwermConfig()).backends()
    assert backends["vllm"] is VllmBackend
    assert backends["openai"] is OpenAIBackend
    assert backends["classify"] is ClassifyBackend


def test_serving_docs_list_every_remote_setting() -> None:
    text = SERVING_DOCS.read_text()
    missing = [name for name in RemoteConfig.model_fields if f"`{name}`" not in text]
    assert not missing, f"docs/serving.md does not describe remote.{missing}"
