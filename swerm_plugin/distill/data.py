"""Distillation data: the teacher's top-K records matched to the runs' trajectories, each one
rendered exactly as the teacher saw it, with its label and its split.

A trajectory is used only when its prompt, rendered with the student's tokenizer, has the token
count and cuts the teacher's record says it scored: the student must learn from the prompt the
teacher answered, not from a neighbour of it. The split is by task (instance id), so candidates
of one task never sit on both sides, and it is a hash of the id: the same tasks land in the same
split whatever else the runs hold.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from swerm_plugin.errors import CandidatesError, DistillError
from swerm_plugin.model import Score, Trajectory

if TYPE_CHECKING:
    from swerm_plugin.decisions.runs import Run
    from swerm_plugin.plugins.manager import Hooks

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
#: Receives each trajectory left out and why.
OnSkip = Callable[[Trajectory, str], None]


def sha256_path(path: str | Path) -> str:
    """sha256 of a file's bytes; of a folder, of its files' relative paths and bytes."""
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    digest = hashlib.sha256()
    for file in files:
        if root.is_dir():
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class SplitPlan:
    """Which tasks go to training, validation (the temperature) and the held-out test."""

    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0

    def of(self, instance_id: str) -> Split:
        digest = hashlib.sha256(f"{self.seed}:{instance_id}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2.0**64
        if u < self.test_fraction:
            return "test"
        return "val" if u < self.test_fraction + self.val_fraction else "train"


@dataclass(frozen=True)
class Teacher:
    """What the teacher's scores file says about how it scored."""

    path: Path
    sha256: str
    model: str
    backend: str
    template: str
    template_version: str
    k: int
    truncated: bool
    scores: dict[str, Score] = field(repr=False)


@dataclass
class Example:
    """One trajectory as the student trains or is tested on it."""

    trajectory: Trajectory
    token_ids: list[int]
    verdict_ids: tuple[int, int]
    teacher: Score
    split: Split

    @property
    def label(self) -> bool | None:
        return self.trajectory.label

    @property
    def top_ids(self) -> list[int]:
        return self.teacher.topk.ids if self.teacher.topk is not None else []

    @property
    def top_logprobs(self) -> list[float]:
        return self.teacher.topk.logprobs if self.teacher.topk is not None else []

    @property
    def covers_verdicts(self) -> bool:
        return all(v in self.top_ids for v in self.verdict_ids)

    @property
    def teacher_logit(self) -> float:
        """The teacher's YES-vs-NO logit: from its top-K when both verdicts are there (what is
        transferred), else from its P(YES)."""
        if self.covers_verdicts:
            yes, no = (self.top_logprobs[self.top_ids.index(v)] for v in self.verdict_ids)
            return yes - no
        p = min(max(self.teacher.raw or 0.5, 1e-7), 1 - 1e-7)
        return math.log(p) - math.log1p(-p)


@dataclass
class DistillData:
    examples: list[Example]
    teacher: Teacher
    budget: int | None
    k: int

    def part(self, split: Split) -> list[Example]:
        return [e for e in self.examples if e.split == split]

    @property
    def labelled(self) -> bool:
        return any(e.label is not None for e in self.examples)

    @property
    def verdict_coverage(self) -> float:
        """Share of the examples whose teacher top-K holds both verdict tokens."""
        return sum(e.covers_verdicts for e in self.examples) / max(1, len(self.examples))

    def fingerprint(self) -> str:
        """A hash of what the student learns from: prompts, targets, labels and splits."""
        digest = hashlib.sha256(self.teacher.sha256.encode())
        for e in self.examples:
            line = f"{e.trajectory.content_hash()}|{e.split}|{e.label}|{len(e.token_ids)}\n"
            digest.update(line.encode())
        return digest.hexdigest()


def read_teacher(path: Path) -> Teacher:
    """The teacher's scores (``swerm score --topk K -o``); only records with a top-K count."""
    from swerm_plugin.scores import read_scores

    try:
        scores = {h: s for h, s in read_scores(path).items() if s.ok and s.topk is not None}
    except CandidatesError as exc:
        raise DistillError(str(exc)) from None
    if not scores:
        raise DistillError(
            f"{path} holds no score with top-K log-probs",
            hint="score the runs with the teacher first: swerm score RUNS... --topk 5 -o FILE",
        )
    layouts = {(s.template, s.template_version) for s in scores.values()}
    if len(layouts) > 1:
        raise DistillError(
            f"{path} mixes prompt templates {sorted(layouts)}; the student must learn from one "
            "layout: score the runs again with a single --template"
        )
    template, version = layouts.pop()
    first = next(iter(scores.values()))
    return Teacher(
        path=path,
        sha256=sha256_path(path),
        model=first.model,
        backend=first.backend,
        template=template,
        template_version=version,
        k=min(len(s.topk.ids) for s in scores.values() if s.topk is not None),
        truncated=any(s.truncated for s in scores.values()),
        scores=scores,
    )


def check_tokenizers(student: Any, teacher: Any, names: tuple[str, str]) -> None:
    """Refuse a student whose tokenizer is not the teacher's: the top-K is transferred by id."""
    problems = []
    if student.get_vocab() != teacher.get_vocab():
        problems.append("vocabulary")
    if getattr(student, "chat_template", None) != getattr(teacher, "chat_template", None):
        problems.append("chat template")
    if problems:
        raise DistillError(
            f"the student's tokenizer ({names[0]}) differs from the teacher's ({names[1]}) in "
            f"its {' and '.join(problems)}; FIRST transfers token probabilities by token id, so "
            "the student must share the teacher's tokenizer",
            hint="pick a student of the teacher's model family (same tokenizer)",
        )


def build_data(
    runs: Sequence[Run],
    teacher: Teacher,
    tokenizer: Any,
    hooks: Hooks,
    *,
    budget: int | None,
    plan: SplitPlan,
    on_skip: OnSkip,
) -> DistillData:
    """Every trajectory of ``runs`` that the teacher scored, rendered and split."""
    if teacher.truncated and budget is None:
        raise DistillError(
            "the teacher's prompts were cut to a token budget; the student must see the same "
            "prompts",
            hint="give --max-tokens with the budget `swerm score` used (--max-tokens there)",
        )
    hooks.check_template(teacher.template)
    version = hooks.template(teacher.template).version
    if version != teacher.template_version:
        raise DistillError(
            f"the teacher scored template {teacher.template} v{teacher.template_version}, but "
            f"this swerm renders v{version}: the prompts would differ; score the runs again"
        )
    examples: list[Example] = []
    seen: set[str] = set()
    for trajectory in (t for run in runs for t in run.trajectories):
        digest = trajectory.content_hash()
        if digest in seen:
            continue
        seen.add(digest)
        score = teacher.scores.get(digest)
        if score is None:
            on_skip(trajectory, f"no top-K score for it in {teacher.path}")
            continue
        example = _example(trajectory, score, tokenizer, hooks, teacher, budget, plan, on_skip)
        if example is not None:
            examples.append(example)
    return _checked(DistillData(examples, teacher, budget, teacher.k), tokenizer)


def _example(
    trajectory: Trajectory,
    score: Score,
    tokenizer: Any,
    hooks: Hooks,
    teacher: Teacher,
    budget: int | None,
    plan: SplitPlan,
    on_skip: OnSkip,
) -> Example | None:
    try:
        prompt = hooks.render_prompt(
            trajectory, template=teacher.template, tokenizer=tokenizer, budget=budget
        )
    except Exception as exc:
        on_skip(trajectory, f"rendering failed: {type(exc).__name__}: {exc}")
        return None
    if prompt.token_ids is None or prompt.verdict_token_ids is None:
        on_skip(trajectory, "the renderer returned no token ids")
        return None
    if score.n_tokens is not None and (prompt.n_tokens, prompt.truncated) != (
        score.n_tokens,
        score.truncated,
    ):
        on_skip(
            trajectory,
            f"renders to {prompt.n_tokens} tokens (cut: {prompt.truncated}) but the teacher "
            f"scored {score.n_tokens} (cut: {score.truncated}): not the prompt the teacher saw "
            "(another tokenizer, verdict or prefill setting, or --max-tokens)",
        )
        return None
    return Example(
        trajectory=trajectory,
        token_ids=prompt.token_ids,
        verdict_ids=prompt.verdict_token_ids,
        teacher=score,
        split=plan.of(trajectory.instance_id),
    )


def _checked(data: DistillData, tokenizer: Any) -> DistillData:
    if not data.examples:
        raise DistillError(
            "no trajectory of the runs renders to a prompt the teacher scored; are the runs "
            "the ones `swerm score --topk` read, and is the student's tokenizer the teacher's?"
        )
    vocab = len(tokenizer)
    if any(i >= vocab or i < 0 for e in data.examples for i in e.top_ids):
        raise DistillError(
            f"the teacher's top-K names token ids outside the student's vocabulary ({vocab}): "
            "the student does not share the teacher's tokenizer"
        )
    if not any(e.covers_verdicts for e in data.examples):
        raise DistillError(
            f"no record's top-{data.k} holds both verdict tokens, so the teacher's verdict is "
            "not in what would be transferred",
            hint="score with a larger --topk, or check the template's verdict tokens",
        )
    for split in SPLITS:
        if not data.part(split):
            change = "lower" if split == "train" else "raise"
            raise DistillError(
                f"the {split} split is empty: {len(data.examples)} trajectories of "
                f"{len({e.trajectory.instance_id for e in data.examples})} tasks are too few "
                "for the split fractions",
                hint=f"give more tasks, or {change} --val-fraction / --test-fraction",
            )
    return data
