"""Under load, on real servers with the tiny model held at a gate: micro-batching, back-pressure
(503 + Retry-After), timeouts (504), readiness while loading, graceful shutdown."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from swerm_plugin.model import Trajectory
from swerm_plugin.serve.settings import ServeSettings
from swerm_plugin.verifier import Verifier

from .conftest import GatedBackend, running_app


def post_score(url: str, trajectories: list[Trajectory]) -> httpx.Response:
    body = {"trajectories": [t.model_dump() for t in trajectories]}
    return httpx.post(f"{url}/v1/score", json=body, timeout=120)


def wait_for(condition: Any, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def queue_depth(url: str) -> float:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith("swerm_serve_queue_depth "):
            return float(line.split()[1])
    raise AssertionError("no queue depth metric")


def test_concurrent_requests_share_backend_batches(
    gated: tuple[Verifier, GatedBackend], trajectory_factory: Any
) -> None:
    verifier, backend = gated
    settings = ServeSettings(port=0, max_wait_ms=50, max_batch_size=64)
    trajectories = [trajectory_factory(i, instance_id=f"t-{i}") for i in range(9)]
    with running_app(verifier, settings) as srv, ThreadPoolExecutor(9) as pool:
        first = pool.submit(post_score, srv.url, trajectories[:1])
        wait_for(backend.scoring.is_set, "the first batch")  # held at the gate
        rest = [pool.submit(post_score, srv.url, [t]) for t in trajectories[1:]]
        wait_for(lambda: queue_depth(srv.url) == 8, "eight waiting requests")
        backend.gate.set()
        replies = [first.result(), *(f.result() for f in rest)]
    assert [r.status_code for r in replies] == [200] * 9
    assert [r.json()["results"][0]["instance_id"] for r in replies] == [
        t.instance_id for t in trajectories
    ]
    # one batch held at the gate, then the eight that queued behind it together
    assert backend.batch_sizes == [1, 8]
    expected = verifier.score(trajectories)
    got = [r.json()["results"][0]["raw"] for r in replies]
    assert got == pytest.approx([s.raw for s in expected], abs=1e-5)


def test_a_full_queue_answers_503_with_retry_after(
    gated: tuple[Verifier, GatedBackend], trajectory_factory: Any
) -> None:
    verifier, backend = gated
    settings = ServeSettings(port=0, max_queue=2, max_wait_ms=1, retry_after_s=3)
    trajectories = [trajectory_factory(i) for i in range(5)]
    with running_app(verifier, settings) as srv, ThreadPoolExecutor(4) as pool:
        held = pool.submit(post_score, srv.url, trajectories[:1])
        wait_for(backend.scoring.is_set, "the batch in flight")
        queued = [pool.submit(post_score, srv.url, [t]) for t in trajectories[1:3]]
        wait_for(lambda: queue_depth(srv.url) == 2, "two queued requests")
        refused = post_score(srv.url, trajectories[3:4])
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "3"
        assert refused.json()["error"]["kind"] == "queue_full"
        assert "2 trajectories are waiting (at most 2)" in refused.json()["error"]["message"]
        backend.gate.set()
        accepted: list[Future[httpx.Response]] = [held, *queued]
        assert [f.result().status_code for f in accepted] == [200, 200, 200]
        assert post_score(srv.url, trajectories[4:5]).status_code == 200  # room again
        metrics = httpx.get(f"{srv.url}/metrics").text
    assert 'swerm_serve_errors_total{kind="queue_full"} 1.0' in metrics


def test_a_request_that_waits_too_long_gets_504_and_leaves_the_queue(
    gated: tuple[Verifier, GatedBackend], trajectory_factory: Any
) -> None:
    verifier, backend = gated
    settings = ServeSettings(port=0, timeout_s=0.5, max_wait_ms=1)
    with running_app(verifier, settings) as srv, ThreadPoolExecutor(2) as pool:
        held = pool.submit(post_score, srv.url, [trajectory_factory(0)])
        wait_for(backend.scoring.is_set, "the batch in flight")
        late = post_score(srv.url, [trajectory_factory(1)])
        assert late.status_code == 504 and late.json()["error"]["kind"] == "timeout"
        assert queue_depth(srv.url) == 0  # the request that gave up is not scored later
        assert held.result().status_code == 504
        backend.gate.set()
        assert post_score(srv.url, [trajectory_factory(2)]).status_code == 200
    assert backend.batch_sizes == [1, 1]


def test_not_ready_while_the_model_loads(
    gated: tuple[Verifier, GatedBackend], trajectory_factory: Any
) -> None:
    verifier, backend = gated
    backend.load_gate.clear()
    with running_app(verifier, ServeSettings(port=0), wait_ready=False) as srv:
        health = httpx.get(f"{srv.url}/healthz")
        assert health.status_code == 503 and health.json()["reason"] == "loading the backend"
        early = post_score(srv.url, [trajectory_factory(0)])
        assert early.status_code == 503 and early.headers["Retry-After"] == "5"
        assert early.json()["error"]["kind"] == "not_ready"
        backend.load_gate.set()
        backend.gate.set()
        wait_for(lambda: httpx.get(f"{srv.url}/healthz").status_code == 200, "readiness")
        assert post_score(srv.url, [trajectory_factory(0)]).status_code == 200


def test_graceful_shutdown_answers_every_accepted_request(
    gated: tuple[Verifier, GatedBackend], trajectory_factory: Any
) -> None:
    verifier, backend = gated
    settings = ServeSettings(port=0, max_wait_ms=1, max_batch_size=2)
    trajectories = [trajectory_factory(i, instance_id=f"t-{i}") for i in range(5)]
    with ThreadPoolExecutor(6) as pool:
        with running_app(verifier, settings) as srv:
            url = srv.url
            first = pool.submit(post_score, url, trajectories[:1])
            wait_for(backend.scoring.is_set, "the batch in flight")
            rest = [pool.submit(post_score, url, [t]) for t in trajectories[1:]]
            wait_for(lambda: queue_depth(url) == 4, "four queued requests")
            stopping = pool.submit(srv.stop)
            time.sleep(0.3)
            assert not stopping.done()  # it waits for the requests in flight
            backend.gate.set()
            stopping.result(timeout=60)
            replies = [first.result(), *(f.result() for f in rest)]
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/healthz")
    assert [r.status_code for r in replies] == [200] * 5
    assert [r.json()["results"][0]["instance_id"] for r in replies] == [
        t.instance_id for t in trajectories
    ]
    assert sum(backend.batch_sizes) == 5 and max(backend.batch_sizes) <= 2
