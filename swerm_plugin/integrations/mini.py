"""mini-swe-agent: an agent that has its submission verified before it counts.

``SwermAgent`` is mini-swe-agent's ``DefaultAgent`` plus one interception: when the agent
submits, the attempt is scored while the environment is still alive, and the policy accepts it,
rejects it, or sends the agent back — *refine* (the verifier's feedback arrives as the observation
of the submit command and the agent continues in the same environment) or *resample* (the
repository is reset to the starting commit and a fresh conversation starts). Every attempt's
trajectory is saved beside the run's own ``.traj.json``; when the task ends, the submission is
the best attempt's patch (the ``swerm_select`` policy).

Use it as ``agent_class: swerm_plugin.integrations.mini.SwermAgent`` in mini's YAML, or
through ``swerm mini swebench ...`` (:func:`run_swebench_batch`), which swaps it in for the
batch runner's hard-coded agent class. With swerm off (see
:func:`~swerm_plugin.integrations.common.integration_enabled`) the agent behaves exactly like
``DefaultAgent``.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import re
import shlex
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")  # before mini's import: no banner

from minisweagent.agents.default import DefaultAgent
from minisweagent.exceptions import Submitted

from swerm_plugin.integrations.common import (
    SwermSession,
    TaskAttempts,
    decisions_log_in,
    get_session,
    live_diff_command,
)
from swerm_plugin.jsonl import atomic_write_json
from swerm_plugin.model import Decision, Trajectory
from swerm_plugin.readers.minisweagent import trajectory_from_document

log = logging.getLogger("swerm.integrations.mini")

SOURCE = "mini-swe-agent/live"
_DIFF_HEADER = re.compile(r"^(diff --git |--- \S)", re.MULTILINE)
_NOT_RUN = "(not executed: an earlier command in this turn submitted the task)"


def looks_like_diff(text: str) -> bool:
    """Whether a submission is a patch (rather than a message such as "done")."""
    return bool(text.strip()) and _DIFF_HEADER.search(text) is not None


def trajectory_from_mini(data: dict[str, Any], source_path: Path | None = None) -> Trajectory:
    """A serialized mini-swe-agent run (``agent.serialize()``) as a :class:`Trajectory`.

    The same conversion as the ``.traj.json`` reader, so a live score and a later
    ``swerm score`` of the saved file see the same trajectory.
    """
    return trajectory_from_document(data, source_path or "<live mini-swe-agent run>")


class SwermAgentMixin:
    """The swerm behaviour, mixed in before a mini-swe-agent agent class.

    Works with any ``DefaultAgent`` subclass; the batch runner's ``ProgressTrackingAgent`` gets
    it through :func:`run_swebench_batch`.
    """

    #: The class was named by the user (agent_class in YAML): that alone switches swerm on.
    swerm_explicit: ClassVar[bool] = True
    #: Where attempt trajectories go when the agent has no ``output_path`` (the batch runner).
    swerm_output_dir: ClassVar[Path | None] = None

    # Attributes of DefaultAgent used here, declared for the type checker.
    config: Any
    env: Any
    model: Any
    messages: list[dict[str, Any]]
    cost: float
    n_calls: int

    if TYPE_CHECKING:

        def get_template_vars(self, **kwargs: Any) -> dict[str, Any]: ...

        def save(self, path: Path | None, *extra_dicts: dict[str, Any]) -> dict[str, Any]: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.swerm_session: SwermSession | None = get_session(
            "mini-swe-agent", explicit=self.swerm_explicit
        )
        self.swerm_task: TaskAttempts | None = None
        self._swerm_problem = ""
        self._swerm_base: str | None = None
        self._swerm_finished = False
        self._swerm_cost_before = 0.0  # what earlier attempts of this task cost

    # --- DefaultAgent overrides ---------------------------------------------------------

    def run(self, task: str = "", **kwargs: Any) -> dict[str, Any]:
        if self.swerm_session is not None:
            self.swerm_session.keep_log_out_of(self._local_workdir())
            self.swerm_task = self.swerm_session.task(self.swerm_instance_id())
            self._swerm_problem = task
            self._swerm_base = self._git_head()
            self._swerm_finished = False
            self._swerm_cost_before = self.cost
        return super().run(task, **kwargs)  # type: ignore[misc]

    def execute_actions(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        if self.swerm_task is None:
            return super().execute_actions(message)  # type: ignore[misc]
        actions = message.get("extra", {}).get("actions", [])
        outputs: list[dict[str, Any]] = []
        for index, action in enumerate(actions):
            try:
                outputs.append(self.env.execute(action))
            except Submitted as submitted:
                return self._on_submitted(message, outputs, len(actions) - index - 1, submitted)
        return self.add_messages(
            *self.model.format_observation_messages(message, outputs, self.get_template_vars())
        )

    def add_messages(self, *messages: dict[str, Any]) -> list[dict[str, Any]]:
        # Every way a run ends passes an exit message through here: submit, limits, errors.
        if (
            self.swerm_task is not None
            and self.swerm_task.attempts
            and not self._swerm_finished
            and messages
            and messages[-1].get("role") == "exit"
        ):
            messages = (*messages[:-1], self._final_exit(messages[-1]))
        return super().add_messages(*messages)  # type: ignore[misc]

    # --- swerm ----------------------------------------------------------------------------

    def swerm_instance_id(self) -> str:
        """The task's id: the batch runner's ``instance_id``, else the output file's name."""
        instance_id = getattr(self, "instance_id", "")
        if instance_id:
            return str(instance_id)
        output: Path | None = self.config.output_path
        if output is not None:
            return output.name.removesuffix(".json").removesuffix(".traj")
        return "mini-task"

    def swerm_attempt_path(self, number: int) -> Path | None:
        """Where attempt ``number``'s trajectory is saved (``None``: keep it in memory only)."""
        output: Path | None = self.config.output_path
        if output is not None:
            stem = output.name.removesuffix(".json").removesuffix(".traj")
            return output.with_name(f"{stem}.attempt{number}.traj.json")
        if self.swerm_output_dir is not None:
            iid = self.swerm_instance_id()
            return self.swerm_output_dir / iid / f"{iid}.attempt{number}.traj.json"
        return None

    def _local_workdir(self) -> str | None:
        """The folder the agent edits when it runs on this host (LocalEnvironment), else None:
        the decisions log must not land there, or ``git diff`` would put it into the patch."""
        from minisweagent.environments.local import LocalEnvironment

        if not isinstance(self.env, LocalEnvironment):
            return None
        return str(getattr(self.env.config, "cwd", "") or Path.cwd())

    def _execute_quietly(self, command: str) -> dict[str, Any]:
        """Run a bookkeeping command in the environment; never ends the agent's turn."""
        try:
            return dict(self.env.execute({"command": command}))
        except Submitted:  # a repository whose files start with mini's submit marker
            return {"output": "", "returncode": 1}

    def _git_head(self) -> str | None:
        out = self._execute_quietly("git rev-parse --verify HEAD")
        head = str(out.get("output", "")).strip()
        return (
            head if out.get("returncode") == 0 and re.fullmatch(r"[0-9a-f]{7,64}", head) else None
        )

    def _live_diff(self) -> str:
        out = self._execute_quietly(live_diff_command(self._swerm_base))
        return str(out.get("output", "")) if out.get("returncode") == 0 else ""

    def _trajectory(self, patch: str) -> Trajectory:
        """The attempt so far, as the verifier sees it, with the patch swerm scores."""
        read = trajectory_from_mini(self.serialize())  # type: ignore[attr-defined]
        return read.model_copy(
            update={
                "instance_id": self.swerm_instance_id(),
                "source": SOURCE,
                "problem_statement": self._swerm_problem or read.problem_statement,
                "patch": patch,
                "exit_status": "submitted",
                "exit_status_raw": "Submitted",
                "cost": self.cost - self._swerm_cost_before,
                "metadata": {**read.metadata, "total_cost": self.cost, "api_calls": self.n_calls},
            }
        )

    def _save_attempt(self, number: int, exit_message: dict[str, Any], patch: str) -> Path | None:
        """Write the attempt as a mini-swe-agent trajectory file of its own (atomically)."""
        path = self.swerm_attempt_path(number)
        if path is None:
            return None
        data = self.save(
            None,
            {
                "info": {"exit_status": "Submitted", "submission": patch},
                "instance_id": self.swerm_instance_id(),
                "swerm": {"attempt": number},
            },
        )
        data["messages"] = [*copy.deepcopy(self.messages), exit_message]
        atomic_write_json(path, data)
        return path

    def _on_submitted(
        self,
        message: dict[str, Any],
        outputs: list[dict[str, Any]],
        n_skipped: int,
        submitted: Submitted,
    ) -> list[dict[str, Any]]:
        assert self.swerm_task is not None
        exit_message = submitted.messages[-1]
        submission = str(exit_message.get("extra", {}).get("submission", ""))
        patch = submission if looks_like_diff(submission) else self._live_diff()
        number = self.swerm_task.next_number
        path = self._save_attempt(number, exit_message, patch)
        mode = self.swerm_task.config.policy.retry_mode
        can_retry = mode == "refine" or self._swerm_base is not None
        decision = self.swerm_task.judge(self._trajectory(patch), can_retry=can_retry, path=path)
        self._swerm_cost_before = self.cost
        if decision.action != "retry":
            raise submitted  # the run ends; add_messages puts the chosen patch in the exit
        log.info("swerm: %s attempt %d: retry (%s)", self.swerm_instance_id(), number, mode)
        if mode == "resample":
            return self._resample()
        return self._refine(message, outputs, n_skipped, decision)

    def _refine(
        self,
        message: dict[str, Any],
        outputs: list[dict[str, Any]],
        n_skipped: int,
        decision: Decision,
    ) -> list[dict[str, Any]]:
        """Answer the submit command with the verifier's feedback; the agent carries on."""
        feedback = f"Submission not accepted yet.\n{decision.feedback or decision.reason}"
        answered = [*outputs, {"output": feedback, "returncode": 0, "exception_info": ""}]
        answered += [{"output": _NOT_RUN, "returncode": -1, "exception_info": ""}] * n_skipped
        observations = self.model.format_observation_messages(
            message, answered, self.get_template_vars()
        )
        if observations:
            extra = observations[-1].setdefault("extra", {})
            extra["swerm"] = {
                "attempt": self.swerm_task.attempts[-1].number if self.swerm_task else 0
            }
        return self.add_messages(*observations)

    def _resample(self) -> list[dict[str, Any]]:
        """Reset the repository to the starting commit and start a fresh conversation."""
        base = shlex.quote(str(self._swerm_base))
        out = self._execute_quietly(f"git reset --hard {base} && git clean -fd")
        if out.get("returncode") != 0:
            raise RuntimeError(f"swerm: could not reset the repository to {base}: {out}")
        self.messages = self.messages[:2]  # the system prompt and the task, as run() made them
        return []

    def _final_exit(self, exit_message: dict[str, Any]) -> dict[str, Any]:
        """Put the chosen attempt's patch into the run's exit message."""
        assert self.swerm_task is not None
        self._swerm_finished = True
        outcome = self.swerm_task.finish()
        last = self.swerm_task.attempts[-1]
        if outcome.attempt is last and not last.score.ok:
            return exit_message  # verifier failed: leave the run exactly as mini wrote it
        final = copy.deepcopy(exit_message)
        extra = final.setdefault("extra", {})
        if extra.get("exit_status") == "Submitted":
            final["content"] = outcome.patch
        extra["submission"] = outcome.patch
        extra["swerm"] = {
            "action": outcome.action,
            "selected_attempt": outcome.attempt.number if outcome.attempt else None,
            "n_attempts": len(self.swerm_task.attempts),
            "abstained": outcome.abstained,
            "p": outcome.attempt.score.probability if outcome.attempt else None,
        }
        return final


class SwermAgent(SwermAgentMixin, DefaultAgent):
    """mini-swe-agent's ``DefaultAgent`` whose submissions are verified (see module docs)."""


# --- the batch launcher ----------------------------------------------------------------------


def _output_dir(args: Sequence[str]) -> Path:
    """The ``-o/--output`` value among mini's batch arguments (mini's default is the cwd)."""
    for index, arg in enumerate(args):
        if arg in ("-o", "--output") and index + 1 < len(args):
            return Path(args[index + 1])
        for prefix in ("--output=", "-o="):
            if arg.startswith(prefix):
                return Path(arg[len(prefix) :])
    return Path("")


@contextlib.contextmanager
def _batch_agent_swapped(output_dir: Path) -> Iterator[type]:
    """Swap ``SwermAgent`` behaviour into the batch runner's hard-coded agent class."""
    from minisweagent.run.benchmarks import swebench as batch
    from minisweagent.run.benchmarks.utils.common import ProgressTrackingAgent

    swapped = type(
        "SwermProgressTrackingAgent",
        (SwermAgentMixin, ProgressTrackingAgent),
        {"swerm_output_dir": output_dir, "__module__": __name__},
    )
    # process_instance() looks the class up in its module's globals at call time.
    namespace = vars(batch)
    original = namespace["ProgressTrackingAgent"]
    namespace["ProgressTrackingAgent"] = swapped
    try:
        yield swapped
    finally:
        namespace["ProgressTrackingAgent"] = original


def run_swebench_batch(args: Sequence[str]) -> None:
    """Run ``mini-extra swebench`` with every argument passed through and swerm swapped in.

    The decisions log goes beside ``preds.json`` in the ``-o`` folder (unless
    ``decisions_log`` is an absolute path). With swerm off, the
    batch runner runs unchanged.
    """
    import typer
    from minisweagent.run.benchmarks import swebench as batch

    command = typer.main.get_command(batch.app)
    if {"--help", "-h"} & set(args):
        command.main(args=["--help"], prog_name="swerm mini swebench", standalone_mode=False)
        return
    session = get_session("mini-swe-agent", explicit=False)
    if session is None:
        log.warning("swerm is off (set SWERM_CONFIG or SWERM=1); running mini-swe-agent unchanged")
        command.main(args=list(args), prog_name="swerm mini swebench", standalone_mode=False)
        return
    session.check_verifier()
    output_dir = _output_dir(args)
    session.log_path = decisions_log_in(session.config, output_dir)
    with _batch_agent_swapped(output_dir):
        command.main(args=list(args), prog_name="swerm mini swebench", standalone_mode=False)
