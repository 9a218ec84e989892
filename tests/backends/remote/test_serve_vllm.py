"""``swerm serve`` in front of a real vLLM CPU server: ready once the server answers, and the
served scores agree with the local transformers backend on the same weights."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from swerm_plugin.config import RemoteConfig, SwermConfig
from swerm_plugin.serve.app import create_app
from swerm_plugin.serve.server import serve_in_background
from swerm_plugin.serve.settings import ServeSettings
from swerm_plugin.testing.vllm_cpu import VllmServer
from swerm_plugin.verifier import Verifier

from .conftest import GENERATE_NAME, sample_trajectories

pytestmark = pytest.mark.slow


def test_serve_in_front_of_vllm(vllm_server: VllmServer, served_model_dir: Path) -> None:
    config = SwermConfig(
        backend="vllm",
        model=GENERATE_NAME,
        remote=RemoteConfig(endpoints=[vllm_server.url], tokenizer=str(served_model_dir)),
    )
    trajectories = sample_trajectories(2, 3, seed=5)
    settings = ServeSettings(port=0, batch_concurrency=4)
    with serve_in_background(create_app(config, settings), settings) as server:
        deadline = time.monotonic() + 60
        while (health := httpx.get(f"{server.url}/healthz")).status_code != 200:
            assert time.monotonic() < deadline, health.text
            time.sleep(0.1)
        assert health.json()["backend"] == "vllm" and health.json()["model"] == GENERATE_NAME
        body = {"trajectories": [t.model_dump() for t in trajectories]}
        reply = httpx.post(f"{server.url}/v1/score", json=body, timeout=120)
    assert reply.status_code == 200, reply.text
    local_config = SwermConfig(backend="transformers", model=str(served_model_dir), dtype="float32")
    with Verifier(local_config) as verifier:
        local = verifier.score(trajectories)
    served = reply.json()["results"]
    assert [r["backend"] for r in served] == ["vllm"] * len(trajectories)
    assert [r["raw"] for r in served] == pytest.approx([s.raw for s in local], abs=1e-3)
