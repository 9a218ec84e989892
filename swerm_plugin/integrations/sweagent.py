"""SWE-agent 1.x: a run hook that verifies each finished instance, a reviewer, a launcher.

SWE-agent is not on PyPI (the ``sweagent`` name there is a placeholder), so nothing here needs
it at import time. The hook follows SWE-agent's ``RunHook`` protocol
(``sweagent/run/hooks/abstract.py``) as ``RunBatch`` calls it: ``on_init(run=...)`` when added,
``on_start()``, then per instance ``on_instance_start(index=, env=, problem_statement=)``, the
agent run (which writes ``<out>/<iid>/<iid>.traj``), ``env.close()``, the ``.pred`` file, and
``on_instance_completed(result=...)``; at the end ``preds.json`` is merged from the ``.pred``
files and ``on_end()`` runs. The environment is closed by the time an instance completes, so the
hook cannot retry: it scores, decides, and on a rejection with ``on_reject = "empty_patch"``
rewrites that instance's ``.pred`` (the original kept as ``.pred.orig``) so the merge abstains.
Retries inside a run belong to SWE-agent's own retry agent, where :class:`SwermReviewer` replaces
the LLM reviewer of its ``ScoreRetryLoop`` with the calibrated verifier.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from swerm_plugin.errors import IntegrationError
from swerm_plugin.integrations.common import (
    SwermSession,
    TaskAttempts,
    decisions_log_in,
    get_session,
)
from swerm_plugin.jsonl import atomic_write_bytes, atomic_write_text
from swerm_plugin.model import Trajectory
from swerm_plugin.readers.sweagent import trajectories_from_document

log = logging.getLogger("swerm.integrations.sweagent")

INSTALL_HINT = (
    "SWE-agent is not installed and is not on PyPI; install it from GitHub: "
    "pip install 'sweagent @ git+https://github.com/SWE-agent/SWE-agent'"
)

try:  # subclass SWE-agent's own base classes when SWE-agent is there
    from sweagent.run.hooks.abstract import RunHook as _RunHookBase
except ImportError:  # the protocol is duck-typed: RunBatch only calls the methods
    _RunHookBase = object

try:
    from sweagent.agent.reviewer import AbstractReviewer as _ReviewerBase
    from sweagent.agent.reviewer import ReviewerResult
except ImportError:
    _ReviewerBase = object

    class ReviewerResult(BaseModel):  # type: ignore[no-redef]
        """Stand-in with the fields of ``sweagent.agent.reviewer.ReviewerResult``."""

        accept: bool | float
        outputs: list[str]
        messages: list[dict[str, Any]]


def trajectory_from_result(
    instance_id: str, problem_statement: str, trajectory: Any, info: Any
) -> Trajectory:
    """An ``AgentRunResult`` (or a ``ReviewSubmission``) as a :class:`Trajectory`.

    Read by the same code as ``.traj`` files, so a live score and a later ``swerm score`` of
    the saved file agree.
    """
    document = {
        "trajectory": list(trajectory or []),
        "info": dict(info or {}),
        "history": [],
        "replay_config": {"problem_statement": {"id": instance_id, "text": problem_statement}},
    }
    return trajectories_from_document(document, f"<live SWE-agent run {instance_id}>")[0]


def prediction_path(output_dir: Path, instance_id: str) -> Path:
    """``<out>/<iid>/<iid>.pred`` (SWE-agent 1.x); ``<out>/<iid>.pred`` in older releases."""
    nested = output_dir / instance_id / f"{instance_id}.pred"
    flat = output_dir / f"{instance_id}.pred"
    return flat if not nested.exists() and flat.exists() else nested


def rewrite_prediction(pred: Path, patch: str) -> None:
    """Replace the ``model_patch`` in a ``.pred`` file atomically; the original becomes
    ``.pred.orig`` (which the ``*.pred`` merge does not read). Idempotent when run again."""
    original = pred.read_bytes()
    record = json.loads(original)
    if not isinstance(record, dict):
        raise IntegrationError(f"{pred}: not a SWE-agent prediction (expected a JSON object)")
    rewritten = json.dumps({**record, "model_patch": patch})
    backup = pred.with_name(pred.name + ".orig")
    if original.decode("utf-8") == rewritten and backup.exists():
        return  # already rewritten by an earlier call; the backup holds the agent's original
    atomic_write_bytes(backup, original)
    atomic_write_text(pred, rewritten)


class SwermRunHook(_RunHookBase):
    """Scores every finished instance of a ``RunBatch``; add it with ``run.add_hook(...)``.

    Adding the hook in code is the explicit opt-in (``SWERM=0`` still switches it off). The
    decisions log goes into the run's output folder unless ``decisions_log`` is absolute.
    """

    def __init__(self, *, session: SwermSession | None = None, explicit: bool = True) -> None:
        self._session = session
        self._explicit = explicit
        self._output_dir = Path(".")
        self._local = threading.local()  # RunBatch workers are threads

    @property
    def session(self) -> SwermSession | None:
        if self._session is None:
            self._session = get_session("swe-agent", explicit=self._explicit)
        return self._session

    def on_init(self, *, run: Any) -> None:
        self._output_dir = Path(getattr(run, "output_dir", "."))
        if self.session is not None:
            self.session.log_path = decisions_log_in(self.session.config, self._output_dir)

    def on_start(self) -> None:
        """Nothing to prepare: the verifier is built on first use."""

    def on_instance_start(self, *, index: int, env: Any, problem_statement: Any) -> None:
        # AgentRunResult carries no instance id: remember it for this worker thread.
        self._local.instance_id = str(problem_statement.id)
        self._local.problem_statement = _problem_text(problem_statement)

    def on_instance_skipped(self) -> None:
        """Skipped instances were decided in an earlier run."""

    def on_instance_completed(self, *, result: Any) -> None:
        session = self.session
        instance_id = getattr(self._local, "instance_id", None)
        if session is None or instance_id is None:
            return
        trajectory = trajectory_from_result(
            instance_id,
            self._local.problem_statement,
            getattr(result, "trajectory", []),
            getattr(result, "info", {}),
        )
        traj = self._output_dir / instance_id / f"{instance_id}.traj"
        task = session.task(instance_id)
        task.judge(trajectory, can_retry=False, path=traj if traj.exists() else None)
        outcome = task.finish()
        if outcome.abstained:
            pred = prediction_path(self._output_dir, instance_id)
            if pred.exists():
                rewrite_prediction(pred, outcome.patch)
            else:
                log.warning("swerm: %s has no .pred to rewrite at %s", instance_id, pred)

    def on_end(self) -> None:
        """The run is over; the decisions log is complete (each record was flushed)."""


class SwermReviewer(_ReviewerBase):
    """A reviewer for SWE-agent's ``ScoreRetryLoop`` that answers the calibrated P(resolved).

    ``accept`` is the probability in [0, 1]: set the loop's ``accept_score`` to the policy
    threshold. Every review is one attempt in the decisions log. Install it with
    :func:`use_swerm_reviewer`.
    """

    def __init__(self, session: SwermSession | None = None) -> None:
        found = session or get_session("swe-agent", explicit=True)
        if found is None:
            raise IntegrationError("swerm is switched off (SWERM=0); the reviewer cannot score")
        self.session = found
        self._tasks: dict[str, TaskAttempts] = {}
        self._lock = threading.Lock()

    def review(self, instance: Any, submission: Any) -> ReviewerResult:
        instance_id = str(getattr(instance, "id", "task"))
        trajectory = trajectory_from_result(
            instance_id, _problem_text(instance), submission.trajectory, submission.info
        )
        with self._lock:
            task = self._tasks.setdefault(instance_id, self.session.task(instance_id))
        decision = task.judge(trajectory)
        score = task.attempts[-1].host_score(self.session.config.policy.threshold)
        return ReviewerResult(accept=score, outputs=[decision.reason], messages=[])


def use_swerm_reviewer(retry_loop: Any, session: SwermSession | None = None) -> Any:
    """Make a ``ScoreRetryLoop`` ask :class:`SwermReviewer` instead of its LLM reviewer."""
    if not hasattr(retry_loop, "_reviewer"):
        raise IntegrationError(
            f"{type(retry_loop).__name__} has no reviewer to replace; expected SWE-agent's "
            "ScoreRetryLoop (agent.type: retry with retry_loop.type: score)"
        )
    retry_loop._reviewer = SwermReviewer(session)
    return retry_loop


def _problem_text(problem_statement: Any) -> str:
    getter = getattr(problem_statement, "get_problem_statement", None)
    return str(getter()) if callable(getter) else str(getattr(problem_statement, "text", ""))


def run_batch(args: Sequence[str]) -> None:
    """``sweagent run-batch`` with every argument passed through and :class:`SwermRunHook`
    added to the run. With swerm off, SWE-agent runs unchanged."""
    try:
        from sweagent.run import run_batch as sweagent_run_batch
    except ImportError:
        raise IntegrationError(INSTALL_HINT) from None
    session = get_session("swe-agent", explicit=False)
    if session is None:
        log.warning("swerm is off (set SWERM_CONFIG or SWERM=1); running SWE-agent unchanged")
        sweagent_run_batch.run_from_cli(list(args))
        return
    original = sweagent_run_batch.RunBatch

    class SwermRunBatch(original):  # type: ignore[misc, valid-type]
        @classmethod
        def from_config(cls, config: Any) -> Any:
            run = super().from_config(config)
            run.add_hook(SwermRunHook(session=session))
            # Run first, so hooks that read or submit the .pred files (SWE-bench evaluation)
            # see the rewritten one.
            hooks = getattr(getattr(run, "_chooks", None), "hooks", None)
            if isinstance(hooks, list):
                hooks.insert(0, hooks.pop())
            return run

    sweagent_run_batch.RunBatch = SwermRunBatch
    try:
        sweagent_run_batch.run_from_cli(list(args))
    finally:
        sweagent_run_batch.RunBatch = original
