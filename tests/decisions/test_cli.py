"""The commands through click's runner, on small runs made here, with numbers worked by hand.

Two runs, four tasks (P = patch, ✓ resolved):
    t1: run1 P1a ✓ (score .3)   run2 P1b ✗ (score .8)   ← the verifier prefers the wrong one
    t2: run1 P2a ✗ (.6)         run2 empty
    t3: run1 P3a ✓ (.9)         run2 P3b ✓ (.2)
    t4: run1 empty              run2 empty               ← no candidate at all
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from swerm_plugin.cli import cli
from swerm_plugin.plugins import get_hooks
from swerm_plugin.readers import load
from swerm_plugin.testing import run_cli

from .conftest import MakeDiff, WritePreds


@pytest.fixture
def runner() -> CliRunner:
    get_hooks().register_commands(cli)
    return CliRunner()


def invoke(runner: CliRunner, *args: Any) -> SimpleNamespace:
    """``swerm ARGS`` in-process; ``output`` is stdout (results) alone, ``stderr`` the messages."""
    result = run_cli(*args)
    return SimpleNamespace(output=result.stdout, stderr=result.stderr, exit_code=result.exit_code)


@pytest.fixture
def runs(
    tmp_path: Path,
    make_diff: MakeDiff,
    write_run: WritePreds,
    write_resolved: Callable[..., Path],
) -> dict[str, Any]:
    patch = {
        name: make_diff(f"pkg/{name}.py", ["old = 1"], [f"new = {i}"])
        for i, name in enumerate(["p1a", "p1b", "p2a", "p3a", "p3b"])
    }
    run1 = write_run("run1", {"t1": patch["p1a"], "t2": patch["p2a"], "t3": patch["p3a"], "t4": ""})
    run2 = write_run("run2", {"t1": patch["p1b"], "t2": "", "t3": patch["p3b"], "t4": ""})
    labels1 = write_resolved("run1", ["t1", "t3"])
    labels2 = write_resolved("run2", ["t3"])
    scores = {"p1a": 0.3, "p1b": 0.8, "p2a": 0.6, "p3a": 0.9, "p3b": 0.2}
    by_patch = {text: scores[name] for name, text in patch.items()}
    score_file = tmp_path / "scores.jsonl"
    with score_file.open("w") as fh:
        for run in (run1, run2):
            for trajectory in load(run):
                raw = by_patch.get(trajectory.patch, 0.05)  # empty patches: 0.05
                record = {"content_hash": trajectory.content_hash(), "raw": raw, "backend": "test"}
                fh.write(json.dumps(record) + "\n")
    return {
        "runs": [run1, run2],
        "labels": [labels1, labels2],
        "scores": score_file,
        "patch": patch,
        "tmp": tmp_path,
    }


def eval_args(runs: dict[str, Any]) -> list[Any]:
    args: list[Any] = ["eval", *runs["runs"]]
    for label in runs["labels"]:
        args += ["--labels", label]
    return [*args, "--scores", runs["scores"], "--json", "--subsets", "200"]


def test_eval_matches_hand_computed_numbers(runner: CliRunner, runs: dict[str, Any]) -> None:
    result = invoke(runner, *eval_args(runs))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["n_tasks"], report["n_candidates"], report["max_candidates"]) == (3, 5, 2)
    assert report["n_tasks_without_candidates"] == 1
    assert report["random"] == pytest.approx(50.0)  # (1/2 + 0 + 1) / 3
    assert report["oracle"] == pytest.approx(66.67)
    assert report["best_at_k"] == {"1": pytest.approx(50.0), "2": pytest.approx(33.33)}
    assert report["pass_at_k"]["2"] == pytest.approx(66.67)
    assert report["consensus"] == pytest.approx(50.0)  # all patches differ: ties, the mean
    calibration = report["calibration"]
    assert calibration["n"] == 5
    # resolved {.3, .9, .2} vs unresolved {.8, .6}: 2 of 6 pairs ordered right
    assert calibration["before"]["auroc"] == pytest.approx(1 / 3)
    # two unresolved candidates are too few to cross-fit a calibrator: said, not hidden
    assert "at least 2 resolved and 2 unresolved" in calibration["after_skipped"]


def test_eval_total_tasks_and_table_output(runner: CliRunner, runs: dict[str, Any]) -> None:
    args = [a for a in eval_args(runs) if a != "--json"]
    report = json.loads(invoke(runner, *eval_args(runs), "--total-tasks", 6).output)
    assert (report["n_tasks"], report["random"], report["oracle"]) == (6, 25.0, 33.33)
    table = invoke(runner, *args).output
    assert "best@k" in table and "oracle" in table and "auroc" in table


def test_labels_in_one_file_that_names_the_runs(runner: CliRunner, runs: dict[str, Any]) -> None:
    combined = runs["tmp"] / "labels.json"
    combined.write_text(json.dumps({"run1": ["t1", "t3"], "run2": {"t3": True, "t1": False}}))
    args = ["eval", *runs["runs"], "--labels", combined, "--scores", runs["scores"], "--json"]
    report = json.loads(invoke(runner, *args).output)
    assert report["random"] == pytest.approx(50.0) and report["oracle"] == pytest.approx(66.67)


def test_label_mismatches_are_explained(runner: CliRunner, runs: dict[str, Any]) -> None:
    one = ["eval", *runs["runs"], "--labels", runs["labels"][0]]
    result = run_cli(*one)
    assert result.exit_code == 1 and "holds the labels of one run" in result.stderr
    assert "one --labels file per run" in result.stderr and "names the runs" in result.stderr
    three = [*one, "--labels", runs["labels"][0], "--labels", runs["labels"][1]]
    result = run_cli(*three)
    assert result.exit_code == 1 and "3 --labels files for 2 runs" in result.stderr


def test_rerank_writes_predictions_and_a_decisions_log(
    runner: CliRunner, runs: dict[str, Any]
) -> None:
    out = runs["tmp"] / "out" / "preds.jsonl"
    result = invoke(
        runner,
        "rerank",
        *runs["runs"],
        "--scores",
        runs["scores"],
        "-o",
        out,
        "--threshold",
        0.5,
        "--on-reject",
        "empty_patch",
    )
    assert result.exit_code == 0, result.output
    preds = {p["instance_id"]: p for p in map(json.loads, out.read_text().splitlines())}
    assert sorted(preds) == ["t1", "t2", "t3", "t4"]
    assert preds["t1"]["model_patch"] == runs["patch"]["p1b"]  # highest score, .8
    assert preds["t2"]["model_patch"] == runs["patch"]["p2a"]  # .6 ≥ .5: accepted
    assert preds["t3"]["model_patch"] == runs["patch"]["p3a"]
    assert preds["t4"]["model_patch"] == ""  # nothing to submit: abstain
    assert {p["model_name_or_path"] for p in preds.values()} == {"swerm-rerank"}
    log = [json.loads(line) for line in (out.parent / "preds.jsonl.decisions.jsonl").open()]
    assert len(log) == 8  # one record per candidate
    chosen = [r for r in log if r["chosen"]]
    assert [r["instance_id"] for r in chosen] == ["t1", "t2", "t3", "t4"]
    t1 = next(r for r in chosen if r["instance_id"] == "t1")
    assert t1["run_id"] == "run2" and t1["raw"] == 0.8 and t1["decision"]["action"] == "accept"
    t4 = next(r for r in chosen if r["instance_id"] == "t4")
    assert t4["decision"]["action"] == "reject" and t4["submitted_patch_empty"]
    assert "empty patch" in t4["decision"]["reason"]


def test_rerank_is_repeatable_from_its_own_log(runner: CliRunner, runs: dict[str, Any]) -> None:
    first = runs["tmp"] / "a.jsonl"
    invoke(runner, "rerank", *runs["runs"], "--scores", runs["scores"], "-o", first)
    log = first.with_name("a.jsonl.decisions.jsonl")
    again = runs["tmp"] / "b.jsonl"
    invoke(runner, "rerank", *runs["runs"], "--scores", log, "-o", again)
    assert again.read_text() == first.read_text()


def test_rerank_without_a_model_uses_the_selector(
    runner: CliRunner, tmp_path: Path, write_run: WritePreds, make_diff: MakeDiff
) -> None:
    fix = make_diff("a.py", ["x = 1"], ["x = 2"])
    same_fix_reformatted = make_diff("a.py", ["x = 1"], ["x  =  2   # fixed"], start=40)
    other = make_diff("a.py", ["x = 1"], ["x = 3"])
    paths = [
        write_run("r1", {"t": other}),
        write_run("r2", {"t": fix}),
        write_run("r3", {"t": same_fix_reformatted}),
    ]
    out = tmp_path / "preds.json"
    result = invoke(runner, "rerank", *paths, "-o", out)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["t"]["model_patch"] == fix  # 2 of 3 votes; smaller
    assert "scored by selector" in result.stderr


def test_calibrate_writes_a_calibrator_and_a_threshold(
    runner: CliRunner, runs: dict[str, Any]
) -> None:
    out = runs["tmp"] / "cal.json"
    args: list[Any] = ["calibrate", *runs["runs"], "--scores", runs["scores"], "-o", out]
    for label in runs["labels"]:
        args += ["--labels", label]
    result = invoke(runner, *args, "--method", "platt")
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["method"] == "platt" and data["fitted_on"]["n"] == 5
    assert "run1, run2" in data["fitted_on"]["source"]
    refused = run_cli(*args, "--target-precision", 0.99)
    assert refused.exit_code == 1 and "label more trajectories" in refused.stderr


def test_reward_exports_hybrid_rewards(runner: CliRunner, runs: dict[str, Any]) -> None:
    out = runs["tmp"] / "rewards.jsonl"
    args: list[Any] = ["reward", *runs["runs"], "--scores", runs["scores"], "-o", out]
    for label in runs["labels"]:
        args += ["--labels", label]
    assert invoke(runner, *args).exit_code == 0
    rewards = {(r["instance_id"], r["run_id"]): r for r in map(json.loads, out.open())}
    assert rewards[("t1", "run1")]["reward"] == pytest.approx(1.3)  # resolved: 1 + .3
    assert rewards[("t1", "run2")]["reward"] == pytest.approx(0.8)  # finished, unresolved
    missing = run_cli("reward", runs["runs"][0], "-o", out)
    assert missing.exit_code == 2 and "--mode hybrid needs --labels" in missing.stderr
    assert rewards[("t2", "run2")]["reward"] == pytest.approx(-0.45)  # empty: unfinished
    partial = runs["tmp"] / "partial.jsonl"
    partial.write_text("".join(runs["scores"].read_text().splitlines(True)[:3]))
    args[args.index(runs["scores"])] = partial
    unscored = run_cli(*args)
    assert unscored.exit_code == 1 and "no score; add it to --scores" in unscored.stderr


def test_report_writes_figures_and_summary(runner: CliRunner, runs: dict[str, Any]) -> None:
    out = runs["tmp"] / "report"
    args = [a for a in eval_args(runs) if a != "--json"]
    result = invoke(runner, "report", *args[1:], "-o", out)
    assert result.exit_code == 0, result.output
    for name in ("best_at_k.png", "reliability.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (out / "summary.md").read_text()
    assert "| 2 | 33.33 |" in summary and "| auroc | 0.333 |" in summary
    assert json.loads((out / "eval.json").read_text())["random"] == 50.0


def test_eval_best_at_1_is_the_random_pick_exactly_and_estimates_are_marked(
    runner: CliRunner, runs: dict[str, Any]
) -> None:
    """Without model scores best@k (k >= 2) re-votes inside random subsets: a Monte-Carlo mean,
    marked with its subset count. best@1 leaves no choice, so it is the random pick itself."""
    no_scores = [a for a in eval_args(runs) if a not in ("--scores", runs["scores"])]
    report = json.loads(invoke(runner, *no_scores).output)
    assert report["best_at_k"]["1"] == report["random"]  # exact, not approximately
    assert (report["best_at_k_estimated"], report["n_subsets"]) == ([2], 200)
    table = invoke(runner, *[a for a in no_scores if a != "--json"]).output
    assert "~" in table and "mean over 200 random subsets" in table
    scored = json.loads(invoke(runner, *eval_args(runs)).output)
    assert scored["best_at_k_estimated"] == [] and scored["best_at_k"]["1"] == scored["random"]
    assert "~" not in invoke(runner, *[a for a in eval_args(runs) if a != "--json"]).output


def test_best_at_k_plot_legend_beside_the_points_and_names_the_scorer(
    runs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from swerm_plugin.calibration import plots
    from swerm_plugin.evaluation import report as report_module

    captured: list[Any] = []
    monkeypatch.setattr(plots, "save_png", lambda fig, path: captured.append(fig))
    no_scores = [a for a in eval_args(runs) if a not in ("--scores", runs["scores"])]
    data = json.loads(invoke(CliRunner(), *no_scores).output)
    report = report_module.EvalReport(
        **{
            **{k: v for k, v in data.items() if k not in ("problems",)},
            "best_at_k": {int(k): v for k, v in data["best_at_k"].items()},
            "best_at_k_ci": {int(k): tuple(v) for k, v in data["best_at_k_ci"].items()},
            "pass_at_k": {int(k): v for k, v in data["pass_at_k"].items()},
            "best_at_k_estimated": tuple(data["best_at_k_estimated"]),
        }
    )
    report_module.write_report(report, runs["tmp"] / "report")
    fig = captured[0]
    [ax] = fig.axes
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    axes = ax.get_window_extent()
    assert legend.x0 >= axes.x1, "the legend sits on the plotted area"
    assert ax.lines[0].get_label() == f"best@k (no-model selector: {data['scorer']})"


def test_results_summary_json_gives_the_labels_of_the_equivalent_id_to_bool_file(
    runs: dict[str, Any],
) -> None:
    """mini-swe-agent / sb-cli ``results_summary.json`` (with its ``total``) and a list of
    ``{instance_id, resolved}`` objects read as the same labels as ``{id: bool}``."""
    tmp = runs["tmp"]
    truth = [{"t1": True, "t2": False, "t3": True, "t4": False}] * 2
    truth[1] = {**truth[1], "t1": False}
    shapes: dict[str, list[Path]] = {"plain": [], "summary": [], "objects": []}
    for index, labels in enumerate(truth):
        items = [{"instance_id": iid, "resolved": ok} for iid, ok in labels.items()]
        for shape, document in (
            ("plain", labels),
            (
                "summary",
                {"instances": items, "total": len(items), "resolved": sum(labels.values())},
            ),
            ("objects", items),
        ):
            path = tmp / f"{shape}{index}" / "results_summary.json"
            path.parent.mkdir()
            path.write_text(json.dumps(document))
            shapes[shape].append(path)

    def outputs(files: list[Path]) -> tuple[Any, ...]:
        flags = [a for f in files for a in ("--labels", f)]
        inspected = run_cli("inspect", *runs["runs"], *flags, "--json")
        report = run_cli("eval", *runs["runs"], *flags, "--scores", runs["scores"], "--json")
        out = tmp / f"rewards-{files[0].parent.name}.jsonl"
        rewards = run_cli("reward", *runs["runs"], *flags, "--scores", runs["scores"], "-o", out)
        assert (inspected.exit_code, report.exit_code, rewards.exit_code) == (0, 0, 0), (
            inspected.stderr + report.stderr + rewards.stderr
        )
        labels = sorted(
            (t["run_id"], t["instance_id"], t["label"])
            for t in json.loads(inspected.stdout)["trajectories"]
        )
        figures = {k: v for k, v in json.loads(report.stdout).items() if k != "problems"}
        return labels, figures, out.read_text()

    plain = outputs(shapes["plain"])
    assert [label for *_, label in plain[0]].count(True) == 3  # t1, t3 in run1; t3 in run2
    assert outputs(shapes["summary"]) == plain
    assert outputs(shapes["objects"]) == plain
