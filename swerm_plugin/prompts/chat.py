"""A trajectory as the chat an agent had with its model: OpenAI-style messages with tool calls,
and the tool definitions, for verifiers trained on that shape (the SWE-Gym verifier's
serializer, the OpenHands critics).

Where the trajectory carries the exact messages its framework sent to the model
(``metadata["chat"]``, filled by swerm's OpenHands SDK integration with the SDK's own
conversion), they are used as they are. Otherwise the steps are converted: the agent's system
prompt and task message first, then per assistant step its text and one tool call, and the
observation as the tool's answer. A shell command from a framework without tool calls
(mini-swe-agent, SWE-agent) becomes a call of ``execute_bash`` with ``{"command": ...}``, the
shape of OpenHands' own shell tool.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from swerm_plugin.model import Step, Trajectory

SHELL_TOOL = "execute_bash"
SHELL_TOOL_SPEC: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": SHELL_TOOL,
        "description": "Execute a bash command in the terminal.",
        "parameters": {
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The bash command to execute."}
            },
            "required": ["command"],
        },
    },
}


@dataclass(frozen=True)
class ToolCall:
    """One tool call: the tool's name and its arguments as the JSON text the model wrote."""

    name: str
    arguments: str

    def parsed(self) -> dict[str, Any] | None:
        """The arguments as an object, or None when they are not a JSON object."""
        try:
            value = json.loads(self.arguments) if self.arguments.strip() else {}
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class ChatMessage:
    """One message. ``step`` groups an assistant message with the answers to its calls (the
    budget drops them together); ``None`` for the system prompt and the task."""

    role: str
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    step: int | None = None


@dataclass(frozen=True)
class ChatTranscript:
    """The conversation and the tool definitions; ``exact`` when taken from the framework's own
    model input rather than converted from steps."""

    messages: tuple[ChatMessage, ...]
    tools: tuple[Mapping[str, Any], ...]
    exact: bool


def chat_transcript(trajectory: Trajectory) -> ChatTranscript:
    """The conversation of ``trajectory`` (see the module docstring)."""
    recorded = trajectory.metadata.get("chat")
    if isinstance(recorded, Mapping) and isinstance(recorded.get("messages"), list):
        messages = _grouped([_message(m) for m in recorded["messages"] if isinstance(m, Mapping)])
        tools = tuple(t for t in recorded.get("tools") or () if isinstance(t, Mapping))
        return ChatTranscript(messages, tools, exact=True)
    messages = _from_steps(trajectory)
    return ChatTranscript(messages, _tools(trajectory, messages), exact=False)


def message_text(content: Any) -> str:
    """A message's text: a string, or the text parts of a content list joined by newlines
    (what the OpenHands critic client does before rendering)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        )
    return "" if content is None else str(content)


def _message(data: Mapping[str, Any]) -> ChatMessage:
    calls = []
    for call in data.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            arguments = function.get("arguments", "")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments, ensure_ascii=False)
            calls.append(ToolCall(str(function.get("name", "")), arguments))
    return ChatMessage(str(data.get("role", "")), message_text(data.get("content")), tuple(calls))


def _grouped(messages: Sequence[ChatMessage]) -> tuple[ChatMessage, ...]:
    """Step numbers: each assistant message opens a step; what follows belongs to it. The
    system prompt and the first user message (the task) belong to none."""
    out: list[ChatMessage] = []
    step: int | None = None
    for message in messages:
        if message.role == "assistant":
            step = 0 if step is None else step + 1
        out.append(ChatMessage(message.role, message.content, message.tool_calls, step))
    return tuple(out)


def _from_steps(trajectory: Trajectory) -> tuple[ChatMessage, ...]:
    system = str(trajectory.metadata.get("system_prompt") or "")
    task = str(trajectory.metadata.get("task_message") or "")
    steps = list(trajectory.steps)
    if not system and steps and steps[0].role == "system":
        system = steps.pop(0).content
    if not task and steps and steps[0].role == "user":
        task = steps.pop(0).content
    messages: list[ChatMessage] = []
    if system:
        messages.append(ChatMessage("system", system))
    messages.append(ChatMessage("user", task or trajectory.problem_statement))
    for index, step in enumerate(steps):
        answered = index + 1 < len(steps) and steps[index + 1].role == "tool"
        messages.extend(_step_messages(step, index, answered))
    return tuple(messages)


def _step_messages(step: Step, index: int, answered: bool) -> list[ChatMessage]:
    """An assistant step's message, and the tool's answer to its call (empty when the tool
    printed nothing) unless the next step is that answer."""
    if step.role in ("user", "system"):
        return [ChatMessage("user", step.content, step=index)]
    if step.role == "tool":
        return [ChatMessage("tool", step.observation or step.content, step=index)]
    thought = step.thought or step.content
    call = step_tool_call(step)
    if call is not None and thought.strip() == step.action.strip():
        thought = ""  # a reader that repeats the command as the text: shown once, as the call
    out = [ChatMessage("assistant", thought, () if call is None else (call,), step=index)]
    if step.observation or (call is not None and not answered):
        out.append(ChatMessage("tool", step.observation, step=index))
    return out


def step_tool_call(step: Step) -> ToolCall | None:
    """The tool call of an assistant step: as recorded by the reader (OpenHands), else its
    shell command as a call of ``execute_bash``; None when it did nothing."""
    recorded = step.metadata.get("tool_call")
    if isinstance(recorded, Mapping) and recorded.get("name"):
        arguments = recorded.get("arguments", "")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        return ToolCall(str(recorded["name"]), arguments)
    if not step.action.strip():
        return None
    return ToolCall(SHELL_TOOL, json.dumps({"command": step.action}, ensure_ascii=False))


def _tools(
    trajectory: Trajectory, messages: Sequence[ChatMessage]
) -> tuple[Mapping[str, Any], ...]:
    """The recorded tool definitions, else one per tool the conversation calls."""
    recorded = trajectory.metadata.get("tools")
    if isinstance(recorded, list) and recorded:
        return tuple(t for t in recorded if isinstance(t, Mapping))
    names = dict.fromkeys(c.name for m in messages for c in m.tool_calls)
    return tuple(
        SHELL_TOOL_SPEC
        if name == SHELL_TOOL
        else {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
        for name in names
    )
