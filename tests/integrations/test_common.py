"""The shared attempt loop, outside any framework."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import IntegrationError
from swerm_plugin.integrations.common import (
    decisions_log_in,
    get_session,
    integration_enabled,
    live_diff_command,
)
from swerm_plugin.model import Trajectory
from swerm_plugin.testing import MockRewardBackend

from .conftest import WRONG_FIX, git, make_repo, session_with


def attempt(patch: str = "diff --git a/x b/x\n+1\n", cost: float | None = None) -> Trajectory:
    return Trajectory(instance_id="t-1", source="test", patch=patch, cost=cost)


def test_flag_rules(tmp_path: Path) -> None:
    (tmp_path / "swerm.toml").write_text("enabled = true\n")
    assert integration_enabled(explicit=False, environ={}, cwd=tmp_path)  # enabled in the file
    assert not integration_enabled(explicit=False, environ={}, cwd=tmp_path / "elsewhere")
    assert integration_enabled(explicit=False, environ={"SWERM": "1"}, cwd=tmp_path / "x")
    assert not integration_enabled(explicit=True, environ={"SWERM": "off"}, cwd=tmp_path)


def test_without_the_flag_there_is_no_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert get_session("mini-swe-agent", explicit=False) is None
    monkeypatch.setenv("SWERM", "1")
    session = get_session("mini-swe-agent", explicit=False)
    assert session is not None and session is get_session("mini-swe-agent", explicit=False)


def test_decisions_log_goes_into_the_run_folder_unless_absolute(tmp_path: Path) -> None:
    assert decisions_log_in(SwermConfig(), tmp_path) == tmp_path / "swerm_decisions.jsonl"
    absolute = tmp_path / "logs" / "all.jsonl"
    assert decisions_log_in(SwermConfig(decisions_log=str(absolute)), "out") == absolute


def test_accepted_attempts_win_over_better_scored_rejections(
    tmp_path: Path, install_session: Any
) -> None:
    # Specific verdicts: a failed score accepted by on_error, then a scored rejection.
    backend = MockRewardBackend(scores=["server down", 0.4])
    session = install_session(session_with(backend, tmp_path, policy={"max_attempts": 2}))
    task = session.task("t-1")
    assert task.judge(attempt("diff --git a/a b/a\n+1\n"), can_retry=False).action == "accept"
    assert task.judge(attempt("diff --git a/b b/b\n+2\n"), can_retry=False).action == "reject"
    outcome = task.finish()
    assert outcome.attempt is task.attempts[0]
    assert outcome.patch == "diff --git a/a b/a\n+1\n"
    assert task.attempts[0].host_score(0.5) == 0.5  # no probability: the threshold, as accepted
    assert task.attempts[1].host_score(0.5) == 0.4


def test_an_empty_patch_is_refused_without_a_verifier_call(
    tmp_path: Path, install_session: Any
) -> None:
    backend = MockRewardBackend(scores=[0.9])  # would accept anything it were asked about
    session = install_session(session_with(backend, tmp_path, policy={"max_attempts": 2}))
    task = session.task("t-1")
    decision = task.judge(attempt(patch="  \n"))
    assert decision.action == "retry" and "empty patch" in decision.reason
    assert backend.calls == []
    assert task.judge(attempt()).action == "accept"
    assert len(backend.calls) == 1


def test_no_attempt_means_a_rejected_empty_outcome(tmp_path: Path, install_session: Any) -> None:
    session = install_session(session_with(MockRewardBackend(), tmp_path))
    outcome = session.task("t-2").finish()
    assert (outcome.action, outcome.patch, outcome.attempt) == ("reject", "", None)


def test_the_live_diff_sees_a_same_size_edit_in_the_second_the_index_was_written(
    tmp_path: Path,
) -> None:
    # Git trusts an index entry whose stat data matches the file, unless the entry is no older
    # than the index file ("racily clean"): then it compares contents. Pinning the timestamps
    # makes this edit racy every run (same size, inode and mtime as the entry, and the index
    # written in that second), as an agent's quick edit after a checkout can be. ctime cannot
    # be pinned, so git is told not to compare it.
    repo = make_repo(tmp_path / "repo")
    git(repo, "config", "core.trustctime", "false")
    calc, index = repo / "calc.py", repo / ".git" / "index"
    second = int(time.time()) - 60
    os.utime(calc, (second, second))
    git(repo, "add", "calc.py")  # the entry now caches that mtime
    calc.write_text(WRONG_FIX)  # as long as the buggy original
    for path in (calc, index):
        os.utime(path, (second, second))

    done = subprocess.run(
        ["bash", "-c", live_diff_command(None)], cwd=repo, capture_output=True, text=True
    )

    assert done.returncode == 0, done.stderr
    assert "-    return a - b\n+    return a * b\n" in done.stdout
    assert git(repo, "status", "--porcelain") == " M calc.py\n"  # the real index is untouched


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="checks the refusal on Python < 3.12")
def test_openhands_integration_refuses_old_pythons() -> None:
    sys.modules.pop("swerm_plugin.integrations.openhands", None)
    with pytest.raises(IntegrationError, match="OpenHands SDK needs Python 3.12 or newer"):
        importlib.import_module("swerm_plugin.integrations.openhands")
