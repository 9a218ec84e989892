"""The parts of ``swerm distill`` one at a time: the FIRST loss, the temperature fit, the split,
the work folder and its checkpoints, model cards, and resuming a training phase exactly."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from swerm_plugin.backends.card import CARD_FILE, read_card, scale_probability
from swerm_plugin.distill import SplitPlan, TrainOptions
from swerm_plugin.distill.checkpoint import WorkDir, load
from swerm_plugin.distill.loss import (
    first_loss,
    label_loss,
    student_logprobs,
    transfer_targets,
)
from swerm_plugin.distill.report import temperature_effect
from swerm_plugin.distill.temperature import fit_temperature, sigmoid
from swerm_plugin.errors import BackendUnavailable, DistillError

torch = pytest.importorskip("torch")


# --- the loss ---


def test_transfer_targets_renormalise_the_top_k_and_scale_them() -> None:
    top = torch.log(torch.tensor([[0.6, 0.3, 0.05]]))
    plain = transfer_targets(top, 1.0, rest=False).exp()
    assert plain.sum().item() == pytest.approx(1.0)
    assert plain[0].tolist() == pytest.approx([0.6 / 0.95, 0.3 / 0.95, 0.05 / 0.95], rel=1e-5)
    softened = transfer_targets(top, 2.0, rest=False).exp()
    assert softened[0, 0] < plain[0, 0] and softened[0, 2] > plain[0, 2]
    # A YES/NO pair scaled by T gives sigmoid(logit / T), the temperature-scaled P(YES).
    pair = transfer_targets(torch.log(torch.tensor([[0.8, 0.2]])), 3.0, rest=False).exp()
    assert pair[0, 0].item() == pytest.approx(float(sigmoid(np.array(math.log(4.0) / 3))))


def test_the_rest_bucket_holds_the_mass_outside_the_top_k() -> None:
    top = torch.log(torch.tensor([[0.6, 0.3, 0.05]]))
    targets = transfer_targets(top, 1.0, rest=True).exp()
    assert targets.shape == (1, 4)
    assert targets[0].tolist() == pytest.approx([0.6, 0.3, 0.05, 0.05], rel=1e-5)
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, 0.5]])
    ids = torch.tensor([[0, 1, 4]])
    student = student_logprobs(logits, ids, rest=True).exp()
    full = torch.softmax(logits, -1)[0]
    assert student[0, :3].tolist() == pytest.approx(full[[0, 1, 4]].tolist(), rel=1e-5)
    assert student[0, 3].item() == pytest.approx(float(full[[2, 3]].sum()), rel=1e-5)
    restricted = student_logprobs(logits, ids, rest=False).exp()
    assert restricted.sum().item() == pytest.approx(1.0)


def test_first_loss_is_zero_only_when_the_student_matches_and_pulls_towards_the_teacher() -> None:
    ids = torch.tensor([[0, 1]])
    targets = transfer_targets(torch.log(torch.tensor([[0.9, 0.1]])), 1.0, rest=False)
    matching = torch.log(torch.tensor([[9.0, 1.0, 0.01]]))
    assert first_loss(student_logprobs(matching, ids, rest=False), targets).item() == (
        pytest.approx(0.0, abs=1e-6)
    )
    logits = torch.zeros((1, 3), requires_grad=True)
    loss = first_loss(student_logprobs(logits, ids, rest=False), targets)
    assert loss.item() > 0
    loss.backward()
    assert logits.grad is not None and logits.grad[0, 0] < 0 < logits.grad[0, 1]


def test_label_loss_leaves_out_unknown_labels() -> None:
    logits = torch.tensor([[2.0, 0.0, 5.0], [0.0, 2.0, 5.0]])
    verdicts = torch.tensor([[0, 1], [0, 1]])
    both = label_loss(logits, verdicts, torch.tensor([1, 0]))
    assert both.item() == pytest.approx(math.log1p(math.exp(-2.0)), rel=1e-5)
    only_first = label_loss(logits, verdicts, torch.tensor([1, -1]))
    assert only_first.item() == pytest.approx(both.item(), rel=1e-5)
    assert label_loss(logits, verdicts, torch.tensor([-1, -1])).item() == 0.0


# --- the temperature ---


def test_fit_temperature_recovers_the_temperature_of_labels_and_of_soft_targets() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0.0, 4.0, size=20000)
    labels = (rng.random(z.size) < sigmoid(z / 2.0)).astype(float)
    assert fit_temperature(z, labels) == pytest.approx(2.0, rel=0.05)
    assert fit_temperature(z, sigmoid(z / 3.0)) == pytest.approx(3.0, rel=1e-3)
    with pytest.raises(ValueError, match="as many targets"):
        fit_temperature(z, labels[:10])


# --- the split ---


def test_the_temperature_effect_interval_tells_a_real_rise_from_sampling_noise() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0.0, 1.5, 300)
    labels = rng.random(300) < sigmoid(logits)  # calibrated by construction
    calibrated = sigmoid(logits)
    # A temperature of 0.3 makes calibrated scores far over-confident: a rise the split sees.
    worse = temperature_effect(sigmoid(logits / 0.3), calibrated, labels)
    assert worse["ece_change"] > 0.05 and worse["interval_90"][0] > 0.0
    # A temperature of 0.95 barely moves them: the interval holds 0.
    same = temperature_effect(sigmoid(logits / 0.95), calibrated, labels)
    low, high = same["interval_90"]
    assert low <= 0.0 <= high and low <= same["ece_change"] <= high
    assert same["resamples"] == 1000


def test_the_split_is_by_task_stable_and_near_its_fractions() -> None:
    plan = SplitPlan(val_fraction=0.2, test_fraction=0.3, seed=7)
    ids = [f"repo__repo-{i}" for i in range(3000)]
    splits = [plan.of(i) for i in ids]
    assert splits == [SplitPlan(0.2, 0.3, 7).of(i) for i in ids]
    share = {name: splits.count(name) / len(ids) for name in ("train", "val", "test")}
    assert share == pytest.approx({"train": 0.5, "val": 0.2, "test": 0.3}, abs=0.03)
    assert splits != [SplitPlan(0.2, 0.3, 8).of(i) for i in ids]


# --- the work folder ---


def test_the_work_folder_claims_a_new_folder_and_resumes_only_its_own(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert WorkDir(out, {"data": "a", "epochs": 2}).open() is False
    assert WorkDir(out, {"data": "a", "epochs": 2}).open() is True
    with pytest.raises(DistillError, match="other data or options \\(different: epochs\\)"):
        WorkDir(out, {"data": "a", "epochs": 3}).open()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(DistillError, match="exists and is not empty"):
        WorkDir(foreign, {}).open()
    done = tmp_path / "done"
    done.mkdir()
    (done / CARD_FILE).write_text("{}")
    with pytest.raises(DistillError, match="already holds a distilled model"):
        WorkDir(done, {}).open()


def test_checkpoints_keep_the_last_two_and_round_trip(tmp_path: Path) -> None:
    work = WorkDir(tmp_path / "out", {})
    work.open()
    for step in (5, 10, 15):
        work.save("first", step, {"w": torch.full((2,), float(step))}, {"step": step})
    assert [p.name for p in sorted((work.root / "first").glob("ckpt-*"))] == [
        "ckpt-00000010",
        "ckpt-00000015",
    ]
    latest = work.latest("first")
    assert latest is not None
    weights, states = load(latest)
    assert weights["w"].tolist() == [15.0, 15.0] and states == {"step": 15}
    work.finish("first", {"w": torch.ones(1)}, {"result": {"val": [0.5]}})
    assert work.latest("first") is None and work.done("first") is not None


# --- model cards ---


def write_card(folder: Path, **fields: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    card = {"format": "swerm-card", "temperature": 2.0, **fields}
    (folder / CARD_FILE).write_text(json.dumps(card))
    return folder


def test_read_card_gives_the_temperature_and_refuses_a_broken_card(tmp_path: Path) -> None:
    assert read_card(tmp_path) is None and read_card(None) is None
    card = read_card(write_card(tmp_path / "ok", template={"name": "r2e-gym", "version": "1"}))
    assert card is not None and card.temperature == 2.0 and card.template == "r2e-gym"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / CARD_FILE).write_text("{not json")
    with pytest.raises(BackendUnavailable, match="cannot read the model card"):
        read_card(tmp_path / "bad")
    with pytest.raises(BackendUnavailable, match="must be a positive number"):
        read_card(write_card(tmp_path / "negative", temperature=-1))
    with pytest.raises(BackendUnavailable, match="not a swerm model card"):
        read_card(write_card(tmp_path / "other", format="something"))


def test_scale_probability_divides_the_logit() -> None:
    assert scale_probability(0.5, 3.0) == 0.5 and scale_probability(0.9, 1.0) == 0.9
    assert scale_probability(0.0, 2.0) == 0.0 and scale_probability(1.0, 2.0) == 1.0
    assert scale_probability(0.9, 2.0) == pytest.approx(1 / (1 + math.exp(-math.log(9) / 2)))
    assert scale_probability(1e-12, 0.5) == pytest.approx(1e-24, rel=1e-6)


def test_the_transformers_backend_applies_the_card_temperature(
    tiny_model_dir: Path, tmp_path: Path, trajectory_factory: object
) -> None:
    from swerm_plugin.config import SwermConfig
    from swerm_plugin.verifier import Verifier

    folder = tmp_path / "carded"
    shutil.copytree(tiny_model_dir, folder)
    write_card(folder, temperature=2.5, template={"name": "swe-rm", "version": "2"})
    trajectory = trajectory_factory(seed=3)  # type: ignore[operator]
    with Verifier(SwermConfig(model=str(tiny_model_dir))) as plain:
        (before,) = plain.score([trajectory])
    with Verifier(SwermConfig(model=str(folder))) as carded:
        (after,) = carded.score([trajectory])
    assert before.temperature is None and after.temperature == 2.5
    assert before.raw is not None and after.raw is not None
    assert after.raw == pytest.approx(scale_probability(before.raw, 2.5), abs=1e-9)


# --- resuming a phase ---


def test_a_resumed_phase_ends_with_the_weights_of_an_uninterrupted_one(
    small_case: object, tmp_path: Path
) -> None:
    from swerm_plugin.config import SwermConfig
    from swerm_plugin.decisions.runs import load_runs
    from swerm_plugin.distill.data import build_data, read_teacher
    from swerm_plugin.distill.student import load_student, load_tokenizer, trainable_weights
    from swerm_plugin.distill.train import Phase
    from swerm_plugin.plugins.manager import get_hooks

    case = small_case
    tokenizer = load_tokenizer(str(case.student))  # type: ignore[attr-defined]
    data = build_data(
        load_runs([case.run]),  # type: ignore[attr-defined]
        read_teacher(case.scores),  # type: ignore[attr-defined]
        tokenizer,
        get_hooks(SwermConfig()),
        budget=None,
        plan=SplitPlan(0.25, 0.25, 0),
        on_skip=lambda t, why: pytest.fail(why),
    )
    examples = data.part("train")
    options = TrainOptions(epochs=2, lr=1e-3, batch_tokens=600, checkpoint_every=3, device="cpu")

    def train(work: WorkDir) -> dict[str, object]:
        model = load_student(str(case.student), lora_rank=None)  # type: ignore[attr-defined]
        phase = Phase(
            "first", "first", examples, options, work, pad=0, k=5, teacher_temperature=2.0
        )
        phase.run(model)
        assert phase.total_steps == 10
        return {k: v.detach().clone() for k, v in trainable_weights(model).items()}

    work = WorkDir(tmp_path / "out", {})
    work.open()
    uninterrupted = train(work)
    latest = work.latest("first")
    assert latest is not None and latest.name == "ckpt-00000009"
    resumed = train(work)  # starts again from the newest checkpoint
    assert all(torch.equal(uninterrupted[k], resumed[k]) for k in uninterrupted)
