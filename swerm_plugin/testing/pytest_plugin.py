"""swerm's pytest plugin (entry point ``pytest11``): fixtures for testing swerm and its plugins.

``mock_backend`` is a :class:`~swerm_plugin.testing.mock.MockRewardBackend`; ``swerm_pm`` is a
fresh plugin manager with entry-point autoloading off, so tests do not depend on what else is
installed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pluggy
import pytest

from swerm_plugin.testing.mock import MockRewardBackend


@pytest.fixture
def mock_backend() -> MockRewardBackend:
    """A fresh :class:`MockRewardBackend` with an empty queue."""
    return MockRewardBackend()


@pytest.fixture
def swerm_pm(monkeypatch: pytest.MonkeyPatch) -> Iterator[pluggy.PluginManager]:
    """A fresh plugin manager (built-ins only), installed as the process-wide one for the test."""
    from swerm_plugin.plugins import manager as plugins

    monkeypatch.setenv("SWERM_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("SWERM_LOAD_PLUGINS", raising=False)
    plugins.reset_plugin_manager()
    pm = plugins.get_plugin_manager()
    yield pm
    plugins.reset_plugin_manager()
