"""Each execution-free signal, on patches and on trajectories read back from real formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from swerm_plugin.model import Step, Trajectory
from swerm_plugin.readers import load
from swerm_plugin.selection import file_role, patch_signals, trajectory_signals
from swerm_plugin.testing.runs import Attempt, write_predictions_run, write_sweagent_run

from .conftest import FIX, OTHER_FIX, SCRATCH, TEST_CHANGE, diff


@pytest.mark.parametrize(
    ("path", "added", "role"),
    [
        ("pkg/mod.py", False, "source"),
        ("django/views/debug.py", False, "source"),  # an existing file is never scratch
        ("pkg/temperature.py", True, "source"),  # a new module, not a 'temp' script
        ("reproduce_bug.py", True, "scratch"),
        ("investigation_notes.txt", True, "scratch"),  # anything new at the repository root
        ("pkg/debug_issue.py", True, "scratch"),
        ("tests/test_mod.py", False, "test"),
        ("pkg/tests/helpers.py", True, "test"),
        ("pkg/test_mod.py", False, "test"),
        ("pkg/mod_test.py", False, "test"),
        ("conftest.py", False, "test"),
        ("docs/_build/html/index.html", True, "scratch"),  # a build's output
        ("pkg/mod.py.orig", True, "scratch"),
        ("docs/usage.rst", False, "docs"),
        ("CHANGES.rst", False, "docs"),
        ("pkg/README.md", True, "docs"),
    ],
)
def test_file_roles(path: str, added: bool, role: str) -> None:
    assert file_role(path, added=added) == role


def test_the_source_form_leaves_tests_docs_and_scratch_files_out() -> None:
    changelog = diff("CHANGES.rst", ["Unreleased"], ["Unreleased", "- f() accepts []"])
    bare, full = patch_signals(FIX), patch_signals(FIX + TEST_CHANGE + SCRATCH + changelog)
    assert full.source_form == bare.source_form != ""
    assert full.source_files == frozenset({"pkg/mod.py"})
    assert full.source_lines == 3  # -return, +if, +return
    assert (full.test_files, full.scratch_files) == (("tests/test_mod.py",), ("reproduce_bug.py",))
    assert patch_signals(OTHER_FIX).source_form != bare.source_form
    new_module = diff("pkg/newmod.py", [], ["X = 1"], new=True)
    assert patch_signals(FIX + new_module).new_source_files == ("pkg/newmod.py",)


def test_a_patch_without_a_source_change() -> None:
    for patch in (TEST_CHANGE + SCRATCH, "", diff("pkg/mod.py", ["x = 1"], ["x = 1  # why"])):
        signals = patch_signals(patch)
        assert not signals.changes_source and signals.source_lines == 0


def _read_sweagent(tmp_path: Path, attempt: Attempt) -> Trajectory:
    run, _ = write_sweagent_run(tmp_path / "run", {"pkg__pkg-1": attempt})
    [trajectory] = load(run)
    return trajectory


@pytest.mark.parametrize(
    ("actions", "exit_status", "expected"),
    [
        (["cat pkg/mod.py", "edit 11:12", "python -m pytest tests"], "submitted", (3, True, True)),
        (["python reproduce.py", "sed -i 's/0/1/' pkg/mod.py"], "submitted", (2, True, False)),
        # an edit and a run in one shell command: the run comes after the edit
        (["cat > fix.py <<'EOF'\nx = 1\nEOF\npython fix.py"], "submitted", (1, True, True)),
        (["ls", "grep -r items pkg"], "exit_cost", (2, False, None)),  # no edit seen
        ([], "exit_context", (None, False, None)),
    ],
)
def test_trajectory_signals_from_a_sweagent_run(
    tmp_path: Path, actions: list[str], exit_status: str, expected: tuple[object, ...]
) -> None:
    trajectory = _read_sweagent(tmp_path, Attempt(FIX, actions=actions, exit_status=exit_status))
    signals = trajectory_signals(trajectory)
    steps = expected[0] + (exit_status == "submitted") if expected[0] is not None else None
    assert (signals.steps, signals.submitted, signals.ran_code_after_last_edit) == (
        steps,
        *expected[1:],
    )


def test_editor_tool_calls_count_as_edits() -> None:
    editor = 'str_replace_editor {"command": "str_replace", "path": "/repo/pkg/mod.py"}'
    steps = [Step(role="assistant", action=a) for a in ("pytest tests", editor)]
    trajectory = Trajectory(instance_id="i", source="test", steps=steps, exit_status="submitted")
    assert trajectory_signals(trajectory).ran_code_after_last_edit is False


def test_a_bare_prediction_has_no_trajectory_signals(tmp_path: Path) -> None:
    run, _ = write_predictions_run(tmp_path / "preds", {"pkg__pkg-1": Attempt(FIX)})
    [trajectory] = load(run)
    signals = trajectory_signals(trajectory)
    assert (signals.steps, signals.submitted, signals.ran_code_after_last_edit) == (None,) * 3
