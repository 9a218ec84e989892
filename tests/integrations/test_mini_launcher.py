"""``swerm mini swebench``: mini-swe-agent's real SWE-bench batch runner, offline.

The dataset is a local JSON Lines folder, the environment mini's ``LocalEnvironment`` on a
throwaway repository, the model its ``DeterministicModel`` — all through mini's own config file
and command-line options, passed through by the launcher untouched.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from minisweagent.models.test_models import make_output

from swerm_plugin.cli import main
from swerm_plugin.config import SwermConfig
from swerm_plugin.testing import MockRewardBackend

from .conftest import RIGHT_FIX, WRONG_FIX, git, session_with
from .test_mini import SUBMIT, TASK, ExplodingBackend, diff_for, two_attempts, write

IID = "calc__calc-1"


@pytest.fixture
def batch_inputs(tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    record = {"instance_id": IID, "problem_statement": TASK, "repo": "calc/calc"}
    (dataset / "test.jsonl").write_text(json.dumps(record) + "\n")
    return {"dataset": dataset, "repo": repo}


def write_config(path: Path, repo: Path, outputs: list[dict[str, Any]]) -> Path:
    """A mini-swe-agent batch config (JSON is valid YAML) for the deterministic model."""
    config = {
        "agent": {
            "system_template": "You fix bugs.",
            "instance_template": "{{task}}",
            "cost_limit": 0,
        },
        "environment": {"environment_class": "local", "cwd": str(repo)},
        "model": {
            "model_class": "deterministic",
            "model_name": "deterministic",
            "outputs": outputs,
        },
    }
    path.write_text(json.dumps(config))
    return path


def run_batch(inputs: dict[str, Path], config: Path, output: Path) -> int:
    subset = ["--subset", str(inputs["dataset"]), "--split", "test"]
    return main(["mini", "swebench", *subset, "-c", str(config), "-o", str(output)])


def reset(repo: Path) -> None:
    git(repo, "checkout", "--", ".")
    git(repo, "clean", "-fdq")


def comparable(traj: Path) -> dict[str, Any]:
    """A trajectory minus what differs between any two runs: wall-clock timestamps of the
    observations, and the agent class name (the swerm class stands in for mini's)."""
    data = json.loads(traj.read_text())
    data["info"]["config"].pop("agent_type")
    for message in data["messages"]:
        message.get("extra", {}).pop("timestamp", None)
    return data


def test_launcher_submits_the_accepted_attempt_and_logs_beside_preds(
    tmp_path: Path, batch_inputs: dict[str, Path], install_session: Any
) -> None:
    backend = MockRewardBackend(scores=[0.1, 0.9])  # a specific verdict: reject, then accept
    install_session(session_with(backend, tmp_path, policy={"max_attempts": 2}))
    repo = batch_inputs["repo"]
    right = diff_for(repo, RIGHT_FIX)
    config = write_config(tmp_path / "mini.yaml", repo, two_attempts())
    out = tmp_path / "out"

    assert run_batch(batch_inputs, config, out) == 0

    preds = json.loads((out / "preds.json").read_text())
    assert preds[IID]["model_patch"] == right
    log = [orjson.loads(line) for line in (out / "swerm_decisions.jsonl").read_bytes().splitlines()]
    assert [(r["event"], r["action"]) for r in log] == [
        ("attempt", "retry"),
        ("attempt", "accept"),
        ("final", "accept"),
    ]
    assert sorted(p.name for p in (out / IID).iterdir()) == [
        f"{IID}.attempt1.traj.json",
        f"{IID}.attempt2.traj.json",
        f"{IID}.traj.json",
    ]
    traj = json.loads((out / IID / f"{IID}.traj.json").read_text())
    assert traj["info"]["submission"] == right
    assert traj["info"]["config"]["agent_type"].endswith("SwermProgressTrackingAgent")


def test_a_verifier_exception_leaves_mini_outputs_exactly_as_without_swerm(
    tmp_path: Path, batch_inputs: dict[str, Path], install_session: Any
) -> None:
    repo = batch_inputs["repo"]
    outputs = [
        make_output("Fix.", [{"command": write("calc.py", WRONG_FIX)}]),
        make_output("Submit.", [{"command": SUBMIT}]),
    ]
    config = write_config(tmp_path / "mini.yaml", repo, outputs)

    plain = tmp_path / "plain"
    assert run_batch(batch_inputs, config, plain) == 0  # the flag is unset: mini unchanged
    assert not (plain / "swerm_decisions.jsonl").exists()
    reset(repo)

    # A real exception raised inside the verifier, with the default on_error = "accept".
    install_session(session_with(ExplodingBackend(SwermConfig()), tmp_path))
    with_swerm = tmp_path / "swerm"
    assert run_batch(batch_inputs, config, with_swerm) == 0

    assert (with_swerm / "preds.json").read_bytes() == (plain / "preds.json").read_bytes()
    traj = f"{IID}/{IID}.traj.json"
    assert comparable(with_swerm / traj) == comparable(plain / traj)
    (record, final) = [
        orjson.loads(line)
        for line in (with_swerm / "swerm_decisions.jsonl").read_bytes().splitlines()
    ]
    assert record["action"] == "accept"
    assert "CUDA out of memory" in record["score"]["error"]
    assert final["selected_attempt"] == 1


def test_launcher_passes_mini_arguments_through(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["mini", "swebench", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "--subset" in help_text and "--workers" in help_text  # mini's own options
    assert shutil.which("git") is not None
