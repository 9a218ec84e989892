"""The service's routes against a real uvicorn server on 127.0.0.1 with the tiny model: scores,
decisions, rerank, batches, every error status, authentication, and what it logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from swerm_plugin.model import Trajectory
from swerm_plugin.plugins.hookspecs import hookimpl
from swerm_plugin.serve.server import BackgroundServer
from swerm_plugin.testing import run_cli
from swerm_plugin.verifier import Verifier

from .conftest import API_KEY


def body_of(trajectory: Trajectory) -> bytes:
    return trajectory.model_dump_json().encode()


def test_scores_one_trajectory_with_its_decision(
    client: httpx.Client, tiny_verifier: Verifier, trajectory_factory: Any
) -> None:
    trajectory = trajectory_factory(1)
    reply = client.post("/v1/score", content=body_of(trajectory))
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert (data["scored"], data["failed"]) == (1, 0)
    (record,) = data["results"]
    (expected,) = tiny_verifier.score([trajectory])
    assert record["raw"] == pytest.approx(expected.raw, abs=1e-5)
    assert record["calibrated"] == pytest.approx(expected.calibrated, abs=1e-5)
    assert record["content_hash"] == trajectory.content_hash()
    assert record["n_tokens"] == expected.n_tokens and record["error"] is None
    threshold = tiny_verifier.config.policy.threshold
    assert record["decision"]["action"] == ("accept" if expected.raw >= threshold else "reject")
    assert record["decision"]["reason"].startswith(f"p={expected.raw:.3f}")


def test_scores_equal_swerm_score_on_the_same_files(
    client: httpx.Client, tiny_model_dir: Path, tmp_path: Path, mini_file: Any
) -> None:
    fixes = ["a + b", "b + a", "sum((a, b))"]
    paths = [mini_file(tmp_path / "run", f"calc__calc-{i}", fix) for i, fix in enumerate(fixes)]
    result = run_cli(
        "score", tmp_path / "run", "--model", tiny_model_dir, "--backend", "transformers"
    )
    assert result.exit_code == 0, result.output
    offline = {r["content_hash"]: r for r in map(json.loads, result.stdout.splitlines())}
    batch = {"trajectories": [json.loads(p.read_text()) for p in paths]}
    served = client.post("/v1/score", json=batch).json()["results"]
    assert [r["instance_id"] for r in served] == ["calc__calc-0", "calc__calc-1", "calc__calc-2"]
    for record in served:
        expected = offline[record["content_hash"]]
        differs = {k for k in expected if expected[k] != record[k]}
        # where it came from and how long it took; the numbers up to float32 batch effects
        assert differs <= {"latency_s", "source_path", "run_id", "raw", "calibrated"}, differs
        assert record["raw"] == pytest.approx(expected["raw"], abs=1e-5)
        assert record["calibrated"] == pytest.approx(expected["calibrated"], abs=1e-5)
        assert record["source"] == "mini-swe-agent/1.1" and "decision" in record


def test_reads_json_lines_and_each_batch_item_in_its_own_format(
    client: httpx.Client, trajectory_factory: Any, mini_file: Any, tmp_path: Path
) -> None:
    native = [trajectory_factory(i, instance_id=f"t-{i}") for i in range(3)]
    lines = b"\n".join(body_of(t) for t in native) + b"\n"
    reply = client.post(
        "/v1/score", content=lines, headers={"Content-Type": "application/x-ndjson"}
    )
    assert [r["instance_id"] for r in reply.json()["results"]] == ["t-0", "t-1", "t-2"]
    mini = json.loads(mini_file(tmp_path, "calc__calc-9", "a + b").read_text())
    mixed = {"trajectories": [mini, native[0].model_dump()]}
    results = client.post("/v1/score", json=mixed).json()["results"]
    assert [r["source"] for r in results] == ["mini-swe-agent/1.1", "test/1"]


def test_a_label_in_the_body_is_dropped(client: httpx.Client, trajectory_factory: Any) -> None:
    document = trajectory_factory(2).model_dump() | {"label": True}
    record = client.post("/v1/score", json=document).json()["results"][0]
    assert "label" not in record and record["error"] is None


def test_rerank_chooses_the_best_scored_candidate(
    client: httpx.Client, tiny_verifier: Verifier, trajectory_factory: Any
) -> None:
    candidates = [trajectory_factory(seed, attempt=seed + 1) for seed in range(4)]
    reply = client.post("/v1/rerank", json={"candidates": [c.model_dump() for c in candidates]})
    assert reply.status_code == 200, reply.text
    data = reply.json()
    scores = tiny_verifier.score(candidates)
    best = max(range(4), key=lambda i: scores[i].raw or 0.0)
    assert data["chosen"] == best and data["instance_id"] == "acme__widgets-17"
    records = data["candidates"]
    assert records[0]["index"] == best and records[0]["chosen"] is True
    assert [r["rank"] for r in records] == [0, 1, 2, 3]
    assert sorted(r["index"] for r in records) == [0, 1, 2, 3]
    for record in records:
        assert record["raw"] == pytest.approx(scores[record["index"]].raw, abs=1e-5)
    assert records[0]["decision"] == data["decision"] and "decision" not in records[1]


def test_rerank_refuses_candidates_of_different_tasks(
    client: httpx.Client, trajectory_factory: Any
) -> None:
    body = {"candidates": [trajectory_factory(0, instance_id=i).model_dump() for i in "ab"]}
    reply = client.post("/v1/rerank", json=body)
    assert reply.status_code == 422
    assert reply.json()["error"]["kind"] == "mixed_tasks" and "['a', 'b']" in reply.text


@pytest.mark.parametrize(
    ("body", "status", "kind", "says"),
    [
        (b'{"instance_id": "x", ', 400, "invalid_json", "truncated JSON"),
        (b"", 400, "invalid_json", "empty"),
        (b'{"hello": "world"}', 422, "invalid_trajectory", "unknown trajectory format"),
        (
            b'{"instance_id": "x", "source": "s", "steps": [{"role": "robot"}]}',
            422,
            "invalid_trajectory",
            "field 'steps.0.role'",
        ),
        (b'{"trajectories": {"a": 1}}', 422, "invalid_request", "must be a list"),
        (b'{"trajectories": []}', 422, "no_trajectories", "holds no trajectory"),
        (
            b'{"trajectories": [{"instance_id": "x", "source": "s"}, [1]]}',
            422,
            "invalid_trajectory",
            "request.trajectories[1]",
        ),
    ],
)
def test_bad_bodies_get_a_status_and_a_message_that_says_why(
    client: httpx.Client, body: bytes, status: int, kind: str, says: str
) -> None:
    reply = client.post("/v1/score", content=body)
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["kind"] == kind and says in error["message"]


def test_unknown_routes_and_methods(client: httpx.Client) -> None:
    assert client.post("/v1/nothing", json={}).status_code == 404
    assert client.get("/v1/score").status_code == 405


def test_authentication(server: BackgroundServer, trajectory_factory: Any) -> None:
    body = body_of(trajectory_factory(3))
    url = f"{server.url}/v1/score"
    missing = httpx.post(url, content=body)
    wrong = httpx.post(url, content=body, headers={"Authorization": "Bearer nope"})
    for reply in (missing, wrong):
        assert reply.status_code == 401 and reply.headers["WWW-Authenticate"] == "Bearer"
        assert reply.json()["error"]["kind"] == "unauthorized" and API_KEY not in reply.text
    assert httpx.post(url, content=body, headers={"X-API-Key": API_KEY}).status_code == 200
    assert (
        httpx.post(url, content=body, headers={"authorization": f"bearer {API_KEY}"}).status_code
        == 200
    )
    # probes and scrapers need no key
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert httpx.get(f"{server.url}/metrics").status_code == 200


def test_healthz_and_metrics(client: httpx.Client, trajectory_factory: Any) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ready" and health["backend"] == "transformers"
    client.post("/v1/score", content=body_of(trajectory_factory(4)))
    client.post("/v1/score", content=b"{")
    text = client.get("/metrics").text
    assert 'swerm_serve_requests_total{route="score",status="200"}' in text
    assert 'swerm_serve_errors_total{kind="invalid_json"}' in text
    for name in ("request_duration_seconds_bucket", "batch_size_count", "queue_depth", "ready 1.0"):
        assert f"swerm_serve_{name}" in text, name


def test_a_failed_score_is_an_error_never_a_number(
    small_server: Any, tiny_model_dir: Path, trajectory_factory: Any
) -> None:
    from .conftest import tiny_config

    with Verifier(tiny_config(tiny_model_dir, max_tokens=8)) as short, small_server(short) as srv:
        reply = httpx.post(
            f"{srv.url}/v1/score", content=body_of(trajectory_factory(5)), timeout=60
        )
        assert reply.status_code == 200
        (record,) = reply.json()["results"]
        assert record["raw"] is None and "rendering failed" in record["error"]
        assert reply.json()["failed"] == 1
        assert (
            record["decision"]["action"] == "accept"
            and "verifier error" in record["decision"]["reason"]
        )
        rollout = {"rollouts": [{"text": "edited calc.py", "fields": {"instance_id": "i"}}]}
        reward = httpx.post(f"{srv.url}/v1/reward", json=rollout, timeout=60)
        assert reward.status_code == 502 and reward.json()["error"]["kind"] == "scoring_failed"
        assert "[0] rendering failed" in reward.json()["error"]["message"]


class _Exploding:
    @hookimpl(tryfirst=True)
    def swerm_decide(self, trajectory: Trajectory, score: Any, attempt: int, config: Any) -> Any:
        raise RuntimeError(f"plugin broke on {trajectory.problem_statement}")


def test_an_internal_error_is_500_without_details(
    server: BackgroundServer,
    client: httpx.Client,
    trajectory_factory: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    plugin = _Exploding()
    pm = server.server.config.app.state.service.hooks.pm  # the server's own plugin manager
    pm.register(plugin)
    try:
        secret_text = "TOP-SECRET-ISSUE-TEXT"
        body = body_of(trajectory_factory(6, problem_statement=secret_text))
        reply = client.post("/v1/score", content=body)
    finally:
        pm.unregister(plugin)
    assert reply.status_code == 500
    assert reply.json()["error"] == {
        "kind": "internal",
        "message": "internal error (RuntimeError); see the server log",
    }
    assert secret_text not in caplog.text


def test_trajectory_text_is_never_logged(
    client: httpx.Client, trajectory_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "UNIQUE-MARKER-7f3a"
    caplog.set_level(logging.DEBUG)
    trajectory = trajectory_factory(
        7, problem_statement=f"{marker} in the issue", patch=f"+{marker}"
    )
    client.post("/v1/score", content=body_of(trajectory))
    client.post("/v1/rerank", json={"candidates": [trajectory.model_dump()]})
    client.post("/v1/score", content=body_of(trajectory)[:-5])  # a broken body
    assert caplog.records, "nothing was logged at all"
    assert marker not in caplog.text


def test_openrlhf_route_matches_the_in_process_reward(
    client: httpx.Client, tiny_verifier: Verifier
) -> None:
    from swerm_plugin.decisions.rewards import trajectory_from_rollout

    prompt = "<|im_start|>user\nFix add() in calc.py<|im_end|>\n<|im_start|>assistant\n"
    responses = ["I changed `a - b` to `a + b`.<|im_end|>", "Nothing to do.<|im_end|>"]
    body = {"query": [prompt + r for r in responses], "prompts": [prompt] * 2, "labels": ["", ""]}
    reply = client.post("/v1/openrlhf/reward", json=body)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    expected = tiny_verifier.score([trajectory_from_rollout(r, prompt=prompt) for r in responses])
    assert data["rewards"] == pytest.approx([s.probability for s in expected], abs=1e-5)
    assert data["scores"] == data["rewards"]
    assert data["extra_logs"]["swerm_raw"] == pytest.approx([s.raw for s in expected], abs=1e-5)
    assert set(data["extra_logs"]) == {"swerm_raw", "swerm_probability", "swerm_truncated"}


def test_openrlhf_hybrid_reward_reads_the_label(
    client: httpx.Client, tiny_verifier: Verifier
) -> None:
    body = {
        "query": ["fixed it", "fixed it"],
        "labels": ["true", '{"resolved": false, "exit_status": "error"}'],
    }
    data = client.post("/v1/openrlhf/reward?mode=hybrid", json=body).json()
    s = data["extra_logs"]["swerm_probability"]
    assert data["rewards"] == pytest.approx([1.0 + s[0], -0.5 + s[1]], abs=1e-12)
    missing = client.post("/v1/openrlhf/reward?mode=hybrid", json={"query": ["fixed it"]})
    assert missing.status_code == 422 and "needs the resolved label" in missing.text
    bad = client.post("/v1/openrlhf/reward?mode=best", json={"query": ["x"]})
    assert bad.status_code == 422 and "mode must be one of hybrid, score" in bad.text
    no_labels = client.post("/v1/openrlhf/reward", json={"query": ["a"], "labels": [None]})
    assert no_labels.status_code == 200 and len(no_labels.json()["rewards"]) == 1
    not_text = client.post("/v1/openrlhf/reward", json={"query": ["a"], "labels": [3]})
    assert not_text.status_code == 422 and "'labels' must be a list of strings" in not_text.text
    mismatched = client.post("/v1/openrlhf/reward", json={"query": ["a", "b"], "prompts": ["a"]})
    assert mismatched.status_code == 422 and "'prompts' has 1 items, 'query' 2" in mismatched.text


def test_limits_413(small_server: Any, trajectory_factory: Any) -> None:
    with small_server(max_body_bytes=4096, max_trajectories=2) as srv:
        big = trajectory_factory(8, words=400)
        too_large = httpx.post(f"{srv.url}/v1/score", content=body_of(big))
        assert too_large.status_code == 413 and "exceeds 4096 bytes" in too_large.text
        small = [
            trajectory_factory(i, n_steps=1, words=4, problem_words=4).model_dump()
            for i in range(3)
        ]
        too_many = httpx.post(f"{srv.url}/v1/score", json={"trajectories": small})
        assert too_many.status_code == 413
        assert too_many.json()["error"] == {
            "kind": "too_many_trajectories",
            "message": "3 trajectories in one request; at most 2",
        }
        lines = b"\n".join(orjson.dumps(t) for t in small)
        assert httpx.post(f"{srv.url}/v1/score", content=lines).status_code == 413
        rollouts = {"rollouts": [{"text": "x"}] * 3}
        assert httpx.post(f"{srv.url}/v1/reward", json=rollouts).status_code == 413


def test_a_remote_backend_is_ready_only_when_an_endpoint_answers(
    tiny_model_dir: Path, trajectory_factory: Any
) -> None:
    import socket

    from swerm_plugin.config import RemoteConfig, SwermConfig

    from .conftest import running_app

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    remote = RemoteConfig(endpoints=[url], tokenizer=str(tiny_model_dir), max_retries=0)
    config = SwermConfig(backend="vllm", model="swerm-tiny", remote=remote)
    with Verifier(config) as verifier, running_app(verifier, wait_ready=False) as srv:
        health = httpx.get(f"{srv.url}/healthz")
        while health.json()["reason"] == "loading the backend":
            health = httpx.get(f"{srv.url}/healthz")
        assert health.status_code == 503 and health.json()["reason"].startswith(url)
        reply = httpx.post(f"{srv.url}/v1/score", content=body_of(trajectory_factory(0)))
        (record,) = reply.json()["results"]
        assert (
            reply.status_code == 200 and record["raw"] is None and "vllm backend" in record["error"]
        )
