"""`swerm sweagent run-batch` driving the real `sweagent run-batch` (SWE-agent 1.1.0).

Offline: SWE-agent's own replay model plays the agent and SWE-ReX's local deployment runs it on
throwaway git repositories at ``/<unique name>`` (see conftest for the host guards). Scores come
from the ``patch-rule`` mock scorer (a fixed probability per fix) or the ``verifier-down`` one
(every call fails), because each test needs specific verdicts. Outcomes are read from
SWE-agent's own output files. Each batch runs once per module and several tests read it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from .conftest import SKIP_REASON

pytest.importorskip("sweagent", reason=SKIP_REASON)

from swerm_plugin.integrations.common import forget_sessions
from swerm_plugin.testing import run_cli

from .conftest import (
    BatchRun,
    agent_config,
    local_deployment,
    make_host_repo,
    scorers_registered,
    unique_names,
    write_instances,
    write_replay,
)

pytestmark = pytest.mark.slow

SWERM_TOML = """
backend = "{backend}"
on_error = "accept"
[policy]
threshold = 0.5
max_attempts = 2
on_reject = "empty_patch"
"""
RIGHT = "+    return a + b\n"
TIMES = "+    return a * b\n"


def swerm_env(folder: Path, backend: str | None) -> dict[str, str]:
    """``SWERM_CONFIG`` naming ``backend``, or swerm switched off (``None``)."""
    if backend is None:
        return {"SWERM": "0"}
    (folder / "swerm.toml").write_text(SWERM_TOML.format(backend=backend))
    return {"SWERM_CONFIG": str(folder / "swerm.toml")}


def run_batch(
    folder: Path, names: dict[str, str], config: list[str], env: dict[str, str]
) -> BatchRun:
    """`swerm sweagent run-batch` in this process over fresh repositories ``/<name>``.

    Call inside :func:`local_deployment`. SWE-ReX's local bash session sometimes loses track of
    its prompt when the host is busy (the instance fails with ``RuntimeError: Command ...
    failed (r.exit_code=None)``, the command's output being the prompt ``SHELLPS1PREFIX``);
    the whole batch then runs again from scratch, at most twice more.
    """
    for attempt in range(3):
        run = _run_batch_once(folder / f"try{attempt}", names, config, env)
        flaked = run.exit_statuses().get("Uncaught RuntimeError")
        if not flaked:
            return run
        print(f"SWE-ReX's local session failed on {flaked} (a known upstream race): rerunning")
        for name in names.values():
            shutil.rmtree(f"/{name}")
    return run


def _run_batch_once(
    folder: Path, names: dict[str, str], config: list[str], env: dict[str, str]
) -> BatchRun:
    """One batch; ``BatchRun.repo_status`` is each repository's ``git status`` after it."""
    folder.mkdir(parents=True)
    instances = write_instances(folder / "instances.yaml", names)
    out = folder / "run"
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("SWERM")]:
            mp.delenv(key)
        for key, value in env.items():
            mp.setenv(key, value)
        mp.setenv("HISTFILE", str(folder / "bash_history"))  # not ~/.bash_history
        repos = [make_host_repo(name) for name in names.values()]
        started = time.monotonic()
        try:
            result = run_cli(
                "sweagent",
                "run-batch",
                *config,
                "--instances.type=expert_file",
                f"--instances.path={instances}",
                f"--output_dir={out}",
                "--progress_bar=False",
            )
        finally:
            forget_sessions()
        seconds = time.monotonic() - started
        status = {
            repo.name: subprocess.run(
                ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=all"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for repo in repos
        }
    return BatchRun(out, result.exit_code, result.output, seconds, status)


# --- three instances, SWE-agent's retry agent reviewed by swerm -----------------------------


@pytest.fixture(scope="module")
def retry_run(tmp_path_factory: pytest.TempPathFactory) -> BatchRun:
    """a: right fix at once (accepted); b: two wrong fixes (rejected); c: wrong, then right."""
    folder = tmp_path_factory.mktemp("retry")
    env = swerm_env(folder, "patch-rule")
    first = write_replay(folder / "first.jsonl", {"a": "right", "b": "times", "c": "times"})
    second = write_replay(folder / "second.jsonl", {"a": "right", "b": "swapped", "c": "right"})
    agents = [
        agent_config(folder / "first.yaml", first),
        agent_config(folder / "second.yaml", second),
    ]
    names = unique_names("a", "b", "c")
    with scorers_registered(), local_deployment(list(names.values())):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SWERM_CONFIG", env["SWERM_CONFIG"])
            made = run_cli("sweagent", "retry-config", *agents, "-o", folder / "retry.yaml")
        assert made.exit_code == 0, made.output
        run = run_batch(folder, names, ["--config", str(folder / "retry.yaml")], env)
    print(f"retry run: {run.seconds:.1f}s")
    return run


def traj(run: BatchRun, suffix: str) -> dict[str, Any]:
    return json.loads(run.instance(suffix, "traj").read_text())


def pred(run: BatchRun, suffix: str, ext: str = "pred") -> dict[str, Any]:
    return json.loads(run.instance(suffix, ext).read_text())


def reviews(run: BatchRun, suffix: str) -> list[float]:
    return [a["info"]["review"]["accept"] for a in traj(run, suffix)["attempts"]]


def test_each_outcome_is_in_sweagents_own_files(retry_run: BatchRun) -> None:
    run = retry_run
    assert run.exit_code == 0, run.log[-3000:]
    assert run.exit_statuses() == {"submitted": ["calc_a", "calc_b", "calc_c"]}
    # SWE-agent's score loop got swerm's verdicts: >= 1 stops (accept), < 1 retries.
    assert reviews(run, "a") == [1.9]
    assert reviews(run, "b") == [0.3, 0.2]
    assert reviews(run, "c") == [0.3, 1.9]
    assert [traj(run, s)["info"]["best_attempt_idx"] for s in "abc"] == [0, 0, 1]
    # a and c: SWE-agent submitted the accepted attempt; b: rejected, swerm abstains.
    for suffix in "ac":
        assert RIGHT in pred(run, suffix)["model_patch"]
        assert not run.instance(suffix, "pred.orig").exists()
    assert pred(run, "b")["model_patch"] == ""
    assert TIMES in pred(run, "b", "pred.orig")["model_patch"]  # its best attempt, by p
    preds = json.loads((run.output_dir / "preds.json").read_text())
    assert {iid: p["model_patch"] for iid, p in preds.items()} == {
        f"calc_{s}": pred(run, s)["model_patch"] for s in "abc"
    }


def test_every_attempt_is_kept_and_the_reviewer_saw_swerms_envelope(retry_run: BatchRun) -> None:
    for suffix, n in {"a": 1, "b": 2, "c": 2}.items():
        document = traj(retry_run, suffix)
        assert len(document["attempts"]) == n
        for k, attempt in enumerate(document["attempts"]):
            saved = json.loads(
                (
                    retry_run.output_dir / f"calc_{suffix}" / f"attempt_{k}" / f"calc_{suffix}.traj"
                ).read_text()
            )
            assert saved["info"]["submission"] == attempt["info"]["submission"]
            review = attempt["info"]["review"]
            envelope = json.loads(review["messages"][1]["content"])
            assert envelope["format"] == "swerm-review-1"
            assert envelope["submission"] == attempt["info"]["submission"]
            assert len(envelope["steps"]) == len(attempt["trajectory"])
            assert review["outputs"][0].startswith("swerm: ")


def test_decisions_log_is_beside_the_run_and_not_in_any_repository(retry_run: BatchRun) -> None:
    log = [
        orjson.loads(x)
        for x in (retry_run.output_dir / "swerm_decisions.jsonl").read_bytes().splitlines()
    ]
    attempts = [(r["instance_id"], r["action"], r["p"]) for r in log if r["event"] == "attempt"]
    assert attempts == [
        ("calc_a", "accept", 0.9),
        ("calc_b", "retry", 0.3),
        ("calc_b", "reject", 0.2),
        ("calc_c", "retry", 0.3),
        ("calc_c", "accept", 0.9),
    ]
    finals = {
        r["instance_id"]: (r["action"], r["selected_attempt"], r["abstained"])
        for r in log
        if r["event"] == "final"
    }
    assert finals == {
        "calc_a": ("accept", 1, False),
        "calc_b": ("reject", 1, True),
        "calc_c": ("accept", 2, False),
    }
    paths = [Path(r["trajectory_path"]) for r in log if r["event"] == "attempt"]
    assert all(p.exists() and p.parent.name.startswith("attempt_") for p in paths)
    # The agent's repositories hold its edit (staged by SWE-agent's submit) and nothing else.
    changed = {
        line[3:] for status in retry_run.repo_status.values() for line in status.splitlines()
    }
    assert changed == {"calc.py"}, retry_run.repo_status


def test_live_scores_equal_a_later_swerm_score_of_the_saved_traj(
    retry_run: BatchRun, tmp_path: Path
) -> None:
    log = [
        orjson.loads(x)
        for x in (retry_run.output_dir / "swerm_decisions.jsonl").read_bytes().splitlines()
    ]
    live = {(r["instance_id"], r["content_hash"], r["p"]) for r in log if r["event"] == "attempt"}
    files = [retry_run.instance(s, "traj") for s in "abc"]
    with scorers_registered():
        result = run_cli("score", *files, "--backend", "patch-rule", "-o", tmp_path / "s.jsonl")
    assert result.exit_code == 0, result.output
    later = [orjson.loads(x) for x in (tmp_path / "s.jsonl").read_bytes().splitlines()]
    assert {(r["instance_id"], r["content_hash"], r["calibrated"]) for r in later} == live
    assert len(later) == 5


# --- swerm off, and swerm on with its verifier down: SWE-agent's results must not change ----


@pytest.fixture(scope="module")
def plain_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BatchRun]:
    """The same two instances with SWE-agent's default agent, swerm off and verifier down."""
    names = unique_names("a", "b")
    runs = {}
    with scorers_registered(), local_deployment(list(names.values())):
        for mode, backend in [("off", None), ("down", "verifier-down")]:
            folder = tmp_path_factory.mktemp(mode)
            replay = write_replay(folder / "replay.jsonl", {"a": "right", "b": "times"})
            config = agent_config(folder / "agent.yaml", replay)
            runs[mode] = run_batch(
                folder, names, ["--config", str(config)], swerm_env(folder, backend)
            )
            print(f"{mode} run: {runs[mode].seconds:.1f}s")
            for name in names.values():  # the next run gets the same repositories afresh
                shutil.rmtree(f"/{name}")
    return runs


def normalised(text: str, run: BatchRun) -> str:
    text = text.replace(str(run.output_dir.parent), "<folder>")
    return re.sub(r'"execution_time": [0-9.e-]+', '"execution_time": 0', text)


def test_with_the_verifier_down_sweagents_results_are_unchanged(
    plain_runs: dict[str, BatchRun],
) -> None:
    off, down = plain_runs["off"], plain_runs["down"]
    assert off.exit_code == down.exit_code == 0, down.log[-3000:]
    assert off.exit_statuses() == down.exit_statuses() == {"submitted": ["calc_a", "calc_b"]}
    assert (down.output_dir / "preds.json").read_bytes() == (
        off.output_dir / "preds.json"
    ).read_bytes()
    for suffix in "ab":
        assert (
            down.instance(suffix, "pred").read_bytes() == off.instance(suffix, "pred").read_bytes()
        )
        assert not down.instance(suffix, "pred.orig").exists()
        assert normalised(down.instance(suffix, "traj").read_text(), down) == normalised(
            off.instance(suffix, "traj").read_text(), off
        )
    assert not (off.output_dir / "swerm_decisions.jsonl").exists()
    log = [
        orjson.loads(x)
        for x in (down.output_dir / "swerm_decisions.jsonl").read_bytes().splitlines()
    ]
    assert [(r["instance_id"], r["event"], r["action"]) for r in log] == [
        ("calc_a", "attempt", "accept"),
        ("calc_a", "final", "accept"),
        ("calc_b", "attempt", "accept"),
        ("calc_b", "final", "accept"),
    ]
    assert all(
        "verifier unreachable" in r["score"]["error"] for r in log if r["event"] == "attempt"
    )
    assert all(r["reason"].startswith("verifier error, on_error=accept") for r in log)
