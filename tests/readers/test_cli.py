from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from swerm_plugin.cli.inspect import inspect_command
from swerm_plugin.patches import patch_lines
from swerm_plugin.testing import run_cli

WIDE = {"COLUMNS": "200"}  # rich sizes tables to the terminal


@pytest.fixture
def run_folder(tmp_path: Path, formats) -> Path:
    run = tmp_path / "run"
    formats.write_json(run / "a__a-1" / "a__a-1.traj", formats.sweagent_v1("a__a-1"))
    failed = formats.sweagent_v1("b__b-2", exit_status="exit_cost")
    failed["info"]["submission"] = None
    formats.write_json(run / "b__b-2" / "b__b-2.traj", failed)
    formats.write_json(
        tmp_path / "report.json",
        {"completed_ids": ["a__a-1", "b__b-2"], "resolved_ids": ["a__a-1"]},
    )
    return run


def test_patch_lines_counts_changed_lines_only(formats) -> None:
    assert patch_lines(formats.PATCH) == 2
    assert patch_lines("") == 0


def test_inspect_json(run_folder: Path) -> None:
    result = run_cli("inspect", run_folder, "--json", "--labels", run_folder.parent / "report.json")

    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["trajectories"]
    assert [(r["instance_id"], r["label"], r["exit_status"]) for r in rows] == [
        ("a__a-1", True, "submitted"),
        ("b__b-2", False, "limit"),
    ]
    first = rows[0]
    assert (first["format"], first["source"], first["n_steps"]) == ("swe-agent", "swe-agent/1.x", 3)
    assert first["patch"].startswith("diff --git a/calc.py")
    assert (first["patch_lines"], rows[1]["patch_lines"]) == (2, 0)
    assert first["run_id"] == "run"
    assert len(first["content_hash"]) == 64  # joins with scores files


def test_inspect_table(run_folder: Path) -> None:
    result = CliRunner(env=WIDE).invoke(
        inspect_command, [str(run_folder), "--labels", str(run_folder.parent / "report.json")]
    )

    assert result.exit_code == 0, result.output
    assert "2 trajectories" in result.output
    a_row = next(line for line in result.output.splitlines() if "a__a-1" in line)
    assert "swe-agent/1.x" in a_row and "submitted" in a_row and "resolved" in a_row
    b_row = next(line for line in result.output.splitlines() if "b__b-2" in line)
    assert "limit" in b_row and "unresolved" in b_row


def test_inspect_markup_in_ids_is_shown_as_text(tmp_path: Path, formats) -> None:
    path = formats.write_json(tmp_path / "x.traj", formats.sweagent_v1("[bold red]evil[/]"))
    result = CliRunner(env=WIDE).invoke(inspect_command, [str(path), "--run-id", "r9"])
    assert result.exit_code == 0, result.output
    assert "[bold red]evil[/]" in result.output
    assert "r9" in result.output


def test_inspect_bad_file_exits_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "a.traj"
    path.write_text('{"trajectory": [], "info": {"exit_status": 5}}')

    result = run_cli("inspect", path)

    assert result.exit_code == 1
    assert "field 'info.exit_status'" in result.stderr
    assert "swerm: error: nothing was read" in result.stderr


def test_swerm_inspect_through_the_entry_point(run_folder: Path, swerm_pm, capsys) -> None:
    from swerm_plugin.cli import main

    assert main(["inspect", str(run_folder / "a__a-1"), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["trajectories"]
    assert (row["instance_id"], row["format"], row["label"]) == ("a__a-1", "swe-agent", None)


def test_swerm_inspect_error_is_one_line(tmp_path: Path, swerm_pm, capsys) -> None:
    from swerm_plugin.cli import main

    path = tmp_path / "empty.traj"
    path.write_bytes(b"")
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"swerm: skipped: {path}: empty file (0 bytes)" in err
    assert (
        err.splitlines()[-1] == "swerm: error: nothing was read: every item was skipped or failed"
    )
