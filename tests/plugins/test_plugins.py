"""Plugin discovery through real entry points, allow-list and autoload switch."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import PluginError
from swerm_plugin.model import Score, Trajectory
from swerm_plugin.plugins import (
    BUILTIN_PLUGINS,
    Hooks,
    build_plugin_manager,
    list_plugins,
)


def make_distribution(root: Path, dist: str, module: str, version: str, body: str) -> None:
    """A throwaway installed distribution: a module plus a dist-info with entry_points.txt."""
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[swerm]\n{dist} = {module}\n")


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    make_distribution(
        tmp_path,
        "swerm-halver",
        "swerm_halver_plugin",
        "1.2.3",
        """
        from swerm_plugin import hookimpl

        @hookimpl
        def swerm_calibrate(score):
            return score.raw / 2
        """,
    )
    make_distribution(
        tmp_path,
        "swerm-broken",
        "swerm_broken_plugin",
        "0.1",
        "raise ImportError('needs a missing dependency')\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("swerm_halver_plugin", "swerm_broken_plugin"):
        sys.modules.pop(name, None)


def test_entry_point_plugin_is_found_and_called(third_party: Path) -> None:
    pm = build_plugin_manager({"SWERM_LOAD_PLUGINS": "swerm-halver"})
    assert pm.get_plugin("swerm-halver") is not None
    value = Hooks(pm, SwermConfig()).calibrate(
        Trajectory(instance_id="i", source="t"), Score(raw=0.5)
    )
    assert value == 0.25
    info = {p.name: p for p in list_plugins(pm)}
    assert info["swerm-halver"].version == "1.2.3"
    assert info["swerm-halver"].hooks == ["swerm_calibrate"]
    assert set(BUILTIN_PLUGINS) <= set(info)


def test_autoload_off_skips_entry_points(third_party: Path) -> None:
    pm = build_plugin_manager({"SWERM_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert pm.get_plugin("swerm-halver") is None
    assert "swerm_halver_plugin" not in sys.modules
    assert {name for name, _ in pm.list_name_plugin()} == set(BUILTIN_PLUGINS)


def test_allow_list_loads_only_named_plugins_even_with_autoload_off(third_party: Path) -> None:
    pm = build_plugin_manager(
        {"SWERM_DISABLE_PLUGIN_AUTOLOAD": "1", "SWERM_LOAD_PLUGINS": " swerm-halver ,"}
    )
    assert pm.get_plugin("swerm-halver") is not None
    assert pm.get_plugin("swerm-broken") is None


def test_broken_plugin_error_names_it(third_party: Path) -> None:
    with pytest.raises(PluginError, match="plugin 'swerm-broken'.*needs a missing dependency"):
        build_plugin_manager({})
