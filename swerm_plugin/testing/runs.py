"""Small labelled runs written in real formats, for tests and benchmarks of selection.

* :func:`write_predictions_run`: ``<folder>/preds.jsonl`` (SWE-bench predictions) and
  ``<folder>/resolved.json`` (``{"resolved": [ids]}``, the harness's list);
* :func:`write_sweagent_run`: a SWE-agent 1.x run, ``<folder>/<iid>/<iid>.traj`` per task, with
  its resolved list in ``<folder>.resolved.json`` beside the folder.

Each returns ``(run path, labels path)``: what ``swerm eval RUN --labels LABELS`` takes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Attempt:
    """One run's attempt at one task: the patch, whether the harness resolved it, and for
    trajectories the shell commands the agent ran and how the run ended."""

    patch: str
    resolved: bool = False
    actions: Sequence[str] = ()
    exit_status: str = "submitted"


def _resolved(path: Path, attempts: Mapping[str, Attempt]) -> Path:
    ids = sorted(iid for iid, attempt in attempts.items() if attempt.resolved)
    path.write_text(json.dumps({"resolved": ids}, indent=1) + "\n")
    return path


def write_predictions_run(folder: Path, attempts: Mapping[str, Attempt]) -> tuple[Path, Path]:
    """A predictions run: one ``{"instance_id", "model_name_or_path", "model_patch"}`` a line."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"instance_id": iid, "model_name_or_path": folder.name, "model_patch": a.patch})
        for iid, a in attempts.items()
    ]
    (folder / "preds.jsonl").write_text("\n".join(lines) + "\n")
    return folder, _resolved(folder / "resolved.json", attempts)


def sweagent_traj(iid: str, attempt: Attempt) -> dict[str, Any]:
    """A SWE-agent 1.x ``.traj`` document: one trajectory entry per action, then ``submit``."""
    issue = f"Task {iid}: something is broken."
    steps = [*attempt.actions, "submit"] if attempt.exit_status == "submitted" else attempt.actions
    return {
        "environment": "main",
        "trajectory": [
            {
                "action": action,
                "observation": attempt.patch if action == "submit" else "ok",
                "response": f"Next.\n\n```\n{action}\n```",
                "thought": "Next.",
                "execution_time": 0.1,
                "state": {"working_dir": "/repo"},
                "query": [],
                "extra_info": {},
            }
            for action in steps
        ],
        "history": [
            {"role": "system", "content": "You are a programmer.", "agent": "main"},
            {"role": "user", "content": f"<pr_description>\n{issue}\n</pr_description>"},
        ],
        "info": {
            "submission": attempt.patch,
            "exit_status": attempt.exit_status,
            "model_stats": {"instance_cost": 0.1 * len(steps), "api_calls": len(steps)},
        },
        "replay_config": {"problem_statement": {"type": "text", "text": issue, "id": iid}},
    }


def write_sweagent_run(folder: Path, attempts: Mapping[str, Attempt]) -> tuple[Path, Path]:
    """A SWE-agent 1.x run folder, labels beside it."""
    for iid, attempt in attempts.items():
        path = folder / iid / f"{iid}.traj"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(sweagent_traj(iid, attempt)))
    return folder, _resolved(folder.with_name(f"{folder.name}.resolved.json"), attempts)
