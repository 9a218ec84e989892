"""SwermRunHook, SwermReviewer and the launcher against SWE-agent's protocol.

SWE-agent is not on PyPI, so these tests drive the hook with ``LocalRunBatch``: a runner written
here that calls the hooks in the order SWE-agent's ``RunBatch`` does (``sweagent/run/run_batch.py``)
and writes its real files — ``<out>/<iid>/<iid>.traj``, ``<out>/<iid>/<iid>.pred`` — then merges
``preds.json`` from the ``*.pred`` files as ``sweagent/run/merge_predictions.py`` does.
Verdicts come from MockRewardBackend: each test needs a specific accept or reject.
"""

from __future__ import annotations

import json
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from swerm_plugin.cli import main
from swerm_plugin.errors import IntegrationError
from swerm_plugin.integrations.sweagent import (
    INSTALL_HINT,
    ReviewerResult,
    SwermReviewer,
    SwermRunHook,
    rewrite_prediction,
    use_swerm_reviewer,
)
from swerm_plugin.testing import MockRewardBackend

from .conftest import session_with

PATCH = (
    "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-a - b\n+a + b\n"
)


@dataclass
class ProblemStatement:
    """Shaped like SWE-agent's ``TextProblemStatement``: ``id`` and the text getter."""

    id: str
    text: str

    def get_problem_statement(self) -> str:
        return self.text


@dataclass
class AgentRunResult:
    """SWE-agent's ``AgentRunResult``: ``info`` and ``trajectory``, no instance id."""

    info: dict[str, Any]
    trajectory: list[dict[str, Any]] = field(default_factory=list)


def steps(n: int) -> list[dict[str, Any]]:
    return [
        {
            "action": f"cat file{i}.py",
            "observation": f"contents {i}",
            "response": f"Let me look at file{i}.\n```\ncat file{i}.py\n```",
            "thought": f"Let me look at file{i}.",
            "state": {"working_dir": "/testbed"},
            "execution_time": 0.1,
        }
        for i in range(n)
    ]


class LocalRunBatch:
    """SWE-agent's RunBatch control flow, hooks in its order, its output files."""

    def __init__(self, output_dir: Path, instances: list[tuple[ProblemStatement, str]]) -> None:
        self.output_dir = output_dir
        self.instances = instances
        self.hooks: list[Any] = []
        self.calls: list[str] = []

    def add_hook(self, hook: Any) -> None:
        hook.on_init(run=self)
        self.hooks.append(hook)

    def main(self) -> None:
        for hook in self.hooks:
            hook.on_start()
        for problem, patch in self.instances:
            self._run_instance(problem, patch)
        self._merge_predictions()
        for hook in self.hooks:
            hook.on_end()

    def _run_instance(self, problem: ProblemStatement, patch: str) -> None:
        iid = problem.id
        out = self.output_dir / iid
        out.mkdir(parents=True, exist_ok=True)
        for hook in self.hooks:
            hook.on_instance_start(index=0, env=object(), problem_statement=problem)
        info = {"exit_status": "submitted", "submission": patch, "model_stats": {}}
        result = AgentRunResult(info=info, trajectory=steps(2))
        traj = {
            "trajectory": result.trajectory,
            "history": [{"role": "user", "content": problem.text, "message_type": "observation"}],
            "info": info,
            "replay_config": json.dumps({"problem_statement": {"id": iid, "text": problem.text}}),
            "environment": "swe_main",
        }
        (out / f"{iid}.traj").write_text(json.dumps(traj))  # the agent saves it in run()
        pred = {
            "model_name_or_path": self.output_dir.name,
            "instance_id": iid,
            "model_patch": patch,
        }
        (out / f"{iid}.pred").write_text(json.dumps(pred))  # save_predictions, after env.close
        for hook in self.hooks:
            hook.on_instance_completed(result=result)

    def _merge_predictions(self) -> None:
        data = {}
        for pred in sorted(self.output_dir.rglob("*.pred")):
            record = json.loads(pred.read_text())
            data[record["instance_id"]] = record
        (self.output_dir / "preds.json").write_text(json.dumps(data, indent=4))


def log_records(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.mark.parametrize("on_reject", ["empty_patch", "flag"])
def test_rejected_instance_pred_is_rewritten_before_the_merge(
    tmp_path: Path, install_session: Any, on_reject: str
) -> None:
    backend = MockRewardBackend(scores=[0.9, 0.1])  # a: accepted, b: rejected
    install_session(session_with(backend, tmp_path, "swe-agent", policy={"on_reject": on_reject}))
    out = tmp_path / "run"
    run = LocalRunBatch(
        out,
        [(ProblemStatement("a__a-1", "issue A"), PATCH), (ProblemStatement("b__b-2", "B"), PATCH)],
    )
    run.add_hook(SwermRunHook())
    run.main()

    preds = json.loads((out / "preds.json").read_text())
    abstains = on_reject == "empty_patch"
    assert preds["a__a-1"]["model_patch"] == PATCH
    assert preds["b__b-2"]["model_patch"] == ("" if abstains else PATCH)
    assert preds["b__b-2"]["model_name_or_path"] == "run"
    original = out / "b__b-2" / "b__b-2.pred.orig"
    assert original.exists() is abstains
    if abstains:
        assert json.loads(original.read_text())["model_patch"] == PATCH
    assert not (out / "a__a-1" / "a__a-1.pred.orig").exists()
    # The verifier read the instance's problem statement and steps.
    assert "issue A" in backend.prompts[0].text and "cat file1.py" in backend.prompts[0].text
    # The decisions log sits in the run's output folder, beside preds.json.
    log = log_records(out / "swerm_decisions.jsonl")
    assert [(r["instance_id"], r["event"], r["action"]) for r in log] == [
        ("a__a-1", "attempt", "accept"),
        ("a__a-1", "final", "accept"),
        ("b__b-2", "attempt", "reject"),
        ("b__b-2", "final", "reject"),
    ]
    assert log[0]["trajectory_path"] == str(out / "a__a-1" / "a__a-1.traj")


def test_retry_decisions_become_rejections_because_the_environment_is_closed(
    tmp_path: Path, install_session: Any
) -> None:
    backend = MockRewardBackend(scores=[0.1])
    install_session(session_with(backend, tmp_path, "swe-agent", policy={"max_attempts": 3}))
    run = LocalRunBatch(tmp_path / "run", [(ProblemStatement("c__c-3", "C"), PATCH)])
    run.add_hook(SwermRunHook())
    run.main()
    (attempt, _) = log_records(tmp_path / "run" / "swerm_decisions.jsonl")
    assert attempt["action"] == "reject"
    assert attempt["reason"].endswith("cannot retry here")


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


@dataclass
class ReviewSubmission:
    """SWE-agent's ``ReviewSubmission``: cumulative trajectory, info, model stats."""

    trajectory: list[dict[str, Any]]
    info: dict[str, Any]
    model_stats: dict[str, Any] = field(default_factory=dict)


def test_reviewer_returns_the_calibrated_score_and_logs_each_attempt(
    tmp_path: Path, install_session: Any
) -> None:
    backend = MockRewardBackend(scores=[0.3, 0.8])
    session = install_session(session_with(backend, tmp_path, "swe-agent"))
    reviewer = SwermReviewer()
    instance = ProblemStatement("d__d-4", "issue D")
    first = reviewer.review(instance, ReviewSubmission(steps(1), {"submission": PATCH}))
    second = reviewer.review(instance, ReviewSubmission(steps(3), {"submission": PATCH}))

    assert isinstance(first, ReviewerResult)
    assert (first.accept, second.accept) == (0.3, 0.8)
    assert session.log_path is not None
    assert [r["attempt"] for r in log_records(session.log_path)] == [1, 2]


def test_use_swerm_reviewer_replaces_the_loop_reviewer(
    tmp_path: Path, install_session: Any
) -> None:
    install_session(session_with(MockRewardBackend(), tmp_path, "swe-agent"))

    class ScoreRetryLoop:
        _reviewer: Any = "llm reviewer"

    loop = use_swerm_reviewer(ScoreRetryLoop())
    assert isinstance(loop._reviewer, SwermReviewer)
    with pytest.raises(IntegrationError, match="ChooserRetryLoop has no reviewer to replace"):
        use_swerm_reviewer(type("ChooserRetryLoop", (), {})())


def test_launcher_without_sweagent_says_how_to_install_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sweagent", None)  # not installed (it is not on PyPI)
    assert main(["sweagent", "run-batch", "--config", "x.yaml"]) == 1
    assert INSTALL_HINT in capsys.readouterr().err


FAKE_RUN_BATCH = '''
"""Stand-in for sweagent.run.run_batch: its run_from_cli -> RunBatch.from_config -> main."""
import json, pathlib

class RunBatch:
    def __init__(self, output_dir):
        self.output_dir = pathlib.Path(output_dir)
        self._chooks = type("CombinedRunHooks", (), {"hooks": []})()
        self._chooks.hooks = []

    @classmethod
    def from_config(cls, config):
        return cls(config["output_dir"])

    def add_hook(self, hook):
        hook.on_init(run=self)
        self._chooks.hooks.append(hook)

    def main(self):
        pass

def run_from_cli(args):
    config = {"output_dir": args[args.index("--output_dir") + 1]}
    run = RunBatch.from_config(config)
    CALLS.append([type(h).__name__ for h in run._chooks.hooks])
    run.main()

CALLS = []
'''


def test_launcher_adds_the_hook_to_sweagents_run_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, install_session: Any
) -> None:
    # A stand-in sweagent package (SWE-agent cannot be installed from PyPI): the test checks the
    # launcher's substitution, which only touches run_from_cli and RunBatch.from_config.
    package = tmp_path / "site" / "sweagent"
    (package / "run").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "run" / "__init__.py").write_text("")
    (package / "run" / "run_batch.py").write_text(textwrap.dedent(FAKE_RUN_BATCH))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in [m for m in sys.modules if m.startswith("sweagent")]:
        monkeypatch.delitem(sys.modules, name)
    install_session(session_with(MockRewardBackend(), tmp_path, "swe-agent"))

    assert main(["sweagent", "run-batch", "--output_dir", str(tmp_path / "out")]) == 0

    from sweagent.run import run_batch  # the stand-in

    assert run_batch.CALLS == [["SwermRunHook"]]
    assert run_batch.RunBatch.__name__ == "RunBatch"  # restored after the run
