"""The trainer-side clients (verl's ``compute_score``, OpenRLHF's ``reward_func``) against the real
server, loaded the way the trainers load them: by file path."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from swerm_plugin.decisions.rewards import verl_compute_score
from swerm_plugin.serve import clients
from swerm_plugin.serve.server import BackgroundServer
from swerm_plugin.verifier import Verifier

from .conftest import API_KEY, KEY_ENV


def load_by_path() -> ModuleType:
    """As verl's ``load_extern_object`` and OpenRLHF's ``.py`` reward path do."""
    spec = importlib.util.spec_from_file_location("swerm_reward_client", clients.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_client_file_needs_only_the_standard_library() -> None:
    import ast
    import sys

    tree = ast.parse(Path(clients.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch, server: BackgroundServer) -> str:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    return server.url


def test_verl_compute_score_equals_the_in_process_one(keyed: str, tiny_verifier: Verifier) -> None:
    client = load_by_path()
    extra = {"instance_id": "calc__calc-1", "problem_statement": "add() subtracts", "index": 3}
    kwargs: dict[str, Any] = {"url": keyed, "api_key_env": KEY_ENV, "mode": "score"}
    result = client.compute_score("swe-gym", "I fixed calc.py", None, extra, **kwargs)
    local = verl_compute_score(tiny_verifier.score, mode="score")
    expected = local("swe-gym", "I fixed calc.py", None, extra)
    assert result["score"] == pytest.approx(expected, abs=1e-5)
    assert result["swerm_probability"] == pytest.approx(expected, abs=1e-5)
    hybrid = client.compute_score(
        "swe-gym", "I fixed calc.py", True, extra, **{**kwargs, "mode": "hybrid"}
    )
    assert hybrid["score"] == pytest.approx(1.0 + expected, abs=1e-5)


def test_verl_client_raises_with_the_server_message(keyed: str) -> None:
    client = load_by_path()
    with pytest.raises(RuntimeError, match="needs the resolved label"):
        client.compute_score("d", "text", None, None, url=keyed, api_key_env=KEY_ENV, mode="hybrid")
    with pytest.raises(RuntimeError, match="answered 401: missing or wrong API key"):
        client.compute_score("d", "text", None, None, url=keyed, api_key_env="NO_SUCH_VARIABLE")


def test_verl_client_reports_an_unreachable_server() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = load_by_path()
    client.time = SimpleNamespace(sleep=lambda _: None)  # type: ignore[attr-defined]  # no waits
    with pytest.raises(RuntimeError, match=f"127.0.0.1:{port}/v1/reward is unreachable"):
        client.compute_score("d", "x", None, None, url=f"http://127.0.0.1:{port}")


def test_openrlhf_reward_func_through_the_server(
    keyed: str, monkeypatch: pytest.MonkeyPatch, tiny_verifier: Verifier
) -> None:
    from swerm_plugin.decisions.rewards import trajectory_from_rollout

    monkeypatch.setenv(clients.URL_ENV, keyed)
    monkeypatch.setenv(clients.KEY_ENV, API_KEY)
    client = load_by_path()
    prompt = "<|im_start|>user\nFix add()<|im_end|>\n<|im_start|>assistant\n"
    result = client.reward_func([prompt + "done"], [prompt], [""])
    (expected,) = tiny_verifier.score([trajectory_from_rollout("done", prompt=prompt)])
    assert set(result) == {"rewards", "scores", "extra_logs"}
    assert result["rewards"] == pytest.approx([expected.probability], abs=1e-5)
