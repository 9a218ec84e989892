"""A teacher whose verdict follows a learnable rule, runs it scored, and a smaller student.

The rule: each patch has four added lines, ``g`` of them "good" ones (guards, sorting, ...);
the chance that a trajectory resolves its task rises with ``g`` (``LEVELS``), and each label is
drawn from it. The teacher is the tiny verifier whose two verdict rows of the LM head are fitted
(ridge regression on its own last hidden states) so that its YES-vs-NO logit is
``SHARPNESS × logit(LEVELS[g])``: it ranks like the rule and is over-confident, as fine-tuned
verifiers are, so its transfer temperature matters. Both verdict rows are also lifted by the
same amount, so the verdicts hold almost all of the next-token mass, as in a trained verifier.

Session fixtures build all of it once: the runs (mini-swe-agent files, two candidates per
task), the labels file, the teacher, its ``swerm score --topk 5`` file and the student's base
model (``make_tiny_model`` with a smaller architecture and the same tokenizer).
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from swerm_plugin.distill import SplitPlan
from swerm_plugin.model import Trajectory
from swerm_plugin.readers import load
from swerm_plugin.testing import make_tiny_model, run_cli

from ..conftest import write_mini_document

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = "r2e-gym"
#: Each of a patch's four lines is the good or the bad variant of its slot; both variants of a
#: slot are as many tokens long, so the prompt's length says nothing about the rule.
GOOD = (
    "+    if not items: return None\n",
    "+    return sorted(values)\n",
    "+    key = key.strip()\n",
    "+    assert index < len(items)\n",
)
BAD = (
    "+    return values[0]\n",
    "+    print(value, items)\n",
    "+    return list(values)\n",
    "+    x = 0  # hack\n",
)
LEVELS = (0.08, 0.25, 0.5, 0.75, 0.92)
SHARPNESS = 2.0
WORDS = ("parse", "value", "error", "return", "items", "self", "test", "fix", "the", "issue")
N_TASKS, PER_TASK = 300, 2
#: Added to both verdict logits: the verdicts then hold almost all of the next-token mass.
VERDICT_LIFT = 30.0
STUDENT_ARCH = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "moe_intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 1,
    "num_key_value_heads": 1,
    "num_experts": 4,
}


@dataclass(frozen=True)
class RuleData:
    runs: list[Path]
    labels: Path
    good_lines: dict[str, int]  # content hash → g


def _patch(g: int, rng: random.Random) -> str:
    lines = [GOOD[i] if i < g else BAD[i] for i in range(4)]
    rng.shuffle(lines)
    return "diff --git a/w.py b/w.py\n" + "".join(lines)


def write_mini_trajectory(folder: Path, instance_id: str, problem: str, patch: str) -> Path:
    """A mini-swe-agent 2.x ``.traj.json`` with one command and the given patch."""
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": problem},
        {
            "role": "assistant",
            "content": "THOUGHT: look\n\n```mswea_bash_command\ncat w.py\n```",
            "extra": {"actions": [{"command": "cat w.py"}]},
        },
        {"role": "user", "content": "<returncode>0</returncode>\n<output>\nok\n</output>"},
        {"role": "exit", "content": patch, "extra": {"exit_status": "Submitted"}},
    ]
    return write_mini_document(folder, instance_id, messages, patch)


def write_rule_runs(root: Path, seed: int = 0) -> RuleData:
    """``PER_TASK`` run folders of ``N_TASKS`` tasks, and one labels file naming both runs."""
    rng = random.Random(seed)
    runs = [root / f"run{i + 1}" for i in range(PER_TASK)]
    labels: dict[str, dict[str, bool]] = {run.name: {} for run in runs}
    by_path: dict[str, int] = {}
    for task in range(N_TASKS):
        iid = f"acme__widgets-{task}"
        problem = f"Task {task}: " + " ".join(rng.choice(WORDS) for _ in range(6))
        for run in runs:
            g = rng.randint(0, 4)
            path = write_mini_trajectory(run, iid, problem, _patch(g, rng))
            by_path[str(path)] = g
            labels[run.name][iid] = rng.random() < LEVELS[g]
    labels_path = root / "labels.json"
    labels_path.write_text(json.dumps(labels))
    good = {t.content_hash(): by_path[str(t.source_path)] for run in runs for t in load(run)}
    return RuleData(runs, labels_path, good)


def teacher_logit(g: int) -> float:
    return SHARPNESS * math.log(LEVELS[g] / (1 - LEVELS[g]))


def build_teacher(folder: Path, trajectories: list[Trajectory], good: dict[str, int]) -> Path:
    """The tiny verifier with its verdict rows fitted to the rule (see the module docs)."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from swerm_plugin.backends.transformers import pad_left
    from swerm_plugin.prompts import render_prompt

    make_tiny_model(folder, seed=1)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    prompts = [render_prompt(t, TEMPLATE, tokenizer) for t in trajectories]
    with torch.no_grad():
        hidden = torch.cat(
            [
                model.model(**pad_left([p.token_ids for p in prompts[i : i + 16]], 0))
                .last_hidden_state[:, -1]
                .double()
                for i in range(0, len(prompts), 16)
            ]
        ).numpy()
    target = np.array([teacher_logit(good[t.content_hash()]) for t in trajectories])
    # Ridge regression with a bias; the bias rides on the common direction of the states.
    direction = hidden.mean(0) / np.linalg.norm(hidden.mean(0))
    along = hidden @ direction
    assert along.min() > 0, "the last hidden states share no direction"
    features = np.hstack([hidden, np.ones((len(hidden), 1))])
    coef = np.linalg.solve(
        features.T @ features + 1e-2 * np.eye(features.shape[1]), features.T @ target
    )
    w = coef[:-1] + direction * coef[-1] / along.mean()
    lift = direction * VERDICT_LIFT / along.min()
    yes, no = prompts[0].verdict_token_ids or (0, 0)
    weights = load_file(folder / "model.safetensors")
    head = weights["lm_head.weight"].clone()
    head[yes] += torch.tensor(lift + w / 2, dtype=head.dtype)
    head[no] += torch.tensor(lift - w / 2, dtype=head.dtype)
    weights["lm_head.weight"] = head
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


@pytest.fixture(scope="session")
def rule_data(tmp_path_factory: pytest.TempPathFactory) -> RuleData:
    return write_rule_runs(tmp_path_factory.mktemp("rule-runs"))


@pytest.fixture(scope="session")
def teacher_dir(rule_data: RuleData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    trajectories = [t for run in rule_data.runs for t in load(run)]
    fit_on = trajectories[::3]  # a third is enough: the fitted head generalises to the rest
    return build_teacher(tmp_path_factory.mktemp("teacher") / "m", fit_on, rule_data.good_lines)


@pytest.fixture(scope="session")
def teacher_scores(
    rule_data: RuleData, teacher_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("teacher-scores") / "scores.jsonl"
    result = run_cli(
        "score", *rule_data.runs, "--model", teacher_dir, "--template", TEMPLATE,
        "--topk", 5, "-o", out, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def student_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("student") / "m", seed=3, **STUDENT_ARCH)


#: The distillation the tests check: small, fast, and with a checkpoint every 5 of its steps.
SPLIT = {"val_fraction": 0.25, "test_fraction": 0.5, "seed": 0}
EPOCHS = 6
DISTILL_OPTIONS = (
    "--epochs", EPOCHS, "--lr", 3e-3, "--batch-tokens", 2048, "--checkpoint-every", 5,
    "--val-fraction", SPLIT["val_fraction"], "--test-fraction", SPLIT["test_fraction"],
)  # fmt: skip


@dataclass(frozen=True)
class Distilled:
    """The output of a ``swerm distill`` that was killed at its first checkpoint and run again."""

    output: Path
    card: dict[str, Any]
    killed_at: list[str]
    stderr: str
    problems: list[dict[str, Any]]


def distill_args(rule_data: RuleData, teacher: Path, student: Path, out: Path) -> list[Any]:
    return [
        "distill", *rule_data.runs, "--teacher-scores", teacher, "--student", student,
        "-o", out, "--labels", rule_data.labels, *DISTILL_OPTIONS,
    ]  # fmt: skip


def kill_at_first_checkpoint(args: list[Any], out: Path, log: Path) -> list[str]:
    """Run ``swerm ARGS`` in a subprocess and SIGKILL it as soon as a checkpoint of its FIRST
    training exists; returns the checkpoints there were."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "swerm_plugin.cli", *map(str, args)]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    folder = out / ".swerm-distill" / "first"
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            found = sorted(p.name for p in folder.glob("ckpt-*"))
            if found:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)
                return found
            if process.poll() is not None:
                raise AssertionError(
                    f"distill ended before a checkpoint: {log.read_text()[-3000:]}"
                )
            time.sleep(0.02)
        raise AssertionError("no checkpoint within 600 s")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def held_out(rule_data: RuleData) -> list[Trajectory]:
    """The validation and test trajectories: none of them was trained on."""
    plan = SplitPlan(**SPLIT)
    seen: set[str] = set()
    out = []
    for trajectory in (t for run in rule_data.runs for t in load(run)):
        if plan.of(trajectory.instance_id) != "train" and trajectory.content_hash() not in seen:
            seen.add(trajectory.content_hash())
            out.append(trajectory)
    return out


@pytest.fixture(scope="session")
def distilled(
    rule_data: RuleData,
    teacher_scores: Path,
    student_base: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Distilled:
    work = tmp_path_factory.mktemp("distilled")
    out = work / "student"
    args = distill_args(rule_data, teacher_scores, student_base, out)
    killed_at = kill_at_first_checkpoint(args, out, work / "killed.log")
    result = run_cli(*args, "--json")
    assert result.exit_code in (0, 3), result.stderr
    report = json.loads(result.stdout)
    return Distilled(out, report["card"], killed_at, result.stderr, report["problems"])


# --- a small, fast case: a few trajectories with teacher records written by the test ---


@dataclass(frozen=True)
class SmallCase:
    """One run of ``SMALL_TASKS`` tasks, teacher records for them (made up, in the real file
    format, rendered with the tiny model's tokenizer) and the tiny model as the student."""

    run: Path
    scores: Path
    student: Path
    records: list[dict[str, Any]]


SMALL_TASKS = 12


def small_teacher_records(trajectories: list[Trajectory], model: Path) -> list[dict[str, Any]]:
    from transformers import AutoTokenizer

    from swerm_plugin.model import Score, TopLogprobs
    from swerm_plugin.prompts import render_prompt
    from swerm_plugin.scores import score_record

    tokenizer = AutoTokenizer.from_pretrained(model)
    records = []
    for index, trajectory in enumerate(trajectories):
        prompt = render_prompt(trajectory, "swe-rm", tokenizer)
        yes, no = prompt.verdict_token_ids or (0, 0)
        first, second = (yes, no) if index % 3 else (no, yes)
        logprobs = [-0.3 - 0.05 * index, -1.5, -5.0, -6.0, -7.0]
        raw = 1 / (1 + math.exp(logprobs[1] - logprobs[0]))
        score = Score(
            raw=raw if first == yes else 1 - raw,
            backend="transformers",
            model=str(model),
            template=prompt.template,
            template_version=prompt.template_version,
            n_tokens=prompt.n_tokens,
            topk=TopLogprobs(ids=[first, second, 10, 11, 12], logprobs=logprobs),
        )
        records.append(score_record(trajectory, score))
    return records


@pytest.fixture
def small_case(tmp_path: Path, tiny_model_dir: Path) -> SmallCase:
    from swerm_plugin.jsonl import atomic_write_jsonl

    rng = random.Random(5)
    run = tmp_path / "run"
    for task in range(SMALL_TASKS):
        write_mini_trajectory(run, f"acme__small-{task}", f"Task {task}", _patch(task % 5, rng))
    records = small_teacher_records(list(load(run)), tiny_model_dir)
    scores = tmp_path / "teacher.jsonl"
    atomic_write_jsonl(scores, records)
    return SmallCase(run, scores, tiny_model_dir, records)
