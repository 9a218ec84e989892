"""The LLM judge as the verifier inside agent runs, like any backend: a real mini-swe-agent run
(DeterministicModel, LocalEnvironment) judged by the ``judge`` backend through litellm and real
HTTP. The API model is a scripted OpenAI-compatible server on 127.0.0.1
(:mod:`swerm_plugin.testing.judge_server`): no model that writes rationales runs here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from swerm_plugin.config import RemoteConfig, SwermConfig
from swerm_plugin.integrations.common import SwermSession
from swerm_plugin.model import Step, Trajectory
from swerm_plugin.testing.judge_server import Answer, ScriptedServer

from .test_mini import TASK, make_agent, two_attempts


def reviewer(body: dict[str, Any]) -> Answer:
    """Says NO to the multiplication, YES to the sum, by the patch of the attempt judged."""
    user = body["messages"][1]["content"]
    patch = user[user.rindex("[PATCH]") :]
    if "a * b" in patch:
        return Answer("The patch multiplies instead of adding.\nVERDICT: NO", p_yes=0.1)
    return Answer("The patch returns the sum.\nVERDICT: YES", p_yes=0.9)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    started = ScriptedServer(reviewer, model="gpt-4o-mini")
    yield started
    started.stop()


def judge_session(server: ScriptedServer, tmp_path: Path, **policy: Any) -> SwermSession:
    config = SwermConfig(
        backend="judge",
        remote=RemoteConfig(endpoints=[server.url], max_retries=1, backoff_s=0.01),
        judge={"model": "gpt-4o-mini"},
        policy=policy,
    )
    return SwermSession(config, "mini-swe-agent", log_path=tmp_path / "decisions.jsonl")


def test_judge_is_the_verifier_of_a_real_mini_swe_agent_run(
    repo: Path, tmp_path: Path, install_session: Any, server: ScriptedServer
) -> None:
    session = install_session(judge_session(server, tmp_path, threshold=0.5, max_attempts=2))
    output = tmp_path / "run" / "calc-1.traj.json"
    make_agent(repo, two_attempts(), output).run(TASK)
    session.close()
    log = [orjson.loads(line) for line in (tmp_path / "decisions.jsonl").read_bytes().splitlines()]
    attempts = [r for r in log if r["event"] == "attempt"]
    assert [r["action"] for r in attempts] == ["retry", "accept"]
    assert [r["p"] for r in attempts] == [pytest.approx(0.1), pytest.approx(0.9)]
    for record in attempts:
        score = record["score"]
        assert score["backend"] == "judge" and score["template"] == "judge"
        assert score["prompt_tokens"] > 0 and score["cost_usd"] > 0
    final = next(r for r in log if r["event"] == "final")
    assert final["action"] == "accept" and final["selected_attempt"] == 2
    assert "a + b" in (repo / "calc.py").read_text()


def attempt(cost: float, total: float) -> Trajectory:
    return Trajectory(
        instance_id="calc-1",
        source="test/1",
        problem_statement=TASK,
        steps=[Step(role="assistant", action="sed -i s/-/*/ calc.py")],
        patch="diff --git a/calc.py b/calc.py\n-    return a - b\n+    return a * b\n",
        cost=cost,
        metadata={"total_cost": total},
    )


def test_judge_cost_is_part_of_the_runs_cost(tmp_path: Path, server: ScriptedServer) -> None:
    """The agent has spent 0.5 of a 0.5000001 budget: only the judge's own calls (priced by
    litellm's map for gpt-4o-mini) use up the rest, so no further attempt may start."""
    session = judge_session(server, tmp_path, threshold=0.5, max_attempts=3, cost_budget=0.5000001)
    task = session.task("calc-1")
    decision = task.judge(attempt(cost=0.0, total=0.5))
    session.close()
    (record,) = [
        orjson.loads(line) for line in (tmp_path / "decisions.jsonl").read_bytes().splitlines()
    ]
    verifier_cost = record["score"]["cost_usd"]
    assert verifier_cost > 1e-7
    assert record["cost"] == pytest.approx(0.5 + verifier_cost)
    assert decision.action == "reject" and "cost budget" in decision.reason


def test_judge_without_a_price_charges_nothing(tmp_path: Path) -> None:
    unpriced = ScriptedServer(reviewer)
    try:
        config = SwermConfig(
            backend="judge",
            remote=RemoteConfig(endpoints=[unpriced.url], max_retries=1),
            judge={"model": "scripted-judge"},
            policy={"threshold": 0.5, "max_attempts": 3, "cost_budget": 0.5000001},
        )
        session = SwermSession(config, "mini-swe-agent", log_path=tmp_path / "d.jsonl")
        decision = session.task("calc-1").judge(attempt(cost=0.0, total=0.5))
        session.close()
    finally:
        unpriced.stop()
    (record,) = [orjson.loads(line) for line in (tmp_path / "d.jsonl").read_bytes().splitlines()]
    assert record["score"]["cost_usd"] is None and record["cost"] == 0.5
    assert decision.action == "retry", decision.reason
