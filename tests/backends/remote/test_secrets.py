"""The API key reaches the server and nothing else: not the logs (even with ``--debug``), not the
scores, not the config listing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import FakeServer

SECRET = "sk-swerm-test-4f9c2a7e1b8d6035"


def write_trajectory(folder: Path) -> Path:
    """A minimal mini-swe-agent 1.1 trajectory file."""
    patch = "diff --git a/w.py b/w.py\n+    return None\n"
    document = {
        "trajectory_format": "mini-swe-agent-1.1",
        "instance_id": "acme__widgets-1",
        "info": {"exit_status": "Submitted", "submission": patch, "mini_version": "2.4.6"},
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "<pr_description>\nWidgets crash.\n</pr_description>"},
            {
                "role": "assistant",
                "content": "THOUGHT: look\n```bash\nls\n```",
                "extra": {"actions": [{"command": "ls"}]},
            },
            {"role": "user", "content": "<returncode>0</returncode><output>w.py</output>"},
            {"role": "exit", "content": "", "extra": {"exit_status": "Submitted"}},
        ],
    }
    path = folder / "acme__widgets-1.traj.json"
    path.write_text(json.dumps(document))
    return path


def run_swerm(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swerm_plugin.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def secret_env(tiny_model_dir: Path) -> Callable[[str], dict[str, str]]:
    def build(url: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWERM")}
        env.update(
            SWERM_REMOTE__ENDPOINTS=json.dumps([url]),
            SWERM_REMOTE__API_KEY=SECRET,
            SWERM_REMOTE__TOKENIZER=str(tiny_model_dir),
            SWERM_REMOTE__BACKOFF_S="0.01",
            SWERM_DISABLE_PLUGIN_AUTOLOAD="1",
            LITELLM_LOCAL_MODEL_COST_MAP="True",
        )
        return env

    return build


@pytest.mark.parametrize("backend", ["vllm", "openai"])
def test_debug_scoring_run_never_shows_the_api_key(
    fake_server: Callable[..., FakeServer],
    secret_env: Callable[[str], dict[str, str]],
    tmp_path: Path,
    backend: str,
) -> None:
    server = fake_server(api_key=SECRET)
    # A retried request puts the failure path (and its log lines) into the output too.
    server.faults({"kind": "status", "status": 503})
    trajectory = write_trajectory(tmp_path)
    args = ["--debug", "score", str(trajectory), "--backend", backend, "--model", "fake-verifier"]
    done = run_swerm(args, secret_env(server.url), tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    (line,) = done.stdout.strip().splitlines()  # stdout holds the JSON line and nothing else
    record = json.loads(line)
    assert record["error"] is None and record["raw"] is not None
    assert len(server.log()) == 2, "the 503 was retried"
    assert "DEBUG" in output, "the run was not logging at debug level"
    assert SECRET not in output
    sent = [entry["auth"] for entry in server.log(scoring_only=False)]
    assert f"Bearer {SECRET}" in sent, "the key must still reach the server"


def test_remote_check_and_config_show_never_show_the_api_key(
    fake_server: Callable[..., FakeServer],
    secret_env: Callable[[str], dict[str, str]],
    tmp_path: Path,
) -> None:
    server = fake_server(api_key=SECRET)
    env = secret_env(server.url)
    check = run_swerm(["--debug", "remote", "check", "--model", "fake-verifier"], env, tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "fake-verifier" in check.stdout and "ok" in check.stdout
    shown = run_swerm(["config", "show", "--json"], env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["remote.api_key"]["value"] == "**********"
    for done in (check, shown):
        assert SECRET not in done.stdout + done.stderr


def test_a_wrong_key_is_reported_without_echoing_it(
    fake_server: Callable[..., FakeServer],
    secret_env: Callable[[str], dict[str, str]],
    tmp_path: Path,
) -> None:
    server = fake_server(api_key="the-right-key")
    done = run_swerm(
        ["--debug", "remote", "check", "--model", "fake-verifier"],
        secret_env(server.url),
        tmp_path,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1
    assert "1 of 1 endpoints failed the check" in output
    assert "401" in output
    assert SECRET not in output
