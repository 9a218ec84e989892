"""One real ``swerm serve`` app under uvicorn on 127.0.0.1 per test session, over the tiny model;
tests that need other limits start their own small server on the same loaded verifier."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from swerm_plugin.backends.base import RewardBackend
from swerm_plugin.config import SwermConfig
from swerm_plugin.model import Score
from swerm_plugin.prompts.prompt import Prompt
from swerm_plugin.serve.app import create_app
from swerm_plugin.serve.server import BackgroundServer, serve_in_background
from swerm_plugin.serve.settings import ServeSettings
from swerm_plugin.verifier import Verifier

KEY_ENV = "SERVE_TEST_API_KEY"  # not SWERM_*: the test isolation removes those
API_KEY = "k3y-for-tests-only-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def tiny_config(model_dir: Path, **overrides: Any) -> SwermConfig:
    return SwermConfig(model=str(model_dir), backend="transformers", **overrides)


@pytest.fixture(scope="session")
def tiny_verifier(tiny_model_dir: Path) -> Iterator[Verifier]:
    """The tiny model, loaded once and shared by every server of the session."""
    with Verifier(tiny_config(tiny_model_dir)) as verifier:
        verifier.backend.load()  # type: ignore[attr-defined]
        yield verifier


@contextmanager
def running_app(
    verifier: Verifier, settings: ServeSettings | None = None, *, wait_ready: bool = True
) -> Iterator[BackgroundServer]:
    """A real uvicorn server on 127.0.0.1 (a free port) serving ``verifier``."""
    settings = settings or ServeSettings(port=0)
    app = create_app(verifier.config, settings, verifier=verifier)
    with serve_in_background(app, settings) as server:
        if wait_ready:
            wait_until_ready(server.url)
        yield server


def wait_until_ready(url: str, timeout_s: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/healthz").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"{url} never became ready")


@pytest.fixture(scope="session")
def server(tiny_verifier: Verifier) -> Iterator[BackgroundServer]:
    """The session's server: default limits, an API key."""
    os.environ[KEY_ENV] = API_KEY
    try:
        with running_app(tiny_verifier, ServeSettings(port=0, api_key_env=KEY_ENV)) as running:
            yield running
    finally:
        os.environ.pop(KEY_ENV, None)


@pytest.fixture
def client(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as http:
        yield http


@pytest.fixture
def small_server(
    tiny_verifier: Verifier,
) -> Callable[..., AbstractContextManager[BackgroundServer]]:
    """A server of its own with the given settings (``verifier=`` another one)."""

    def start(verifier: Verifier | None = None, **settings: Any) -> Any:
        return running_app(verifier or tiny_verifier, ServeSettings(port=0, **settings))

    return start


class GatedBackend(RewardBackend):
    """The tiny model's backend, held at a gate: scoring (and loading) waits until the test
    opens it, so a test can hold batches in flight and fill the queue deterministically."""

    name: ClassVar[str] = "gated"

    def __init__(self, inner: RewardBackend) -> None:
        super().__init__(inner.config)
        self.inner = inner
        self.tokenizer = inner.tokenizer
        self.context_length = inner.context_length
        self.model_name = inner.model_name
        self.gate = threading.Event()
        self.scoring = threading.Event()
        self.load_gate = threading.Event()
        self.load_gate.set()
        self.batch_sizes: list[int] = []

    def load(self) -> None:
        assert self.load_gate.wait(60), "the test never opened the load gate"

    def score_batch(self, prompts: Sequence[Prompt]) -> list[Score]:
        self.batch_sizes.append(len(prompts))
        self.scoring.set()
        assert self.gate.wait(60), "the test never opened the gate"
        return self.inner.score_batch(prompts)


@pytest.fixture
def gated(tiny_verifier: Verifier) -> Iterator[tuple[Verifier, GatedBackend]]:
    backend = GatedBackend(tiny_verifier.backend)
    try:
        yield Verifier(tiny_verifier.config, backend=backend), backend
    finally:
        backend.gate.set()
        backend.load_gate.set()
