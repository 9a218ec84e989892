"""``swerm serve`` as a user runs it: a real process, real signals, real exit codes."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from swerm_plugin.testing import run_cli

from .conftest import wait_until_ready

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def start_serve(*args: object) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWERM")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    command = [sys.executable, "-m", "swerm_plugin.cli", "serve", "--port", "0", *map(str, args)]
    return subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)


def url_from(process: subprocess.Popen[str]) -> str:
    assert process.stderr is not None
    for line in process.stderr:
        if found := LISTENING.search(line):
            return found.group(1)
    raise AssertionError(f"swerm serve exited ({process.wait()}) without listening")


@pytest.fixture
def stopped_at_end() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:  # SIGTERM first: a killed `--ray` would leave its cluster behind
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


@pytest.mark.slow
def test_sigterm_finishes_the_accepted_requests_then_exits_0(
    tiny_model_dir: Path, trajectory_factory: Any, stopped_at_end: list[Any]
) -> None:
    process = start_serve("--model", tiny_model_dir, "--max-batch-size", "1", "--max-wait-ms", "1")
    stopped_at_end.append(process)
    url = url_from(process)
    wait_until_ready(url)
    bodies = [
        trajectory_factory(i, instance_id=f"t-{i}", words=120).model_dump_json() for i in range(6)
    ]
    with ThreadPoolExecutor(6) as pool:
        replies = [
            pool.submit(httpx.post, f"{url}/v1/score", content=body, timeout=120) for body in bodies
        ]
        deadline = time.monotonic() + 30
        while metric(url, "swerm_serve_queue_depth") < 3:  # one batch at a time: a queue forms
            assert time.monotonic() < deadline, "no queue formed"
        process.send_signal(signal.SIGTERM)
        answers = [future.result() for future in replies]
    assert [a.status_code for a in answers] == [200] * 6
    assert [a.json()["results"][0]["instance_id"] for a in answers] == [f"t-{i}" for i in range(6)]
    assert process.wait(timeout=60) == 0
    assert process.stderr is not None
    assert "Application shutdown complete" in process.stderr.read()


@pytest.mark.slow
def test_a_model_that_cannot_load_stops_the_server_with_exit_1(
    tiny_model_dir: Path, tmp_path: Path, stopped_at_end: list[Any]
) -> None:
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    process = start_serve("--model", broken)
    stopped_at_end.append(process)
    url_from(process)
    assert process.wait(timeout=120) == 1
    assert process.stderr is not None
    err = process.stderr.read()
    assert "swerm: error: the backend failed to load: " in err and "header too large" in err


def test_a_taken_port_is_a_clear_error(tiny_model_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--model", tiny_model_dir, "--port", port)
    assert result.exit_code == 1
    assert f"swerm: error: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "hint: choose another --port" in result.stderr


def test_an_unset_api_key_variable_refuses_to_start(tiny_model_dir: Path) -> None:
    result = run_cli("serve", "--model", tiny_model_dir, "--api-key-env", "NO_SUCH_KEY_VARIABLE")
    assert result.exit_code == 1
    assert (
        "environment variable NO_SUCH_KEY_VARIABLE (--api-key-env) is unset or empty"
        in result.stderr
    )


def test_replicas_need_ray(tiny_model_dir: Path) -> None:
    result = run_cli("serve", "--model", tiny_model_dir, "--replicas", "2")
    assert result.exit_code == 2 and "--replicas needs --ray" in result.stderr


def test_an_unknown_template_fails_before_loading(tiny_model_dir: Path) -> None:
    result = run_cli("serve", "--model", tiny_model_dir, "--template", "nope")
    assert result.exit_code == 1 and "unknown prompt template 'nope'" in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_ray_serve_with_two_replicas(
    tiny_model_dir: Path, trajectory_factory: Any, stopped_at_end: list[Any]
) -> None:
    """Started here in about 45 s on 2 cores (0.5 CPU per replica)."""
    pytest.importorskip("ray.serve", reason="the 'ray' extra is not installed")
    from swerm_plugin.verifier import Verifier

    from .conftest import tiny_config

    port = free_port()
    process = start_serve("--ray", "--replicas", 2, "--model", tiny_model_dir, "--port", port)
    stopped_at_end.append(process)
    url = f"http://127.0.0.1:{port}"
    ready: set[int] = set()  # each replica loads its own model: wait for both
    deadline = time.monotonic() + 180
    while len(ready) < 2:
        assert process.poll() is None, "swerm serve --ray exited"
        assert time.monotonic() < deadline, f"Ray Serve replicas ready: {ready}"
        try:
            health = httpx.get(f"{url}/healthz", timeout=5)
        except httpx.TransportError:
            time.sleep(0.5)
            continue
        if health.status_code == 200:
            ready.add(health.json()["pid"])
        time.sleep(0.1)
    trajectories = [trajectory_factory(i, instance_id=f"t-{i}") for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda t: httpx.post(f"{url}/v1/score", content=t.model_dump_json(), timeout=120),
                trajectories,
            )
        )
    with Verifier(tiny_config(tiny_model_dir)) as verifier:
        expected = verifier.score(trajectories)
    got = [a.json()["results"][0]["raw"] for a in answers]
    assert got == pytest.approx([s.raw for s in expected], abs=1e-5)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 0
