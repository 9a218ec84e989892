from __future__ import annotations

from pathlib import Path

import pytest

from swerm_plugin.readers.text import (
    default_run_id,
    extract_issue,
    instance_id_from_path,
    normalise_exit_status,
    render_call,
    split_thought_action,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # SWE-agent
        ("submitted", "submitted"),
        ("submitted (exit_cost)", "limit"),
        ("submitted (exit_context)", "limit"),
        ("exit_total_execution_time", "limit"),
        ("submitted (exit_format)", "error"),
        ("exit_error", "error"),
        ("exit_command_timeout", "error"),
        ("exit_forfeit", "finished"),
        ("early_exit", "unknown"),
        # mini-swe-agent
        ("Submitted", "submitted"),
        ("LimitsExceeded", "limit"),
        ("TimeExceeded", "limit"),
        ("RepeatedFormatError", "error"),
        ("KeyboardInterrupt", "error"),
        # OpenHands
        ("RuntimeError: Agent reached maximum iteration in headless mode.", "limit"),
        ("LLMError: rate limited", "error"),
        ("finished", "finished"),
        ("stuck", "error"),
        ("running", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_exit_status_normalisation(raw: str | None, expected: str) -> None:
    assert normalise_exit_status(raw) == expected


@pytest.mark.parametrize(
    ("message", "issue"),
    [
        (
            "<pr_description>\nConsider the following PR description:\nFix x\n</pr_description>",
            "Fix x",
        ),
        ("I uploaded.\n<issue_description>\nBug </x>\n</issue_description>\nnow", "Bug </x>"),
        ("ISSUE:\nline one\nline two\n\n\nINSTRUCTIONS:\nwork", "line one\nline two"),
        ("Please solve this issue: fix it\n\nYou can execute bash commands and more", "fix it"),
        # the issue quotes the closing tag: everything up to the template's own tag is kept
        ("<pr_description>a </pr_description> b</pr_description>tail", "a </pr_description> b"),
        ("  just a task  ", "just a task"),
    ],
)
def test_extract_issue(message: str, issue: str) -> None:
    assert extract_issue(message) == issue


@pytest.mark.parametrize(
    ("name", "arguments", "text"),
    [
        ("execute_bash", '{"command": "ls -la", "security_risk": "LOW"}', "ls -la"),
        ("terminal", {"command": "pytest", "timeout": None}, "pytest"),
        ("execute_ipython_cell", {"code": "print(1)"}, "print(1)"),
        (
            "str_replace_editor",
            {"command": "view", "path": "/a", "view_range": None},
            'str_replace_editor {"command":"view","path":"/a"}',
        ),
        ("think", {"thought": "hmm"}, "think"),
        ("bash", "{not json", "bash {not json"),
        ("finish", None, "finish"),
    ],
)
def test_render_call(name: str, arguments: object, text: str) -> None:
    assert render_call(name, arguments) == text  # type: ignore[arg-type]


def test_split_thought_action_takes_the_last_block() -> None:
    text = "THOUGHT: first look\n```bash\nls\n```\nthen\n```bash\ncat a.py\n```"
    assert split_thought_action(text) == ("first look\n```bash\nls\n```\nthen", "cat a.py")
    assert split_thought_action("THOUGHT: no command here") == ("no command here", "")
    assert split_thought_action("x\n<mswea_bash_command>pwd</mswea_bash_command>") == ("x", "pwd")


def test_ids_from_paths(tmp_path: Path) -> None:
    run = tmp_path / "my-run"
    assert instance_id_from_path(run / "a__b-1" / "a__b-1.traj.json") == "a__b-1"
    assert instance_id_from_path(run / "conv-9" / "events.jsonl") == "conv-9"
    assert default_run_id(run / "a__b-1" / "a__b-1.traj", "a__b-1") == "my-run"
    assert default_run_id(run / "a__b-1" / "attempt_2" / "a__b-1.traj", "a__b-1") == "my-run"
    assert default_run_id(run / "output.jsonl", "a__b-1") == "my-run"
