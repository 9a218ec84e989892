"""``swerm distill`` end to end on the rule teacher (conftest): the FIRST student follows the
teacher on held-out trajectories, is calibrated by its temperature, scores through the
transformers backend with that temperature, and a run killed at a checkpoint resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy.stats import spearmanr

from swerm_plugin.config import SwermConfig
from swerm_plugin.distill import SplitPlan
from swerm_plugin.model import Score, Trajectory
from swerm_plugin.plugins.manager import get_hooks
from swerm_plugin.scores import read_scores
from swerm_plugin.testing import run_cli
from swerm_plugin.verifier import Verifier

from .conftest import EPOCHS, SPLIT, TEMPLATE, Distilled, RuleData, held_out

pytestmark = pytest.mark.slow


def local_scores(model: Path, trajectories: list[Trajectory]) -> list[Score]:
    config = SwermConfig(backend="transformers", model=str(model), template=TEMPLATE)
    with Verifier(config) as verifier:
        scores = verifier.score(trajectories)
    assert all(s.ok for s in scores), [s.error for s in scores]
    return scores


def spearman(a: list[float], b: list[float]) -> float:
    return float(spearmanr(a, b).statistic)


def test_the_student_follows_the_teacher_on_held_out_trajectories(
    distilled: Distilled, rule_data: RuleData, teacher_scores: Path, student_base: Path
) -> None:
    trajectories = held_out(rule_data)
    teacher = read_scores(teacher_scores)
    teacher_p = [teacher[t.content_hash()].raw or 0.0 for t in trajectories]
    student = local_scores(distilled.output, trajectories)
    untrained = local_scores(student_base, trajectories)
    assert len(trajectories) >= 100
    assert spearman([s.raw or 0.0 for s in student], teacher_p) >= 0.8
    assert spearman([s.raw or 0.0 for s in untrained], teacher_p) < 0.3
    # The folder's card temperature is applied, and every score says so.
    temperature = distilled.card["temperature"]
    assert all(s.temperature == temperature for s in student)
    assert all(s.temperature is None for s in untrained)
    # The card's held-out figures are what the backend gives on the test split.
    plan = SplitPlan(**SPLIT)
    test = [i for i, t in enumerate(trajectories) if plan.of(t.instance_id) == "test"]
    on_test = spearman([student[i].raw or 0.0 for i in test], [teacher_p[i] for i in test])
    first = distilled.card["metrics"]["first"]
    assert first["agreement"]["spearman"] == pytest.approx(on_test, abs=0.02)
    assert distilled.card["metrics"]["untrained"]["agreement"]["spearman"] < 0.3


def test_the_temperature_step_does_not_raise_the_students_ece(distilled: Distilled) -> None:
    metrics = distilled.card["metrics"]
    for name in ("first", "labels_only"):
        effect = metrics[name]["temperature_effect"]
        change = metrics[name]["ece"] - metrics[name]["before_temperature"]["ece"]
        assert effect["ece_change"] == pytest.approx(change), name
        # No rise the held-out split can tell from sampling noise (test_units shows the
        # interval does catch a temperature that makes the ECE worse).
        low, high = effect["interval_90"]
        assert low <= 0.0 and low <= change <= high, (name, effect)
    # The over-confident teacher (its logit is twice the rule's) is softened before the transfer.
    assert distilled.card["teacher"]["temperature"] > 1.5
    assert distilled.card["teacher"]["temperature_fitted_on"] == "training labels"
    assert distilled.card["temperature_fitted_on"] == "validation labels"


def test_the_report_compares_teacher_first_and_labels_only_students(distilled: Distilled) -> None:
    metrics = distilled.card["metrics"]
    assert metrics["split"] == "test" and metrics["n"] == metrics["teacher"]["n"] >= 50
    for name in ("teacher", "first", "labels_only", "untrained"):
        entry = metrics[name]
        assert 0.0 <= entry["ece"] <= 1.0 and 0.0 <= entry["brier"] <= 1.0, name
        assert set(entry["best_at_k"]) == {"1", "2"}, name  # two candidates per task
    assert metrics["teacher"]["auroc"] > 0.75
    assert metrics["first"]["agreement"]["spearman"] > metrics["untrained"]["agreement"]["spearman"]
    training = distilled.card["training"]
    # Same budget: the labels-only student takes as many steps over the same trajectories.
    assert training["labels_only"]["steps"] == training["first"]["steps"] + (
        training["first"]["resumed_at_step"] or 0
    )


def test_the_output_is_a_model_folder_with_its_card(
    distilled: Distilled, teacher_scores: Path, rule_data: RuleData
) -> None:
    files = {p.name for p in distilled.output.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "swerm-card.json"} <= files
    assert not any(name.startswith(".") for name in files), "the work folder is removed"
    modes = {path.stat().st_mode & 0o777 for path in distilled.output.iterdir()}
    assert len(modes) == 1, "the weights are as readable as the other files"
    card = json.loads((distilled.output / "swerm-card.json").read_text())
    assert card == distilled.card
    assert card["format"] == "swerm-card" and card["method"] == "FIRST"
    assert card["template"] == {"name": TEMPLATE, "version": card["template"]["version"]}
    assert card["verdict_tokens"] == list(get_hooks().template(TEMPLATE).verdict_tokens)
    assert card["teacher"]["topk"] == 5
    assert card["teacher"]["scores_file"] == str(teacher_scores)
    assert len(card["teacher"]["scores_sha256"]) == 64
    assert card["data"]["labels"][0]["path"] == str(rule_data.labels)
    assert card["data"]["verdict_coverage"] == 1.0
    split = card["split"]
    assert (
        split["train"]["n"] + split["val"]["n"] + split["test"]["n"] == card["data"]["n_examples"]
    )
    assert not distilled.problems, distilled.problems


def test_a_killed_distillation_continues_from_its_checkpoint(distilled: Distilled) -> None:
    first = distilled.card["training"]["first"]
    resumed = first["resumed_at_step"]
    assert distilled.killed_at and resumed == int(distilled.killed_at[-1].split("-")[1])
    steps_per_epoch = distilled.card["training"]["labels_only"]["steps"] // EPOCHS
    assert 0 < resumed < EPOCHS * steps_per_epoch
    assert resumed % steps_per_epoch != 0, "killed mid-epoch"
    assert first["steps"] == EPOCHS * steps_per_epoch - resumed  # only the rest is trained again


def test_a_lora_student_is_merged_into_a_plain_folder(
    rule_data: RuleData, teacher_scores: Path, student_base: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    out = tmp_path / "lora"
    result = run_cli(
        "distill", *rule_data.runs, "--teacher-scores", teacher_scores, "--student",
        student_base, "-o", out, "--lora", "--lora-rank", 4, "--epochs", 1, "--no-baseline",
        "--lr", 1e-2, "--val-fraction", 0.3, "--test-fraction", 0.3, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    card = json.loads(result.stdout)["card"]
    assert card["student"]["lora_rank"] == 4 and "labels_only" not in card["training"]
    assert card["teacher"]["temperature"] == 1.0  # no labels: the teacher as it is
    assert card["teacher"]["temperature_fitted_on"] == "none (no labels): T = 1"
    assert card["temperature_fitted_on"].startswith("teacher probabilities")
    weights = load_file(out / "model.safetensors")
    base = load_file(student_base / "model.safetensors")
    assert set(weights) == set(base), "merged: no adapter weights left"
    assert any(not (weights[k] == base[k]).all() for k in base)
    assert local_scores(out, held_out(rule_data)[:4])[0].temperature == card["temperature"]
