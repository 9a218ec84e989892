"""Bugs found during the layout redesign, each with the test that failed before its fix."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.config import env_flag
from swerm_plugin.errors import ConfigError
from swerm_plugin.testing import run_cli

REPO = Path(__file__).resolve().parents[1]


def test_best_at_k_plot_orders_k_as_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With N >= 10 the x-axis read 1, 10, 11, 2, ...: k were the JSON's string keys."""
    from swerm_plugin.calibration import plots
    from swerm_plugin.evaluation.report import plot_best_at_k

    captured: list[Any] = []
    monkeypatch.setattr(plots, "save_png", lambda fig, path: captured.append(fig))
    ks = [12, 2, 10, 1, 11, 3, 4, 5, 6, 7, 8, 9]
    plot_best_at_k({k: float(k) for k in ks}, tmp_path / "b.png", scorer="consensus")
    [fig] = captured
    [ax] = fig.axes
    assert list(ax.lines[0].get_xdata()) == list(range(1, 13))
    assert ax.lines[0].get_label() == "best@k (consensus)"


def test_eval_report_keys_k_by_int_and_writes_strings(tmp_path: Path) -> None:
    from swerm_plugin.evaluation.evaluate import EvalReport

    report = EvalReport(
        n_tasks=1, n_tasks_with_candidates=1, n_tasks_without_candidates=0, n_candidates=11,
        max_candidates=11, scorer="consensus", random=1.0, oracle=2.0,
        best_at_k={k: 1.0 for k in range(1, 12)},
        best_at_k_ci={k: (0.0, 2.0) for k in range(1, 12)},
        pass_at_k={k: 2.0 for k in range(1, 12)},
        consensus=1.0, consensus_naive=1.0, n_subsets=10, unscored_candidates=0,
    )  # fmt: skip
    assert all(isinstance(k, int) for k in report.best_at_k)
    assert list(report.to_json()["best_at_k"]) == [str(k) for k in range(1, 12)]


def test_a_folder_walk_parses_each_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk detected each file's format with one parse and read it with another."""
    from swerm_plugin.readers import load, loader

    for name in ("a", "b", "c"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / f"{name}.traj").write_text(
            '{"trajectory": [], "history": [], "info": {"submission": "x"}}'
        )
    calls: list[Path] = []
    real_probe = loader.probe
    monkeypatch.setattr(loader, "probe", lambda path: calls.append(Path(path)) or real_probe(path))
    assert len(list(load(tmp_path))) == 3
    assert sorted(p.name for p in calls) == ["a.traj", "b.traj", "c.traj"]


class _Refusing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # every route answers 503 with markup in its message
        body = b'{"error": {"message": "[bold red]down[/bold red] for [link=x]upgrade[/link]"}}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_remote_check_shows_server_text_literally(refusing_server: str) -> None:
    """A server's error text went into rich markup unescaped: tags vanished or broke the table."""
    result = run_cli("remote", "check", "--endpoint", refusing_server, "--model", "m")
    assert result.exit_code == 1
    assert "[bold red]down[/bold red] for [link=x]upgrade[/link]" in result.stderr
    assert "1 of 1 endpoints failed the check" in result.stderr


def test_remote_check_json_masks_userinfo_and_keeps_the_server_text(refusing_server: str) -> None:
    with_secret = refusing_server.replace("http://", "http://alice:s3cret-pw@")
    result = run_cli("remote", "check", "--endpoint", with_secret, "--model", "m", "--json")
    assert result.exit_code == 1 and "1 of 1 endpoints failed" in result.stderr
    [check] = json.loads(result.stdout)["endpoints"]
    assert check["endpoint"] == refusing_server.replace("http://", "http://**********@")
    assert check["healthy"] is False and "[bold red]down[/bold red]" in check["problem"]
    assert "s3cret-pw" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("true", True), ("Yes", True), ("on", True), ("0", False), ("false", False),
     ("NO", False), ("off", False), ("", None)],
)  # fmt: skip
def test_env_flags_are_read_one_way(text: str, expected: bool | None) -> None:
    assert env_flag("SWERM_X", {"SWERM_X": text}) is expected
    assert env_flag("SWERM_X", {}) is None


def test_an_unreadable_env_flag_is_an_error_not_a_guess() -> None:
    with pytest.raises(ConfigError, match=r"SWERM_DEBUG='maybe' is not a yes/no value"):
        env_flag("SWERM_DEBUG", {"SWERM_DEBUG": "maybe"})


def test_swerm_debug_false_means_no_debug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``SWERM_DEBUG=false`` turned debug on: any non-empty value but "0" counted."""
    bad = tmp_path / "x.traj.json"
    bad.write_text("{ not json")
    monkeypatch.setenv("SWERM_DEBUG", "false")
    result = run_cli("inspect", bad)  # with debug on, the error would be raised, not printed
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("swerm: skipped: ") and "Traceback" not in result.stderr
    assert result.stderr.endswith("error: nothing was read: every item was skipped or failed\n")
    broken = tmp_path / "swerm.toml"
    broken.write_text("model = [")
    monkeypatch.setenv("SWERM_CONFIG", str(broken))
    result = run_cli("config", "show")
    assert result.exit_code == 1 and result.stderr.startswith("swerm: error: ")
    monkeypatch.setenv("SWERM_DEBUG", "1")  # debug: the error is raised with its traceback
    with pytest.raises(ConfigError, match="swerm.toml"):
        run_cli("config", "show")


def test_the_plugin_switches_read_flags_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    from swerm_plugin.integrations.common import integration_enabled
    from swerm_plugin.plugins.manager import build_plugin_manager

    assert integration_enabled(explicit=True, environ={"SWERM": "false"}) is False
    assert integration_enabled(explicit=False, environ={"SWERM": "on"}) is True
    on = build_plugin_manager({"SWERM_DISABLE_PLUGIN_AUTOLOAD": "false"})
    off = build_plugin_manager({"SWERM_DISABLE_PLUGIN_AUTOLOAD": "yes"})
    assert len(off.get_plugins()) <= len(on.get_plugins())


def test_every_document_the_code_cites_exists() -> None:
    """Two modules cited a design file (REFERENCE.md) that is not in the repository."""
    cited: dict[str, str] = {}
    for path in (REPO / "swerm_plugin").rglob("*.py"):
        # documents, not file names a command writes (summary.md): UPPERCASE.md or docs/x.md
        for name in re.findall(r"(?:docs/[\w-]+|[A-Z][A-Z_]+)\.md\b", path.read_text()):
            cited[name] = str(path.relative_to(REPO))
    missing = {
        name: where
        for name, where in cited.items()
        if not (REPO / name).exists() and not (REPO / "docs" / Path(name).name).exists()
    }
    assert not missing, missing
