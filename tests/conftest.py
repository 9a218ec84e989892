"""Shared test set-up: every test runs with a clean swerm environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from swerm_plugin import plugins


@pytest.fixture(autouse=True)
def _isolated_swerm_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No SWERM_* variable from the developer's shell leaks into a test, and no cached manager."""
    import os

    for name in list(os.environ):
        if name.startswith("SWERM"):
            monkeypatch.delenv(name)
    plugins.reset_plugin_manager()
    yield
    plugins.reset_plugin_manager()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3-MoE verifier with its tokenizer (``make_tiny_model``), built once per
    test session; shared by the local and the vLLM backend tests."""
    from swerm_plugin.testing import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"), seed=0)
