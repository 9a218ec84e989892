"""The shared client against a real local server with injected faults: what is retried, how long
it waits, where it goes, and what it says when it gives up."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from swerm_plugin.backends.remote.http import (
    MAX_RETRY_AFTER_S,
    EndpointPool,
    RemoteClient,
    RemoteError,
    backoff_delay,
    parse_retry_after,
)

from .conftest import FAKE_MODEL, FakeServer
from .fake_server import oracle_score

QUERY = [5, 6, 7]
ITEM = [8, 9]


def scoring_payload() -> dict[str, Any]:
    return {
        "model": FAKE_MODEL,
        "query": QUERY,
        "items": [ITEM],
        "label_token_ids": [3, 4],
        "apply_softmax": True,
    }


def client_for(*urls: str, **options: Any) -> RemoteClient:
    settings: dict[str, Any] = {
        "backoff_s": 0.01,
        "backoff_max_s": 0.05,
        "timeout_s": 5.0,
        "max_retries": 3,
        "seed": 0,
    }
    settings.update(options)
    return RemoteClient(list(urls), **settings)


async def post_once(client: RemoteClient) -> Any:
    try:
        return await client.post_json("/generative_scoring", scoring_payload())
    finally:
        await client.aclose()


def expected_score() -> float:
    return oracle_score(QUERY + ITEM)


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "drop"},
        {"kind": "status", "status": 500},
        {"kind": "status", "status": 503},
        {"kind": "malformed"},
    ],
    ids=["dropped-connection", "500", "503", "malformed-json"],
)
def test_transient_fault_is_retried_and_the_answer_is_complete(
    fake_server: Callable[..., FakeServer], fault: dict[str, Any]
) -> None:
    server = fake_server()
    server.faults(fault, fault)
    client = client_for(server.url)
    reply = asyncio.run(post_once(client))
    assert reply["data"][0]["score"] == pytest.approx(expected_score())
    seen = server.log()
    assert len(seen) == 3, "two faulty attempts, then the answer"
    assert [e["fault"] is not None for e in seen] == [True, True, False]
    assert client.retries == 2 and client.attempts == 3


def test_retry_after_is_honoured(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server()
    server.faults({"kind": "status", "status": 429, "retry_after": "1"})
    client = client_for(server.url)  # its own backoff is 10-50 ms: only Retry-After waits 1 s
    reply = asyncio.run(post_once(client))
    assert reply["data"][0]["score"] == pytest.approx(expected_score())
    first, second = server.log()
    assert second["t"] - first["t"] >= 0.95


def test_reply_slower_than_the_timeout_is_abandoned_and_retried(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server()
    server.faults({"kind": "slow", "seconds": 3})
    client = client_for(server.url, timeout_s=0.5)
    start = time.monotonic()
    reply = asyncio.run(post_once(client))
    assert reply["data"][0]["score"] == pytest.approx(expected_score())
    assert time.monotonic() - start < 2.5, "the client waited for the slow reply"
    assert len(server.log()) == 2


def test_client_errors_are_not_retried(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server()
    server.faults({"kind": "status", "status": 400, "message": "items must not be empty"})
    client = client_for(server.url)
    with pytest.raises(RemoteError, match="HTTP 400: items must not be empty") as caught:
        asyncio.run(post_once(client))
    assert caught.value.status == 400
    assert caught.value.attempts == 1
    assert len(server.log()) == 1


def test_wrong_api_key_says_where_the_key_comes_from(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server(api_key="right-key")
    from pydantic import SecretStr

    client = client_for(server.url, api_key=SecretStr("wrong-key"))
    with pytest.raises(RemoteError, match=r"HTTP 401.*SWERM_REMOTE__API_KEY"):
        asyncio.run(post_once(client))


def test_giving_up_names_the_attempts_and_the_last_reason(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server()
    server.faults(*[{"kind": "malformed"}] * 3)
    client = client_for(server.url, max_retries=2)
    with pytest.raises(RemoteError) as caught:
        asyncio.run(post_once(client))
    message = str(caught.value)
    assert "failed after 3 attempts" in message
    assert "malformed JSON in the reply" in message
    assert "remote.max_retries" in message
    assert len(server.log()) == 3


def test_unreachable_endpoint_fails_over_to_a_live_one(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server()
    from swerm_plugin.testing.vllm_cpu import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    client = client_for(dead, server.url, max_retries=1)

    async def many() -> list[Any]:
        try:
            return await asyncio.gather(
                *(client.post_json("/generative_scoring", scoring_payload()) for _ in range(6))
            )
        finally:
            await client.aclose()

    replies = asyncio.run(many())
    assert all(r["data"][0]["score"] == pytest.approx(expected_score()) for r in replies)
    dead_endpoint, live_endpoint = client.pool.endpoints
    assert dead_endpoint.failures >= 1
    assert live_endpoint.failures == 0
    assert len(server.log()) == 6


def test_concurrency_is_bounded(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server()
    server.delay(0.15)
    client = client_for(server.url, concurrency=3)

    async def many() -> None:
        try:
            await asyncio.gather(
                *(client.post_json("/generative_scoring", scoring_payload()) for _ in range(9))
            )
        finally:
            await client.aclose()

    asyncio.run(many())
    assert server.max_in_flight() == 3


def test_api_key_text_is_redacted_from_error_messages(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server()
    from pydantic import SecretStr

    secret = "sk-test-0123456789abcdef"
    # A badly behaved proxy that echoes the key back in its error body.
    server.faults({"kind": "status", "status": 400, "message": f"bad key {secret} here"})
    client = client_for(server.url, api_key=SecretStr(secret))
    with pytest.raises(RemoteError) as caught:
        asyncio.run(post_once(client))
    assert secret not in str(caught.value)
    assert "bad key *** here" in str(caught.value)


# --- pure parts ---


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after("99999") == MAX_RETRY_AFTER_S
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(7.0, abs=1.0)


def test_backoff_doubles_is_capped_and_jittered() -> None:
    rng = random.Random(1)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (10, 5.0)]:
        delays = [backoff_delay(retry, 0.5, 5.0, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 10, "no jitter"


def test_pool_prefers_ready_then_least_busy_endpoints() -> None:
    pool = EndpointPool(["http://a/", "http://b/v1", "http://c"])
    a, b, c = pool.endpoints
    assert [e.url for e in pool.endpoints] == ["http://a", "http://b", "http://c"]
    a.in_flight, b.in_flight, c.in_flight = 2, 0, 1
    assert pool.pick(now=0.0) is b
    pool.cool_down(b, until=10.0)
    assert pool.pick(now=5.0) is c
    assert pool.pick(now=5.0, avoid=c) is a
    pool.cool_down(a, until=20.0)
    pool.cool_down(c, until=15.0)
    assert pool.pick(now=5.0) is b, "all cooling: the one ready first"
    with pytest.raises(ValueError, match="at least one endpoint"):
        EndpointPool([])
