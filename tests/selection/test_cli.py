"""The selector through the commands: the default scorer without a model, what `swerm eval`
reports, what `swerm rerank` picks, and the hybrid weight `swerm calibrate` fits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from swerm_plugin.config import SwermConfig
from swerm_plugin.decisions.runs import DEFAULT_GROUP_SCORER, group_scorer
from swerm_plugin.readers import load
from swerm_plugin.selection import SELECTOR_VERSION
from swerm_plugin.selection.hybrid import HybridTask, fit_hybrid_weight
from swerm_plugin.testing import run_cli
from swerm_plugin.testing.runs import Attempt, write_predictions_run

from .conftest import FIX, SCRATCH, diff

RIGHT = diff("pkg/mod.py", ["    return items[0]"], ["    return items[0] if items else None"])
SIMILAR = [
    diff(
        "pkg/mod.py",
        ["    return items[0]"],
        ["    if not items:", "        return 0", f"    v{i}()"],
    )
    for i in range(4)
]


def test_the_selector_is_the_default_scorer_without_a_model() -> None:
    assert DEFAULT_GROUP_SCORER == "selector"
    assert group_scorer(SwermConfig()).name == "selector"
    assert group_scorer(SwermConfig(backend="vllm")).name == "selector"  # a model's backend
    assert group_scorer(SwermConfig(backend="consensus")).name == "consensus"  # still there


@pytest.fixture
def six_runs(tmp_path: Path) -> list[tuple[Path, Path]]:
    """Task a: two runs wrote the same resolved fix, four wrote similar wrong ones. Task b: two
    runs resolved it, one of them left a scratch file; four others changed another file."""
    runs = []
    for i in range(6):
        attempts = {
            "pkg__pkg-a": Attempt(RIGHT, True) if i < 2 else Attempt(SIMILAR[i - 2]),
            "pkg__pkg-b": Attempt(FIX + SCRATCH * (i == 1), i < 2)
            if i < 2
            else Attempt(diff("pkg/other.py", ["y = 1"], [f"y = {i}"])),
        }
        runs.append(write_predictions_run(tmp_path / f"run{i}", attempts))
    return runs


def eval_json(runs: list[tuple[Path, Path]], *extra: str) -> dict[str, object]:
    args: list[object] = ["eval", "--json", "--subsets", "50", *extra]
    for run, labels in runs:
        args += [run, "--labels", labels]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.stdout)
    return report


def test_eval_reports_the_selector_as_consensus(six_runs: list[tuple[Path, Path]]) -> None:
    report = eval_json(six_runs)
    assert report["scorer"] == "selector"
    assert report["selector"] == {"name": "selector", "version": SELECTOR_VERSION}
    assert report["consensus"] == pytest.approx(100.0)  # both tasks: the pair of equal fixes
    assert report["best_at_k"]["6"] == pytest.approx(100.0)  # type: ignore[index]
    old = eval_json(six_runs, "--backend", "consensus")
    assert old["selector"] == {"name": "consensus", "version": "1"}
    # similarity votes: task a goes to the four similar patches; task b to the pair
    assert old["consensus"] == pytest.approx(50.0)
    args = [a for run, labels in six_runs for a in (run, "--labels", labels)]
    table = run_cli("eval", "--subsets", "5", *args).stdout
    assert "consensus (selector)" in table and "naive majority" in table


def test_rerank_picks_the_selectors_choice(
    six_runs: list[tuple[Path, Path]], tmp_path: Path
) -> None:
    out = tmp_path / "preds.jsonl"
    result = run_cli("rerank", *(run for run, _ in six_runs), "-o", out)
    assert result.exit_code == 0, result.output
    picked = {
        json.loads(line)["instance_id"]: json.loads(line)["model_patch"]
        for line in out.read_text().splitlines()
    }
    assert picked == {"pkg__pkg-a": RIGHT, "pkg__pkg-b": FIX}  # the one without scratch files


def test_fit_hybrid_weight_by_hand() -> None:
    tasks = [
        # the model prefers the wrong one; right for w > 0.2
        HybridTask(np.array([0.4, 0.5]), np.array([0.6, 0.2]), np.array([True, False])),
        # the model is right, the selector wrong; right for w < 6/11
        HybridTask(np.array([0.9, 0.3]), np.array([0.1, 0.6]), np.array([True, False])),
    ]
    fit = fit_hybrid_weight(tasks)
    assert (fit.n_tasks, fit.n_informative) == (2, 2)
    assert fit.accuracy[0.0] == fit.accuracy[1.0] == 0.5
    assert fit.accuracy[0.2] == 0.75  # a tie on the first task counts half
    assert [w for w, a in fit.accuracy.items() if a == 1.0] == [0.25, 0.3, 0.35, 0.4, 0.45, 0.5]
    assert fit.weight == 0.35  # the middle of the best plateau
    with pytest.raises(ValueError, match="no task has a scored, labelled candidate"):
        fit_hybrid_weight([])


def test_calibrate_fits_the_hybrid_weight(
    six_runs: list[tuple[Path, Path]], tmp_path: Path
) -> None:
    # Model scores: right on task b, wrong on task a (it prefers a similar wrong patch).
    by_patch = {RIGHT: 0.40, SIMILAR[0]: 0.55, FIX: 0.9, FIX + SCRATCH: 0.9}
    scores = tmp_path / "scores.jsonl"
    with scores.open("w") as fh:
        for run, _ in six_runs:
            for trajectory in load(run):
                raw = by_patch.get(trajectory.patch, 0.2)
                fh.write(json.dumps({"content_hash": trajectory.content_hash(), "raw": raw}) + "\n")
    args: list[object] = ["calibrate", "--scores", scores, "-o", tmp_path / "cal.json"]
    for run, labels in six_runs:
        args += [run, "--labels", labels]
    result = run_cli(*args, "--method", "temperature", "--fit-consensus-weight")
    assert result.exit_code == 0, result.output
    assert "picks resolve 100.0% of 2 tasks" in result.stderr
    assert "model alone 50.0%" in result.stderr
    weight = float(result.stderr.split("policy.consensus_weight = ")[1].split()[0])
    assert 0.0 < weight < 1.0


def test_fitting_the_weight_needs_model_scores(
    six_runs: list[tuple[Path, Path]], tmp_path: Path
) -> None:
    args: list[object] = ["calibrate", "-o", tmp_path / "cal.json", "--fit-consensus-weight"]
    for run, labels in six_runs:
        args += [run, "--labels", labels]
    result = run_cli(*args)
    assert result.exit_code == 2
    assert (
        "--fit-consensus-weight needs model scores: pass --scores FILE or --model" in result.stderr
    )
