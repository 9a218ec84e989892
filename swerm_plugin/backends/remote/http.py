"""The async HTTP client every remote backend shares.

One pooled ``httpx.AsyncClient``; at most ``concurrency`` requests in flight; each request is
retried (tenacity) on 429, 5xx, timeouts, dropped connections and malformed JSON. A failed
endpoint cools down for an exponential backoff with jitter (or the server's ``Retry-After``,
when longer); with several endpoints each attempt goes at once to the least busy one that is not
cooling down, so a dead replica's work moves to the others without waiting, and the client only
sleeps when every endpoint is cooling down.

Why not litellm's Router: it balances OpenAI-style calls only, and vLLM's ``/generative_scoring``,
``/classify`` and ``/pooling`` are not among them. This one small policy serves all three remote
backends alike (the ``openai`` backend runs its litellm calls through :meth:`RemoteClient.call`).

The API key is sent as a bearer header and never logged; every error text passes through
:meth:`RemoteClient.redact` as a second guard.
"""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from pydantic import SecretStr
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from swerm_plugin.config import mask_url
from swerm_plugin.errors import RemoteError

if TYPE_CHECKING:
    import httpx

    from swerm_plugin.config import RemoteConfig

log = logging.getLogger("swerm.remote")
T = TypeVar("T")

#: Statuses worth another attempt: the server is busy, restarting or behind a failing proxy.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: The longest ``Retry-After`` honoured; a server asking for more is treated as down for that long.
MAX_RETRY_AFTER_S = 300.0
_REDACTED = "***"


class TransientError(Exception):
    """One attempt failed in a way that another attempt (or another endpoint) may not."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class RequestRejected(Exception):
    """The server refused the request itself (4xx); retrying the same request cannot help."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def backoff_delay(retry: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Delay before retry number ``retry`` (1-based): ``base * 2**(retry-1)``, capped, with the
    upper half jittered so that clients that failed together do not retry together."""
    ceiling = min(max_s, base_s * 2 ** (retry - 1))
    return ceiling * rng.uniform(0.5, 1.0)


@dataclass
class Endpoint:
    """One server and what the client has seen of it."""

    url: str
    #: ``url`` with credentials masked: what messages and logs show.
    shown: str = ""
    in_flight: int = 0
    available_at: float = 0.0  # monotonic time before which it is cooling down
    requests: int = 0
    failures: int = 0


class EndpointPool:
    """Picks the endpoint for each attempt: ready ones first, then the least busy, ties in turn."""

    def __init__(self, urls: Sequence[str]) -> None:
        if not urls:
            raise ValueError("at least one endpoint URL is needed")
        # Server roots: a trailing /v1 is dropped, the OpenAI routes add it back.
        roots = [url.rstrip("/").removesuffix("/v1") for url in urls]
        self.endpoints = [Endpoint(root, shown=mask_url(root)) for root in roots]
        self._turn = itertools.count()

    def pick(self, now: float, avoid: Endpoint | None = None) -> Endpoint:
        ready = [e for e in self.endpoints if e.available_at <= now]
        if not ready:
            return min(self.endpoints, key=lambda e: e.available_at)
        if avoid is not None and len(ready) > 1 and avoid in ready:
            ready.remove(avoid)
        least = min(e.in_flight for e in ready)
        tied = [e for e in ready if e.in_flight == least]
        return tied[next(self._turn) % len(tied)]

    def cool_down(self, endpoint: Endpoint, until: float) -> None:
        endpoint.failures += 1
        endpoint.available_at = max(endpoint.available_at, until)


class RemoteClient:
    """Pooled, bounded, retrying HTTP calls to one or more interchangeable servers.

    Use it from one event loop; :class:`LoopThread` gives sync code such a loop.
    """

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        api_key: SecretStr | None = None,
        timeout_s: float = 120.0,
        concurrency: int = 8,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        backoff_max_s: float = 30.0,
        seed: int | None = None,
    ) -> None:
        self.pool = EndpointPool(endpoints)
        self._api_key = api_key
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self._rng = random.Random(seed)
        self._slots: asyncio.Semaphore | None = None
        self._http: httpx.AsyncClient | None = None
        self.attempts = 0
        self.retries = 0

    @classmethod
    def from_config(
        cls, remote: RemoteConfig, *, endpoints: Sequence[str] | None = None
    ) -> RemoteClient:
        """The client ``remote`` describes (``endpoints`` in place of its own, when given)."""
        return cls(
            remote.endpoints if endpoints is None else endpoints,
            api_key=remote.api_key,
            timeout_s=remote.timeout_s,
            concurrency=remote.concurrency,
            max_retries=remote.max_retries,
            backoff_s=remote.backoff_s,
            backoff_max_s=remote.backoff_max_s,
        )

    @property
    def api_key(self) -> str | None:
        """The key's text, for libraries that take it as an argument (never log it)."""
        if self._api_key is None:
            return None
        return self._api_key.get_secret_value() or None

    def redact(self, text: str) -> str:
        """``text`` without the API key or any credentials of an endpoint URL."""
        key = self.api_key
        if key:
            text = text.replace(key, _REDACTED)
        for endpoint in self.pool.endpoints:
            if endpoint.shown != endpoint.url:
                text = text.replace(endpoint.url, endpoint.shown)
        return mask_url(text)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 10.0)),
                limits=httpx.Limits(
                    max_connections=self.concurrency, max_keepalive_connections=self.concurrency
                ),
                headers={"Content-Type": "application/json"},
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # --- the retry loop ---

    async def call(self, send: Callable[[str], Awaitable[T]], *, what: str) -> T:
        """Run ``send(endpoint_url)`` until it succeeds, retrying and failing over.

        ``send`` raises :class:`TransientError` for failures worth another attempt and
        :class:`RequestRejected` for the final ones. ``what`` names the request in messages.
        :raises RemoteError: after ``max_retries`` retries, or at once when rejected.
        """
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        reasons: list[str] = []
        state: dict[str, Endpoint | None] = {"previous": None}
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._until_an_endpoint_is_ready,
            retry=retry_if_exception_type(TransientError),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(send, what, reasons, state)
        except TransientError:
            pass
        raise RemoteError(
            f"{what} failed after {len(reasons)} attempt{'s' if len(reasons) > 1 else ''}: "
            f"{reasons[-1]}"
            + (f" (earlier: {'; '.join(reasons[:-1][-3:])})" if len(reasons) > 1 else "")
            + "; check that the servers in remote.endpoints are up, or raise remote.max_retries "
            "/ remote.timeout_s",
            attempts=len(reasons),
        )
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _until_an_endpoint_is_ready(self, retry_state: RetryCallState) -> float:
        """tenacity's wait: none while some endpoint is ready (fail over at once), else until
        the first one's cooldown ends."""
        soonest = min(e.available_at for e in self.pool.endpoints)
        return max(0.0, soonest - time.monotonic())

    async def _attempt(
        self,
        send: Callable[[str], Awaitable[T]],
        what: str,
        reasons: list[str],
        state: dict[str, Endpoint | None],
    ) -> T:
        """One attempt on the best endpoint; a transient failure cools that endpoint down."""
        assert self._slots is not None
        number = len(reasons)
        async with self._slots:
            # Picked once a slot is free, so the choice sees the current load and cooldowns.
            endpoint = self.pool.pick(time.monotonic(), avoid=state["previous"])
            state["previous"] = endpoint
            endpoint.in_flight += 1
            endpoint.requests += 1
            self.attempts += 1
            self.retries += number > 0
            try:
                return await send(endpoint.url)
            except TransientError as exc:
                reason = self.redact(f"{endpoint.shown}: {exc}")
                reasons.append(reason)
                delay = backoff_delay(number + 1, self.backoff_s, self.backoff_max_s, self._rng)
                if exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                self.pool.cool_down(endpoint, time.monotonic() + delay)
                log.debug(
                    "%s: attempt %d failed (%s); %.2f s cooldown", what, number + 1, reason, delay
                )
                raise
            except RequestRejected as exc:
                message = self.redact(f"{what} rejected by {endpoint.shown}: {exc}")
                raise RemoteError(message, attempts=number + 1, status=exc.status) from None
            finally:
                endpoint.in_flight -= 1

    # --- JSON over HTTP ---

    async def request_json(
        self, method: str, path: str, payload: Any = None, *, what: str | None = None
    ) -> Any:
        """``method path`` with a JSON body on some endpoint; the decoded JSON reply."""
        label = what or f"{method} {path}"

        async def send(base: str) -> Any:
            return await self._send_once(method, base + path, payload)

        return await self.call(send, what=label)

    async def post_json(self, path: str, payload: Any, *, what: str | None = None) -> Any:
        return await self.request_json("POST", path, payload, what=what)

    async def get_json(self, path: str, *, what: str | None = None) -> Any:
        return await self.request_json("GET", path, what=what)

    async def _send_once(self, method: str, url: str, payload: Any) -> Any:
        import httpx

        headers = {}
        key = self.api_key
        if key:
            headers["Authorization"] = f"Bearer {key}"
        content = None if payload is None else orjson.dumps(payload)
        try:
            response = await self._client().request(method, url, content=content, headers=headers)
        except httpx.TimeoutException:
            raise TransientError(f"no reply within {self.timeout_s:g} s") from None
        except httpx.TransportError as exc:
            raise TransientError(f"connection failed ({type(exc).__name__}: {exc})") from None
        status = response.status_code
        if status >= 400:
            detail = _error_detail(response.content)
            if status in RETRY_STATUSES or status >= 500:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                raise TransientError(f"HTTP {status}: {detail}", retry_after=retry_after)
            raise RequestRejected(f"HTTP {status}: {detail}{status_hint(status)}", status=status)
        if not response.content.strip():
            return None  # vLLM's /health answers 200 with no body
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            sample = response.content[:80].decode("utf-8", "replace")
            raise TransientError(f"malformed JSON in the reply: {sample!r}") from None


def _error_detail(body: bytes) -> str:
    """The server's error message (OpenAI/vLLM shape) or the start of the body."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace").strip() or "(empty body)"
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return str(error)[:300]
    return str(data)[:200]


def status_hint(status: int) -> str:
    """What to check after a refused request, for the statuses that have a usual cause."""
    if status in (401, 403):
        return (
            "; the server refused the API key: export it and point the config at it "
            '(remote.api_key = {"$env" = "NAME"} or SWERM_REMOTE__API_KEY)'
        )
    if status == 404:
        return "; check remote.endpoints (server root URLs) and the served model name"
    return ""
