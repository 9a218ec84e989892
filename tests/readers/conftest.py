"""Small files in every supported format, written the way each framework writes them.

The shapes follow the frameworks' own output (checked against the samples in
``../shared/real``), but the content is made up here, so the suite runs on a bare clone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.builtins.readers import builtin_adapters

PATCH = (
    "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
)
ISSUE = "calc.py sets x to 1 but the docs say 2.\nPlease fix it."


def sweagent_v1(
    iid: str = "calc__calc-1", *, replay_as_string: bool = False, exit_status: str = "submitted"
) -> dict[str, Any]:
    replay = {
        "env": {"repo": {"type": "github", "github_url": "https://example.invalid/calc"}},
        "agent": {"name": "main", "model": {"name": "gpt-4o", "per_instance_cost_limit": 3.0}},
        "problem_statement": {"type": "text", "text": ISSUE, "id": iid},
    }
    steps = [
        ("I should look at calc.py first.", "cat calc.py", "x = 1\n"),
        ("Set x to 2.", "sed -i 's/1/2/' calc.py", ""),
        ("Done, submitting.", "submit", PATCH),
    ]
    return {
        "environment": "main",
        "trajectory": [
            {
                "action": action,
                "observation": observation,
                "response": f"{thought}\n\n```\n{action}\n```",
                "thought": thought,
                "execution_time": 0.25,
                "state": {"open_file": "n/a", "working_dir": "/calc"},
                "query": [{"role": "system", "content": "..."}],
                "extra_info": {},
            }
            for thought, action, observation in steps
        ],
        "history": [
            {"role": "system", "content": "You are a careful programmer.", "agent": "main"},
            {
                "role": "user",
                "content": f"<pr_description>\n{ISSUE}\n</pr_description>\nFix it.",
                "agent": "main",
                "message_type": "observation",
            },
        ],
        "info": {
            "submission": PATCH,
            "exit_status": exit_status,
            "model_stats": {"instance_cost": 0.42, "tokens_sent": 1000, "api_calls": 3},
        },
        "replay_config": json.dumps(replay) if replay_as_string else replay,
    }


def sweagent_v0() -> dict[str, Any]:
    """0.x: no replay_config, ``state`` is a JSON string, demos in history flagged 'True'."""
    return {
        "environment": "swe_main",
        "trajectory": [
            {
                "action": "open calc.py\n",
                "observation": "[File: /calc/calc.py (1 lines total)]\n1:x = 1",
                "response": "Let me open the file.\n```\nopen calc.py\n```",
                "state": '{"open_file": "/calc/calc.py", "working_dir": "/calc"}',
                "thought": "Let me open the file.\n",
            },
            {
                "action": "submit\n",
                "observation": PATCH,
                "response": "Submitting.\n```\nsubmit\n```",
                "state": '{"open_file": "/calc/calc.py", "working_dir": "/calc"}',
                "thought": "Submitting.\n",
            },
        ],
        "history": [
            {"role": "system", "content": "SETTING: a shell.", "agent": "primary"},
            {"role": "user", "content": "Here is a demonstration.", "is_demo": "True"},
            {
                "role": "user",
                "content": f"We're solving this issue:\nISSUE:\n{ISSUE}\n\n\nINSTRUCTIONS:\nGo.",
                "agent": "primary",
            },
        ],
        "info": {
            "exit_status": "submitted (exit_cost)",
            "submission": PATCH,
            "model_stats": {"total_cost": 9.5, "instance_cost": 1.25, "api_calls": 2},
        },
    }


def mini(version: str = "1.1", iid: str | None = "calc__calc-1") -> dict[str, Any]:
    """mini-swe-agent: 1 ends with a user message, 1.1 with an ``exit`` message."""
    task = (
        f"<pr_description>\nConsider the following PR description:\n{ISSUE}\n</pr_description>"
        "\n\n<instructions>Work in /testbed.</instructions>"
    )
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": task},
    ]
    commands = [("Look at the file.", "cat calc.py"), ("Edit it.", "sed -i 's/1/2/' calc.py")]
    for thought, command in commands:
        assistant: dict[str, Any] = {
            "role": "assistant",
            "content": f"THOUGHT: {thought}\n\n```bash\n{command}\n```",
        }
        observation: dict[str, Any] = {
            "role": "user",
            "content": f"<returncode>0</returncode>\n<output>\nran {command}\n</output>",
        }
        if version == "1.1":
            assistant["extra"] = {"actions": [{"command": command}], "cost": 0.5}
            observation["extra"] = {"raw_output": f"ran {command}\n", "returncode": 0}
        messages += [assistant, observation]
    info: dict[str, Any] = {
        "exit_status": "Submitted",
        "submission": PATCH,
        "model_stats": {"instance_cost": 1.0, "api_calls": 2},
        "mini_version": "2.4.6" if version == "1.1" else "1.15.0",
        "config": {"model": {"model_name": "anthropic/claude-sonnet-4"}, "agent": {}},
    }
    if version == "1.1":
        messages.append(
            {
                "role": "exit",
                "content": PATCH,
                "extra": {"exit_status": "Submitted", "submission": PATCH},
            }
        )
    document: dict[str, Any] = {
        "info": info,
        "messages": messages,
        "trajectory_format": f"mini-swe-agent-{version}",
    }
    if iid is not None:
        document["instance_id"] = iid
    return document


def _tool_call_metadata(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "function_name": name,
        "tool_call_id": call_id,
        "model_response": {
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": call_id,
                                "type": "function",
                                "function": {"name": name, "arguments": json.dumps(arguments)},
                            }
                        ],
                    }
                }
            ]
        },
        "total_calls_in_response": 1,
    }


def openhands_v0_events(*, finish: bool = True) -> list[dict[str, Any]]:
    """V0 ``history``: system, task, recall, a run and an edit with observations, finish."""
    instruction = (
        "<uploaded_files>/workspace/calc</uploaded_files>\n"
        f"<issue_description>\n{ISSUE}\n</issue_description>"
    )
    events: list[dict[str, Any]] = [
        {
            "id": 0,
            "source": "agent",
            "action": "system",
            "args": {"content": "You are OpenHands agent."},
        },
        {"id": 1, "source": "user", "action": "message", "args": {"content": instruction}},
        {"id": 2, "source": "user", "action": "recall", "args": {"query": instruction}},
        {"id": 3, "source": "environment", "observation": "recall", "cause": 2, "content": "ctx"},
        {
            "id": 4,
            "source": "agent",
            "action": "run",
            "args": {"command": "cat calc.py", "thought": "Read the file.", "blocking": False},
            "tool_call_metadata": _tool_call_metadata(
                "call_1", "execute_bash", {"command": "cat calc.py"}
            ),
        },
        {
            "id": 5,
            "source": "agent",
            "observation": "run",
            "cause": 4,
            "content": "x = 1",
            "extras": {},
        },
        # A malformed tool call: the error has no action to pair with.
        {
            "id": 6,
            "source": "agent",
            "observation": "error",
            "content": "Parameter 'command' is missing.",
        },
        {
            "id": 7,
            "source": "agent",
            "action": "edit",
            "args": {
                "path": "/workspace/calc/calc.py",
                "command": "str_replace",
                "old_str": "1",
                "new_str": "2",
                "thought": "Fix it.",
            },
            "tool_call_metadata": _tool_call_metadata(
                "call_2",
                "str_replace_editor",
                {
                    "command": "str_replace",
                    "path": "/workspace/calc/calc.py",
                    "old_str": "1",
                    "new_str": "2",
                },
            ),
        },
        {
            "id": 8,
            "source": "agent",
            "observation": "edit",
            "cause": 7,
            "content": "edited calc.py",
        },
        {
            "id": 9,
            "source": "environment",
            "observation": "agent_state_changed",
            "content": "",
            "extras": {"agent_state": "running"},
        },
    ]
    if finish:
        events.append(
            {
                "id": 10,
                "source": "agent",
                "action": "finish",
                "args": {"final_thought": "x is now 2.", "thought": "All done.", "outputs": {}},
            }
        )
    return events


def openhands_v0_record(iid: str = "calc__calc-1", *, error: str | None = None) -> dict[str, Any]:
    return {
        "instance_id": iid,
        "test_result": {"git_patch": PATCH},
        "instruction": openhands_v0_events()[1]["args"]["content"],
        "metadata": {
            "agent_class": "CodeActAgent",
            "llm_config": {"model": "openai/some-model", "api_key": "**********"},
            "max_iterations": 30,
            "eval_output_dir": "evaluation/outputs/CodeActAgent/some-model_maxiter_30_run_1",
        },
        "history": openhands_v0_events(finish=error is None),
        "metrics": {"accumulated_cost": 0.75},
        "error": error,
        "instance": {"instance_id": iid, "repo": "calc/calc", "problem_statement": ISSUE},
    }


def sdk_events(*, finish: bool = True, status: str = "finished") -> list[dict[str, Any]]:
    """SDK events: system prompt, task, an action/observation pair, an orphan, finish."""

    def text(value: str) -> list[dict[str, Any]]:
        return [{"type": "text", "text": value, "cache_prompt": False}]

    events: list[dict[str, Any]] = [
        {
            "id": "s0",
            "source": "environment",
            "kind": "ConversationStateUpdateEvent",
            "key": "execution_status",
            "value": "running",
        },
        {
            "id": "e1",
            "source": "agent",
            "kind": "SystemPromptEvent",
            "system_prompt": {"type": "text", "text": "You are OpenHands."},
            "tools": [],
        },
        {
            "id": "e2",
            "source": "user",
            "kind": "MessageEvent",
            "llm_message": {"role": "user", "content": text(f"<issue>{ISSUE}</issue>")},
        },
        {
            "id": "a1",
            "source": "agent",
            "kind": "ActionEvent",
            "thought": text("Read the file."),
            "reasoning_content": "hidden reasoning",
            "action": {"command": "cat calc.py", "is_input": False, "kind": "TerminalAction"},
            "tool_name": "terminal",
            "tool_call_id": "call_a1",
            "tool_call": {
                "id": "call_a1",
                "name": "terminal",
                "arguments": '{"command": "cat calc.py"}',
            },
            "llm_response_id": "r1",
        },
        {
            "id": "o1",
            "source": "environment",
            "kind": "ObservationEvent",
            "tool_name": "terminal",
            "tool_call_id": "call_a1",
            "action_id": "a1",
            "observation": {
                "content": text("x = 1"),
                "is_error": False,
                "exit_code": 0,
                "kind": "TerminalObservation",
            },
        },
        {
            "id": "o2",
            "source": "environment",
            "kind": "ObservationEvent",
            "tool_name": "terminal",
            "tool_call_id": "call_gone",
            "action_id": "not-in-this-file",
            "observation": {"content": text("orphan output"), "kind": "TerminalObservation"},
        },
        {
            "id": "st",
            "source": "environment",
            "kind": "ConversationStateUpdateEvent",
            "key": "stats",
            "value": {
                "usage_to_metrics": {
                    "default": {"model_name": "litellm_proxy/some-model", "accumulated_cost": 0.5},
                    "condenser": {"model_name": "small", "accumulated_cost": 0.25},
                }
            },
        },
    ]
    if finish:
        events.append(
            {
                "id": "a2",
                "source": "agent",
                "kind": "ActionEvent",
                "thought": text("Finished."),
                "action": {"message": "x is now 2.", "kind": "FinishAction"},
                "tool_name": "finish",
                "tool_call_id": "call_a2",
                "tool_call": {
                    "id": "call_a2",
                    "name": "finish",
                    "arguments": '{"message": "x is now 2."}',
                },
                "llm_response_id": "r2",
            }
        )
    events.append(
        {
            "id": "s9",
            "source": "environment",
            "kind": "ConversationStateUpdateEvent",
            "key": "execution_status",
            "value": status,
        }
    )
    return events


def sdk_record(iid: str = "calc__calc-1", *, attempt: int | None = 1) -> dict[str, Any]:
    """An ``OpenHands/benchmarks`` output record (SDK ``history``)."""
    record: dict[str, Any] = {
        "instance_id": iid,
        "test_result": {"git_patch": PATCH},
        "instruction": f"<issue>{ISSUE}</issue>",
        "metadata": {"llm": {"model": "litellm_proxy/some-model"}, "eval_output_dir": "/out/run_7"},
        "history": sdk_events(),
        "metrics": {"accumulated_cost": 1.5},
        "error": None,
        "instance": {"instance_id": iid, "problem_statement": ISSUE},
    }
    if attempt is not None:
        record["attempt"] = attempt
    return record


def prediction(iid: str, patch: str | None = PATCH, model: str = "my-model") -> dict[str, Any]:
    return {"instance_id": iid, "model_name_or_path": model, "model_patch": patch}


def write_json(path: Path, value: Any, *, indent: int | None = 2) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=indent), encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


class Formats:
    """The builders above, handed to tests through the ``formats`` fixture."""

    PATCH = PATCH
    ISSUE = ISSUE
    sweagent_v1 = staticmethod(sweagent_v1)
    sweagent_v0 = staticmethod(sweagent_v0)
    mini = staticmethod(mini)
    openhands_v0_events = staticmethod(openhands_v0_events)
    openhands_v0_record = staticmethod(openhands_v0_record)
    sdk_events = staticmethod(sdk_events)
    sdk_record = staticmethod(sdk_record)
    prediction = staticmethod(prediction)
    write_json = staticmethod(write_json)
    write_jsonl = staticmethod(write_jsonl)


@pytest.fixture(autouse=True)
def _builtin_readers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """``load()`` uses the built-in readers directly, not the process-wide plugin manager.

    The manager also imports every other built-in plugin and any installed entry point; these
    tests are about the readers. Registration through the manager is tested in test_plugin.py.
    """
    monkeypatch.setattr("swerm_plugin.readers.loader.registered_adapters", builtin_adapters)


@pytest.fixture
def formats() -> type[Formats]:
    return Formats


@pytest.fixture
def readers() -> list[Any]:
    """The built-in readers, without going through the plugin manager."""
    return builtin_adapters()


@pytest.fixture
def one_file(tmp_path: Path) -> Callable[[str, Any], Path]:
    """Write one JSON document to ``tmp_path/name`` and return its path."""

    def make(name: str, value: Any) -> Path:
        return write_json(tmp_path / name, value)

    return make
