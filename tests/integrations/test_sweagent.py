"""The SWE-agent integration's own logic, without SWE-agent: the retry-loop config and its
checks, swerm's verdict numbers, the reviewer's envelope, and how an instance ends (.pred).

The real runs are in ``tests/integrations/sweagent/`` (``make pytest-sweagent``). Verdicts here
come from MockRewardBackend: each test needs a specific accept or reject.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from swerm_plugin.cli import main
from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import IntegrationError
from swerm_plugin.integrations.common import Attempt, SwermSession
from swerm_plugin.integrations.sweagent import (
    INSTALL_HINT,
    check_sweagent_version,
    finish_instance,
    rewrite_prediction,
)
from swerm_plugin.integrations.sweagent_config import (
    ENVELOPE_FORMAT,
    ITEM_TEMPLATE,
    check_retry_loop,
    retry_agent_config,
    retry_loop,
    swerm_retry_loop,
)
from swerm_plugin.integrations.sweagent_review import (
    InstanceReview,
    answer_messages,
    envelope_trajectory,
    parse_envelope,
    verdict_value,
)
from swerm_plugin.model import Decision, Score
from swerm_plugin.readers import load
from swerm_plugin.testing import MockRewardBackend, run_cli

from .conftest import session_with

PATCH = (
    "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-a - b\n+a + b\n"
)
OTHER = PATCH.replace("+a + b", "+a * b")


def step(i: int) -> dict[str, Any]:
    return {
        "action": f"cat file{i}.py",
        "observation": f"contents {i}",
        "response": f"Let me look at file{i}.",
        "thought": f"Let me look at file{i}.",
        "state": {"working_dir": "/calc"},
        "execution_time": 0.1,
    }


def attempt_doc(patch: str, review: float | None = None) -> dict[str, Any]:
    """One attempt as SWE-agent saves it."""
    info: dict[str, Any] = {"exit_status": "submitted", "submission": patch, "model_stats": {}}
    if review is not None:
        info["review"] = {"accept": review, "outputs": ["..."], "messages": []}
    replay = {"problem_statement": {"id": "calc_1", "text": "add() subtracts"}}
    return {
        "trajectory": [step(0), step(1)],
        "history": [],
        "info": info,
        "replay_config": json.dumps(replay),
        "environment": "main",
    }


def write_run(out: Path, attempts: list[dict[str, Any]], best: int) -> Path:
    """A retry agent's instance folder: the attempts, the chosen one's .pred, the .traj."""
    folder = out / "calc_1"
    for k, attempt in enumerate(attempts):
        (folder / f"attempt_{k}").mkdir(parents=True)
        (folder / f"attempt_{k}" / "calc_1.traj").write_text(json.dumps(attempt))
    chosen = attempts[best]
    document = {
        "attempts": attempts,
        **chosen,
        "info": {**chosen["info"], "best_attempt_idx": best},
    }
    (folder / "calc_1.traj").write_text(json.dumps(document, indent=2))
    pred = {
        "model_name_or_path": "run",
        "instance_id": "calc_1",
        "model_patch": chosen["info"]["submission"],
    }
    (folder / "calc_1.pred").write_text(json.dumps(pred))
    return folder


def state_for(session: SwermSession, out: Path, *, swerm_reviews: bool) -> InstanceReview:
    return InstanceReview("calc_1", out / "calc_1", session.task("calc_1"), swerm_reviews, 2)


# --- the retry loop swerm reviews ----------------------------------------------------------


def test_retry_loop_limits_are_at_least_swerms() -> None:
    config = SwermConfig(policy={"max_attempts": 3, "cost_budget": 2.0})
    loop = retry_loop(config, agent_cost_limit=1.5)
    assert (loop["max_attempts"], loop["cost_limit"], loop["accept_score"]) == (3, 4.5, 1.0)
    assert loop["model"]["name"] == "swerm/verifier"
    assert loop["model"]["per_instance_cost_limit"] == loop["model"]["total_cost_limit"] == 0
    assert check_retry_loop(loop, config) == []
    assert retry_loop(config)["cost_limit"] == 2.0


def test_check_retry_loop_names_every_problem() -> None:
    config = SwermConfig(policy={"max_attempts": 3, "cost_budget": 2.0})
    loop = retry_loop(SwermConfig())
    loop.update(type="chooser", accept_score=8, max_accepts=2, cost_limit=1.0)
    loop["model"]["per_instance_cost_limit"] = 3.0
    loop["reviewer_config"].update(
        instance_template="{{problem_statement}}",
        failure_score_penalty=0.5,
        score_range=[0, 10],
        traj_formatter={"item_template": "{{response}}", "filter": ["ls"]},
    )
    problems = check_retry_loop(loop, config)
    assert problems == [
        "retry_loop.type must be 'score', not 'chooser'",
        "accept_score must be 1 (got 8)",
        "max_accepts must be 1 (got 2)",
        "max_attempts 1 is below swerm's policy.max_attempts 3",
        "cost_limit 1 is below swerm's policy.cost_budget 2",
        "model.per_instance_cost_limit must be 0 (swerm's answers have no price)",
        "reviewer_config.instance_template must be swerm's JSON envelope",
        "reviewer_config.traj_formatter.item_template must be swerm's",
        "traj_formatter filters must be empty (swerm reads every step)",
        "reviewer_config.failure_score_penalty must be 0 (it would shift swerm's verdict)",
    ]
    loop["reviewer_config"]["score_range"] = [0, 1]
    assert "reviewer_config.score_range must include [0, 2]" in check_retry_loop(loop, config)


def test_retry_agent_config_wraps_each_agent_and_refuses_nesting() -> None:
    config = retry_agent_config(
        [{"model": {"name": "m", "per_instance_cost_limit": 2}}], SwermConfig()
    )
    agent = config["agent"]
    assert agent["agent_configs"] == [
        {"type": "default", "model": {"name": "m", "per_instance_cost_limit": 2}}
    ]
    assert agent["retry_loop"]["cost_limit"] == 2.0
    assert swerm_retry_loop(agent) is agent["retry_loop"]
    assert swerm_retry_loop({"type": "retry", "retry_loop": {"model": {"name": "gpt-4o"}}}) is None
    assert swerm_retry_loop({"type": "default"}) is None
    with pytest.raises(IntegrationError, match="a retry agent cannot run inside another"):
        retry_agent_config([agent], SwermConfig())
    with pytest.raises(IntegrationError, match="at least one"):
        retry_agent_config([], SwermConfig())


def test_retry_config_command_writes_yaml_and_refuses_a_file_without_an_agent(
    tmp_path: Path,
) -> None:
    (tmp_path / "agent.yaml").write_text("agent:\n  templates: {system_template: hi}\n")
    result = run_cli("sweagent", "retry-config", tmp_path / "agent.yaml", "--model", "gpt-4o")
    assert result.exit_code == 0, result.output
    agent = yaml.safe_load(result.stdout)["agent"]
    assert agent["agent_configs"][0]["model"] == {"name": "gpt-4o"}
    assert (
        agent["retry_loop"]["reviewer_config"]["traj_formatter"]["item_template"] == ITEM_TEMPLATE
    )
    (tmp_path / "env.yaml").write_text("env: {}\n")
    result = run_cli("sweagent", "retry-config", tmp_path / "env.yaml")
    assert result.exit_code == 1
    assert "env.yaml: no 'agent:' block" in result.stderr


def test_shipped_retry_loop_is_what_retry_config_writes_for_the_example_swerm_toml() -> None:
    from swerm_plugin.config import load_config

    examples = Path(__file__).resolve().parents[2] / "examples"
    config = load_config(environ={"SWERM_CONFIG": str(examples / "swerm.toml")})
    shipped = yaml.safe_load((examples / "sweagent" / "swerm_retry_loop.yaml").read_text())
    assert shipped == {"retry_loop": retry_loop(config)}


# --- swerm's verdict as SWE-agent's score ---------------------------------------------------


@pytest.mark.parametrize(
    ("action", "p", "stops", "expected"),
    [
        ("accept", 0.8, False, 1.8),
        ("retry", 0.3, False, 0.3),
        ("retry", 1.0, False, 0.999999),  # a retry never reaches the accept score
        ("reject", 0.3, False, 1.3),  # SWE-agent would go on: stop it
        ("reject", 0.3, True, 0.3),  # SWE-agent stops anyway: keep the ranking by p
        ("accept", None, False, 1.5),  # accepted by on_error: the threshold
        ("reject", None, True, 0.0),
    ],
)
def test_verdict_value(action: str, p: float | None, stops: bool, expected: float) -> None:
    decision = Decision(action=action, reason="r", threshold=0.5)  # type: ignore[arg-type]
    score = Score(raw=p) if p is not None else Score(error="down")
    attempt = Attempt(1, None, score, decision)  # type: ignore[arg-type]
    assert verdict_value(attempt, 0.5, sweagent_stops=stops) == pytest.approx(expected)


def test_envelope_reads_like_the_saved_attempt(tmp_path: Path) -> None:
    saved = attempt_doc(PATCH)
    envelope = {
        "format": ENVELOPE_FORMAT,
        "problem_statement": "add() subtracts",
        "submission": PATCH,
        "exit_status": "submitted",
        "instance_cost": 0,
        "steps": [
            {k: s[k] for k in ("response", "thought", "action", "observation")}
            for s in saved["trajectory"]
        ],
    }
    live = envelope_trajectory(parse_envelope(json.dumps(envelope)), "calc_1", tmp_path / "x.traj")
    (tmp_path / "calc_1.traj").write_text(json.dumps(saved))
    [later] = load(tmp_path / "calc_1.traj")
    assert live.content_hash() == later.content_hash()


@pytest.mark.parametrize(
    "text",
    ["{{problem_statement}}", '{"format": "other", "steps": []}', '{"format": "swerm-review-1"}'],
)
def test_a_prompt_that_is_not_swerms_envelope_is_an_error(text: str) -> None:
    with pytest.raises(IntegrationError, match="not swerm's JSON envelope"):
        parse_envelope(text)


def test_reviewer_outside_an_instance() -> None:
    assert answer_messages([], swerm_on=False).endswith("\n1.000000")
    with pytest.raises(IntegrationError, match="outside an instance"):
        answer_messages([], swerm_on=True)


# --- how an instance ends --------------------------------------------------------------------


def test_swerm_submits_its_choice_when_sweagents_reviewer_chose_another(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An LLM reviewer preferred attempt 2; swerm judges both afterwards and accepts attempt 1.
    folder = write_run(tmp_path, [attempt_doc(PATCH, 3.0), attempt_doc(OTHER, 8.0)], best=1)
    session = session_with(MockRewardBackend(scores=[0.9, 0.2]), tmp_path, "swe-agent")
    with caplog.at_level(logging.WARNING, "swerm.integrations.sweagent"):
        outcome = finish_instance(state_for(session, tmp_path, swerm_reviews=False), tmp_path)
    assert (outcome.action, outcome.attempt.number if outcome.attempt else None) == ("accept", 1)
    assert json.loads((folder / "calc_1.pred").read_text())["model_patch"] == PATCH
    assert json.loads((folder / "calc_1.pred.orig").read_text())["model_patch"] == OTHER
    assert "reviewer of calc_1 is not swerm" in caplog.text


def test_a_review_swerm_did_not_answer_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = write_run(tmp_path, [attempt_doc(PATCH, -100.0)], best=0)
    session = session_with(MockRewardBackend(scores=[0.9]), tmp_path, "swe-agent")
    state = state_for(session, tmp_path, swerm_reviews=True)
    [live] = load(folder / "attempt_0" / "calc_1.traj")
    state.task.judge(live, path=state.attempt_path(0))  # swerm judged it, the answer got lost
    with caplog.at_level(logging.ERROR, "swerm.integrations.sweagent"):
        outcome = finish_instance(state, tmp_path)
    assert outcome.action == "accept"
    assert "did not get swerm's verdict for calc_1 attempt 0 (it recorded -100.0" in caplog.text
    assert not (folder / "calc_1.pred.orig").exists()  # the accepted attempt is the submitted one


def test_rewrite_prediction_is_atomic_idempotent_and_checks_its_input(tmp_path: Path) -> None:
    pred = tmp_path / "x.pred"
    original = json.dumps({"model_name_or_path": "m", "instance_id": "x", "model_patch": PATCH})
    pred.write_text(original)
    rewrite_prediction(pred, "")
    rewrite_prediction(pred, "")  # a resumed run: the backup must keep the agent's patch
    assert json.loads(pred.read_text())["model_patch"] == ""
    assert (tmp_path / "x.pred.orig").read_text() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pred", "x.pred.orig"]

    bad = tmp_path / "bad.pred"
    bad.write_text("[1, 2]")
    with pytest.raises(IntegrationError, match=r"bad\.pred: not a SWE-agent prediction"):
        rewrite_prediction(bad, "")


# --- the launcher without SWE-agent 1.1.0 ---------------------------------------------------


def test_launcher_without_sweagent_says_how_to_install_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sweagent", None)  # not installed (it is not on PyPI)
    assert main(["sweagent", "run-batch", "--config", "x.yaml"]) == 1
    assert INSTALL_HINT in capsys.readouterr().err


def test_another_sweagent_version_is_refused() -> None:
    assert check_sweagent_version("1.1.0") == "1.1.0"
    with pytest.raises(IntegrationError, match=r"supports SWE-agent 1\.1\.0, found 1\.0\.1"):
        check_sweagent_version("1.0.1")
