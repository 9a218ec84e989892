"""Fixtures for the framework integrations: throwaway git repositories and swerm sessions."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.config import SwermConfig
from swerm_plugin.integrations.common import SwermSession, forget_sessions, use_session
from swerm_plugin.testing import MockRewardBackend

BUGGY = "def add(a, b):\n    return a - b\n"
WRONG_FIX = "def add(a, b):\n    return a * b\n"
RIGHT_FIX = "def add(a, b):\n    return a + b\n"

os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")  # mini-swe-agent prints a banner on import


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def diff_for(repo: Path, content: str) -> str:
    """The repository's diff when calc.py holds ``content`` (calc.py is restored after)."""
    (repo / "calc.py").write_text(content)
    try:
        return git(repo, "diff")
    finally:
        (repo / "calc.py").write_text(BUGGY)


def make_repo(path: Path) -> Path:
    """A git repository with one buggy module, committed; returns its path."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "swerm@example.invalid")
    git(path, "config", "user.name", "swerm tests")
    (path / "calc.py").write_text(BUGGY)
    git(path, "add", "calc.py")
    git(path, "commit", "-q", "-m", "initial")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def session_with(
    backend: Any, tmp_path: Path, framework: str = "mini-swe-agent", **config: Any
) -> SwermSession:
    """A session over ``backend`` whose decisions log is ``tmp_path/decisions.jsonl``."""
    return SwermSession(
        SwermConfig(**config),
        framework,  # type: ignore[arg-type]
        log_path=tmp_path / "decisions.jsonl",
        backend=backend,
    )


@pytest.fixture
def install_session() -> Iterator[Any]:
    """``install_session(session)`` makes every integration in the test use ``session``."""
    stack: list[Any] = []

    def install(session: SwermSession) -> SwermSession:
        manager = use_session(session)
        manager.__enter__()
        stack.append(manager)
        return session

    yield install
    for manager in reversed(stack):
        manager.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _fresh_sessions() -> Iterator[None]:
    """Sessions built from the flag are cached per process: none may outlive its test."""
    yield
    forget_sessions()


@pytest.fixture
def mock_scores() -> MockRewardBackend:
    """A backend answering queued probabilities: used where a test needs a specific verdict."""
    return MockRewardBackend()
