"""Bad bytes of every kind end as one TrajectoryFormatError naming file, line and problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swerm_plugin.readers import TrajectoryFormatError, TruncatedRecordWarning, load
from swerm_plugin.readers.probe import probe


def _records(formats, n: int = 3) -> list[dict]:
    return [formats.openhands_v0_record(f"x__x-{i}") for i in range(n)]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "output.jsonl"
    path.write_bytes(b"")
    with pytest.raises(TrajectoryFormatError, match=r"output\.jsonl: empty file \(0 bytes\)"):
        list(load(path))


def test_whitespace_only_file(tmp_path: Path) -> None:
    path = tmp_path / "a.traj"
    path.write_text("\n  \n")
    with pytest.raises(TrajectoryFormatError, match="only whitespace"):
        list(load(path))


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "run.traj"
    path.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)))
    with pytest.raises(TrajectoryFormatError, match="binary file") as info:
        list(load(path))
    assert "compressed" in str(info.value)


def test_non_utf8_line_is_named(tmp_path: Path, formats) -> None:
    path = tmp_path / "output.jsonl"
    good = json.dumps(formats.openhands_v0_record()).encode()
    path.write_bytes(
        good + b"\n" + good.replace(b"calc.py sets", b"calc\xff sets") + b"\n" + good + b"\n"
    )

    with pytest.raises(TrajectoryFormatError) as info:
        list(load(path))

    assert info.value.line == 2
    assert "not valid UTF-8" in str(info.value)


def test_non_utf8_document_names_the_line(tmp_path: Path, formats) -> None:
    text = json.dumps(formats.sweagent_v1(), indent=2).encode()
    at = text.index(b"careful")
    path = tmp_path / "t.traj"
    path.write_bytes(text[:at] + b"\xc3\x28" + text[at:])

    with pytest.raises(TrajectoryFormatError) as info:
        list(load(path))

    assert info.value.line == text[:at].count(b"\n") + 1
    assert "not valid UTF-8" in str(info.value)


def test_truncated_document(tmp_path: Path, formats) -> None:
    text = json.dumps(formats.sweagent_v1(), indent=2)
    path = tmp_path / "t.traj"
    path.write_text(text[: len(text) // 2])
    with pytest.raises(TrajectoryFormatError, match="truncated JSON"):
        list(load(path))


def test_malformed_middle_line_is_an_error_with_its_number(tmp_path: Path, formats) -> None:
    lines = [json.dumps(r) for r in _records(formats)]
    lines[1] = lines[1][:-10]  # cut, but followed by a newline: damage, not a live writer
    path = tmp_path / "output.jsonl"
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(TrajectoryFormatError) as info:
        list(load(path))

    assert info.value.line == 2
    assert "one JSON value per line" in str(info.value)


def test_truncated_last_line_is_skipped_with_a_warning(tmp_path: Path, formats) -> None:
    lines = [json.dumps(r) for r in _records(formats)]
    path = tmp_path / "output.jsonl"
    path.write_text("\n".join(lines[:2]) + "\n\n" + lines[2][:500])  # a blank line, then the cut

    with pytest.warns(TruncatedRecordWarning, match=r"line 4: skipped a truncated last record"):
        trajs = list(load(path))

    assert [t.instance_id for t in trajs] == ["x__x-0", "x__x-1"]


def test_complete_last_line_without_newline_is_kept(tmp_path: Path, formats) -> None:
    path = tmp_path / "output.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _records(formats)))
    assert len(list(load(path))) == 3


def test_byte_order_mark_is_accepted(tmp_path: Path, formats) -> None:
    path = tmp_path / "t.traj"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(formats.sweagent_v1()).encode())
    [traj] = load(path)
    assert traj.instance_id == "calc__calc-1"


def test_one_line_jsonl_is_a_document_and_many_lines_stream(tmp_path: Path, formats) -> None:
    one = formats.write_jsonl(tmp_path / "one.jsonl", _records(formats, 1))
    many = formats.write_jsonl(tmp_path / "many.jsonl", _records(formats, 2))
    assert probe(one).kind == "document"
    source = probe(many)
    assert (source.kind, source.first_line) == ("lines", 1)
    assert [line for line, _ in source.records()] == [1, 2]
    assert source.first is None  # handed over, not kept beside the stream


def test_unknown_format_lists_the_formats_tried(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"model": "gpt-4o", "temperature": 0}')

    with pytest.raises(TrajectoryFormatError) as info:
        list(load(path))

    message = str(info.value)
    assert "unknown trajectory format" in message
    for name in (
        "swe-agent",
        "mini-swe-agent",
        "openhands-v0",
        "openhands-sdk",
        "swebench-predictions",
    ):
        assert name in message


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(TrajectoryFormatError, match="no such file or folder"):
        list(load(tmp_path / "nope"))


def test_unreadable_path(tmp_path: Path) -> None:
    # A folder handed to the file reader fails to open the way an unreadable file does.
    with pytest.raises(TrajectoryFormatError, match="cannot be read: Is a directory"):
        probe(tmp_path)


def test_a_folder_named_like_a_file_is_walked(tmp_path: Path, formats) -> None:
    folder = tmp_path / "output.jsonl"
    formats.write_json(folder / "a__a-1.traj", formats.sweagent_v1("a__a-1"))
    assert [t.instance_id for t in load(folder)] == ["a__a-1"]
