"""Fixtures for the decisions area: unified diffs, predictions files and harness reports built
here (never copied from ../shared)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from swerm_plugin.model import Trajectory

MakeDiff = Callable[..., str]
MakeTrajectory = Callable[..., Trajectory]


def _make_diff(path: str, removed: Sequence[str], added: Sequence[str], *, start: int = 10) -> str:
    """A one-hunk unified diff of ``path`` replacing ``removed`` lines by ``added`` ones."""
    body = [f"-{line}" for line in removed] + [f"+{line}" for line in added]
    return (
        f"diff --git a/{path} b/{path}\n"
        f"index 1111111..2222222 100644\n"
        f"--- a/{path}\n"
        f"+++ b/{path}\n"
        f"@@ -{start},{len(removed) + 1} +{start},{len(added) + 1} @@ def f():\n"
        f"     context = 1\n" + "\n".join(body) + "\n"
    )


def _make_trajectory(
    instance_id: str = "repo__repo-1", patch: str = "", **fields: object
) -> Trajectory:
    return Trajectory(instance_id=instance_id, source="test", patch=patch, **fields)  # type: ignore[arg-type]


@pytest.fixture
def make_diff() -> MakeDiff:
    """``make_diff(path, removed, added, start=10)``: a one-hunk unified diff."""
    return _make_diff


@pytest.fixture
def make_trajectory() -> MakeTrajectory:
    """``make_trajectory(instance_id=..., patch=..., **fields)``: a test trajectory."""
    return _make_trajectory


@pytest.fixture
def fix(make_diff: MakeDiff) -> str:
    """A small Python fix: guard an empty list."""
    return make_diff(
        "pkg/mod.py", ["    return items[0]"], ["    if not items:", "        return None"]
    )


WritePreds = Callable[[str, Mapping[str, str]], Path]


@pytest.fixture
def write_run(tmp_path: Path) -> WritePreds:
    """Write a run folder ``<name>/preds.jsonl`` with ``{instance_id: patch}``; returns the file."""

    def write(name: str, patches: Mapping[str, str]) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        path = folder / "preds.jsonl"
        lines = [
            json.dumps({"instance_id": iid, "model_name_or_path": name, "model_patch": patch})
            for iid, patch in patches.items()
        ]
        path.write_text("\n".join(lines) + "\n")
        return path

    return write


@pytest.fixture
def write_resolved(tmp_path: Path) -> Callable[[str, Sequence[str]], Path]:
    """Write a run's ``resolved.json`` listing the resolved instance ids."""

    def write(name: str, resolved: Sequence[str]) -> Path:
        path = tmp_path / f"{name}.resolved.json"
        path.write_text(json.dumps({"resolved": list(resolved)}))
        return path

    return write
