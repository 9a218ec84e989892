from __future__ import annotations

from pathlib import Path

import pytest

from swerm_plugin.readers import TrajectoryFormatError, load
from swerm_plugin.readers.minisweagent import trajectory_from_document


@pytest.mark.parametrize("version", ["1", "1.1"])
def test_mini_pairs_each_command_with_its_output(tmp_path: Path, formats, version: str) -> None:
    path = formats.write_json(
        tmp_path / "out" / "calc__calc-1" / "calc__calc-1.traj.json", formats.mini(version)
    )

    [traj] = load(path)

    assert traj.source == f"mini-swe-agent/{version}"
    assert traj.instance_id == "calc__calc-1"
    # The system prompt and the task message are not steps; the issue is cut out of the task.
    assert traj.problem_statement == formats.ISSUE
    assert "<instructions>" in traj.metadata["task_message"]
    assert traj.metadata["system_prompt"] == "You are a helpful assistant."
    assert [(s.role, s.thought, s.action) for s in traj.steps] == [
        ("assistant", "Look at the file.", "cat calc.py"),
        ("assistant", "Edit it.", "sed -i 's/1/2/' calc.py"),
    ]
    assert traj.steps[1].observation == (
        "<returncode>0</returncode>\n<output>\nran sed -i 's/1/2/' calc.py\n</output>"
    )
    assert traj.patch == formats.PATCH
    assert (traj.exit_status, traj.exit_status_raw) == ("submitted", "Submitted")
    assert traj.model_name == "anthropic/claude-sonnet-4"
    assert traj.cost == pytest.approx(1.0)
    assert traj.run_id == "out"


def test_exit_message_gives_status_and_patch_when_info_lacks_them(tmp_path: Path, formats) -> None:
    document = formats.mini("1.1")
    document["info"]["exit_status"] = ""
    document["info"]["submission"] = ""
    document["messages"][-1]["extra"] = {"exit_status": "LimitsExceeded", "submission": ""}

    [traj] = load(formats.write_json(tmp_path / "t.traj.json", document))

    assert (traj.exit_status, traj.exit_status_raw) == ("limit", "LimitsExceeded")
    assert traj.patch == ""


def test_tool_calling_messages_pair_by_order(formats) -> None:
    document = formats.mini("1.1")
    document["messages"][2:6] = [
        {
            "role": "assistant",
            "content": "Two commands at once.",
            "tool_calls": [
                {"id": "c1", "function": {"name": "bash", "arguments": '{"command": "ls"}'}},
                {"id": "c2", "function": {"name": "bash", "arguments": '{"command": "pwd"}'}},
            ],
            "extra": {
                "actions": [
                    {"command": "ls", "tool_call_id": "c1"},
                    {"command": "pwd", "tool_call_id": "c2"},
                ]
            },
        },
        {"role": "tool", "tool_call_id": "c1", "content": "a.py", "extra": {"returncode": 0}},
        {"role": "tool", "tool_call_id": "c2", "content": "/testbed", "extra": {"returncode": 0}},
        {"role": "user", "content": "Please continue."},
    ]

    traj = trajectory_from_document(document, "live/calc__calc-1.traj.json")

    assert [s.role for s in traj.steps] == ["assistant", "user"]
    assert traj.steps[0].action == "ls\npwd"
    assert traj.steps[0].thought == "Two commands at once."
    assert traj.steps[0].observation == "a.py\n/testbed"
    assert traj.steps[1].content == "Please continue."


def test_missing_instance_id_falls_back_to_file_name(tmp_path: Path, formats) -> None:
    path = formats.write_json(
        tmp_path / "astropy__astropy-7.traj.json", formats.mini("1", iid=None)
    )
    [traj] = load(path)
    assert traj.instance_id == "astropy__astropy-7"


def test_unknown_role_is_an_error(tmp_path: Path, formats) -> None:
    document = formats.mini("1.1")
    document["messages"][3]["role"] = "narrator"
    path = formats.write_json(tmp_path / "t.traj.json", document)

    with pytest.raises(TrajectoryFormatError) as info:
        list(load(path))

    assert info.value.field == "messages[3].role"
    assert "unknown message role 'narrator'" in str(info.value)


def test_messages_must_be_objects(tmp_path: Path, formats) -> None:
    document = formats.mini("1")
    document["messages"][2] = ["assistant", "hi"]
    path = formats.write_json(tmp_path / "t.traj.json", document)

    with pytest.raises(TrajectoryFormatError, match=r"field 'messages\[2\]'.*found a list"):
        list(load(path))
