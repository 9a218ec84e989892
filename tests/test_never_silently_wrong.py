"""Never silently wrong, item by item (data safety and honest outcomes): each test is named after
the item it checks, on real-format files the test writes itself, through the real CLI."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.testing import run_cli

from .conftest import mini_swe_agent_file


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_preds(path: Path, patches: dict[str, str], name: str = "agent") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(
            json.dumps({"instance_id": iid, "model_name_or_path": name, "model_patch": patch})
            + "\n"
            for iid, patch in patches.items()
        )
    )
    return path


def diff(path: str, new: str) -> str:
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-old\n+{new}\n"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    for i, fix in enumerate(["a + b", "b + a", "sum((a, b))"]):
        mini_swe_agent_file(folder, f"calc__calc-{i}", fix)
    return folder


# --- data safety ---------------------------------------------------------------------------


def test_item01_score_never_writes_into_an_input_or_a_foreign_file(
    run: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    traj = run / "calc__calc-0" / "calc__calc-0.traj.json"
    before = traj.read_bytes()
    result = run_cli("score", traj, "--model", tiny_model_dir, "-o", traj)
    assert result.exit_code == 1 and "is one of the inputs" in result.stderr
    assert traj.read_bytes() == before
    one_line = tmp_path / "config.json"
    one_line.write_text('{"a": 1}')  # one line, no final newline: no torn line to "repair"
    result = run_cli("score", run, "--model", tiny_model_dir, "-o", one_line)
    assert result.exit_code == 1 and "is not a swerm scores file" in result.stderr
    assert one_line.read_text() == '{"a": 1}'


@pytest.mark.slow
def test_item02_two_concurrent_runs_score_each_trajectory_once(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    folder = tmp_path / "many"
    for i in range(24):
        mini_swe_agent_file(folder, f"calc__calc-{i}", f"a + b + {i}")
    out = tmp_path / "scores.jsonl"
    command = [sys.executable, "-m", "swerm_plugin.cli", "score", str(folder), "--model"]
    command += [str(tiny_model_dir), "-o", str(out), "--chunk-size", "4"]
    env = {**os.environ, "SWERM_DISABLE_PLUGIN_AUTOLOAD": "1"}
    first = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    second = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert first.wait(300) == 0 and second.wait(300) == 0
    records = lines(out)
    assert len(records) == 24
    assert len({r["content_hash"] for r in records}) == 24


def test_item03_a_torn_score_cache_is_repaired_before_appending(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    patches = {"t1": "a.py", "t2": "b.py"}
    runs = [
        write_preds(tmp_path / n / "preds.jsonl", {t: diff(f, n) for t, f in patches.items()})
        for n in ("r1", "r2")
    ]
    out = tmp_path / "preds.jsonl"
    cache = tmp_path / "preds.jsonl.decisions.jsonl.scores.jsonl"
    first = run_cli("rerank", *runs, "--model", tiny_model_dir, "-o", out)
    assert first.exit_code == 0, first.stderr
    assert len(lines(cache)) == 4
    with cache.open("ab") as fh:
        fh.write(b'{"content_hash": "abc", "ra')  # an interrupted append
    again = run_cli("rerank", *runs, "--model", tiny_model_dir, "-o", out)
    assert again.exit_code == 0, again.stderr
    assert cache.read_bytes().endswith(b"\n") and len(lines(cache)) == 4  # cut, all parse


def test_item04_the_decisions_log_never_lands_in_the_agents_patch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("minisweagent", reason="mini-swe-agent is in the mini extra")
    from minisweagent.environments.local import LocalEnvironment
    from minisweagent.models.test_models import DeterministicModel, make_output

    from swerm_plugin.config import SwermConfig
    from swerm_plugin.integrations.common import SwermSession, use_session
    from swerm_plugin.integrations.mini import SwermAgent
    from swerm_plugin.testing import MockRewardBackend

    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q"], ["config", "user.email", "t@t"], ["config", "user.name", "t"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (repo / "calc.py").write_text("x = 1\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "i"], cwd=repo, check=True)
    monkeypatch.chdir(repo)  # the user runs mini from inside the repository
    monkeypatch.setenv("SWERM_STATE_DIR", str(tmp_path / "state"))
    session = SwermSession(SwermConfig(), "mini-swe-agent", backend=MockRewardBackend(scores=[0.9]))
    submit = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git diff"
    outputs = [
        make_output("fix", [{"command": "printf 'x = 2\\n' > calc.py"}]),
        make_output("submit", [{"command": submit}]),
    ]
    with use_session(session):
        agent = SwermAgent(
            DeterministicModel(outputs=outputs),
            LocalEnvironment(),
            system_template="s",
            instance_template="{{task}}",
            cost_limit=0,
        )
        info = agent.run("fix x")
    assert "x = 2" in info["submission"] and "swerm" not in info["submission"]
    assert not list(repo.glob("*swerm*"))
    logs = list((tmp_path / "state" / "decisions").glob("mini-swe-agent-*.jsonl"))
    assert len(logs) == 1 and lines(logs[0])[-1]["event"] == "final"
    # A log configured inside the repository is moved out, with a warning.
    inside = SwermSession(SwermConfig(decisions_log=str(repo / "log.jsonl")), "mini-swe-agent")
    inside.keep_log_out_of(repo)
    assert inside.log_path is not None and repo not in inside.log_path.parents


def test_item05_atomic_writes_follow_the_umask_and_keep_modes(tmp_path: Path) -> None:
    from swerm_plugin.jsonl import atomic_write_json

    old = os.umask(0o022)
    try:
        fresh = tmp_path / "new.json"
        atomic_write_json(fresh, {"a": 1})
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        private = tmp_path / "private.json"
        private.write_text("{}")
        private.chmod(0o600)
        atomic_write_json(private, {"a": 2})
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
        os.umask(0o077)
        atomic_write_json(tmp_path / "tight.json", {})
        assert stat.S_IMODE((tmp_path / "tight.json").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_item06_one_corrupt_record_loses_only_itself(tmp_path: Path) -> None:
    record = {"instance_id": "a__a-1", "history": [], "test_result": {"git_patch": diff("a", "x")}}
    bad_type = {**record, "instance_id": "b__b-2", "test_result": {"git_patch": ["a", "b"]}}
    good = {**record, "instance_id": "c__c-3"}
    output = tmp_path / "run" / "output.jsonl"
    output.parent.mkdir()
    output.write_text(
        json.dumps(record) + "\n" + json.dumps(bad_type) + "\n{not json\n" + json.dumps(good) + "\n"
    )
    (tmp_path / "run" / "notes.json").write_text("{ unrelated, broken")  # ignored, not skipped
    result = run_cli("inspect", tmp_path / "run", "--json")
    assert result.exit_code == 3, result.stderr
    report = json.loads(result.stdout)
    assert [t["instance_id"] for t in report["trajectories"]] == ["a__a-1", "c__c-3"]
    assert [(p["kind"], p["line"]) for p in report["problems"]] == [("skipped", 2), ("skipped", 3)]
    assert "output.jsonl, line 2, field 'test_result.git_patch'" in result.stderr
    assert "output.jsonl, line 3: invalid JSON" in result.stderr
    assert "notes.json" not in result.stderr
    strict = run_cli("inspect", tmp_path / "run", "--strict")
    assert strict.exit_code == 1 and "line 2" in strict.stderr


def test_item07_rendering_memory_is_bounded_by_the_budget(
    tiny_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from swerm_plugin.model import Step, Trajectory
    from swerm_plugin.prompts import render, tokens

    longest: list[int] = []
    real_encode = tokens.TokenizerKit.encode

    def encode(self: Any, texts: Any) -> Any:
        longest.append(sum(len(t) for t in texts))
        return real_encode(self, texts)

    monkeypatch.setattr(tokens.TokenizerKit, "encode", encode)
    big = "value = parse(items)\n" * 200_000  # 4 MB in one observation
    trajectory = Trajectory(
        instance_id="x", source="t", problem_statement="p",
        steps=[Step(role="assistant", thought="t", action="cat", observation=big)] * 3,
        patch=diff("a", "b"),
    )  # fmt: skip
    prompt = render.render_prompt(trajectory, "swe-rm", tiny_tokenizer, 1024)
    assert prompt.n_tokens is not None and prompt.n_tokens <= 1024
    assert max(longest) <= render.CHARS_PER_TOKEN_BOUND * 1024 * 2  # never the 12 MB input
    assert any(c.unit == "characters" for c in prompt.cuts)


# --- honest outcomes --------------------------------------------------------------------------


def test_item08_score_exit_codes_say_when_scoring_failed(
    run: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    dead = ["--backend", "vllm", "--model", "m"]
    env_endpoint = {"SWERM_REMOTE__ENDPOINTS": '["http://127.0.0.1:9"]'}
    env_endpoint["SWERM_REMOTE__TOKENIZER"] = str(tiny_model_dir)
    env_endpoint["SWERM_REMOTE__MAX_RETRIES"] = "0"
    out = tmp_path / "scores.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env_endpoint.items():
            patch.setenv(key, value)
        failed = run_cli("score", run, *dead, "-o", out)
        assert failed.exit_code == 1 and "nothing was scored" in failed.stderr
        assert len(lines(out)) == 3 and all(r["error"] for r in lines(out))
        rerun = run_cli("score", run, *dead, "-o", out)
        assert rerun.exit_code == 1 and "3 failed in an earlier run" in rerun.stderr
    fixed = run_cli("score", run, "--model", tiny_model_dir, "-o", out, "--retry-errors")
    assert fixed.exit_code == 0 and "scored 3, failed 0" in fixed.stderr
    # A patch too long to cut under the budget (the patch keeps 256 tokens): that one fails.
    long = mini_swe_agent_file(tmp_path / "more", "calc__calc-9", "a + b - 1" * 400)
    partial = run_cli("score", run, long.parent, "--model", tiny_model_dir, "--max-tokens", "480")
    assert partial.exit_code == 3, partial.stderr
    assert "failed: calc__calc-9" in partial.stderr


def test_item09_the_configured_calibrator_applies_to_scores_files(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    from swerm_plugin.calibration import TemperatureScaling

    runs = [
        write_preds(tmp_path / n / "preds.jsonl", {"t": diff("a.py", n), "u": diff("b.py", n)})
        for n in ("r1", "r2")
    ]
    scores = tmp_path / "scores.jsonl"
    assert run_cli("score", *runs, "--model", tiny_model_dir, "-o", scores).exit_code == 0
    calibrator = TemperatureScaling().fit([0.1, 0.9, 0.8, 0.3], [0, 1, 0, 1], score_kind="p_yes")
    path = tmp_path / "cal.json"
    calibrator.save(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SWERM_CALIBRATOR", str(path))
        out = tmp_path / "preds.jsonl"
        result = run_cli("rerank", *runs, "--scores", scores, "-o", out)
    assert result.exit_code == 0, result.stderr
    log = lines(tmp_path / "preds.jsonl.decisions.jsonl")
    assert {r["calibrator"] for r in log} == {str(path)}
    for record in log:
        expected = calibrator.transform([record["raw"]])[0]
        assert record["calibrated"] == pytest.approx(expected)
    plain = run_cli("rerank", *runs, "--scores", scores, "-o", tmp_path / "plain.jsonl")
    assert plain.exit_code == 0
    assert {r["calibrator"] for r in lines(tmp_path / "plain.jsonl.decisions.jsonl")} == {"none"}


def test_item10_unscored_candidates_are_named_and_never_accepted(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    runs = [
        write_preds(tmp_path / n / "preds.jsonl", {"t": diff("a.py", n), "u": diff("b.py", n)})
        for n in ("r1", "r2")
    ]
    other = write_preds(tmp_path / "other" / "preds.jsonl", {"z": diff("z.py", "z")})
    scores = tmp_path / "scores.jsonl"
    assert run_cli("score", other, "--model", tiny_model_dir, "-o", scores).exit_code == 0
    out = tmp_path / "preds.jsonl"
    nothing = run_cli("rerank", *runs, "--scores", scores, "-o", out, "--json")
    assert nothing.exit_code == 1, nothing.stderr  # the scores match nothing: no verdict at all
    summary = json.loads(nothing.stdout)
    assert summary["summary"]["accepted"] == 0 and summary["summary"]["rejected"] == 2
    assert [p["kind"] for p in summary["problems"]] == ["unscored"] * 4
    assert "t (r1) has no score" in nothing.stderr
    some = tmp_path / "some.jsonl"
    assert run_cli("score", runs[0], "--model", tiny_model_dir, "-o", some).exit_code == 0
    partial = run_cli("rerank", *runs, "--scores", some, "-o", out)
    assert partial.exit_code == 3 and "t (r2) has no score" in partial.stderr
    strict = run_cli("rerank", *runs, "--scores", some, "-o", out, "--strict")
    assert strict.exit_code == 1 and "has no score" in strict.stderr


def test_item11_labels_that_cannot_belong_to_a_run_are_refused(tmp_path: Path) -> None:
    r1 = write_preds(tmp_path / "r1" / "preds.jsonl", {"a": diff("a", "1"), "b": diff("b", "1")})
    r2 = write_preds(tmp_path / "r2" / "preds.jsonl", {"c": diff("c", "2"), "d": diff("d", "2")})
    l1 = tmp_path / "l1.json"
    l1.write_text(json.dumps({"resolved": ["a"]}))
    l2 = tmp_path / "l2.json"
    l2.write_text(json.dumps({"resolved": ["c"]}))
    swapped = run_cli("eval", r1, r2, "--labels", l2, "--labels", l1)
    assert swapped.exit_code == 1
    assert "cannot belong to this run; it fits run r2" in swapped.stderr
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"resolved": ["zz__zz-1"]}))
    other_set = run_cli("eval", r1, "--labels", foreign)
    assert other_set.exit_code == 1 and "cannot belong to this run" in other_set.stderr
    partial = tmp_path / "partial.json"
    partial.write_text(
        json.dumps({"instances": [{"instance_id": "a", "resolved": True}], "total": 1})
    )
    report = run_cli("eval", r1, "--labels", partial, "--json")
    assert report.exit_code == 3, report.stderr
    assert "says nothing about 1 of run r1's 2 tasks" in report.stderr
    assert json.loads(report.stdout)["n_tasks"] == 1  # the unlabelled task is left out, named
    strict = run_cli("eval", r1, "--labels", partial, "--strict")
    assert strict.exit_code == 1


def test_item11_a_folder_holding_several_runs_is_read_as_several_runs(tmp_path: Path) -> None:
    everything = tmp_path / "all"
    for name in ("r1", "r2"):
        write_preds(everything / name / "preds.jsonl", {"a": diff("a", name)})
    labels = tmp_path / "one.json"
    labels.write_text(json.dumps({"resolved": ["a"]}))
    result = run_cli("eval", everything, "--labels", labels)
    assert result.exit_code == 1
    assert "holds the labels of one run, but 2 runs were given (r1, r2)" in result.stderr


def test_item12_vote_shares_are_not_thresholded_as_probabilities(tmp_path: Path) -> None:
    runs = [
        write_preds(tmp_path / n / "preds.jsonl", {"t": diff("a.py", n), "u": diff("b.py", "same")})
        for n in ("r1", "r2", "r3")
    ]  # fmt: skip
    out = tmp_path / "preds.jsonl"
    result = run_cli("rerank", *runs, "-o", out, "--threshold", "0.99")
    assert result.exit_code == 0, result.stderr
    assert "2 accepted, 0 rejected" in result.stderr  # a 1/3 share is not "p < 0.99"
    chosen = [r for r in lines(tmp_path / "preds.jsonl.decisions.jsonl") if r["chosen"]]
    assert {r["decision"]["score_kind"] for r in chosen} == {"vote_share"}
    assert all("does not apply to vote shares" in r["decision"]["reason"] for r in chosen)


def test_item14_patches_are_byte_exact_in_prompts(tiny_tokenizer: Any) -> None:
    from swerm_plugin.model import Trajectory
    from swerm_plugin.prompts.render import render_prompt

    patch = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a  \n+b\t\n\n"
    trajectory = Trajectory(instance_id="x", source="t", problem_statement="p", patch=patch)
    for template in ("swe-rm", "r2e-gym"):  # swe-gym v3, like SWE-Gym, shows no patch section
        prompt = render_prompt(trajectory, template, tiny_tokenizer)
        assert patch in prompt.text and not prompt.cuts and not prompt.neutralised


def test_item15_max_tokens_above_the_context_is_refused_up_front(
    run: Path, tiny_model_dir: Path
) -> None:
    result = run_cli("score", run, "--model", tiny_model_dir, "--max-tokens", "100000", "--explain")
    assert result.exit_code == 1
    assert "max_tokens 100000 is above the model's context of 32768 tokens" in result.stderr
    assert "hint: set max_tokens (--max-tokens) to at most 32752" in result.stderr


def test_item16_predictions_without_an_issue_warn_once(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    preds = write_preds(tmp_path / "preds.jsonl", {"a": diff("a", "1"), "b": diff("b", "2")})
    result = run_cli("score", preds, "--model", tiny_model_dir)
    assert result.exit_code == 0
    assert result.stderr.count("have no problem statement") == 1
    assert "2 of 2 trajectories have no problem statement" in result.stderr
