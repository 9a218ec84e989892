"""OpenHands Software Agent SDK (Python 3.12+): a critic, and best-of-N over conversations.

``SwermCritic`` is an SDK critic (``Agent(critic=SwermCritic(...))``). The SDK calls
``evaluate(events, git_patch=None)`` when the agent finishes; it passes no patch, so the critic
computes one itself: the workspace's ``git diff`` against the base commit (untracked files
included). The answer is ``CriticResult(score=<calibrated p>, message, metadata)``. With
``iterative_refinement=IterativeRefinementConfig(...)`` the SDK sends a follow-up and lets the
agent continue (refine mode); whether it does is swerm's decision (threshold, max attempts,
cost budget), and the follow-up text is the policy's feedback. The SDK's
``max_iterations`` bounds it too. The class registers with the SDK by name, so a serialized
agent config can say ``"critic": {"kind": "SwermCritic", ...}`` once this module is imported.

:func:`best_of_n` runs N independent conversations (each in its own workspace), scores each
final state, and returns the best attempt's patch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr

from swerm_plugin.errors import IntegrationError, VerifierError
from swerm_plugin.integrations.common import (
    Attempt,
    Outcome,
    SwermSession,
    TaskAttempts,
    get_session,
    live_diff_command,
)
from swerm_plugin.model import Decision, Trajectory
from swerm_plugin.readers import openhands_sdk


def _sdk_python() -> bool:
    # A call rather than an inline version check, so mypy (run for 3.11) still checks the module.
    return sys.version_info >= (3, 12)


if not _sdk_python():
    raise IntegrationError(
        "the OpenHands SDK needs Python 3.12 or newer; install swerm-plugin[openhands] into a "
        "Python 3.12 environment"
    )

from openhands.sdk.critic import CriticBase, CriticResult  # noqa: E402 - after the check

SOURCE = "openhands/sdk-live"


def trajectory_from_events(events: Sequence[Any], instance_id: str, patch: str) -> Trajectory:
    """SDK events (objects or their JSON dicts) as a :class:`Trajectory` with ``patch``.

    The same reader as saved SDK event files, so a live score and a later ``swerm score`` of
    the persisted conversation agree. Event objects also give the exact messages and tool
    definitions the agent's model saw (``metadata["chat"]``, see :func:`sdk_chat`), which the
    OpenHands critic templates read.
    """
    dumped = [e if isinstance(e, dict) else e.model_dump(mode="json") for e in events]
    where = f"<live OpenHands conversation {instance_id}>"
    trajectory = openhands_sdk.trajectory_from_document(dumped, instance_id, where, source=SOURCE)
    update: dict[str, Any] = {"patch": patch}
    if events and not any(isinstance(e, dict) for e in events):
        update["metadata"] = {**trajectory.metadata, "chat": sdk_chat(events)}
    return trajectory.model_copy(update=update)


def sdk_chat(events: Sequence[Any]) -> dict[str, Any]:
    """The conversation as the SDK's critic sends it: the events the condenser kept, converted
    to messages by the SDK itself and serialised as for a function-calling model, and the
    system prompt's tools as OpenAI function tools (``APIBasedCritic.evaluate`` in
    ``openhands/sdk/critic/impl/api/critic.py``, SDK 1.58.2)."""
    from openhands.sdk.context.view import View
    from openhands.sdk.event import LLMConvertibleEvent, SystemPromptEvent

    system = next((e for e in events if isinstance(e, SystemPromptEvent)), None)
    messages = LLMConvertibleEvent.events_to_messages(View.from_events(list(events)).events)
    chat = {
        "messages": [
            message.to_chat_dict(
                cache_enabled=False,
                vision_enabled=False,
                function_calling_enabled=True,
                force_string_serializer=False,
                send_reasoning_content=False,
            )
            for message in messages
        ],
        "tools": [tool.to_openai_tool() for tool in system.tools] if system is not None else [],
    }
    return dict(json.loads(json.dumps(chat, default=str)))


def git_patch(repo_dir: str | Path, base_commit: str | None = None) -> str:
    """The working tree's diff against ``base_commit`` (default ``HEAD``) in a local checkout."""
    done = subprocess.run(
        ["bash", "-c", live_diff_command(base_commit)],
        cwd=repo_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise IntegrationError(
            f"git diff in {repo_dir} failed ({done.returncode}): {done.stderr.strip()}; the "
            "critic needs repo_dir to be the git checkout the agent works in"
        )
    return done.stdout


class SwermCritic(CriticBase):
    """An OpenHands SDK critic backed by the swerm verifier (see the module docs).

    Naming it in the agent is the explicit opt-in (``SWERM=0`` turns it into a pass-through
    that always scores 1.0). One critic instance scores one task: its attempts are remembered,
    and :meth:`finish` returns the best one.
    """

    repo_dir: str | None = Field(
        default=None,
        description="the local git checkout the agent edits (LocalWorkspace.working_dir)",
    )
    base_commit: str | None = Field(
        default=None, description="commit the patch is taken against; None: HEAD"
    )
    instance_id: str = Field(default="openhands-task", description="task id in the log")

    _task: TaskAttempts | None = PrivateAttr(default=None)
    _last: Decision | None = PrivateAttr(default=None)

    def _session(self) -> SwermSession | None:
        return get_session("openhands", explicit=True)

    def _patch(self, given: str | None) -> str:
        if given is not None:
            return given
        if self.repo_dir is None:
            raise IntegrationError(
                "SwermCritic needs repo_dir (the workspace's git checkout) to compute the patch: "
                "the SDK passes none"
            )
        return git_patch(self.repo_dir, self.base_commit)

    def evaluate(self, events: Sequence[Any], git_patch: str | None = None) -> CriticResult:
        session = self._session()
        if session is None:
            return CriticResult(score=1.0, message="swerm is switched off (SWERM=0)")
        if self._task is None:
            session.keep_log_out_of(self.repo_dir)
            self._task = session.task(self.instance_id)
        trajectory = trajectory_from_events(events, self.instance_id, self._patch(git_patch))
        decision = self._task.judge(trajectory)
        self._last = decision
        attempt = self._task.attempts[-1]
        if not attempt.score.ok and trajectory.has_patch:
            # The SDK logs a critic exception and shows no score: a failure is never a number.
            raise VerifierError(
                f"swerm could not score {self.instance_id} (attempt {attempt.number}): "
                f"{attempt.score.error}; on_error={session.config.on_error}: {decision.reason}"
            )
        return CriticResult(
            score=attempt.score.probability if attempt.score.ok else 0.0,
            message=decision.reason,
            metadata={"swerm": _metadata(attempt)},
        )

    def should_refine(self, critic_result: CriticResult) -> bool:
        """Refine exactly when swerm's policy said *retry* (and the SDK allows refinement)."""
        return (
            self.iterative_refinement is not None
            and self._last is not None
            and self._last.action == "retry"
        )

    def get_followup_prompt(self, critic_result: CriticResult, iteration: int) -> str:
        if self._last is not None and self._last.feedback:
            return self._last.feedback
        return super().get_followup_prompt(critic_result, iteration)

    @property
    def attempts(self) -> list[Attempt]:
        return list(self._task.attempts) if self._task is not None else []

    def finish(self) -> Outcome:
        """End the task: the best attempt's patch (or an abstention), logged as final."""
        if self._task is None:
            raise IntegrationError("SwermCritic.finish(): the critic has not scored anything yet")
        return self._task.finish()


def _metadata(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt": attempt.number,
        "action": attempt.decision.action,
        "raw": attempt.score.raw,
        "calibrated": attempt.score.calibrated,
        "error": attempt.score.error,
        "threshold": attempt.decision.threshold,
    }


@dataclass
class BestOfN:
    """The result of :func:`best_of_n`: the chosen outcome and every attempt."""

    outcome: Outcome
    attempts: list[Attempt]


def best_of_n(
    run_attempt: Callable[[int], Any],
    n: int,
    *,
    instance_id: str,
    base_commit: str | None = None,
    session: SwermSession | None = None,
) -> BestOfN:
    """Run ``n`` independent conversations and keep the best patch.

    ``run_attempt(k)`` runs attempt ``k`` (0-based) to completion and returns its conversation;
    each conversation must have its own workspace (a separate checkout). The patch is taken
    from that workspace with ``git diff`` against ``base_commit`` (local or remote workspaces).
    """
    if n < 1:
        raise IntegrationError(f"best_of_n needs n >= 1, got {n}")
    active = session or get_session("openhands", explicit=True)
    if active is None:
        raise IntegrationError("swerm is switched off (SWERM=0); best_of_n cannot score")
    task = active.task(instance_id)
    for k in range(n):
        conversation = run_attempt(k)
        result = conversation.workspace.execute_command(live_diff_command(base_commit))
        if result.exit_code != 0:
            raise IntegrationError(
                f"attempt {k}: git diff in the workspace failed ({result.exit_code}): "
                f"{result.stderr.strip()}"
            )
        events = list(conversation.state.events)
        task.judge(trajectory_from_events(events, instance_id, result.stdout), can_retry=False)
    return BestOfN(task.finish(), list(task.attempts))
