"""What the three framework integrations share: switching on, the attempt loop, the log.

A :class:`SwermSession` lives for one agent run (one process): the effective config, the verifier
(built on first use, then shared by every task and worker thread) and the decisions log. Each
task gets a :class:`TaskAttempts`, which scores an attempt, asks the ``swerm_decide`` hook what to
do, remembers every attempt, and at the end picks the attempt whose patch is submitted (the
``swerm_select`` rerank policy). A verifier failure never escapes as an exception unless
``on_error = "raise"``: it becomes a failed :class:`~swerm_plugin.model.Score` and the policy
applies ``on_error``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import shlex
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from swerm_plugin.config import SwermConfig, env_flag, is_enabled, load_config, state_dir
from swerm_plugin.decisions.policy import charge_verifier, submission_patch
from swerm_plugin.errors import IntegrationError
from swerm_plugin.jsonl import append_jsonl
from swerm_plugin.model import CandidateGroup, Decision, Score, Trajectory
from swerm_plugin.plugins.manager import Hooks, get_hooks

if TYPE_CHECKING:
    from swerm_plugin.backends.base import RewardBackend
    from swerm_plugin.verifier import Verifier

log = logging.getLogger("swerm.integrations")

Framework = Literal["mini-swe-agent", "openhands", "swe-agent"]


def integration_enabled(
    *, explicit: bool, environ: Mapping[str, str] | None = None, cwd: str | Path | None = None
) -> bool:
    """Whether swerm acts inside an agent run.

    On when ``SWERM_CONFIG`` is set, ``SWERM=1``, ``enabled = true`` in the config, or the user
    named a swerm class in the framework's own config (``explicit``). ``SWERM=0`` always wins,
    so a team can switch a named class off without editing the framework config.
    """
    env = os.environ if environ is None else environ
    if env_flag("SWERM", env) is False:
        return False
    if explicit or is_enabled(env):
        return True
    return load_config(cwd=cwd, environ=env).enabled


DEFAULT_LOG_NAME = "swerm_decisions.jsonl"


def decisions_log_in(config: SwermConfig, output_dir: str | Path) -> Path:
    """The decisions log of a run writing to ``output_dir``: a relative path goes in there."""
    path = Path(config.decisions_log or DEFAULT_LOG_NAME).expanduser()
    return path if path.is_absolute() else Path(output_dir) / path


def default_decisions_log(framework: str) -> Path:
    """A new log in swerm's state folder, for runs that have no output folder of their own."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return state_dir() / "decisions" / f"{framework}-{stamp}-{os.getpid()}.jsonl"


def outside(path: Path, repo: str | Path | None, framework: str) -> Path:
    """``path``, unless it lies inside the agent's repository ``repo``: there the agent's patch
    (``git diff`` of the working tree) would pick it up, so the log moves to the state folder."""
    if repo is None:
        return path
    try:
        path.resolve().relative_to(Path(repo).resolve())
    except ValueError:
        return path
    moved = default_decisions_log(framework)
    log.warning(
        "swerm: the decisions log %s is inside the agent's repository %s; writing %s instead "
        "(nothing swerm writes may end up in the agent's patch)",
        path, repo, moved,
    )  # fmt: skip
    return moved


def live_diff_command(base: str | None) -> str:
    """A shell command printing the working tree's diff against ``base`` (default ``HEAD``).

    Untracked files are included (a new module is part of a fix) through a throwaway copy of
    the index, so the agent's own staging area is left exactly as it was. The copy keeps the
    index's mtime (``cp -p``): git trusts an entry's cached stat data unless the entry is no
    older than the index file ("racily clean": the file may have changed again within the same
    timestamp), so a copy with a fresh mtime would hide a same-size edit made in that window.
    """
    rev = shlex.quote(base) if base else "HEAD"
    return (
        'tmp="$(mktemp)" && cp -p "$(git rev-parse --git-dir)/index" "$tmp" 2>/dev/null; '
        'GIT_INDEX_FILE="$tmp" git add -A >/dev/null 2>&1 && '
        f'GIT_INDEX_FILE="$tmp" git diff --cached --no-color --no-ext-diff {rev}; '
        'rc=$?; rm -f "$tmp"; exit $rc'
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class Attempt:
    """One scored attempt at a task, and what the policy made of it."""

    number: int
    trajectory: Trajectory
    score: Score
    decision: Decision
    path: str | None = None

    def host_score(self, threshold: float) -> float:
        """A number in [0, 1] for hosts that need one even when scoring failed.

        The probability when there is one; otherwise the threshold for an attempt accepted by
        ``on_error = "accept"`` (it passes a host check at the same threshold) and 0 else.
        """
        p = self.score.probability
        if p is not None:
            return p
        return threshold if self.decision.action == "accept" else 0.0


@dataclass
class Outcome:
    """How a task ends: the attempt whose patch is submitted; ``abstained`` when swerm
    replaced a non-empty patch by an empty one (``policy.on_reject = "empty_patch"``)."""

    action: Literal["accept", "reject"]
    attempt: Attempt | None
    patch: str
    abstained: bool = False
    reason: str = ""


@dataclass
class SwermSession:
    """Config, verifier and decisions log for one agent run; shared by all its tasks.

    ``verifier`` or ``backend`` may be given (tests, embedding); otherwise a
    :class:`~swerm_plugin.verifier.Verifier` is built from the config on first use.
    """

    config: SwermConfig
    framework: Framework
    log_path: Path | None = None
    backend: RewardBackend | None = None
    _verifier: Verifier | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.log_path is None:
            configured = self.config.decisions_log
            self.log_path = (
                Path(configured).expanduser()
                if configured
                else default_decisions_log(self.framework)
            )

    def keep_log_out_of(self, repo: str | Path | None) -> None:
        """Make sure the decisions log is not inside the agent's repository ``repo``."""
        assert self.log_path is not None
        with self._lock:
            self.log_path = outside(self.log_path, repo, self.framework)

    @property
    def hooks(self) -> Hooks:
        return get_hooks(self.config)

    @property
    def verifier(self) -> Verifier:
        with self._lock:
            if self._verifier is None:
                from swerm_plugin.verifier import Verifier

                self._verifier = Verifier(self.config, backend=self.backend)
            return self._verifier

    def check_verifier(self) -> None:
        """Fail fast, before the first instance, when the configured verifier cannot score."""
        try:
            self.verifier.backend.check()
        except Exception as exc:
            raise IntegrationError(
                f"the configured verifier cannot score ({type(exc).__name__}: {exc}); fix it "
                "before starting the run (check it with `swerm remote check` or `swerm score "
                "--explain`), or switch swerm off (SWERM=0)"
            ) from exc

    def score(self, trajectory: Trajectory) -> Score:
        """Score one trajectory; any failure becomes ``Score(error=...)``, never an exception."""
        try:
            (score,) = self.verifier.score([trajectory])
        except Exception as exc:  # the agent's run must survive a broken verifier
            log.warning("swerm: scoring %s failed: %s", trajectory.instance_id, exc)
            return Score(error=f"{type(exc).__name__}: {exc}")
        return score

    def task(self, instance_id: str) -> TaskAttempts:
        return TaskAttempts(self, instance_id)

    def write_record(self, record: dict[str, Any]) -> None:
        """Append one decisions-log record (one JSON line, flushed; safe across threads)."""
        assert self.log_path is not None
        with self._lock:
            append_jsonl(self.log_path, record)

    def close(self) -> None:
        with self._lock:
            if self._verifier is not None:
                self._verifier.close()
                self._verifier = None


class TaskAttempts:
    """The attempt loop of one task: judge each attempt, then choose what is submitted."""

    def __init__(self, session: SwermSession, instance_id: str) -> None:
        self.session = session
        self.instance_id = instance_id
        self.attempts: list[Attempt] = []

    @property
    def config(self) -> SwermConfig:
        return self.session.config

    @property
    def next_number(self) -> int:
        return len(self.attempts) + 1

    def judge(
        self, trajectory: Trajectory, *, can_retry: bool = True, path: str | Path | None = None
    ) -> Decision:
        """Score ``trajectory`` as the next attempt and decide accept, reject or retry.

        ``can_retry=False`` is for hosts that cannot run another attempt (the environment is
        gone): a retry decision becomes a reject there. With ``on_error = "raise"`` a verifier
        failure raises :class:`~swerm_plugin.decisions.policy.VerifierError` after it was logged.
        """
        number = self.next_number
        trajectory = trajectory.model_copy(update={"attempt": number})
        hooks = self.session.hooks
        hooks.trajectory_finished(trajectory)
        # An empty patch cannot resolve anything and the policy refuses it without a verdict:
        # don't spend a verifier call on it (the unscored Score has neither raw nor error).
        score = self.session.score(trajectory) if trajectory.has_patch else Score()
        charged = sum(a.score.cost_usd or 0.0 for a in self.attempts)
        trajectory = charge_verifier(trajectory, score, charged)
        try:
            decision = hooks.decide(trajectory, score, number)
        except Exception as exc:
            self._log_attempt(number, trajectory, score, None, path, error=str(exc))
            raise
        if decision.action == "retry" and not can_retry:
            decision = decision.model_copy(
                update={"action": "reject", "reason": f"{decision.reason}; cannot retry here"}
            )
        attempt = Attempt(number, trajectory, score, decision, str(path) if path else None)
        self.attempts.append(attempt)
        self._log_attempt(number, trajectory, score, decision, path)
        return decision

    def best(self) -> Attempt | None:
        """The attempt to submit: among accepted attempts if any, else all, by ``swerm_select``."""
        pool = [a for a in self.attempts if a.decision.action == "accept"] or self.attempts
        if not pool:
            return None
        group = CandidateGroup(
            instance_id=self.instance_id, candidates=[a.trajectory for a in pool]
        )
        ranking = self.session.hooks.select(group, [a.score for a in pool])
        return pool[ranking[0]]

    def finish(self) -> Outcome:
        """Choose the submitted attempt, apply ``policy.on_reject``, log the final record."""
        chosen = self.best()
        if chosen is None:
            outcome = Outcome("reject", None, "", reason="no attempt was scored")
        elif chosen.decision.action == "accept":
            outcome = Outcome(
                "accept", chosen, chosen.trajectory.patch, reason=chosen.decision.reason
            )
        else:  # the best attempt was not good enough: the task ends rejected
            rejected = chosen.decision.model_copy(update={"action": "reject"})
            patch = submission_patch(chosen.trajectory, rejected, self.config)
            abstained = chosen.trajectory.has_patch and not patch
            outcome = Outcome(
                "reject", chosen, patch, abstained=abstained, reason=chosen.decision.reason
            )
        self.session.write_record(
            {
                "event": "final",
                "time": _now(),
                "framework": self.session.framework,
                "instance_id": self.instance_id,
                "action": outcome.action,
                "abstained": outcome.abstained,
                "reason": outcome.reason,
                "selected_attempt": chosen.number if chosen else None,
                "p": chosen.score.probability if chosen else None,
                "n_attempts": len(self.attempts),
                "patch_sha256": _sha256(outcome.patch) if outcome.patch else None,
                "trajectory_path": chosen.path if chosen else None,
            }
        )
        return outcome

    def _log_attempt(
        self,
        number: int,
        trajectory: Trajectory,
        score: Score,
        decision: Decision | None,
        path: str | Path | None,
        *,
        error: str | None = None,
    ) -> None:
        self.session.write_record(
            {
                "event": "attempt",
                "time": _now(),
                "framework": self.session.framework,
                "instance_id": self.instance_id,
                "attempt": number,
                "retry_mode": self.config.policy.retry_mode,
                "action": decision.action if decision else "error",
                "reason": decision.reason if decision else error,
                "threshold": decision.threshold if decision else self.config.policy.threshold,
                "p": score.probability,
                "score": score.model_dump(mode="json"),
                "cost": trajectory.metadata.get("total_cost", trajectory.cost),
                "exit_status": trajectory.exit_status,
                "patch_sha256": _sha256(trajectory.patch) if trajectory.has_patch else None,
                "patch_chars": len(trajectory.patch),
                "content_hash": trajectory.content_hash(),
                "trajectory_path": str(path) if path else None,
            }
        )


# --- the process-wide session -------------------------------------------------------------

_installed: SwermSession | None = None
_cached: dict[tuple[str, str], SwermSession] = {}
_cache_lock = threading.Lock()


@contextlib.contextmanager
def use_session(session: SwermSession) -> Iterator[SwermSession]:
    """Make every integration in this process use ``session`` (tests, embedding in code)."""
    global _installed
    previous, _installed = _installed, session
    try:
        yield session
    finally:
        _installed = previous


def get_session(framework: Framework, *, explicit: bool) -> SwermSession | None:
    """The session integrations use, or ``None`` when swerm is off (pass-through).

    A session installed with :func:`use_session` wins. Otherwise one session per config file
    and framework is built on first use and kept, so every task and worker thread of a run
    shares one verifier (one model load).
    """
    if _installed is not None:
        return _installed
    if not integration_enabled(explicit=explicit):
        return None
    key = (framework, os.environ.get("SWERM_CONFIG", "") + "|" + str(Path.cwd()))
    with _cache_lock:
        if key not in _cached:
            _cached[key] = SwermSession(load_config(), framework)
        return _cached[key]


def forget_sessions() -> None:
    """Close and drop the cached sessions (after the run, or between tests)."""
    with _cache_lock:
        for session in _cached.values():
            session.close()
        _cached.clear()
