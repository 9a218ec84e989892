"""GPU check of the transformers backend: bf16 on CUDA against fp32 on the CPU, same weights.

Scores the same trajectories (2k-8k tokens, hidden size 512 tiny model) three ways and prints the
largest disagreement of each against the CPU fp32 reference:

- CUDA float32: the same arithmetic on another device (expect ~1e-5);
- CUDA bfloat16 (what ``dtype = "auto"`` picks on a GPU): expect ~1e-2 on a random model;
- CUDA bfloat16, each trajectory scored alone vs inside the whole batch (padding independence).

    python benchmarks/gpu_check.py [--trajectories 16]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from local_scoring import bench_model, make_trajectory
from rich.console import Console
from rich.table import Table

from swerm_plugin.backends.transformers import TransformersBackend
from swerm_plugin.config import SwermConfig
from swerm_plugin.model import Trajectory
from swerm_plugin.verifier import Verifier


def raw_scores(verifier: Verifier, trajectories: list[Trajectory]) -> list[float]:
    scores = verifier.score(trajectories)
    failed = [s.error for s in scores if s.raw is None]
    if failed:
        raise SystemExit(f"scoring failed: {failed[0]}")
    return [s.raw for s in scores if s.raw is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trajectories", type=int, default=16)
    parser.add_argument("--hidden-size", type=int, default=512)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this check needs a GPU")
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        folder = bench_model(Path(tmp) / "model", args.hidden_size)

        def verifier(device: str, dtype: str) -> Verifier:
            config = SwermConfig(
                model=str(folder), backend="transformers", device=device, dtype=dtype
            )
            return Verifier(config, backend=TransformersBackend(config))

        cpu = verifier("cpu", "auto")
        targets = [
            2000 + round(6000 * i / max(1, args.trajectories - 1)) for i in range(args.trajectories)
        ]
        trajectories = [
            make_trajectory(i, t, lambda tr: cpu.render(tr).n_tokens or 0)
            for i, t in enumerate(targets)
        ]
        reference = raw_scores(cpu, trajectories)
        gpu32 = raw_scores(verifier("cuda", "float32"), trajectories)
        bf16 = verifier("cuda", "auto")
        assert str(bf16.backend.dtype) == "torch.bfloat16", bf16.backend.dtype
        batched = raw_scores(bf16, trajectories)
        alone = [raw_scores(bf16, [t])[0] for t in trajectories]

    table = Table(title=f"{torch.cuda.get_device_name()}: {len(trajectories)} trajectories")
    table.add_column("comparison")
    table.add_column("max |Δ P(YES)|", justify="right")
    for name, mine, base in (
        ("cuda float32 vs cpu float32", gpu32, reference),
        ("cuda bfloat16 (auto) vs cpu float32", batched, reference),
        ("cuda bfloat16: alone vs in the batch", alone, batched),
    ):
        table.add_row(name, f"{max(abs(a - b) for a, b in zip(mine, base, strict=True)):.2e}")
    console.print(table)
    console.print(f"P(YES) range on the CPU: {min(reference):.4f}-{max(reference):.4f}")


if __name__ == "__main__":
    main()
