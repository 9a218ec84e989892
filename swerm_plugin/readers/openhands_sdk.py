"""OpenHands Software Agent SDK events, read as plain dicts (no ``openhands`` import needed).

Sources, all told apart by the events' ``kind`` discriminator:

* an ``events.jsonl`` stream or a JSON list of events: one conversation;
* a persisted conversation folder, ``<conversation>/events/event-<n>-<id>.json`` (plus
  ``base_state.json``): one conversation, instance id = the folder name;
* ``OpenHands/benchmarks`` output (``output.jsonl``, ``output.critic_attempt_<k>.jsonl``):
  records ``{instance_id, attempt, test_result: {git_patch}, history: [events], ...}``.

Each ``ActionEvent`` is an assistant step (its ``thought`` text; the tool call; the ``finish``
tool ends the run as ``submitted``); the ``ObservationEvent``, ``AgentErrorEvent`` or
``UserRejectObservation`` answering it (by ``action_id`` or ``tool_call_id``) fills its
``observation``, or becomes a ``tool`` step when its action is not in the file. Agent messages
are assistant steps with ``content``; the first user message is the task. State updates give
the model name, cost and execution status; condensation, pause and token events are dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from swerm_plugin.errors import TrajectoryFormatError
from swerm_plugin.model import Step, Trajectory
from swerm_plugin.readers.base import JsonReader
from swerm_plugin.readers.fields import Obj, Where, wrong_type
from swerm_plugin.readers.openhands import (
    EventResult,
    RecordFields,
    events_trajectory,
    is_record,
)
from swerm_plugin.readers.probe import JsonSource, parse_document, probe
from swerm_plugin.readers.text import (
    error_exit_status,
    instance_id_from_path,
    normalise_exit_status,
    render_call,
)

EVENT_FILE = re.compile(r"event-(\d+)(?:-[0-9A-Za-z-]+)?\.json")
_OBSERVATION_KINDS = frozenset({"ObservationEvent", "AgentErrorEvent", "UserRejectObservation"})


def is_sdk_event(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("kind"), str)


def event_files(folder: Path) -> list[Path]:
    """The ``event-*.json`` files of an ``events`` folder, in event order."""
    found = []
    for entry in folder.iterdir():
        match = EVENT_FILE.fullmatch(entry.name)
        if match and entry.is_file():
            found.append((int(match.group(1)), entry.name, entry))
    return [entry for _, _, entry in sorted(found)]


class OpenHandsSdkAdapter(JsonReader):
    name: ClassVar[str] = "openhands-sdk"
    description: ClassVar[str] = (
        "OpenHands SDK events (objects with a 'kind') as events.jsonl, a JSON list or an "
        "events/ folder; or OpenHands/benchmarks output.jsonl records with SDK 'history'"
    )

    def accepts(self, value: Any, *, lines: bool) -> bool:
        if is_record(value):
            history = value.get("history")
            if isinstance(history, list) and history:
                return is_sdk_event(history[0])
            return "attempt" in value
        if isinstance(value, list):
            return not lines and bool(value) and is_sdk_event(value[0])
        return is_sdk_event(value)

    def sniff_dir(self, path: Path) -> bool:
        events = path / "events"
        folder = events if events.is_dir() else path if path.name == "events" else None
        return folder is not None and bool(event_files(folder))

    def read(self, path: Path) -> Iterator[Trajectory]:
        path = Path(path)
        if path.is_dir():
            return self._read_folder(path)
        return super().read(path)

    def read_source(self, source: JsonSource) -> Iterator[Trajectory]:
        if source.is_lines and not is_record(source.first):
            yield self._read_stream(source)
            return
        for line, value in source.records():
            where = Where(source.path, line=line if source.is_lines else None)
            trajectory = source.convert(partial(self._trajectory, value, where))
            del value  # do not hold this record while the next one is parsed
            if trajectory is not None:
                yield trajectory

    def _trajectory(self, value: Any, where: Where) -> Trajectory:
        events = _SdkEvents()
        if is_record(value):
            record = RecordFields(Obj.of(value, where))
            events.add_all(record.obj.array("history"), where, "history")
            return record.trajectory(events.result(), source="openhands/sdk")
        events.add_all(value if isinstance(value, list) else [value], where, "")
        return events_trajectory(
            events.result(), instance_id_from_path(where.path), where, source="openhands/sdk"
        )

    def _read_stream(self, source: JsonSource) -> Trajectory:
        events = _SdkEvents()
        for line, value in source.records():
            events.add(Obj.of(value, Where(source.path, line=line)))
        where = Where(source.path)
        return events_trajectory(
            events.result(), instance_id_from_path(source.path), where, source="openhands/sdk"
        )

    def _read_folder(self, path: Path) -> Iterator[Trajectory]:
        conversation = (
            path.parent if path.name == "events" and not (path / "events").is_dir() else path
        )
        folder = conversation / "events"
        files = event_files(folder) if folder.is_dir() else []
        if not files:
            raise TrajectoryFormatError(
                folder, "no event files", expected="events/event-<n>-<id>.json files"
            )
        events = _SdkEvents()
        for file in files:
            where = Where(file)
            try:
                value = parse_document(file, file.read_bytes())
            except OSError as exc:
                raise where.error(f"cannot be read: {exc.strerror or exc}") from None
            events.add(Obj.of(value, where))
        base_state = conversation / "base_state.json"
        if base_state.is_file():
            _apply_base_state(events, probe(base_state))
        out = events.result()
        trajectory = events_trajectory(
            out, conversation.name, Where(conversation), source="openhands/sdk"
        )
        yield trajectory


def _apply_base_state(events: _SdkEvents, source: JsonSource) -> None:
    """``base_state.json``: the conversation's model, cost and final execution status."""
    for _, value in source.records():
        state = Obj.of(value, Where(source.path))
        agent = state.opt_obj("agent")
        llm = agent.opt_obj("llm") if agent is not None else None
        if llm is not None and llm.opt_str("model"):
            events.out.model_name = llm.opt_str("model")
        status = state.opt_str("execution_status")
        if status:
            events.execution_status = status
        stats = state.opt_obj("stats")
        if stats is not None:
            events.stats(stats)


def _system_prompt(event: Obj) -> str:
    """``system_prompt`` is a text content part in the SDK; accept a plain string too."""
    prompt = event.raw("system_prompt")
    if isinstance(prompt, dict):
        return Obj.of(prompt, event.where, event.name("system_prompt")).text("text")
    return event.text("system_prompt")


def _tools(event: Obj) -> list[dict[str, Any]]:
    """The system prompt's tools as OpenAI function tools. Saved events keep each tool's name
    and description, not its parameter schema (the SDK derives that from Python classes)."""
    tools = event.raw("tools")
    out: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, list) else ():
        if isinstance(tool, dict) and isinstance(tool.get("title") or tool.get("name"), str):
            function = {"name": tool.get("title") or tool.get("name")}
            if isinstance(tool.get("description"), str):
                function["description"] = tool["description"]
            out.append({"type": "function", "function": function})
    return out


def trajectory_from_document(
    events: Sequence[Any], instance_id: str, path: str | Path, *, source: str = "openhands/sdk"
) -> Trajectory:
    """The trajectory of in-memory SDK event dicts (e.g. a live conversation's events).

    ``path`` is where the events are (or would be) saved; it appears in error messages. The same
    conversion as saved event files, so a live score and a later ``swerm score`` agree.
    """
    where = Where(Path(path))
    reader = _SdkEvents()
    reader.add_all(list(events), where, "events")
    return events_trajectory(reader.result(), instance_id, where, source=source)


class _SdkEvents:
    def __init__(self) -> None:
        self.out = EventResult()
        self.execution_status: str | None = None
        self._steps_by_ref: dict[str, Step] = {}
        self._finished = False
        self._error: str | None = None
        self._limit: str | None = None

    def add_all(self, history: list[Any], where: Where, field: str) -> None:
        for i, item in enumerate(history):
            self.add(Obj.item(item, where, field, i))

    def add(self, event: Obj) -> None:
        kind = event.scalar_text("kind")
        if not kind:
            raise event.error(
                "missing required field", "kind", "the event's kind, e.g. ActionEvent"
            )
        if kind == "ActionEvent":
            self._action(event)
        elif kind in _OBSERVATION_KINDS:
            self._observation(event, kind)
        elif kind == "MessageEvent":
            self._message(event)
        elif kind == "SystemPromptEvent":
            if not self.out.system:
                self.out.system = _system_prompt(event)
                self.out.tools = _tools(event)
        elif kind == "ConversationStateUpdateEvent":
            self._state_update(event)
        elif kind == "ConversationErrorEvent":
            code, detail = event.scalar_text("code"), event.text("detail")
            self._error = f"{code}: {detail}" if code and detail else code or detail or kind
        elif kind == "ConversationIterationLimitEvent":
            self._limit = event.text("detail") or kind

    def _action(self, event: Obj) -> None:
        tool = event.scalar_text("tool_name")
        thought = event.text("thought") or event.text("reasoning_content")
        call = event.opt_obj("tool_call")
        action = event.opt_obj("action")
        if action is not None:
            name = tool or (call.scalar_text("name") if call is not None else "")
            rendered = render_call(name or action.scalar_text("kind"), action.data)
        elif call is not None:
            arguments = call.raw("arguments")
            if arguments is not None and not isinstance(arguments, str | dict):
                raise wrong_type(call.where, call.name("arguments"), arguments, "a JSON string")
            rendered = render_call(call.scalar_text("name") or tool, arguments)
        else:
            rendered = tool
        if tool == "finish" or (action is not None and action.raw("kind") == "FinishAction"):
            self._finished = True
        metadata: dict[str, Any] = {"tool": tool}
        if call is not None:
            arguments = call.raw("arguments")
            if isinstance(arguments, dict):
                arguments = json.dumps(arguments, ensure_ascii=False)
            name = call.scalar_text("name") or tool
            metadata["tool_call"] = {"name": name, "arguments": arguments or ""}
        step = Step(role="assistant", thought=thought, action=rendered, metadata=metadata)
        self.out.steps.append(step)
        for ref in (event.raw("id"), event.raw("tool_call_id")):
            if isinstance(ref, str) and ref:
                self._steps_by_ref[ref] = step

    def _observation(self, event: Obj, kind: str) -> None:
        if kind == "AgentErrorEvent":
            text = event.text("error")
        elif kind == "UserRejectObservation":
            text = f"Action rejected: {event.text('rejection_reason')}"
        else:
            observation = event.opt_obj("observation")
            text = ""
            if observation is not None:
                text = observation.text("content") or observation.text("output")
        step = None
        for ref in (event.raw("action_id"), event.raw("tool_call_id")):
            if isinstance(ref, str) and ref in self._steps_by_ref:
                step = self._steps_by_ref[ref]
                break
        if step is None:
            self.out.steps.append(
                Step(
                    role="tool", observation=text, metadata={"tool": event.scalar_text("tool_name")}
                )
            )
        else:
            step.observation = f"{step.observation}\n{text}" if step.observation else text

    def _message(self, event: Obj) -> None:
        message = event.opt_obj("llm_message")
        text = message.text("content") if message is not None else ""
        if event.scalar_text("source") == "user":
            if not self.out.task and not self.out.steps:
                self.out.task = text
            else:
                self.out.steps.append(Step(role="user", content=text))
        else:
            self.out.steps.append(Step(role="assistant", content=text))

    def _state_update(self, event: Obj) -> None:
        key = event.scalar_text("key")
        if key == "execution_status":
            self.execution_status = event.scalar_text("value") or self.execution_status
        elif key == "stats":
            value = event.opt_obj("value")
            if value is not None:
                self.stats(value)
        elif key == "full_state":
            value = event.opt_obj("value")
            if value is not None:
                self.execution_status = value.opt_str("execution_status") or self.execution_status
                stats = value.opt_obj("stats")
                if stats is not None:
                    self.stats(stats)

    def stats(self, stats: Obj) -> None:
        """Cost and model from ``usage_to_metrics`` (one entry per LLM the agent used)."""
        usage = stats.opt_obj("usage_to_metrics")
        if usage is None:
            return
        total, any_cost = 0.0, False
        for key in usage.data:
            metrics = usage.obj(key)
            cost = metrics.number("accumulated_cost")
            if cost is not None:
                total, any_cost = total + cost, True
            if key == "default" and metrics.opt_str("model_name"):
                self.out.model_name = metrics.opt_str("model_name")
        if any_cost:
            self.out.cost = total

    def result(self) -> EventResult:
        out = self.out
        if self._error:
            out.exit_status, out.exit_status_raw = error_exit_status(self._error), self._error
        elif self._limit:
            out.exit_status, out.exit_status_raw = "limit", self._limit
        elif self._finished:
            out.exit_status, out.exit_status_raw = "submitted", "finish"
        elif self.execution_status:
            status = self.execution_status
            out.exit_status = normalise_exit_status(status)
            out.exit_status_raw = status
        return out
