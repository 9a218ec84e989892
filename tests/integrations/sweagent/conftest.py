"""Real SWE-agent 1.1.0 runs (``.venv-sweagent``, ``make pytest-sweagent``): host guards, repos,
configs, and the scorers the runs use.

SWE-ReX's local deployment runs the agent on this host: it works in ``/<repo name>`` and installs
SWE-agent's tools under ``/root`` (``/root/tools``, ``/root/.swe-agent-env``,
``/root/state.json``, ``/root/model.patch``). So every run holds a host-wide file lock (no two
runs at once, from any checkout), uses repository names no one else uses, removes those paths
before and after, and points bash's history at the test's own folder instead of
``~/.bash_history``.

Scores come from two scorers registered for the test (mocks, because each test needs specific
verdicts): ``patch-rule`` answers a fixed probability per fix found in the patch, and
``verifier-down`` fails every call, as an unreachable verifier would.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from swerm_plugin.backends.base import RewardBackend
from swerm_plugin.model import Score
from swerm_plugin.plugins import manager as plugins
from swerm_plugin.plugins.hookspecs import hookimpl
from swerm_plugin.prompts.prompt import Prompt

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else litellm goes online
#: Each test module starts with ``pytest.importorskip("sweagent", reason=SKIP_REASON)``.
SKIP_REASON = (
    "SWE-agent runs in .venv-sweagent: `make pytest-sweagent` builds it from "
    "../shared/vendor/SWE-agent (make SHARED_DIR=... names another shared folder)"
)

LOCK = Path(tempfile.gettempdir()) / "swerm-sweagent-local-deployment.lock"
LOCK_WAIT_S = 600
HOST_PATHS = ("/root/tools", "/root/.swe-agent-env", "/root/state.json", "/root/model.patch")
BUGGY = "def add(a, b):\n    return a - b\n"
FIXES = {"right": "a + b", "times": "a * b", "swapped": "b - a"}
#: What ``patch-rule`` answers for each fix found in a patch.
RULE_SCORES = {"right": 0.9, "times": 0.3, "swapped": 0.2}
PROBLEM = "add(2, 3) returns -1 instead of 5: fix add() in calc.py"


class PatchRuleBackend(RewardBackend):
    """A fixed probability per fix: finds ``+    return <fix>`` in the rendered patch."""

    name: ClassVar[str] = "patch-rule"
    prompts: ClassVar[list[Prompt]] = []

    def score_batch(self, prompts: Sequence[Prompt]) -> list[Score]:
        out = []
        for prompt in prompts:
            type(self).prompts.append(prompt)
            found = [k for k, fix in FIXES.items() if f"+    return {fix}\n" in prompt.text]
            p = RULE_SCORES[found[0]] if len(found) == 1 else 0.0
            out.append(Score(raw=p, latency_s=0.0))
        return out


class VerifierDownBackend(RewardBackend):
    name: ClassVar[str] = "verifier-down"

    def score_batch(self, prompts: Sequence[Prompt]) -> list[Score]:
        raise ConnectionError("verifier unreachable (test)")


class _TestScorers:
    @hookimpl
    def swerm_register_backends(self, register: Callable[[type[RewardBackend]], None]) -> None:
        register(PatchRuleBackend)
        register(VerifierDownBackend)


@contextlib.contextmanager
def scorers_registered() -> Iterator[None]:
    """The two test scorers registered in the process-wide plugin manager."""
    plugins.reset_plugin_manager()
    plugin = _TestScorers()
    plugins.get_plugin_manager().register(plugin)
    PatchRuleBackend.prompts.clear()
    try:
        yield
    finally:
        plugins.reset_plugin_manager()


# --- the host -------------------------------------------------------------------------------


def unique_names(*suffixes: str) -> dict[str, str]:
    """Repository names no other run uses (the local deployment works in ``/<name>``)."""
    tag = f"swerm_t{os.getpid()}_{secrets.token_hex(3)}"
    return {s: f"{tag}_{s}" for s in suffixes}


def _clean_host(names: Sequence[str]) -> None:
    for path in [*(f"/{n}" for n in names), *HOST_PATHS]:
        target = Path(path)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()


@contextlib.contextmanager
def local_deployment(names: Sequence[str]) -> Iterator[None]:
    """Hold the host-wide lock; remove the run's host paths before and after it.

    Not re-entrant: a process that nests two of these waits for itself (and fails).
    """
    assert names and all(n.startswith("swerm_t") for n in names), names
    with LOCK.open("a") as handle:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another SWE-agent run has held {LOCK} for {LOCK_WAIT_S} s")
                time.sleep(0.5)
        try:
            _clean_host(names)
            yield
        finally:
            _clean_host(names)
            fcntl.flock(handle, fcntl.LOCK_UN)


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout


def make_host_repo(name: str) -> Path:
    """``/<name>``: a git repository with the buggy calc.py, the same commit every time."""
    repo = Path("/") / name
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "calc.py").write_text(BUGGY)
    git(repo, "add", "calc.py")
    git(
        repo,
        "-c",
        "user.name=swerm",
        "-c",
        "user.email=swerm@example.invalid",
        "commit",
        "-qm",
        "init",
    )
    return repo


# --- SWE-agent inputs -----------------------------------------------------------------------


def bash_call(n: int, command: str) -> dict[str, Any]:
    """A function-calling action for SWE-agent's replay model."""
    return {
        "message": f"step {n}",
        "tool_calls": [
            {
                "type": "function",
                "id": f"call_{n}",
                "function": {"name": "bash", "arguments": json.dumps({"command": command})},
            }
        ],
    }


def submit_call(n: int) -> dict[str, Any]:
    call = bash_call(n, "")
    call["tool_calls"][0]["function"] = {"name": "submit", "arguments": "{}"}
    return call


def write_replay(path: Path, fix_by_suffix: dict[str, str]) -> Path:
    """A replay file whose one edit writes the fix chosen by the repository's name suffix.

    The replay model plays line 1 from the start for every instance and attempt, so the
    instances differ through ``$PWD``. default.yaml's ``review_on_submit_m`` bundle submits on
    the second ``submit``.
    """
    write = "printf 'def add(a, b):\\n    return {}\\n' > calc.py;"
    branches = " elif ".join(
        f'[ "$sfx" = {suffix} ]; then ' + write.format(FIXES[fix])
        for suffix, fix in fix_by_suffix.items()
    )
    edit = f'sfx="${{PWD##*_}}"; if {branches} fi; cat calc.py'
    actions = [bash_call(1, edit), submit_call(2), submit_call(3)]
    path.write_text(json.dumps({"swerm-test": actions}) + "\n")
    return path


def agent_config(path: Path, replay: Path) -> Path:
    """SWE-agent's config/default.yaml with the replay model: a config file for ``--config``."""
    import sweagent

    config = yaml.safe_load((Path(sweagent.CONFIG_DIR) / "default.yaml").read_text())
    config["agent"]["model"] = {"name": "replay", "replay_path": str(replay)}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def write_instances(path: Path, names: dict[str, str]) -> Path:
    """An ``expert_file`` instance list: preexisting repos at ``/<name>``, local deployment.

    ``rm -rf /root/tools`` after each environment start lets SWE-agent install its tools
    again (SWE-ReX's local deployment cannot overwrite them), also between retry attempts.
    """
    instances = [
        {
            "env": {
                "deployment": {"type": "local"},
                "repo": {"type": "preexisting", "repo_name": name},
                "post_startup_commands": ["rm -rf /root/tools"],
            },
            "problem_statement": {"type": "text", "id": f"calc_{suffix}", "text": PROBLEM},
        }
        for suffix, name in names.items()
    ]
    path.write_text(yaml.safe_dump(instances, sort_keys=False))
    return path


@dataclass
class BatchRun:
    """One finished ``swerm sweagent run-batch``: its output folder, exit code and output, wall
    time, and each repository's ``git status`` after the run."""

    output_dir: Path
    exit_code: int
    log: str
    seconds: float
    repo_status: dict[str, str]

    def instance(self, suffix: str, name: str) -> Path:
        return self.output_dir / f"calc_{suffix}" / f"calc_{suffix}.{name}"

    def exit_statuses(self) -> dict[str, list[str]]:
        data = yaml.safe_load((self.output_dir / "run_batch_exit_statuses.yaml").read_text())
        return data["instances_by_exit_status"]
