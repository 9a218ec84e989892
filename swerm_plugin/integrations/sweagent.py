"""SWE-agent 1.x: a run hook that verifies each finished instance, and the batch launcher.

SWE-agent is not on PyPI (the ``sweagent`` name there is a placeholder), so nothing here needs
it at import time. The hook follows SWE-agent's ``RunHook`` protocol
(``sweagent/run/hooks/abstract.py``) as ``RunBatch`` calls it: ``on_init(run=...)`` when added,
``on_start()``, then per instance ``on_instance_start(index=, env=, problem_statement=)``, the
agent run (which writes ``<out>/<iid>/<iid>.traj``), ``env.close()``, the ``.pred`` file, and
``on_instance_completed(result=...)``; at the end ``preds.json`` is merged from the ``.pred``
files and ``on_end()`` runs.

With SWE-agent's retry agent reviewed by swerm (:mod:`.sweagent_config`), every attempt was
judged while the environment was alive and SWE-agent already retried and chose; otherwise the
hook judges the saved ``.traj`` when the instance completes (a retry then becomes a
rejection: the environment is gone). Either way the instance ends with swerm's choice: when
that is not the patch SWE-agent wrote to ``<iid>.pred`` (an abstention with
``on_reject = "empty_patch"``, or another attempt), the ``.pred`` is rewritten atomically and
the original kept as ``.pred.orig``, so the ``preds.json`` merge takes swerm's choice.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import IntegrationError
from swerm_plugin.integrations.common import (
    Outcome,
    SwermSession,
    decisions_log_in,
    get_session,
)
from swerm_plugin.integrations.sweagent_config import (
    SUPPORTED_VERSION,
    check_retry_loop,
    swerm_retry_loop,
)
from swerm_plugin.integrations.sweagent_review import InstanceReview, begin, provider_registered
from swerm_plugin.jsonl import atomic_write_bytes, atomic_write_text
from swerm_plugin.readers.sweagent import trajectories_from_document

log = logging.getLogger("swerm.integrations.sweagent")

INSTALL_HINT = (
    f"SWE-agent is not installed and is not on PyPI; install SWE-agent {SUPPORTED_VERSION} "
    "from its repository: pip install "
    f"'sweagent @ git+https://github.com/SWE-agent/SWE-agent@v{SUPPORTED_VERSION}'"
)

try:  # subclass SWE-agent's own base class when SWE-agent is there
    from sweagent.run.hooks.abstract import RunHook as _RunHookBase
except ImportError:  # the protocol is duck-typed: RunBatch only calls the methods
    _RunHookBase = object


def check_sweagent_version(version: str | None = None) -> str:
    """The installed SWE-agent version; an error naming the supported one when it differs."""
    if version is None:
        try:
            import sweagent
        except ImportError:
            raise IntegrationError(INSTALL_HINT) from None
        version = str(getattr(sweagent, "__version__", "unknown"))
    if version != SUPPORTED_VERSION:
        raise IntegrationError(
            f"swerm's SWE-agent integration supports SWE-agent {SUPPORTED_VERSION}, "
            f"found {version}; install {SUPPORTED_VERSION} (pip install "
            f"'sweagent @ git+https://github.com/SWE-agent/SWE-agent@v{SUPPORTED_VERSION}')"
        )
    return version


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


def _agent_config(run: Any) -> Mapping[str, Any]:
    config = getattr(run, "agent_config", None)
    dump = getattr(config, "model_dump", None)
    return dump(mode="json") if callable(dump) else {}


class SwermRunHook(_RunHookBase):
    """Scores every finished instance of a ``RunBatch``; add it with ``run.add_hook(...)``.

    Adding the hook in code is the explicit opt-in (``SWERM=0`` still switches it off). The
    decisions log goes into the run's output folder unless ``decisions_log`` is absolute.
    A retry agent reviewed by swerm also needs the reviewer registered with litellm, which
    :func:`run_batch` does (or :func:`~.sweagent_review.provider_registered` in your code).
    """

    def __init__(self, *, session: SwermSession | None = None, explicit: bool = True) -> None:
        self._session = session
        self._explicit = explicit
        self._output_dir = Path(".")
        self._reviewed = False  # whether swerm reviews the run's retry loop
        self._max_attempts = 1  # SWE-agent's own, when it does
        self._local = threading.local()  # RunBatch workers are threads

    @property
    def session(self) -> SwermSession | None:
        if self._session is None:
            self._session = get_session("swe-agent", explicit=self._explicit)
        return self._session

    def on_init(self, *, run: Any) -> None:
        check_sweagent_version()
        self._output_dir = Path(getattr(run, "output_dir", "."))
        session = self.session
        if session is None:
            return
        session.log_path = decisions_log_in(session.config, self._output_dir)
        loop = swerm_retry_loop(_agent_config(run))
        if loop is not None:
            ensure_loop_fits(loop, session.config)
            self._reviewed = True
            self._max_attempts = int(loop["max_attempts"])

    def on_start(self) -> None:
        """Nothing to prepare: the verifier is built on first use."""

    def on_instance_start(self, *, index: int, env: Any, problem_statement: Any) -> None:
        # AgentRunResult carries no instance id: remember it for this worker thread.
        session = self.session
        if session is None:
            return
        instance_id = str(problem_statement.id)
        state = InstanceReview(
            instance_id=instance_id,
            instance_dir=self._output_dir / instance_id,
            task=session.task(instance_id),
            swerm_reviews=self._reviewed,
            max_attempts=self._max_attempts,
        )
        self._local.state = state
        begin(state)

    def on_instance_skipped(self) -> None:
        """Skipped instances were decided in an earlier run."""

    def on_instance_completed(self, *, result: Any) -> None:
        state: InstanceReview | None = getattr(self._local, "state", None)
        self._local.state = None
        begin(None)
        if state is None or self.session is None:
            return
        if state.error is not None:
            raise state.error  # SWE-agent scored it -100 and went on; the instance fails here
        finish_instance(state, self._output_dir)

    def on_end(self) -> None:
        """The run is over; the decisions log is complete (each record was flushed)."""


def finish_instance(state: InstanceReview, output_dir: Path) -> Outcome:
    """Judge what the reviewer did not, choose swerm's submission, make the ``.pred`` say it."""
    traj = state.instance_dir / f"{state.instance_id}.traj"
    document = json.loads(traj.read_bytes())
    attempts = document.get("attempts") if isinstance(document.get("attempts"), list) else None
    task = state.task
    if not task.attempts:
        if state.swerm_reviews:
            log.error(
                "swerm: SWE-agent's reviewer never reached swerm for %s (is the litellm provider "
                "registered? `swerm sweagent run-batch` does it): judged afterwards",
                state.instance_id,
            )
        elif attempts is not None:
            log.warning(
                "swerm: SWE-agent's reviewer of %s is not swerm: swerm judged its %d attempts "
                "afterwards",
                state.instance_id,
                len(attempts),
            )
        for i, trajectory in enumerate(trajectories_from_document(document, traj)):
            path = state.attempt_path(i) if attempts is not None else traj
            task.judge(trajectory, can_retry=False, path=path)
    elif attempts is not None:
        _check_reviews(state, attempts)
    outcome = task.finish()
    best = int(document.get("info", {}).get("best_attempt_idx") or 0)
    submitted = state.attempt_path(best) if attempts is not None else traj
    _submit(outcome, prediction_path(output_dir, state.instance_id), submitted)
    return outcome


def _check_reviews(state: InstanceReview, attempts: Sequence[Mapping[str, Any]]) -> None:
    """SWE-agent turns a reviewer failure into a score of -100 and only logs it: say so."""
    for i, attempt in enumerate(attempts):
        review = (attempt.get("info") or {}).get("review") or {}
        answered = state.answers.get(i)
        if answered is None or review.get("accept") != answered[0]:
            log.error(
                "swerm: SWE-agent's reviewer did not get swerm's verdict for %s attempt %d "
                "(it recorded %r: %s)",
                state.instance_id,
                i,
                review.get("accept"),
                review.get("outputs"),
            )


def _submit(outcome: Outcome, pred: Path, submitted: Path) -> None:
    """Rewrite ``pred`` when swerm's choice differs from the patch SWE-agent submitted."""
    chosen = outcome.attempt
    other = chosen is not None and chosen.path is not None and Path(chosen.path) != submitted
    if not (outcome.abstained or other):
        return
    if not pred.exists():
        log.warning("swerm: %s has no .pred to rewrite", pred)
        return
    current = json.loads(pred.read_bytes()).get("model_patch") or ""
    if current != outcome.patch:
        rewrite_prediction(pred, outcome.patch)


def ensure_loop_fits(loop: Mapping[str, Any], config: SwermConfig) -> None:
    """Refuse a swerm-reviewed ``retry_loop`` that would break swerm's decisions."""
    problems = check_retry_loop(loop, config)
    if problems:
        raise IntegrationError(
            "SWE-agent's retry loop does not fit swerm's reviewer: "
            + "; ".join(problems)
            + ". Write it with `swerm sweagent retry-config`."
        )


def run_batch(args: Sequence[str]) -> None:
    """``sweagent run-batch`` with every argument passed through, :class:`SwermRunHook` added
    to the run and swerm's reviewer registered with litellm. With swerm off, SWE-agent runs
    unchanged (a swerm reviewer then accepts every attempt unverified)."""
    check_sweagent_version()
    from sweagent.run import run_batch as sweagent_run_batch
    from sweagent.run.common import BasicCLI, ConfigHelper

    help_text = (
        f"{sweagent_run_batch.__doc__}\n[cyan][bold]=== ALL THE OPTIONS ===[/bold][/cyan]\n\n"
        + ConfigHelper().get_help(sweagent_run_batch.RunBatchConfig)
    )
    cli = BasicCLI(sweagent_run_batch.RunBatchConfig, help_text=help_text)
    config = cli.get_config(list(args))
    agent = config.agent.model_dump(mode="json")
    loop = swerm_retry_loop(agent)
    # Naming swerm's reviewer in SWE-agent's config switches swerm on, like naming a class.
    session = get_session("swe-agent", explicit=loop is not None)
    if session is None:
        log.warning("swerm is off (set SWERM_CONFIG or SWERM=1); running SWE-agent unchanged")
    if session is not None:
        if loop is not None:  # what is wrong in the config first, then whether the model answers
            ensure_loop_fits(loop, session.config)
        session.check_verifier()
    run = sweagent_run_batch.RunBatch.from_config(config)
    if session is not None:
        run.add_hook(SwermRunHook(session=session))
    with provider_registered(swerm_on=session is not None):
        run.main()
