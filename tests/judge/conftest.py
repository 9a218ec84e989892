"""Fixtures of the judge's tests: scripted OpenAI-compatible servers on 127.0.0.1
(:mod:`swerm_plugin.testing.judge_server`: no model that writes rationales runs here) and judge
configurations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from swerm_plugin.config import RemoteConfig, SwermConfig
from swerm_plugin.judge.settings import JudgeConfig
from swerm_plugin.model import Step, Trajectory
from swerm_plugin.testing.judge_server import Script, ScriptedServer

#: Fast retries, so that fault tests take milliseconds.
FAST: dict[str, Any] = {"backoff_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 10.0}


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedServer]]:
    """Starts scripted servers (``scripted(script, logprobs=False, model=...)``); all stop after."""
    started: list[ScriptedServer] = []

    def start(script: Script, **options: Any) -> ScriptedServer:
        server = ScriptedServer(script, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def judge_config(url: str, *, model: str = "scripted-judge", **judge: Any) -> SwermConfig:
    """The judge backend on the scripted server at ``url``."""
    return SwermConfig(
        backend="judge",
        remote=RemoteConfig(endpoints=[url], max_retries=1, **FAST),
        judge=JudgeConfig(model=model, **judge),
    )


def task(iid: str, *, observation: str = "tests pass", patch: str | None = None) -> Trajectory:
    """A small trajectory whose issue names its task (``Task <iid>:``), as the scripts read it."""
    fix = Step(
        role="assistant", thought="Fix it.", action="sed -i s/x/y/ p.py", observation=observation
    )
    return Trajectory(
        instance_id=iid,
        source="test/1",
        problem_statement=f"Task {iid}: the parser fails on empty input.",
        steps=[Step(role="assistant", thought="Look at the parser.", action="cat p.py"), fix],
        patch=f"diff --git a/p.py b/p.py\n+    return None  # {iid}\n" if patch is None else patch,
        exit_status="submitted",
    )
