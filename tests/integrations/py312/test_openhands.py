"""SwermCritic and best_of_n in real OpenHands SDK conversations (Python 3.12, ``.venv-oh``).

Each conversation runs the SDK's own agent loop offline: ``TestLLM`` answers with scripted tool
calls, the real terminal tool edits a throwaway git repository in a ``LocalWorkspace``. Where a
test needs a specific verdict (refine once, then accept), scores come from MockRewardBackend;
the vLLM test scores through the ``vllm`` backend against a real vLLM server.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info < (3, 12):
    pytest.skip(
        "the OpenHands SDK needs Python 3.12: these tests run in .venv-oh (make pytest-oh)",
        allow_module_level=True,
    )
os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else litellm goes online
sdk = pytest.importorskip("openhands.sdk", reason="install with: make pytest-oh")

import orjson  # noqa: E402
from openhands.sdk import Agent, Conversation, Tool  # noqa: E402
from openhands.sdk.critic import IterativeRefinementConfig  # noqa: E402
from openhands.sdk.event import ActionEvent, MessageEvent  # noqa: E402
from openhands.sdk.llm import Message, MessageToolCall, TextContent  # noqa: E402
from openhands.sdk.testing import TestLLM  # noqa: E402
from openhands.sdk.workspace import LocalWorkspace  # noqa: E402
from openhands.tools.terminal import TerminalTool  # noqa: E402,F401  (registers "terminal")

from swerm_plugin.errors import IntegrationError, VerifierError  # noqa: E402
from swerm_plugin.integrations.openhands import SwermCritic, best_of_n  # noqa: E402
from swerm_plugin.testing import MockRewardBackend  # noqa: E402

from ..conftest import (  # noqa: E402
    RIGHT_FIX,
    WRONG_FIX,
    diff_for,
    make_repo,
    session_with,
)

TASK = "add(2, 3) returns -1 instead of 5; fix calc.py"


def tool_call(n: int, name: str, **arguments: Any) -> Message:
    call = MessageToolCall(
        id=f"call_{n}", name=name, arguments=json.dumps(arguments), origin="completion"
    )
    return Message(role="assistant", content=[TextContent(text=f"step {n}")], tool_calls=[call])


def write(n: int, text: str) -> Message:
    return tool_call(n, "terminal", command=f"printf '%s' '{text}' > calc.py")


def finish(n: int) -> Message:
    return tool_call(n, "finish", message="done")


def agent_with(critic: SwermCritic | None, script: list[Message]) -> Agent:
    return Agent(llm=TestLLM.from_messages(script), tools=[Tool(name="terminal")], critic=critic)


def run(agent: Agent, repo: Path) -> Any:
    conversation = Conversation(
        agent=agent, workspace=LocalWorkspace(working_dir=repo), visualizer=None
    )
    conversation.send_message(TASK)
    conversation.run()
    return conversation


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def test_low_score_triggers_one_refinement_then_the_run_finishes(
    repo: Path, tmp_path: Path, install_session: Any
) -> None:
    backend = MockRewardBackend(scores=[0.2, 0.9])  # a specific verdict: refine once, accept
    install_session(session_with(backend, tmp_path, "openhands", policy={"max_attempts": 3}))
    wrong, right = diff_for(repo, WRONG_FIX), diff_for(repo, RIGHT_FIX)
    critic = SwermCritic(
        repo_dir=str(repo),
        instance_id="calc-1",
        iterative_refinement=IterativeRefinementConfig(success_threshold=0.5, max_iterations=3),
    )
    script = [write(1, WRONG_FIX), finish(2), write(3, RIGHT_FIX), finish(4)]

    conversation = run(agent_with(critic, script), repo)

    assert conversation.state.execution_status.value == "finished"
    # The critic saw the real patch of each attempt (the SDK passed none).
    assert [a.trajectory.patch for a in critic.attempts] == [wrong, right]
    assert "+    return a * b" in backend.prompts[0].text
    # One refinement: swerm's feedback came back as the follow-up user message.
    events = list(conversation.state.events)
    users = [e for e in events if isinstance(e, MessageEvent) and e.source == "user"]
    assert len(users) == 2
    assert "automated reviewer estimates only a 20% chance" in users[1].llm_message.content[0].text
    scored = [e.critic_result for e in events if isinstance(e, ActionEvent) and e.critic_result]
    assert [r.score for r in scored] == [0.2, 0.9]
    assert scored[0].metadata["swerm"]["action"] == "retry"

    outcome = critic.finish()
    assert (outcome.action, outcome.patch, outcome.attempt.number) == ("accept", right, 2)
    log = [orjson.loads(line) for line in (tmp_path / "decisions.jsonl").read_bytes().splitlines()]
    assert [(r["event"], r["action"]) for r in log] == [
        ("attempt", "retry"),
        ("attempt", "accept"),
        ("final", "accept"),
    ]


def test_item13_a_failed_verifier_is_a_failure_not_a_number(
    repo: Path, tmp_path: Path, install_session: Any
) -> None:
    """Never silently wrong, item 13: the SDK showed the policy threshold as the "success
    likelihood" when swerm could not score; now the critic fails and the SDK shows no score."""
    backend = MockRewardBackend(scores=["the verifier is down"] * 2)
    install_session(session_with(backend, tmp_path, "openhands", policy={"threshold": 0.9}))
    critic = SwermCritic(
        repo_dir=str(repo),
        instance_id="calc-1",
        iterative_refinement=IterativeRefinementConfig(success_threshold=0.5, max_iterations=3),
    )
    conversation = run(agent_with(critic, [write(1, RIGHT_FIX), finish(2)]), repo)

    assert conversation.state.execution_status.value == "finished"
    events = list(conversation.state.events)
    results = [e.critic_result for e in events if isinstance(e, ActionEvent) and e.critic_result]
    assert results == []  # no number stands for a failure
    [attempt] = critic.attempts
    assert attempt.score.error == "the verifier is down"
    with pytest.raises(VerifierError, match="could not score calc-1.*the verifier is down"):
        critic.evaluate(events)


def test_a_serialized_agent_config_can_name_the_critic(repo: Path) -> None:
    critic = SwermCritic(repo_dir=str(repo), base_commit="abc123", instance_id="calc-1")
    dumped = agent_with(critic, []).model_dump(mode="json")
    assert dumped["critic"]["kind"] == "SwermCritic"

    restored = Agent.model_validate(json.loads(json.dumps(dumped)))
    assert isinstance(restored.critic, SwermCritic)
    assert (restored.critic.repo_dir, restored.critic.base_commit) == (str(repo), "abc123")


def test_best_of_n_keeps_the_best_conversation(tmp_path: Path, install_session: Any) -> None:
    backend = MockRewardBackend(scores=[0.3, 0.7])  # a specific verdict: the second is better
    install_session(session_with(backend, tmp_path, "openhands"))
    repos = [make_repo(tmp_path / f"repo{k}") for k in range(2)]
    right = diff_for(repos[1], RIGHT_FIX)
    scripts = [[write(1, WRONG_FIX), finish(2)], [write(1, RIGHT_FIX), finish(2)]]

    result = best_of_n(
        lambda k: run(agent_with(None, scripts[k]), repos[k]), 2, instance_id="calc-1"
    )

    assert [a.score.raw for a in result.attempts] == [0.3, 0.7]
    assert (result.outcome.action, result.outcome.patch) == ("accept", right)
    assert result.outcome.attempt is not None and result.outcome.attempt.number == 2


def test_switched_off_the_critic_passes_everything(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWERM", "0")
    critic = SwermCritic(repo_dir=str(repo))
    assert critic.evaluate([]).score == 1.0
    assert critic.attempts == []


def test_the_critic_needs_the_workspace_to_compute_a_patch(
    tmp_path: Path, install_session: Any
) -> None:
    install_session(session_with(MockRewardBackend(), tmp_path, "openhands"))
    with pytest.raises(IntegrationError, match="needs repo_dir"):
        SwermCritic().evaluate([])
    with pytest.raises(IntegrationError, match="git diff in .* failed"):
        SwermCritic(repo_dir=str(tmp_path)).evaluate([])  # not a git checkout


ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The tiny verifier served by a real vLLM CPU server, as a GPU-served verifier would be.

    This environment has no torch, so the model is built by the project's Python 3.11
    environment, and vLLM runs in its own (the same helpers the remote-backend tests use).
    """
    import subprocess

    from swerm_plugin.testing.vllm_cpu import VllmServer, ensure_vllm_env

    builder = ROOT / ".venv" / "bin" / "python"
    if not builder.exists():
        pytest.skip(f"{builder} is missing: run `make install` first (it builds the tiny model)")
    folder = tmp_path_factory.mktemp("tiny-model")
    subprocess.run(
        [
            str(builder),
            "-c",
            f"from swerm_plugin.testing import make_tiny_model as m; m({str(folder)!r})",
        ],
        check=True,
    )
    python = ensure_vllm_env(ROOT / ".venv-vllm", python=str(builder))
    server = VllmServer(python, folder, log_path=folder.parent / "vllm.log")
    with server:
        yield server, folder


@pytest.mark.slow
def test_critic_scores_through_the_vllm_backend_and_refines_once(
    repo: Path, tmp_path: Path, install_session: Any, vllm_server: Any
) -> None:
    from swerm_plugin.config import SwermConfig
    from swerm_plugin.integrations.common import SwermSession

    server, model_dir = vllm_server
    config = SwermConfig(
        backend="vllm",
        model=server.served_name,
        remote={"endpoints": [server.url], "tokenizer": str(model_dir)},
        # Any real probability is below 1.0: attempt 1 is sent back once, attempt 2 is final.
        policy={"threshold": 1.0, "max_attempts": 2},
    )
    session = install_session(
        SwermSession(config, "openhands", log_path=tmp_path / "decisions.jsonl")
    )
    right = diff_for(repo, RIGHT_FIX)
    critic = SwermCritic(
        repo_dir=str(repo),
        instance_id="calc-1",
        iterative_refinement=IterativeRefinementConfig(success_threshold=0.5, max_iterations=3),
    )
    script = [write(1, WRONG_FIX), finish(2), write(3, RIGHT_FIX), finish(4)]

    conversation = run(agent_with(critic, script), repo)

    assert conversation.state.execution_status.value == "finished"
    scores = [a.score for a in critic.attempts]
    assert [(s.backend, s.ok) for s in scores] == [("vllm", True), ("vllm", True)]
    assert all(0.0 < (s.raw or 0.0) < 1.0 for s in scores)
    assert [a.decision.action for a in critic.attempts] == ["retry", "reject"]
    assert critic.attempts[1].trajectory.patch == right
    session.close()
