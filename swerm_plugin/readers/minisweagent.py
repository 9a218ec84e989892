"""mini-swe-agent ``.traj.json`` files, ``trajectory_format`` ``mini-swe-agent-1`` and ``-1.1``.

Layout: ``<out>/<iid>/<iid>.traj.json``. A file is ``{info, messages, trajectory_format,
instance_id?}``. Messages become steps: each assistant message is one assistant step (thought
and command split from the text, or taken from ``extra.actions``); the environment's answers
(``user`` messages after it, or ``tool`` messages in tool-calling mode) go into that step's
``observation``. The system prompt and the first user message (the task) are not steps: the
issue text of the task becomes ``problem_statement``. Version 1.1 ends with an ``exit`` message
carrying the exit status and the submission.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from swerm_plugin.model import Step, Trajectory
from swerm_plugin.readers.base import JsonReader
from swerm_plugin.readers.fields import Obj, Where, wrong_type
from swerm_plugin.readers.probe import JsonSource
from swerm_plugin.readers.text import (
    extract_issue,
    instance_id_from_path,
    normalise_exit_status,
    render_call,
    split_thought_action,
)


class MiniSweAgentAdapter(JsonReader):
    name: ClassVar[str] = "mini-swe-agent"
    description: ClassVar[str] = (
        "mini-swe-agent .traj.json: an object with 'messages' and "
        "'trajectory_format' = 'mini-swe-agent-1...' (or 'info.mini_version')"
    )

    def accepts(self, value: Any, *, lines: bool) -> bool:
        if lines or not isinstance(value, dict) or not isinstance(value.get("messages"), list):
            return False
        fmt = value.get("trajectory_format")
        if isinstance(fmt, str):
            return fmt.startswith("mini-swe-agent")
        info = value.get("info")
        return isinstance(info, dict) and "mini_version" in info

    def read_source(self, source: JsonSource) -> Iterator[Trajectory]:
        for _, document in source.records():
            yield _trajectory(Obj.of(document, Where(source.path)))


def trajectory_from_document(document: Any, path: str | Path) -> Trajectory:
    """The trajectory of an in-memory ``.traj.json`` document (e.g. ``agent.serialize()``).

    ``path`` is where the document is (or would be) saved; it names the instance when the
    document does not, and appears in error messages.
    """
    return _trajectory(Obj.of(document, Where(Path(path))))


def _trajectory(doc: Obj) -> Trajectory:
    where = doc.where
    info = doc.opt_obj("info") or Obj({}, where, "info")
    conversation = _Conversation()
    for message in doc.objects("messages", required=True):
        conversation.add(message)

    raw_status = info.opt_str("exit_status") or conversation.exit_status
    patch = (info.opt_str("submission") or "") or conversation.submission
    fmt = doc.opt_str("trajectory_format") or "mini-swe-agent-1"
    statement = extract_issue(conversation.task)
    metadata: dict[str, Any] = {}
    if conversation.system:
        metadata["system_prompt"] = conversation.system
    if conversation.task and conversation.task.strip() != statement:
        metadata["task_message"] = conversation.task
    if isinstance(info.raw("mini_version"), str):  # bookkeeping: a bad value is not an error
        metadata["framework_version"] = info.raw("mini_version")
    config = info.opt_obj("config")
    model = config.opt_obj("model") if config is not None else None
    stats = info.opt_obj("model_stats")
    return Trajectory(
        instance_id=doc.scalar_text("instance_id") or instance_id_from_path(where.path),
        source=f"mini-swe-agent/{fmt.removeprefix('mini-swe-agent-') or '1'}",
        problem_statement=statement,
        steps=conversation.steps,
        patch=patch,
        exit_status=normalise_exit_status(raw_status),
        exit_status_raw=raw_status,
        model_name=model.opt_str("model_name") if model is not None else None,
        cost=stats.number("instance_cost") if stats is not None else None,
        source_path=str(where.path),
        metadata=metadata,
    )


class _Conversation:
    """Folds messages into steps, pairing each command with the output it produced."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.system = ""
        self.task = ""
        self.exit_status: str | None = None
        self.submission = ""
        self._open: Step | None = None  # the assistant step still waiting for its output

    def add(self, message: Obj) -> None:
        role = message.scalar_text("role")
        if not role:
            role = _responses_api_role(message)
        if role == "assistant":
            self._assistant(message)
        elif role == "tool":
            self._observe(message.text("content") or message.text("output"), message)
        elif role == "user":
            self._user(message)
        elif role == "system":
            if not self.system and not self.steps:
                self.system = message.text("content")
            else:
                self.steps.append(Step(role="system", content=message.text("content")))
        elif role == "exit":
            extra = message.opt_obj("extra")
            if extra is not None:
                self.exit_status = extra.opt_str("exit_status")
                self.submission = extra.opt_str("submission") or ""
            self._open = None
        else:
            raise message.error(
                f"unknown message role {role!r}", "role", "system, user, assistant, tool or exit"
            )

    def _assistant(self, message: Obj) -> None:
        text = message.text("content")
        if not text and message.raw("object") == "response":
            text = "".join(
                item.text("content") for item in message.objects("output") if item.raw("role")
            )
        # The text holds the reasoning (and, in text mode, the fenced command as well).
        thought, command = split_thought_action(text)
        commands = _commands(message)
        if commands:
            command = "\n".join(commands)
        self._open = Step(role="assistant", content=text, thought=thought, action=command)
        self.steps.append(self._open)

    def _user(self, message: Obj) -> None:
        text = message.text("content")
        if not self.task and not self.steps:
            self.task = text
        elif self._open is not None and not self._open.observation:
            self._observe(text, message)
        else:
            self.steps.append(Step(role="user", content=text))
            self._open = None

    def _observe(self, text: str, message: Obj) -> None:
        step = self._open
        if step is None:
            self.steps.append(Step(role="tool", observation=text))
            return
        step.observation = f"{step.observation}\n{text}" if step.observation else text
        extra = message.opt_obj("extra")
        returncode = extra.integer("returncode") if extra is not None else None
        if returncode is not None:
            step.metadata = {**step.metadata, "returncode": returncode}


def _responses_api_role(message: Obj) -> str:
    """Role of an OpenAI Responses-API item, which mini-swe-agent stores without ``role``."""
    if message.raw("object") == "response":
        return "assistant"
    if message.raw("type") == "function_call_output":
        return "tool"
    raise message.error("missing required field", "role", "a message role")


def _commands(message: Obj) -> list[str]:
    """The commands an assistant message ran: ``extra.actions``, else its tool calls."""
    extra = message.opt_obj("extra")
    if extra is not None and extra.raw("actions") is not None:
        return [action.scalar_text("command") for action in extra.objects("actions")]
    commands = []
    for call in message.objects("tool_calls"):
        function = call.opt_obj("function")
        if function is None:
            continue
        arguments = function.raw("arguments")
        if arguments is not None and not isinstance(arguments, str | dict):
            raise wrong_type(
                function.where, function.name("arguments"), arguments, "a JSON string or object"
            )
        commands.append(render_call(function.scalar_text("name"), arguments))
    return commands
