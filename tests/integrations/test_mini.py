"""SwermAgent inside real mini-swe-agent runs: DeterministicModel + LocalEnvironment on a
throwaway git repository (offline). Scores come from MockRewardBackend where a test needs a
specific verdict (accept/reject), and from the real transformers backend otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import orjson
import pytest
from minisweagent.environments.local import LocalEnvironment
from minisweagent.models.test_models import DeterministicModel, make_output

from swerm_plugin.backends.base import RewardBackend
from swerm_plugin.config import SwermConfig
from swerm_plugin.decisions.policy import VerifierError
from swerm_plugin.integrations.common import SwermSession
from swerm_plugin.integrations.mini import SwermAgent, looks_like_diff
from swerm_plugin.model import Score
from swerm_plugin.prompts.prompt import Prompt
from swerm_plugin.readers import load
from swerm_plugin.testing import MockRewardBackend
from swerm_plugin.verifier import Verifier

from .conftest import RIGHT_FIX, WRONG_FIX, diff_for, git, session_with

SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git diff"
TASK = "add(2, 3) returns -1 instead of 5"


def write(path: str, text: str) -> str:
    """A shell command writing ``text`` to ``path`` (text without single quotes)."""
    return f"printf '%s' '{text}' > {path}"


def two_attempts(extra_first: str = "") -> list[dict[str, Any]]:
    """Attempt 1 writes the wrong fix and submits; attempt 2 writes the right fix and submits."""
    first = write("calc.py", WRONG_FIX) + (f" && {extra_first}" if extra_first else "")
    return [
        make_output("I will multiply.", [{"command": first}]),
        make_output("Submitting.", [{"command": SUBMIT}]),
        make_output("Let me fix it properly.", [{"command": write("calc.py", RIGHT_FIX)}]),
        make_output("Submitting again.", [{"command": SUBMIT}]),
    ]


def make_agent(repo: Path, outputs: list[dict[str, Any]], output: Path | None) -> SwermAgent:
    return SwermAgent(
        DeterministicModel(outputs=outputs),
        LocalEnvironment(cwd=str(repo)),
        system_template="You fix bugs.",
        instance_template="{{task}}",
        output_path=output,
        cost_limit=0,
    )


def records(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture
def refine_session(tmp_path: Path, install_session: Any) -> MockRewardBackend:
    backend = MockRewardBackend(scores=[0.1, 0.9])  # a specific verdict: reject, then accept
    install_session(session_with(backend, tmp_path, policy={"threshold": 0.5, "max_attempts": 2}))
    return backend


def test_refine_rejects_wrong_patch_then_submits_attempt_two(
    repo: Path, tmp_path: Path, refine_session: MockRewardBackend
) -> None:
    backend = refine_session
    wrong, right = diff_for(repo, WRONG_FIX), diff_for(repo, RIGHT_FIX)
    output = tmp_path / "run" / "calc-1.traj.json"
    agent = make_agent(repo, two_attempts(), output)

    info = agent.run(TASK)

    assert info["exit_status"] == "Submitted"
    assert info["submission"] == right
    assert info["swerm"]["selected_attempt"] == 2
    # The verifier saw each attempt's own patch, and the wrong one was answered with feedback.
    assert [p.text.count("return a * b") > 0 for p in backend.prompts] == [True, True]
    assert "+    return a + b" in backend.prompts[1].text
    feedback = [m for m in agent.messages if "swerm" in m.get("extra", {})]
    assert len(feedback) == 2  # the feedback observation and the final exit message
    assert "Submission not accepted yet" in feedback[0]["content"]

    # mini-swe-agent's own trajectory file ends with attempt 2's patch.
    saved = json.loads(output.read_text())
    assert saved["info"]["submission"] == right
    assert saved["messages"][-1]["role"] == "exit"
    # Each attempt is on disk as a mini trajectory the reader understands.
    attempts = [output.with_name(f"calc-1.attempt{k}.traj.json") for k in (1, 2)]
    read = [next(iter(load(path))) for path in attempts]
    assert [t.patch for t in read] == [wrong, right]
    assert read[0].exit_status == "submitted"

    log = records(tmp_path / "decisions.jsonl")
    assert [(r["event"], r["action"]) for r in log] == [
        ("attempt", "retry"),
        ("attempt", "accept"),
        ("final", "accept"),
    ]
    assert [r["p"] for r in log[:2]] == [0.1, 0.9]
    assert log[0]["trajectory_path"] == str(attempts[0])
    assert log[2]["selected_attempt"] == 2


def test_resample_resets_the_repository_and_starts_a_fresh_conversation(
    repo: Path, tmp_path: Path, install_session: Any
) -> None:
    backend = MockRewardBackend(scores=[0.2, 0.8])  # a specific verdict: reject, then accept
    install_session(
        session_with(backend, tmp_path, policy={"max_attempts": 2, "retry_mode": "resample"})
    )
    right = diff_for(repo, RIGHT_FIX)
    output = tmp_path / "run" / "calc-1.traj.json"
    agent = make_agent(repo, two_attempts(extra_first="echo scratch > notes.txt"), output)

    info = agent.run(TASK)

    assert info["submission"] == right
    assert not (repo / "notes.txt").exists()  # attempt 1's untracked file went with the reset
    # The fresh conversation holds only the task and attempt 2 (no trace of the first attempt).
    texts = [str(m.get("content")) for m in agent.messages]
    assert not any("I will multiply." in t for t in texts)
    assert texts[:2] == ["You fix bugs.", TASK]
    first = next(iter(load(output.with_name("calc-1.attempt1.traj.json"))))
    assert "notes.txt" not in first.patch  # the submitted diff was the agent's own `git diff`
    assert any("I will multiply." in s.content for s in first.steps)


@pytest.mark.parametrize(
    ("on_reject", "expected"), [("flag", "first"), ("empty_patch", "")], ids=["flag", "abstain"]
)
def test_when_every_attempt_is_rejected_the_best_one_is_submitted(
    repo: Path, tmp_path: Path, install_session: Any, on_reject: str, expected: str
) -> None:
    # Specific verdicts: attempt 1 is the better of two failures.
    backend = MockRewardBackend(scores=[0.4, 0.2])
    install_session(
        session_with(
            backend,
            tmp_path,
            policy={"threshold": 0.5, "max_attempts": 2, "on_reject": on_reject},
        )
    )
    wrong = diff_for(repo, WRONG_FIX)
    info = make_agent(repo, two_attempts(), tmp_path / "run" / "t.traj.json").run(TASK)

    assert info["submission"] == (wrong if expected == "first" else "")
    assert info["swerm"]["selected_attempt"] == 1
    assert info["swerm"]["abstained"] is (expected == "")
    final = records(tmp_path / "decisions.jsonl")[-1]
    assert (final["action"], final["abstained"]) == ("reject", expected == "")


def test_cost_budget_stops_retrying(repo: Path, tmp_path: Path, install_session: Any) -> None:
    # Each model call costs 1.0 (DeterministicModel); attempt 1 made two calls.
    backend = MockRewardBackend(scores=[0.1])
    install_session(session_with(backend, tmp_path, policy={"max_attempts": 3, "cost_budget": 3.0}))
    info = make_agent(repo, two_attempts(), tmp_path / "run" / "t.traj.json").run(TASK)

    log = records(tmp_path / "decisions.jsonl")
    assert [r["action"] for r in log] == ["reject", "reject"]
    assert "cost budget" in log[0]["reason"]
    assert log[0]["cost"] == 2.0
    assert info["exit_status"] == "Submitted"


def test_a_message_submission_is_scored_on_the_live_diff(
    repo: Path, tmp_path: Path, install_session: Any
) -> None:
    backend = MockRewardBackend(scores=[0.9])
    install_session(session_with(backend, tmp_path))
    git(repo, "add", "calc.py")  # something staged by the agent stays staged as it was
    outputs = [
        make_output(
            "Fix and add a test.",
            [{"command": write("calc.py", RIGHT_FIX) + " && echo 'assert True' > test_new.py"}],
        ),
        make_output(
            "Done.", [{"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && echo done"}]
        ),
    ]
    info = make_agent(repo, outputs, None).run(TASK)

    assert not looks_like_diff("done\n")
    patch = info["submission"]
    assert "+    return a + b" in patch and "test_new.py" in patch  # untracked files included
    assert git(repo, "diff", "--cached", "--name-only") == ""  # the agent's index is untouched
    assert git(repo, "status", "--porcelain").splitlines() == [" M calc.py", "?? test_new.py"]


class ExplodingBackend(RewardBackend):
    """A real failure inside the verifier: the backend raises while scoring."""

    name = "exploding"

    def score_batch(self, prompts: list[Prompt]) -> list[Score]:  # type: ignore[override]
        raise RuntimeError("CUDA out of memory (simulated)")


def test_on_error_raise_propagates_and_keeps_the_attempt_on_disk(
    repo: Path, tmp_path: Path, install_session: Any
) -> None:
    install_session(session_with(ExplodingBackend(SwermConfig()), tmp_path, on_error="raise"))
    output = tmp_path / "run" / "t.traj.json"
    with pytest.raises(VerifierError, match="scoring failed: .*CUDA out of memory"):
        make_agent(repo, two_attempts(), output).run(TASK)
    assert output.with_name("t.attempt1.traj.json").is_file()
    saved = json.loads(output.read_text())  # mini saved its trajectory on the way out
    assert saved["info"]["exit_status"] == "VerifierError"


def test_switched_off_it_is_plain_default_agent(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWERM", "0")
    monkeypatch.chdir(tmp_path)
    wrong = diff_for(repo, WRONG_FIX)
    output = tmp_path / "run" / "t.traj.json"
    agent = make_agent(repo, two_attempts(), output)

    info = agent.run(TASK)

    assert agent.swerm_session is None
    assert info == {"exit_status": "Submitted", "submission": wrong}
    assert sorted(p.name for p in output.parent.iterdir()) == ["t.traj.json"]
    assert not (tmp_path / "swerm_decisions.jsonl").exists()


@pytest.mark.slow
def test_live_score_with_the_transformers_backend_matches_scoring_the_saved_attempt(
    repo: Path, tmp_path: Path, install_session: Any, tiny_model_dir: Path
) -> None:
    config = SwermConfig(
        backend="transformers", model=str(tiny_model_dir), policy={"threshold": 0.0}
    )
    session = install_session(
        SwermSession(config, "mini-swe-agent", log_path=tmp_path / "decisions.jsonl")
    )
    output = tmp_path / "run" / "calc-1.traj.json"
    make_agent(repo, two_attempts()[:2], output).run(TASK)

    live = records(tmp_path / "decisions.jsonl")[0]
    assert live["action"] == "accept" and live["score"]["backend"] == "transformers"
    saved = next(iter(load(output.with_name("calc-1.attempt1.traj.json"))))
    saved = saved.model_copy(update={"problem_statement": TASK, "instance_id": "calc-1"})
    assert saved.content_hash() == live["content_hash"]
    with Verifier(config) as offline:
        (again,) = offline.score([saved])
    assert again.raw == pytest.approx(live["score"]["raw"], abs=1e-6)
    session.close()


def test_running_out_of_budget_after_a_rejection_submits_the_best_attempt(
    repo: Path, tmp_path: Path, install_session: Any
) -> None:
    backend = MockRewardBackend(scores=[0.3])  # a specific verdict: attempt 1 is rejected
    install_session(session_with(backend, tmp_path, policy={"max_attempts": 2}))
    wrong = diff_for(repo, WRONG_FIX)
    agent = make_agent(repo, two_attempts(), tmp_path / "run" / "t.traj.json")
    agent.config.cost_limit = 3.0  # mini stops attempt 2 before its fourth model call

    info = agent.run(TASK)

    assert info["exit_status"] == "LimitsExceeded"
    assert info["submission"] == wrong
    assert info["swerm"] == {
        "action": "reject",
        "selected_attempt": 1,
        "n_attempts": 1,
        "abstained": False,
        "p": 0.3,
    }


@pytest.mark.parametrize(
    "class_path",
    ["swerm_plugin.integrations.mini.SwermAgent", "swerm_plugin.adapters.minisweagent.SwermAgent"],
)
def test_mini_resolves_the_documented_agent_class(repo: Path, class_path: str) -> None:
    from minisweagent.agents import get_agent

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        agent = get_agent(
            DeterministicModel(outputs=[]),
            LocalEnvironment(cwd=str(repo)),
            {"agent_class": class_path, "system_template": "s", "instance_template": "{{task}}"},
        )
    assert isinstance(agent, SwermAgent)
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    if "adapters" in class_path:  # the old path still works, and says where the class lives now
        assert any(
            "swerm_plugin.integrations.mini.SwermAgent" in str(w.message) for w in deprecations
        )
    else:
        assert not [w for w in deprecations if "swerm_plugin" in str(w.message)]


def test_reading_mini_files_does_not_import_mini_swe_agent() -> None:
    code = (
        "import sys, swerm_plugin.readers.minisweagent, swerm_plugin.adapters.minisweagent as m; "
        "assert 'minisweagent' not in sys.modules; "
        "import warnings; warnings.simplefilter('ignore'); "
        "m.SwermAgent; assert 'minisweagent' in sys.modules"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, env={**os.environ, "MSWEA_SILENT_STARTUP": "1"}
    )


def test_swerm_configure_runs_once_for_a_run_with_four_attempts(
    repo: Path, tmp_path: Path, install_session: Any
) -> None:
    from swerm_plugin import hookimpl
    from swerm_plugin.plugins.manager import get_plugin_manager

    seen: list[SwermConfig] = []

    class Counter:
        @hookimpl
        def swerm_configure(self, config: SwermConfig) -> None:
            seen.append(config)

    get_plugin_manager().register(Counter(), name="configure-counter")
    backend = MockRewardBackend(scores=[0.1, 0.2, 0.3, 0.9])
    install_session(session_with(backend, tmp_path, policy={"max_attempts": 4}))
    outputs = []
    for k in range(4):  # four attempts: write a fix, submit
        fix = RIGHT_FIX if k == 3 else WRONG_FIX.replace("a * b", f"a * b + {k}")
        outputs += [
            make_output(f"Attempt {k + 1}.", [{"command": write("calc.py", fix)}]),
            make_output("Submitting.", [{"command": SUBMIT}]),
        ]
    info = make_agent(repo, outputs, tmp_path / "run" / "calc-1.traj.json").run(TASK)
    assert info["swerm"]["n_attempts"] == 4 and info["swerm"]["selected_attempt"] == 4
    assert len(backend.prompts) == 4
    assert len(seen) == 1, "swerm_configure must run once per configuration, not per attempt"
