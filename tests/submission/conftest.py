"""Runs in each framework's own format (built here, as the frameworks write them), scores that
decide which attempt wins, harness logs and labels: what ``swerm submission`` is given."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from swerm_plugin.readers import load
from swerm_plugin.submission.layout import TODO
from swerm_plugin.testing import CliResult, run_cli

from ..readers.conftest import mini, openhands_v0_record, sweagent_v1

IIDS = ("calc__calc-1", "calc__calc-2", "calc__calc-3")
#: Which run's attempt the scores make best, per instance.
PREFERRED = {"calc__calc-1": "run2", "calc__calc-2": "run1", "calc__calc-3": "run2"}
NAME = "swerm_test"
DATE = "20250131"


def patch_for(run: str, iid: str) -> str:
    """A distinct one-line fix per run and instance."""
    value = f"{run}_{iid.rsplit('-', 1)[-1]}"
    return (
        "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n"
        f"@@ -1 +1 @@\n-x = 1\n+x = '{value}'\n"
    )


def _dump(path: Path, value: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")
    return path


def write_mini(root: Path, run: str, iids: Sequence[str]) -> Path:
    """mini-swe-agent: ``<run>/<iid>/<iid>.traj.json``."""
    for iid in iids:
        document = mini(iid=iid)
        document["info"]["submission"] = patch_for(run, iid)
        document["messages"][-1]["extra"]["submission"] = patch_for(run, iid)
        _dump(root / run / iid / f"{iid}.traj.json", document)
    return root / run


def write_sweagent(root: Path, run: str, iids: Sequence[str]) -> Path:
    """SWE-agent 1.x: ``<run>/<iid>/<iid>.traj``."""
    for iid in iids:
        document = sweagent_v1(iid)
        document["info"]["submission"] = patch_for(run, iid)
        document["info"]["swe_agent_version"] = "1.1.0"
        _dump(root / run / iid / f"{iid}.traj", document)
    return root / run


def write_openhands(root: Path, run: str, iids: Sequence[str]) -> Path:
    """OpenHands (V0) evaluation: every instance a line of ``<run>/output.jsonl``."""
    lines = []
    for iid in iids:
        record = openhands_v0_record(iid)
        record["test_result"]["git_patch"] = patch_for(run, iid)
        record["metadata"]["eval_output_dir"] = f"evaluation/outputs/{run}"
        lines.append(json.dumps(record) + "\n")
    path = root / run / "output.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")
    return root / run


def write_predictions(root: Path, run: str, iids: Sequence[str]) -> Path:
    """A run that kept only its predictions: ``<run>/preds.jsonl``."""
    path = root / run / "preds.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [
        {"instance_id": iid, "model_name_or_path": run, "model_patch": patch_for(run, iid)}
        for iid in iids
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return root / run


WRITERS: dict[str, Callable[[Path, str, Sequence[str]], Path]] = {
    "mini": write_mini,
    "sweagent": write_sweagent,
    "openhands": write_openhands,
    "predictions": write_predictions,
}


def write_scores(path: Path, runs: Sequence[Path], preferred: Mapping[str, str]) -> Path:
    """A scores file (as `swerm score -o` writes it) that makes ``preferred`` win each task."""
    lines = []
    for run in runs:
        for trajectory in load(run):
            best = preferred.get(trajectory.instance_id) == run.name
            record = {
                "content_hash": trajectory.content_hash(),
                "raw": 0.9 if best else 0.2,
                "error": None,
                "backend": "test",
                "model": "test-verifier",
                "template": "swe-rm",
                "template_version": "1",
            }
            lines.append(json.dumps(record) + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def write_harness_logs(root: Path, predictions: Path, *, skip: Sequence[str] = ()) -> Path:
    """The harness's ``logs/run_evaluation/<run_id>/<model>/<iid>/`` for a predictions file."""
    base = root / "logs" / "run_evaluation" / "eval1"
    for line in predictions.read_text().splitlines():
        record = json.loads(line)
        if record["instance_id"] in skip or not record["model_patch"]:
            continue
        folder = base / record["model_name_or_path"] / record["instance_id"]
        (folder / "image_build_dir").mkdir(parents=True)
        (folder / "image_build_dir" / "Dockerfile").write_text("FROM scratch\n")
        (folder / "patch.diff").write_text(record["model_patch"])
        (folder / "test_output.txt").write_text("test session starts\n1 passed\n")
        (folder / "eval.sh").write_text("#!/bin/bash\npytest\n")
        (folder / "run_instance.log").write_text("ran\n")
        report = {record["instance_id"]: {"patch_exists": True, "resolved": True}}
        (folder / "report.json").write_text(json.dumps(report))
    return base


def write_resolved(path: Path, resolved: Sequence[str]) -> Path:
    path.write_text(json.dumps({"resolved": list(resolved)}), encoding="utf-8")
    return path


@dataclass
class Workspace:
    """Runs on disk, their scores, and the commands over them."""

    root: Path
    runs: list[Path] = field(default_factory=list)
    scores: Path | None = None

    def add_runs(self, fmt: str, names: Sequence[str] = ("run1", "run2")) -> list[Path]:
        self.runs = [WRITERS[fmt](self.root / "runs", name, IIDS) for name in names]
        self.scores = write_scores(self.root / "scores.jsonl", self.runs, PREFERRED)
        return self.runs

    @property
    def folder(self) -> Path:
        return self.root / "out" / "evaluation" / "verified" / f"{DATE}_{NAME}"

    def rerank(self, *extra: object) -> tuple[CliResult, Path]:
        output = self.root / "rerank" / "preds.jsonl"
        output.parent.mkdir(exist_ok=True)
        result = run_cli(
            "rerank",
            *self.runs,
            "--scores",
            self.scores,
            "--model-name",
            NAME,
            "-o",
            output,
            *extra,
        )
        return result, output

    def submit(self, *extra: object, scores: bool = True) -> CliResult:
        args: list[object] = ["submission", *self.runs, "--split", "verified", "--name", NAME]
        args += ["--date", DATE, "-o", self.root / "out", *extra]
        if scores:
            args += ["--scores", self.scores]
        return run_cli(*args)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


def complete(folder: Path) -> None:
    """Do what a person does before submitting: fill in every placeholder."""
    path = folder / "metadata.yaml"
    metadata = yaml.safe_load(path.read_text())
    metadata["info"].update(
        report="https://example.org/report", site="https://example.org", authors="A. Person"
    )
    metadata["tags"].update(org=["Example Lab"], os_model=False, os_system=True)
    path.write_text(yaml.safe_dump(metadata, sort_keys=False))
    readme = folder / "README.md"
    lines = [
        "Filled in by a person." if TODO in line else line
        for line in readme.read_text().splitlines()
    ]
    readme.write_text("\n".join(lines) + "\n")
