"""Reads the real framework output kept in ``../shared/real`` and checks facts verified by hand.

The folder lives beside the repository, not in it; on a clone without it these tests skip.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from swerm_plugin.readers import detect_format, find_sources, load
from swerm_plugin.readers.reports import read_resolved
from swerm_plugin.readers.swebench import attach_labels, read_predictions

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "real"

pytestmark = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"real framework samples not found at {REAL.resolve()}"
)


def test_every_real_trajectory_file_is_read() -> None:
    formats = Counter(source.format for source in find_sources(REAL))
    # the predictions are dropped in a walk that finds trajectories beside them
    # 8 SWE-agent samples plus the three whole SWE-agent Lite runs (826 trajectories)
    assert formats == {
        "swe-agent": 8 + 826,
        "mini-swe-agent": 3,
        "openhands-v0": 2,
        "openhands-sdk": 1,
    }
    assert sum(1 for _ in load(REAL)) == 8 + 826 + 3 + 4 + 1


def test_sweagent_v1() -> None:
    [traj] = load(REAL / "sweagent" / "v1_test_repo.traj")
    document = json.loads((REAL / "sweagent" / "v1_test_repo.traj").read_text())
    assert traj.source == "swe-agent/1.x"
    assert traj.instance_id == "SWE-agent__test-repo-i1"  # replay_config.problem_statement.id
    assert len(traj.steps) == 5
    assert [traj.steps[0].action, traj.steps[-1].action] == ["find_file missing_colon.py", "submit"]
    assert traj.patch == document["info"]["submission"]
    assert traj.patch.startswith("\r\ndiff --git a/tests/missing_colon.py")
    assert traj.problem_statement.startswith(
        "SyntaxError: invalid syntax\nI'm running `missing_colon.py`"
    )
    assert (traj.exit_status, traj.model_name) == ("submitted", "gpt-4o")
    assert traj.cost == pytest.approx(0.01952)


def test_sweagent_v0() -> None:
    [traj] = load(REAL / "sweagent" / "v0_test_repo_i1.traj")
    assert (traj.source, traj.instance_id, len(traj.steps)) == (
        "swe-agent/0.x",
        "v0_test_repo_i1",
        5,
    )
    assert traj.cost == pytest.approx(0.53839)
    assert traj.steps[-1].action == "submit\n"


def test_sweagent_django_runs_match_their_labels_and_predictions() -> None:
    folder = REAL / "sweagent" / "django_lite_runs"
    labels = json.loads((folder / "labels.json").read_text())
    keywords = {"django__django-13590": "named tuples", "django__django-15851": "dbshell"}
    for name, fact in labels.items():
        [traj] = load(folder / name)
        run = f"sweagent-gpt4-0125_{fact['run']}"
        assert len(traj.steps) == fact["n_steps"], name
        assert traj.exit_status == fact["exit_status"], name
        # 0.x files carry no instance id: the (renamed) file name is all there is
        assert traj.instance_id == name.removesuffix(".traj")
        assert keywords[fact["instance_id"]] in traj.problem_statement
        # the patch read from the .traj is the one the run submitted to SWE-bench
        predictions = {
            p.instance_id: p
            for p in read_predictions(REAL / "swebench_lite_runs" / run / "preds.jsonl")
        }
        assert traj.patch == (predictions[fact["instance_id"]].model_patch or ""), name
        # and the run's resolved list agrees with the label recorded beside the trajectories
        resolved = read_resolved(REAL / "swebench_lite_runs" / run / "resolved.json")
        assert resolved.get(fact["instance_id"], False) == fact["resolved"], name


def test_mini_swe_agent() -> None:
    folder = REAL / "minisweagent"
    labels = json.loads((folder / "labels.json").read_text())
    steps = {"django__django-11099": 21, "astropy__astropy-13033": 32}
    for name, fact in labels.items():
        [traj] = attach_labels(load(folder / name), {fact["instance_id"]: fact["resolved"]})
        assert traj.instance_id == fact["instance_id"]
        assert traj.label is fact["resolved"]
        assert (traj.source, len(traj.steps)) == ("mini-swe-agent/1", steps[traj.instance_id])
        assert (traj.exit_status, traj.exit_status_raw) == ("submitted", "Submitted")
        assert traj.model_name == "google/gemini-3-pro-preview"
        assert traj.patch.startswith("diff --git a/")
        assert traj.steps[-1].action.startswith("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")

    [demo] = load(folder / "v2_generated_demo.traj.json")
    assert (demo.source, len(demo.steps), demo.patch) == (
        "mini-swe-agent/1.1",
        2,
        "diff --git a/x b/x\n",
    )
    assert demo.steps[0].action == "echo hi"
    assert demo.cost == pytest.approx(2.0)


def test_openhands_v0_output_sample() -> None:
    trajs = list(load(REAL / "openhands" / "legacy_multi_swe_bench_output.jsonl"))
    assert [t.instance_id for t in trajs] == [
        "ponylang__ponyc-4595",
        "ponylang__ponyc-4593",
        "ponylang__ponyc-4588",
    ]
    # counted from the event types: one step per agent action, plus the unanswered errors
    assert [len(t.steps) for t in trajs] == [23, 34, 50]
    assert [t.exit_status for t in trajs] == ["submitted", "submitted", "limit"]
    assert "maximum iteration" in (trajs[2].exit_status_raw or "")
    assert trajs[2].metadata["error"].startswith("RuntimeError: Agent reached maximum iteration")
    assert trajs[0].patch.startswith("diff --git a/src/libponyc/ast/parser.c")
    assert {t.model_name for t in trajs} == {"openai/openrouter-llama-4-maverick"}
    assert trajs[0].problem_statement.startswith("ponyc segfaults when trying to match")


def test_openhands_v0_event_list_and_sdk_events() -> None:
    [basic] = load(REAL / "openhands" / "legacy_basic_traj.json")
    assert (len(basic.steps), basic.exit_status) == (2, "submitted")
    assert basic.problem_statement.startswith("Please create a simple 2048 game.")

    [sdk] = load(REAL / "openhands" / "sdk_events.jsonl")
    assert detect_format(REAL / "openhands" / "sdk_events.jsonl") == "openhands-sdk"
    # two actions with their outputs, and one output whose action is not in the file
    assert [s.role for s in sdk.steps] == ["assistant", "tool", "assistant"]
    assert (sdk.exit_status, sdk.exit_status_raw) == ("unknown", "running")
    assert sdk.model_name == "litellm_proxy/minimax-m2.7"


def test_swebench_lite_runs_with_labels_by_run() -> None:
    folder = REAL / "swebench_lite_runs"
    trajs = list(load(folder))
    by_run = {run.name: read_resolved(run / "resolved.json") for run in sorted(folder.iterdir())}

    counts = Counter(t.run_id for t in trajs)
    assert counts == {
        "acr-gpt4-0125_acr-run-1": 249,
        "acr-gpt4-0125_acr-run-2": 238,
        "acr-gpt4-0125_acr-run-3": 242,
        "acr-gpt4-0125_acr-val-only": 254,
        "acr-gpt4-0125_acr-val-sbfl": 264,
        "sweagent-gpt4-0125_cost_2_1": 271,
        "sweagent-gpt4-0125_cost_2_2": 268,
        "sweagent-gpt4-0125_cost_2_3": 268,
    }
    labelled = attach_labels(trajs, by_run=by_run, missing=False)
    resolved = Counter(t.run_id for t in labelled if t.label)
    assert sum(resolved.values()) == 54 + 57 + 57 + 55 + 66 + 28 + 33 + 28
    # the oracle (some run resolved it) covers 100 of the 300 SWE-bench Lite tasks
    assert len({t.instance_id for t in labelled if t.label}) == 100
