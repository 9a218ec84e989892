"""The core CLI: --version, plugins, config show, error handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swerm_plugin import __version__
from swerm_plugin.cli import main
from swerm_plugin.plugins import BUILTIN_PLUGINS


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _no_entry_points(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SWERM_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.chdir(tmp_path)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"swerm, version {__version__}"


def test_plugins_lists_builtins_and_their_hooks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plugins")
    assert code == 0
    plugins = json.loads(out)
    assert [p["name"] for p in plugins] == list(BUILTIN_PLUGINS)
    assert all(p["version"] == __version__ for p in plugins)
    hooks = {h for p in plugins for h in p["hooks"]}
    assert {"swerm_decide", "swerm_select", "swerm_calibrate"} <= hooks


def test_config_show_json_reports_sources(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "swerm.toml").write_text('model = "/models/rm"\n')
    monkeypatch.setenv("SWERM_POLICY__THRESHOLD", "0.8")
    monkeypatch.setenv("SWERM_REMOTE__API_KEY", "sk-shown-nowhere")
    code, out, _ = run(capsys, "config", "show", "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["model"] == {"value": "/models/rm", "source": str(tmp_path / "swerm.toml")}
    assert shown["policy.threshold"] == {"value": 0.8, "source": "env SWERM_POLICY__THRESHOLD"}
    assert shown["template"]["source"] == "default"
    assert shown["remote.api_key"]["value"] == "**********"
    assert "sk-shown-nowhere" not in out


def test_config_show_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "show")
    assert code == 0
    assert "policy.threshold" in out and "default" in out


def test_error_is_one_line_without_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "swerm.toml").write_text("modle = 1\n")
    code, out, err = run(capsys, "config", "show")
    assert code == 1
    assert out == ""
    assert err.strip().count("\n") == 0
    assert err.startswith("swerm: error: unknown config key 'modle'")
    assert "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    from swerm_plugin.errors import ConfigError

    (tmp_path / "swerm.toml").write_text("modle = 1\n")
    with pytest.raises(ConfigError):
        main(["--debug", "config", "show"])


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "no-such-command")
    assert code == 2 and "No such command" in err
