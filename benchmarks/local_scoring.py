"""Local scoring speed: swerm against the bare model and the bare tokenizer, in the same run.

(a) ``Verifier.score`` end to end (render, tokenize, batch, forward, calibrate) over N
    trajectories of 2k-8k tokens, divided by a bare ``model(input_ids, attention_mask)``
    forward over the same token ids in the same batches.              target <= 1.15
(b) rendering + tokenizing the same trajectories (``Verifier.render``), divided by one raw
    ``tokenizer(text)`` call per rendered prompt text.                   target <= 1.5

The model is ``make_tiny_model`` with hidden size 512 (random weights: only speed is measured).
Each side is timed ``--repeats`` times, interleaved, after a warm-up; medians are compared.

    .venv/bin/python benchmarks/local_scoring.py [--repeats 2] [--trajectories 16] [--device cuda]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from swerm_plugin.backends.transformers import TransformersBackend, plan_batches
from swerm_plugin.config import SwermConfig
from swerm_plugin.model import Step, Trajectory
from swerm_plugin.prompts import Prompt
from swerm_plugin.testing import make_tiny_model
from swerm_plugin.verifier import Verifier

WORDS = [
    *("def", "return", "self", "value", "items", "None", "error"),
    *("parse", "config", "path", "test", "assert", "line", "index"),
]


def filler(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) + rng.choice(["", "", ":", "\n", "()"]) for _ in range(words))


def make_trajectory(
    index: int, target_tokens: int, count: Callable[[Trajectory], int]
) -> Trajectory:
    """A trajectory whose prompt is ``target_tokens`` long, give or take one step."""
    rng = random.Random(index)
    steps: list[Step] = []
    problem = "The parser crashes on empty input.\n" + filler(rng, 150)
    while True:
        steps.append(
            Step(
                role="assistant",
                thought=filler(rng, 60),
                action=f"python check_{len(steps)}.py",
                observation=filler(rng, rng.randint(100, 300)),
            )
        )
        trajectory = Trajectory(
            instance_id=f"bench-{index}",
            source="benchmark",
            problem_statement=problem,
            steps=steps,
            patch="diff --git a/p.py b/p.py\n+    if not items:\n+        return None\n",
        )
        if count(trajectory) >= target_tokens - 250:
            return trajectory


def bench_model(folder: Path, hidden_size: int) -> Path:
    """The tiny verifier architecture scaled to ``hidden_size`` (heads of dimension 64)."""
    return make_tiny_model(
        folder,
        seed=0,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        moe_intermediate_size=hidden_size,
        num_attention_heads=hidden_size // 64,
        num_key_value_heads=hidden_size // 64,
    )


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def bare_forward(backend: TransformersBackend, prompts: list[Prompt]) -> None:
    """What a user would write by hand: same batches, left-padded, full logits."""
    import torch

    model, pad = backend.model, backend.tokenizer.pad_token_id
    device = model.device
    ids = [p.token_ids or [] for p in prompts]
    for batch in plan_batches([len(i) for i in ids], backend.config.batch_tokens):
        longest = max(len(ids[i]) for i in batch)
        input_ids = torch.full((len(batch), longest), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), longest), dtype=torch.long)
        for row, index in enumerate(batch):
            input_ids[row, longest - len(ids[index]) :] = torch.tensor(ids[index])
            mask[row, longest - len(ids[index]) :] = 1
        with torch.inference_mode():
            model(input_ids=input_ids.to(device), attention_mask=mask.to(device))
    if device.type == "cuda":
        torch.cuda.synchronize()  # a GPU forward returns before it is done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per side (a)")
    parser.add_argument("--render-repeats", type=int, default=15, help="timed runs per side (b)")
    parser.add_argument("--trajectories", type=int, default=16)
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (dtype: auto)")
    args = parser.parse_args()
    console = Console()

    with tempfile.TemporaryDirectory() as tmp:
        folder = bench_model(Path(tmp) / "model", args.hidden_size)
        config = SwermConfig(model=str(folder), backend="transformers", device=args.device)
        backend = TransformersBackend(config)
        backend.load()
        targets = [
            2000 + round(6000 * i / max(1, args.trajectories - 1)) for i in range(args.trajectories)
        ]
        verifier = Verifier(config, backend=backend)

        def count(trajectory: Trajectory) -> int:
            return verifier.render(trajectory).n_tokens or 0

        trajectories = [make_trajectory(i, t, count) for i, t in enumerate(targets)]
        prompts = [verifier.render(t) for t in trajectories]
        lengths = [p.n_tokens or 0 for p in prompts]
        console.print(
            f"{len(prompts)} prompts, {min(lengths)}-{max(lengths)} tokens "
            f"({sum(lengths)} in all), hidden size {args.hidden_size}, "
            f"{len(plan_batches(lengths, config.batch_tokens))} batches, "
            f"{backend.device} {str(backend.dtype).removeprefix('torch.')}"
        )

        # (a) end to end vs bare forward, interleaved after a short warm-up of each.
        verifier.score(trajectories[:2])
        bare_forward(backend, prompts[:2])
        swerm_times, bare_times = [], []
        for _ in range(args.repeats):
            swerm_times.append(timed(lambda: verifier.score(trajectories)))
            bare_times.append(timed(lambda: bare_forward(backend, prompts)))

        # (b) render + tokenize vs one raw tokenizer call over the same text.
        texts = [p.text for p in prompts]
        tokenizer = backend.tokenizer
        render_times, tokenize_times = [], []
        for _ in range(args.render_repeats):
            render_times.append(timed(lambda: [verifier.render(t) for t in trajectories]))
            tokenize_times.append(timed(lambda: [tokenizer(text) for text in texts]))

    table = Table(title="local scoring speed (medians)")
    for column in ("measure", "swerm s", "baseline s", "ratio", "target", ""):
        table.add_column(column)
    for name, mine, base, target in (
        ("(a) score ÷ bare forward", swerm_times, bare_times, 1.15),
        ("(b) render ÷ tokenizer(text)", render_times, tokenize_times, 1.5),
    ):
        ratio = statistics.median(mine) / statistics.median(base)
        verdict = "[green]ok[/]" if ratio <= target else "[red]over[/]"
        table.add_row(
            name,
            f"{statistics.median(mine):.3f}",
            f"{statistics.median(base):.3f}",
            f"{ratio:.3f}",
            f"<= {target}",
            verdict,
        )
    console.print(table)


if __name__ == "__main__":
    main()
