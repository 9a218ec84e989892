"""Distillation training speed and memory: swerm's training phase against a bare PyTorch loop on
the same batches, in the same run.

swerm: ``Phase.run`` (accelerate, AdamW with the linear schedule, gradient clipping, a
checkpoint every ``--checkpoint-every`` steps, the FIRST loss over the top-K with the rest
bucket). Bare: the loop a user would write around the same model: the same batches in the same
order, the same forward (last position only) and loss, ``loss.backward()``, ``AdamW.step()``;
nothing else. Each side runs in a fresh process (so its peak memory is its own), ``--repeats``
times, interleaved. The ratio is of the best runs (as ``timeit`` does: on a shared machine other
processes only ever slow a run down); the medians are printed too.

    tokens/s ratio = bare tokens/s ÷ swerm tokens/s                       target <= 1.15
    peak memory ratio = swerm peak ÷ bare peak (RSS on CPU, allocated on CUDA)

The student is ``make_tiny_model`` scaled to ``--hidden-size`` (random weights: only speed is
measured); prompts are random token ids of ``--length`` tokens with random top-5 targets. Each
process warms up with one untimed forward and backward pass first, and imports accelerate
before the clock starts (a one-time cost of a few seconds, not throughput).

    .venv/bin/python benchmarks/distill.py [--steps 24] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from swerm_plugin.distill import TrainOptions
from swerm_plugin.distill.batches import make_batch, plan
from swerm_plugin.distill.checkpoint import WorkDir
from swerm_plugin.distill.data import Example
from swerm_plugin.distill.loss import first_loss, student_logprobs
from swerm_plugin.distill.student import load_student
from swerm_plugin.distill.train import Phase, epoch_order
from swerm_plugin.model import Score, TopLogprobs, Trajectory
from swerm_plugin.testing import make_tiny_model

K = 5


def examples(n: int, length: int, vocab: int, seed: int = 0) -> list[Example]:
    """``n`` prompts of random ids around ``length`` tokens, with random top-K targets."""
    import random

    rng = random.Random(seed)
    out = []
    for index in range(n):
        ids = [rng.randrange(vocab) for _ in range(length + rng.randrange(-length // 8, 1))]
        top = rng.sample(range(vocab), K)
        logprobs = sorted((-rng.uniform(0.1, 6.0) for _ in range(K)), reverse=True)
        teacher = Score(raw=0.5, topk=TopLogprobs(ids=top, logprobs=logprobs))
        trajectory = Trajectory(instance_id=f"bench-{index}", source="benchmark")
        out.append(Example(trajectory, ids, (top[0], top[1]), teacher, "train"))
    return out


def bare_loop(model: Any, data: list[Example], options: TrainOptions, steps: int) -> int:
    """The hand-written loop: same batches, order, forward and loss; returns tokens seen."""
    import torch

    batches = plan(data, options.batch_tokens)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=options.learning_rate
    )
    tokens = 0
    for step in range(steps):
        epoch, index = divmod(step, len(batches))
        members = batches[epoch_order(len(batches), options.seed, epoch)[index]]
        batch = make_batch(
            [data[i] for i in members], 0, k=K, teacher_temperature=1.0, rest=True
        ).to(options.device)
        logits = model(**batch.inputs, use_cache=False, logits_to_keep=1).logits[:, -1, :]
        loss = first_loss(student_logprobs(logits, batch.top_ids, rest=True), batch.targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += batch.n_tokens
    return tokens


def warm_up(model: Any, data: list[Example], options: TrainOptions) -> None:
    """One untimed forward and backward pass (kernel selection, allocator), no update."""
    first = plan(data, options.batch_tokens)[0]
    batch = make_batch([data[i] for i in first], 0, k=K, teacher_temperature=1.0, rest=True)
    batch = batch.to(options.device)
    logits = model(**batch.inputs, use_cache=False, logits_to_keep=1).logits[:, -1, :]
    first_loss(student_logprobs(logits, batch.top_ids, rest=True), batch.targets).backward()
    model.zero_grad(set_to_none=True)


def worker(variant: str, args: argparse.Namespace) -> dict[str, float]:
    """One measurement in this process: tokens/s and peak memory of one side."""
    import torch

    model = load_student(str(args.model), lora_rank=None).to(args.device)
    data = examples(args.examples, args.length, model.config.vocab_size)
    per_epoch = len(plan(data, args.batch_tokens))
    options = TrainOptions(
        epochs=max(1, args.steps // per_epoch),
        lr=1e-4,
        batch_tokens=args.batch_tokens,
        checkpoint_every=args.checkpoint_every,
        device=args.device,
    )
    steps = options.epochs * per_epoch
    warm_up(model, data, options)
    import accelerate  # noqa: F401 - a one-time import, not part of training throughput

    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    if variant == "bare":
        tokens = bare_loop(model, data, options, steps)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            work = WorkDir(Path(tmp) / "out", {})
            work.open()
            phase = Phase(
                "first", "first", data, options, work, pad=0, k=K, teacher_temperature=1.0
            )
            tokens = phase.run(model).tokens
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if args.device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"tokens_per_s": tokens / seconds, "peak_mib": peak, "tokens": tokens, "steps": steps}


def measure(variant: str, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, "--worker", variant, "--model", str(args.model)]
    for name in ("steps", "examples", "length", "batch_tokens", "checkpoint_every", "device"):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=24, help="training steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per side")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--length", type=int, default=1024, help="prompt tokens (about)")
    parser.add_argument("--batch-tokens", type=int, default=8192)
    parser.add_argument("--checkpoint-every", type=int, default=12)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--worker", choices=["bare", "swerm"], help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse()
    if args.worker:
        print(json.dumps(worker(args.worker, args)))
        return
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        hidden = args.hidden_size
        args.model = make_tiny_model(
            Path(tmp) / "student", seed=0, hidden_size=hidden, intermediate_size=2 * hidden,
            moe_intermediate_size=hidden, num_attention_heads=hidden // 64,
            num_key_value_heads=hidden // 64,
        )  # fmt: skip
        runs: dict[str, list[dict[str, float]]] = {"bare": [], "swerm": []}
        for _ in range(args.repeats):
            for variant in runs:
                runs[variant].append(measure(variant, args))
    best = {v: max(r["tokens_per_s"] for r in m) for v, m in runs.items()}
    median = {v: statistics.median(r["tokens_per_s"] for r in m) for v, m in runs.items()}
    peak = {v: statistics.median(r["peak_mib"] for r in m) for v, m in runs.items()}
    console.print(
        f"{int(runs['swerm'][0]['steps'])} steps of ~{args.batch_tokens} tokens "
        f"(prompts ~{args.length} tokens), hidden size {hidden}, {args.device}, "
        f"a checkpoint every {args.checkpoint_every} steps, {args.repeats} runs per side"
    )
    table = Table(title="distillation training")
    for column in ("measure", "swerm", "bare loop", "ratio", "target"):
        table.add_column(column)
    ratio = best["bare"] / best["swerm"]
    verdict = "[green]ok[/]" if ratio <= 1.15 else "[red]over[/]"
    table.add_row(
        "tokens/s, best run", f"{best['swerm']:.0f}", f"{best['bare']:.0f}", f"{ratio:.3f}",
        f"<= 1.15 {verdict}",
    )  # fmt: skip
    table.add_row(
        "tokens/s, median", f"{median['swerm']:.0f}", f"{median['bare']:.0f}",
        f"{median['bare'] / median['swerm']:.3f}", "",
    )  # fmt: skip
    table.add_row(
        "peak memory MiB (median)", f"{peak['swerm']:.0f}", f"{peak['bare']:.0f}",
        f"{peak['swerm'] / peak['bare']:.3f}", "",
    )  # fmt: skip
    console.print(table)
    for variant, measured in runs.items():
        console.print(f"{variant}: " + ", ".join(f"{r['tokens_per_s']:.0f}" for r in measured))


if __name__ == "__main__":
    main()
