"""Shared test set-up: every test runs with a clean swerm environment."""

from __future__ import annotations

from collections.abc import Iterator

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
