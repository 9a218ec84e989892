"""swerm as the reviewer model of SWE-agent's retry loop, through a litellm custom provider.

SWE-agent's ``Reviewer`` renders its templates and asks its model through litellm; with
``retry_loop.model.name = "swerm/verifier"`` that call reaches :func:`make_provider`'s handler,
which swerm's launcher registers in the process (no change to SWE-agent). The handler reads the
attempt from the JSON envelope the templates render (:mod:`.sweagent_config`), scores it as the
next attempt of the instance's :class:`~swerm_plugin.integrations.common.TaskAttempts`, lets
swerm's policy decide, and answers the number that makes SWE-agent act on that decision.

The reviewer runs in the instance's worker thread, between ``on_instance_start`` and
``on_instance_completed`` of :class:`~swerm_plugin.integrations.sweagent.SwermRunHook`, which
publishes the instance (its id is not in the reviewer's prompt) with :func:`begin`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swerm_plugin.errors import IntegrationError
from swerm_plugin.integrations.common import Attempt, TaskAttempts
from swerm_plugin.integrations.sweagent_config import ENVELOPE_FORMAT, PROVIDER
from swerm_plugin.model import Trajectory
from swerm_plugin.readers.sweagent import trajectories_from_document

log = logging.getLogger("swerm.integrations.sweagent")

#: Just below the accept score: the most a "retry" may answer.
_BELOW_ACCEPT = 0.999999
_NOT_OURS = (
    "the reviewer prompt is not swerm's JSON envelope; write the retry loop with "
    "`swerm sweagent retry-config` (or copy examples/sweagent/swerm_retry_loop.yaml)"
)


@dataclass
class InstanceReview:
    """One instance of a run as the reviewer sees it, and what swerm answered for it."""

    instance_id: str
    instance_dir: Path
    task: TaskAttempts
    #: Whether the run's retry loop names swerm as its reviewer.
    swerm_reviews: bool
    #: SWE-agent's own ``retry_loop.max_attempts`` (at least swerm's).
    max_attempts: int
    #: SWE-agent's attempt index -> (number answered, reply text).
    answers: dict[int, tuple[float, str]] = field(default_factory=dict)
    #: A failure inside the reviewer: SWE-agent only logs it (and scores -100), so the run
    #: hook raises it when the instance completes.
    error: Exception | None = None

    def attempt_path(self, index: int) -> Path:
        """Where SWE-agent saves attempt ``index`` (0-based): ``<iid>/attempt_<k>/<iid>.traj``."""
        return self.instance_dir / f"attempt_{index}" / f"{self.instance_id}.traj"


_current = threading.local()


def begin(review: InstanceReview | None) -> None:
    """Publish ``review`` as this worker thread's instance (``None``: none)."""
    _current.review = review


def current() -> InstanceReview | None:
    return getattr(_current, "review", None)


def attempt_index(instance_dir: Path) -> int:
    """The attempt under review: SWE-agent makes ``attempt_<k>/`` when attempt *k* starts,
    and the next one only after the review."""
    indexes = [
        int(suffix)
        for path in instance_dir.glob("attempt_*")
        if (suffix := path.name.removeprefix("attempt_")).isdigit()
    ]
    if not indexes:
        raise IntegrationError(f"{instance_dir}: no attempt_<k> folder; is this a retry agent?")
    return max(indexes)


def message_text(content: Any) -> str:
    """A chat message's content as text (SWE-agent sends content blocks when n_sample > 1)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


def parse_envelope(text: str) -> dict[str, Any]:
    """The reviewer's user message, rendered by swerm's templates, as data."""
    try:
        data = json.loads(text)
    except ValueError:
        raise IntegrationError(_NOT_OURS) from None
    if not isinstance(data, dict) or data.get("format") != ENVELOPE_FORMAT:
        raise IntegrationError(_NOT_OURS)
    if not isinstance(data.get("steps"), list):
        raise IntegrationError(f"{_NOT_OURS} (its 'steps' is not a list)")
    return data


def envelope_trajectory(envelope: dict[str, Any], instance_id: str, path: Path) -> Trajectory:
    """The attempt in ``envelope`` as a :class:`Trajectory`, read by the ``.traj`` reader from
    the fields SWE-agent saves for it, so a later ``swerm score`` of the file agrees."""
    document = {
        "trajectory": envelope["steps"],
        "history": [],
        "info": {
            "submission": envelope.get("submission"),
            "exit_status": envelope.get("exit_status"),
            "model_stats": {"instance_cost": envelope.get("instance_cost") or 0},
        },
        "replay_config": {
            "problem_statement": {"id": instance_id, "text": envelope.get("problem_statement")}
        },
    }
    return trajectories_from_document(document, path)[0]


def verdict_value(attempt: Attempt, threshold: float, *, sweagent_stops: bool) -> float:
    """The number that makes SWE-agent's score loop act on swerm's decision (module docs of
    :mod:`.sweagent_config`)."""
    p = attempt.host_score(threshold)
    action = attempt.decision.action
    if action == "accept" or (action == "reject" and not sweagent_stops):
        return 1.0 + p
    return min(p, _BELOW_ACCEPT)


def review(state: InstanceReview, envelope_text: str) -> tuple[float, str]:
    """Judge the attempt under review (once, however often SWE-agent samples) and answer."""
    index = attempt_index(state.instance_dir)
    if index in state.answers:
        return state.answers[index]
    envelope = parse_envelope(envelope_text)
    path = state.attempt_path(index)
    trajectory = envelope_trajectory(envelope, state.instance_id, path)
    spent = sum(a.trajectory.cost or 0.0 for a in state.task.attempts) + (trajectory.cost or 0.0)
    trajectory = trajectory.model_copy(
        update={"metadata": {**trajectory.metadata, "total_cost": spent}}
    )
    decision = state.task.judge(trajectory, path=path)
    attempt = state.task.attempts[-1]
    value = verdict_value(
        attempt,
        state.task.config.policy.threshold,
        sweagent_stops=index + 1 >= state.max_attempts,
    )
    reason = " ".join(decision.reason.split())  # one line: the verdict must stay the last one
    answer = (value, f"swerm: {decision.action} ({reason})\n{value:.6f}")
    state.answers[index] = answer
    return answer


def answer_messages(messages: Sequence[dict[str, Any]], *, swerm_on: bool) -> str:
    """The reply to one reviewer query, for the instance this thread runs."""
    state = current()
    if state is None:
        if not swerm_on:
            return "swerm is off (SWERM=0): accepted without verification\n1.000000"
        raise IntegrationError(
            "swerm's reviewer was asked outside an instance of `swerm sweagent run-batch` "
            "(SwermRunHook publishes the instance it reviews)"
        )
    user: dict[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    try:
        return review(state, message_text(user.get("content")))[1]
    except Exception as exc:  # SWE-agent would only log it and score -100: keep it for the hook
        state.error = state.error or exc
        log.error("swerm: reviewing %s failed: %s", state.instance_id, exc)
        raise


def make_provider(*, swerm_on: bool) -> Any:
    """A litellm ``CustomLLM`` answering SWE-agent's reviewer queries (litellm imported here)."""
    import litellm

    class SwermReviewerLLM(litellm.CustomLLM):
        def completion(
            self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any
        ) -> Any:
            text = answer_messages(messages, swerm_on=swerm_on)
            return litellm.ModelResponse(
                model=model,
                choices=[
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": text},
                    }
                ],
                usage={"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            )

    return SwermReviewerLLM()


@contextlib.contextmanager
def provider_registered(*, swerm_on: bool) -> Iterator[None]:
    """litellm routes ``swerm/...`` models to swerm's reviewer while the block runs."""
    import litellm

    previous = list(litellm.custom_provider_map)
    entry: Any = {"provider": PROVIDER, "custom_handler": make_provider(swerm_on=swerm_on)}
    litellm.custom_provider_map = [*(e for e in previous if e.get("provider") != PROVIDER), entry]
    try:
        yield
    finally:
        litellm.custom_provider_map = previous
