"""swerm's own Trajectory JSON as a format, and documents read from memory (request bodies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.model import Step, Trajectory
from swerm_plugin.readers import TrajectoryFormatError, detect_format, load
from swerm_plugin.readers.loader import read_parsed
from swerm_plugin.readers.probe import ParsedSource, probe_bytes


def native(iid: str = "calc__calc-1", **fields: Any) -> Trajectory:
    return Trajectory(
        instance_id=iid,
        source="my-harness/2",
        problem_statement="add() subtracts",
        steps=[Step(role="assistant", thought="fix it", action="sed -i s/-/+/ calc.py")],
        patch="diff --git a/calc.py b/calc.py\n",
        **fields,
    )


def test_model_dump_files_read_back_as_the_same_trajectories(tmp_path: Path) -> None:
    one, two = native("a"), native("b", exit_status="submitted", attempt=2)
    single = tmp_path / "one.json"
    single.write_text(one.model_dump_json())
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([one.model_dump(mode="json"), two.model_dump(mode="json")]))
    lines = tmp_path / "many.jsonl"
    lines.write_text(one.model_dump_json() + "\n" + two.model_dump_json() + "\n")
    for path, expected in ((single, [one]), (listed, [one, two]), (lines, [one, two])):
        assert detect_format(path) == "swerm"
        got = list(load(path))
        assert [t.content_hash() for t in got] == [t.content_hash() for t in expected]
        assert [(t.attempt, t.exit_status) for t in got] == [
            (t.attempt, t.exit_status) for t in expected
        ]


def test_a_label_in_a_trajectory_file_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "labelled.json"
    path.write_text(native(label=True).model_dump_json())
    (trajectory,) = load(path)
    assert trajectory.label is None


def test_a_wrong_field_is_named(tmp_path: Path) -> None:
    value = native().model_dump(mode="json")
    value["steps"][0]["role"] = "robot"
    path = tmp_path / "bad.jsonl"
    path.write_text(native().model_dump_json() + "\n" + json.dumps(value) + "\n")
    with pytest.raises(TrajectoryFormatError, match=r"bad.jsonl, line 2, field 'steps.0.role'"):
        list(load(path))


def test_other_formats_are_not_taken_for_swerm_json(formats: Any) -> None:
    from swerm_plugin.readers.native import is_trajectory_json

    for value in (formats.mini(), formats.openhands_v0_record(), formats.prediction("a__a-1")):
        assert not is_trajectory_json(value)
    assert not is_trajectory_json({"instance_id": "x", "source": "s", "extra": 1})


def test_probe_bytes_tells_lines_from_a_document() -> None:
    document = probe_bytes(b'{\n  "a": 1\n}\n', "body")
    assert not document.is_lines and document.first == {"a": 1}
    lines = probe_bytes(b'{"a": 1}\n\n{"a": 2}\n', "body")
    assert lines.is_lines and list(lines.records()) == [(1, {"a": 1}), (3, {"a": 2})]
    with pytest.raises(TrajectoryFormatError, match=r"body, line 2: truncated JSON"):
        probe_bytes(b'{"a": 1}\n{"a": \n', "body")
    with pytest.raises(TrajectoryFormatError, match="body: empty file"):
        probe_bytes(b"", "body")


def test_read_parsed_uses_the_same_readers_as_files(formats: Any, readers: Any) -> None:
    source = ParsedSource("request", [(1, formats.mini(iid="calc__calc-7"))])
    (trajectory,) = read_parsed(source, adapters=readers)
    assert trajectory.source.startswith("mini-swe-agent") and trajectory.source_path is None
    assert trajectory.instance_id == "calc__calc-7"
    with pytest.raises(TrajectoryFormatError, match="request: unknown trajectory format"):
        read_parsed(ParsedSource("request", [(1, {"what": "ever"})]), adapters=readers)
