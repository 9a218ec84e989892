"""OpenHands V0 (legacy) evaluation output: ``output.jsonl`` records and bare event lists.

A record is ``{instance_id, test_result: {git_patch}, instruction, metadata, history, metrics,
error, instance}``; ``history`` is a list of event dicts with ``action`` or ``observation``
(older files: a list of ``[action, observation]`` pairs). Events become steps: each agent
action is an assistant step (``args.thought``; the tool call as the model wrote it, from
``tool_call_metadata``), and the observation whose ``cause`` is that action's id fills its
``observation``. An observation with no matching action (a malformed tool call the agent
rejected) becomes a ``tool`` step. The system prompt and the first user message are not steps;
bookkeeping events (``recall``, ``agent_state_changed``, ``null``, condensation) are dropped.

Also here: the record-level fields shared with the SDK's ``OpenHands/benchmarks`` output.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from pathlib import PurePosixPath
from typing import Any, ClassVar

from swerm_plugin.model import ExitStatus, Step, Trajectory
from swerm_plugin.readers.base import JsonReader
from swerm_plugin.readers.fields import Obj, Where, join_field
from swerm_plugin.readers.probe import JsonSource
from swerm_plugin.readers.text import (
    error_exit_status,
    extract_issue,
    instance_id_from_path,
    normalise_exit_status,
    render_call,
)

_SKIPPED_ACTIONS = frozenset({"recall", "change_agent_state", "condensation", "null"})
_SKIPPED_OBSERVATIONS = frozenset({"recall", "null", "agent_state_changed", "condense"})
# Tool arguments that only matter to the runtime, dropped when there is no raw tool call.
_V0_ARG_NOISE = frozenset(
    {
        "impl_source",
        "is_input",
        "blocking",
        "hidden",
        "is_static",
        "cwd",
        "confirmation_state",
        "translated_ipython_code",
    }
)
_CRITIC_ATTEMPT = re.compile(r"critic_attempt_(\d+)")


def is_record(value: Any) -> bool:
    """An evaluation record: an object with ``instance_id`` and a ``history`` list."""
    return isinstance(value, dict) and "instance_id" in value and "history" in value


def is_v0_event(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and "kind" not in value
        and ("action" in value or "observation" in value)
    )


def _first_event(history: Any) -> Any:
    if isinstance(history, list) and history:
        first = history[0]
        return first[0] if isinstance(first, list) and first else first
    return None


class OpenHandsV0Adapter(JsonReader):
    name: ClassVar[str] = "openhands-v0"
    description: ClassVar[str] = (
        "OpenHands V0 output.jsonl records {instance_id, history: [events with 'action' or "
        "'observation'], test_result, ...}, or a JSON list of such events"
    )

    def accepts(self, value: Any, *, lines: bool) -> bool:
        if is_record(value):
            first = _first_event(value.get("history"))
            if first is None:  # empty history: the SDK benchmarks write 'attempt'
                return "attempt" not in value
            return is_v0_event(first)
        return not lines and is_v0_event(_first_event(value))

    def read_source(self, source: JsonSource) -> Iterator[Trajectory]:
        for line, value in source.records():
            where = Where(source.path, line=line if source.is_lines else None)
            trajectory = source.convert(partial(self._trajectory, value, where))
            del value  # do not hold this record while the next one is parsed
            if trajectory is not None:
                yield trajectory

    def _trajectory(self, value: Any, where: Where) -> Trajectory:
        events = _V0Events()
        if isinstance(value, list):
            events.add_all(value, where, "")
            return events.trajectory(instance_id_from_path(where.path), where)
        record = RecordFields(Obj.of(value, where))
        events.add_all(record.obj.raw("history"), where, "history")
        return record.trajectory(events.result(), source="openhands/v0")


class EventResult:
    """What an event stream says: steps, task, system prompt and how the run ended."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.task = ""
        self.system = ""
        self.exit_status: ExitStatus = "unknown"
        self.exit_status_raw: str | None = None
        self.model_name: str | None = None
        self.cost: float | None = None
        #: Tool definitions shown to the model, as OpenAI function tools (SDK system prompts).
        self.tools: list[dict[str, Any]] = []


class _V0Events:
    def __init__(self) -> None:
        self.out = EventResult()
        self._by_id: dict[Any, Step] = {}
        self._finished = False
        self._agent_state: str | None = None

    def add_all(self, history: Any, where: Where, field: str) -> None:
        if not isinstance(history, list):
            raise where.error("expected a list of events", field=field or None, expected="a list")
        for i, item in enumerate(history):
            if isinstance(item, list):  # the oldest files store [action, observation] pairs
                for j, half in enumerate(item):
                    self.add(Obj.of(half, where, join_field(join_field(field, i), j)))
            else:
                self.add(Obj.item(item, where, field, i))

    def add(self, event: Obj) -> None:
        action = event.scalar_text("action")
        observation = event.scalar_text("observation")
        if action:
            self._action(event, action)
        elif observation:
            self._observation(event, observation)
        else:
            raise event.error(
                "an event needs 'action' or 'observation'", "action", "an action name"
            )

    def _action(self, event: Obj, action: str) -> None:
        args = event.opt_obj("args") or Obj({}, event.where, event.name("args"))
        source = event.scalar_text("source")
        if action == "system":
            self.out.system = self.out.system or args.text("content")
            return
        if action in _SKIPPED_ACTIONS:
            return
        if action == "message":
            text = args.text("content") or event.text("message")
            if source == "user":
                if not self.out.task and not self.out.steps:
                    self.out.task = text
                else:
                    self.out.steps.append(Step(role="user", content=text))
            else:
                self.out.steps.append(Step(role="assistant", content=text))
            return
        if action == "finish":
            self._finished = True
        step = Step(
            role="assistant",
            content=args.text("final_thought") if action == "finish" else "",
            thought=args.text("thought"),
            action=_render_action(event, action, args),
            metadata={"tool": action},
        )
        self.out.steps.append(step)
        event_id = event.raw("id")
        if isinstance(event_id, int | str):
            self._by_id[event_id] = step

    def _observation(self, event: Obj, observation: str) -> None:
        if observation == "agent_state_changed":
            extras = event.opt_obj("extras")
            if extras is not None:
                self._agent_state = extras.opt_str("agent_state") or self._agent_state
            return
        if observation in _SKIPPED_OBSERVATIONS:
            return
        text = event.text("content")
        cause = event.raw("cause")
        step = self._by_id.get(cause) if isinstance(cause, int | str) else None
        if step is None:
            self.out.steps.append(
                Step(role="tool", observation=text, metadata={"tool": observation})
            )
        elif step.observation:
            step.observation = f"{step.observation}\n{text}"
        else:
            step.observation = text

    def result(self) -> EventResult:
        if self._finished:
            self.out.exit_status, self.out.exit_status_raw = "submitted", "finish"
        elif self._agent_state:
            self.out.exit_status = normalise_exit_status(self._agent_state)
            self.out.exit_status_raw = self._agent_state
        return self.out

    def trajectory(self, instance_id: str, where: Where) -> Trajectory:
        """A bare event list: no record around it, so ids and patch come from the path."""
        out = self.result()
        return events_trajectory(out, instance_id, where, source="openhands/v0")


def events_trajectory(
    out: EventResult, instance_id: str, where: Where, *, source: str
) -> Trajectory:
    statement = extract_issue(out.task)
    return Trajectory(
        instance_id=instance_id,
        source=source,
        problem_statement=statement,
        steps=out.steps,
        exit_status=out.exit_status,
        exit_status_raw=out.exit_status_raw,
        model_name=out.model_name,
        cost=out.cost,
        source_path=str(where.path),
        source_record=where.line,
        metadata=_metadata(out, statement),
    )


def _metadata(out: EventResult, statement: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if out.system:
        metadata["system_prompt"] = out.system
    if out.task and out.task.strip() != statement:
        metadata["task_message"] = out.task
    if out.tools:
        metadata["tools"] = out.tools
    return metadata


def _render_action(event: Obj, action: str, args: Obj) -> str:
    """The tool call as the model wrote it, else the action name with its arguments.

    ``tool_call_metadata`` is a copy of the LLM response, kept for display only: when its shape
    is not the expected one it is passed over rather than rejected.
    """
    metadata = event.raw("tool_call_metadata")
    if isinstance(metadata, dict):
        call = _find_tool_call(metadata)
        if call is not None:
            return call
        name = metadata.get("function_name")
        if isinstance(name, str) and name:
            action = name
    kept = {k: v for k, v in args.data.items() if k not in _V0_ARG_NOISE}
    return render_call(action, kept)


def _find_tool_call(metadata: dict[str, Any]) -> str | None:
    response = metadata.get("model_response")
    choices = response.get("choices") if isinstance(response, dict) else None
    call_id = metadata.get("tool_call_id")
    for choice in choices if isinstance(choices, list) else ():
        message = choice.get("message") if isinstance(choice, dict) else None
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        for call in calls if isinstance(calls, list) else ():
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or (
                call_id is not None and call.get("id") != call_id
            ):
                continue
            name, arguments = function.get("name"), function.get("arguments")
            if isinstance(name, str) and isinstance(arguments, str | dict | None):
                return render_call(name, arguments)
    return None


class RecordFields:
    """The fields around ``history`` in an OpenHands evaluation record (V0 and SDK alike)."""

    def __init__(self, obj: Obj) -> None:
        self.obj = obj

    def trajectory(self, events: EventResult, *, source: str) -> Trajectory:
        record = self.obj
        where = record.where
        instance_id = record.scalar_text("instance_id")
        if not instance_id:
            raise record.error("missing required field", "instance_id", "a non-empty string")
        test_result = record.opt_obj("test_result")
        patch = (test_result.opt_str("git_patch") or "") if test_result is not None else ""
        instance = record.opt_obj("instance")
        statement = instance.text("problem_statement") if instance is not None else ""
        task = record.text("instruction") or events.task
        if not statement.strip():
            statement = extract_issue(task)
        metadata = record.opt_obj("metadata")
        metrics = record.opt_obj("metrics")
        cost = metrics.number("accumulated_cost") if metrics is not None else None

        error = record.text("error")
        status, raw = events.exit_status, events.exit_status_raw
        if error.strip():
            status, raw = error_exit_status(error), error
        extra = _metadata(events, statement)
        if task and task.strip() != statement and "task_message" not in extra:
            extra["task_message"] = task
        if error.strip():
            extra["error"] = error
        return Trajectory(
            instance_id=instance_id,
            source=source,
            problem_statement=statement,
            steps=events.steps,
            patch=patch,
            exit_status=status,
            exit_status_raw=raw,
            attempt=self._attempt(),
            model_name=_model_name(metadata) or events.model_name,
            cost=cost if cost is not None else events.cost,
            run_id=_run_id(metadata),
            source_path=str(where.path),
            source_record=where.line,
            metadata=extra,
        )

    def _attempt(self) -> int:
        attempt = self.obj.integer("attempt")
        if attempt is None:
            match = _CRITIC_ATTEMPT.search(self.obj.where.path.name)
            attempt = int(match.group(1)) if match else 1
        if attempt < 1:
            raise self.obj.error(f"attempt {attempt} is not a positive number", "attempt", ">= 1")
        return attempt


def _model_name(metadata: Obj | None) -> str | None:
    if metadata is None:
        return None
    for key in ("llm", "llm_config"):  # SDK benchmarks, then V0
        llm = metadata.opt_obj(key)
        if llm is not None and llm.opt_str("model"):
            return llm.opt_str("model")
    return None


def _run_id(metadata: Obj | None) -> str | None:
    output_dir = metadata.opt_str("eval_output_dir") if metadata is not None else None
    if not output_dir or not output_dir.strip("/"):
        return None
    return PurePosixPath(output_dir.rstrip("/")).name
