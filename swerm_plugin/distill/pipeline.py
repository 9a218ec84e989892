"""``swerm distill`` as one library function: teacher scores + runs → a small calibrated verifier.

1. Read the teacher's top-K records and the runs (and labels); render every trajectory as the
   teacher saw it with the student's tokenizer (which must be the teacher's); split by task.
2. Fit the teacher's temperature on the training labels (T = 1 without labels).
3. Train the FIRST student on the temperature-scaled top-K (and, with labels, a student on the
   labels alone with the same budget, for comparison); both resumable from checkpoints.
4. Fit each student's temperature on the validation split; report on the held-out split.
5. Write the FIRST student as a model folder with its ``swerm-card.json``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from swerm_plugin.config import SwermConfig
from swerm_plugin.distill import checkpoint
from swerm_plugin.distill.batches import predict_logits
from swerm_plugin.distill.card import card_header, write_output
from swerm_plugin.distill.checkpoint import WorkDir
from swerm_plugin.distill.data import DistillData, SplitPlan, build_data, read_teacher
from swerm_plugin.distill.report import held_out_report
from swerm_plugin.distill.student import (
    load_student,
    load_tokenizer,
    resolve_device,
    set_weights,
    trainable_weights,
)
from swerm_plugin.distill.temperature import fit_temperature, sigmoid
from swerm_plugin.distill.train import Objective, Phase, ProgressFactory, TrainOptions
from swerm_plugin.model import Trajectory


@dataclass(frozen=True)
class DistillOptions:
    """What ``swerm distill`` was asked to do."""

    teacher_scores: Path
    runs: tuple[Path, ...]
    student: str
    output: Path
    labels: tuple[Path, ...] = ()
    max_tokens: int | None = None
    split: SplitPlan = field(default_factory=SplitPlan)
    train: TrainOptions = field(default_factory=TrainOptions)
    baseline: bool = True
    teacher_tokenizer: str | None = None


@dataclass
class DistillResult:
    output: Path
    card: dict[str, Any]
    skipped: list[tuple[Trajectory, str]]
    resumed: bool


@dataclass
class _Trained:
    """A finished phase: its validation and held-out logits and its statistics."""

    val: np.ndarray
    test: np.ndarray
    stats: dict[str, Any]


def distill(
    options: DistillOptions,
    config: SwermConfig,
    *,
    progress: ProgressFactory | None = None,
    on_error: Callable[[Exception], None] | None = None,
    on_problem: Callable[[str, str], None] | None = None,
    on_skip: Callable[[Trajectory, str], None] | None = None,
) -> DistillResult:
    """Distil the teacher whose scores are in ``options.teacher_scores`` (see the module docs).

    ``on_error`` receives unreadable files or records of the runs, ``on_problem`` what the
    labels leave out, ``on_skip`` each trajectory left out of the data and why (they are also
    in the result's ``skipped``).
    """
    from swerm_plugin.plugins.manager import get_hooks

    skipped: list[tuple[Trajectory, str]] = []

    def skip(trajectory: Trajectory, why: str) -> None:
        skipped.append((trajectory, why))
        if on_skip is not None:
            on_skip(trajectory, why)

    tokenizer = load_tokenizer(options.student, trust_remote_code=config.trust_remote_code)
    data = _load_data(options, config, tokenizer, skip, on_error, on_problem)
    teacher_t, teacher_fit = teacher_temperature(data)
    options = replace(
        options, train=replace(options.train, device=resolve_device(options.train.device))
    )
    work = WorkDir(options.output, _fingerprint(options, data))
    resumed = work.open()
    pad = _pad(tokenizer)
    untrained = _untrained(work, options, data, pad)
    common: dict[str, Any] = {"data": data, "options": options, "pad": pad, "progress": progress}
    trained = {"first": _phase(work, "first", "first", teacher_t=teacher_t, **common)}
    if options.baseline and _labelled(data, "train"):
        trained["labels_only"] = _phase(work, "labels_only", "labels", teacher_t=1.0, **common)
    temperatures = {
        name: student_temperature(data, t.val, teacher_t) for name, t in trained.items()
    }
    card = {
        **card_header(temperature=temperatures["first"][0], fitted_on=temperatures["first"][1]),
        **_describe(options, data, get_hooks(config), config, teacher_t, teacher_fit),
        "training": {
            **_training_settings(options.train),
            **{name: t.stats for name, t in trained.items()},
            "student_temperatures": {name: t for name, (t, _) in temperatures.items()},
        },
        "metrics": _metrics(data, teacher_t, trained, temperatures, untrained),
    }
    model = load_student(options.student, lora_rank=options.train.lora_rank)
    weights, _ = checkpoint.load(work.root / "first" / "done")
    set_weights(model, weights)
    write_output(options.output, model, tokenizer, options.student, card)
    work.remove()
    return DistillResult(options.output, card, skipped, resumed)


def _metrics(
    data: DistillData,
    teacher_t: float,
    trained: dict[str, _Trained],
    temperatures: dict[str, tuple[float, str]],
    untrained: np.ndarray,
) -> dict[str, Any]:
    """The held-out report: every student after its temperature (and before it)."""
    test = data.part("test")
    teacher = sigmoid(np.array([e.teacher_logit for e in test]) / teacher_t)
    after = {name: sigmoid(t.test / temperatures[name][0]) for name, t in trained.items()}
    before = {name: sigmoid(t.test) for name, t in trained.items()}
    return held_out_report(test, teacher, {**after, "untrained": sigmoid(untrained)}, before)


def _load_data(
    options: DistillOptions,
    config: SwermConfig,
    tokenizer: Any,
    on_skip: Callable[[Trajectory, str], None],
    on_error: Callable[[Exception], None] | None = None,
    on_problem: Callable[[str, str], None] | None = None,
) -> DistillData:
    from swerm_plugin.decisions.labels import apply_labels
    from swerm_plugin.decisions.runs import load_runs
    from swerm_plugin.distill.data import check_tokenizers
    from swerm_plugin.plugins.manager import get_hooks

    teacher = read_teacher(options.teacher_scores)
    source = options.teacher_tokenizer or (teacher.model if Path(teacher.model).is_dir() else None)
    if source is not None:
        teacher_tokenizer = load_tokenizer(source, trust_remote_code=config.trust_remote_code)
        check_tokenizers(tokenizer, teacher_tokenizer, (options.student, source))
    runs = load_runs(options.runs, on_error=on_error)
    if options.labels:
        apply_labels(runs, options.labels, on_problem=on_problem)
    return build_data(
        runs,
        teacher,
        tokenizer,
        get_hooks(config),
        budget=options.max_tokens,
        plan=options.split,
        on_skip=on_skip,
    )


def _pad(tokenizer: Any) -> int:
    from swerm_plugin.backends.transformers import pad_id

    return pad_id(tokenizer)


def _labelled(data: DistillData, split: str) -> bool:
    labels = {e.label for e in data.part(split) if e.label is not None}  # type: ignore[arg-type]
    return labels == {True, False}


def teacher_temperature(data: DistillData) -> tuple[float, str]:
    """The transfer temperature: fitted on the training split's labels, else 1."""
    if not _labelled(data, "train"):
        why = "no labels" if not data.labelled else "training labels of one class only"
        return 1.0, f"none ({why}): T = 1"
    chosen = [e for e in data.part("train") if e.label is not None]
    labels = [float(bool(e.label)) for e in chosen]
    return fit_temperature([e.teacher_logit for e in chosen], labels), "training labels"


def student_temperature(data: DistillData, val: np.ndarray, teacher_t: float) -> tuple[float, str]:
    """A student's temperature: fitted on the validation labels when they have both classes,
    else on the teacher's transferred probabilities."""
    examples = data.part("val")
    if _labelled(data, "val"):
        keep = np.array([e.label is not None for e in examples])
        labels = [float(bool(e.label)) for e in examples if e.label is not None]
        return fit_temperature(val[keep], labels), "validation labels"
    soft = sigmoid(np.array([e.teacher_logit for e in examples]) / teacher_t)
    return fit_temperature(val, soft), "teacher probabilities on the validation split (no labels)"


def _phase(
    work: WorkDir,
    name: str,
    objective: Objective,
    *,
    data: DistillData,
    options: DistillOptions,
    pad: int,
    teacher_t: float,
    progress: ProgressFactory | None = None,
) -> _Trained:
    """Train one student (or take the phase's finished result) and predict val and test."""
    done = work.done(name)
    if done is not None:
        _, states = checkpoint.load(done)
        result = states["result"]
        return _Trained(np.array(result["val"]), np.array(result["test"]), result["stats"])
    train = options.train
    examples = data.part("train")
    if objective == "labels":
        examples = [e for e in examples if e.label is not None]
    model = load_student(
        options.student,
        lora_rank=train.lora_rank,
        gradient_checkpointing=train.gradient_checkpointing,
    ).to(train.device)
    phase = Phase(
        name, objective, examples, train, work, pad=pad, k=data.k, teacher_temperature=teacher_t
    )
    stats = phase.run(model, progress).as_dict()
    val = predict_logits(model, data.part("val"), pad, train.batch_tokens)
    test = predict_logits(model, data.part("test"), pad, train.batch_tokens)
    result = {"val": val.tolist(), "test": test.tolist(), "stats": stats}
    work.finish(name, trainable_weights(model), {"result": result})
    return _Trained(val, test, stats)


def _untrained(work: WorkDir, options: DistillOptions, data: DistillData, pad: int) -> np.ndarray:
    """The student's held-out logits before any training (computed once, then kept)."""
    cached = work.get("untrained")
    if cached is None:
        model = load_student(options.student, lora_rank=None).to(options.train.device)
        logits = predict_logits(model, data.part("test"), pad, options.train.batch_tokens)
        cached = logits.tolist()
        work.put("untrained", cached)
        del model
    return np.array(cached, dtype=float)


def _training_settings(train: TrainOptions) -> dict[str, Any]:
    settings = asdict(train)
    settings["lr"] = train.learning_rate
    return settings


def _fingerprint(options: DistillOptions, data: DistillData) -> dict[str, Any]:
    """What must be the same for a run to continue another's checkpoints."""
    settings = _training_settings(options.train)
    for volatile in ("device", "checkpoint_every"):
        settings.pop(volatile)
    student = Path(options.student).expanduser() / "config.json"
    return {
        "data": data.fingerprint(),
        "student": options.student,
        "student_config": hashlib.sha256(student.read_bytes()).hexdigest()
        if student.is_file()
        else None,
        "training": settings,
        "split": asdict(options.split),
        "baseline": options.baseline,
        "max_tokens": options.max_tokens,
    }


def _describe(
    options: DistillOptions,
    data: DistillData,
    hooks: Any,
    config: SwermConfig,
    teacher_t: float,
    teacher_fit: str,
) -> dict[str, Any]:
    """The card's template, student, teacher, data and split sections."""
    from swerm_plugin.distill.data import SPLITS, sha256_path

    teacher = data.teacher
    verdicts = config.verdict_tokens or hooks.template(teacher.template).verdict_tokens
    example = data.examples[0]
    return {
        "template": {"name": teacher.template, "version": teacher.template_version},
        "verdict_tokens": list(verdicts),
        "verdict_token_ids": list(example.verdict_ids),
        "max_tokens": data.budget,
        "student": {"base": options.student, "lora_rank": options.train.lora_rank},
        "teacher": {
            "model": teacher.model,
            "backend": teacher.backend,
            "scores_file": str(teacher.path),
            "scores_sha256": teacher.sha256,
            "topk": data.k,
            "temperature": teacher_t,
            "temperature_fitted_on": teacher_fit,
        },
        "data": {
            "runs": [str(p) for p in options.runs],
            "labels": [{"path": str(p), "sha256": sha256_path(p)} for p in options.labels],
            "examples_sha256": data.fingerprint(),
            "n_examples": len(data.examples),
            "verdict_coverage": data.verdict_coverage,
        },
        "split": {
            **asdict(options.split),
            **{
                name: {
                    "n": len(data.part(name)),
                    "n_tasks": len({e.trajectory.instance_id for e in data.part(name)}),
                }
                for name in SPLITS
            },
        },
    }
