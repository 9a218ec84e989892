"""Ray scoring speed on this machine, against plain ``swerm score`` measured in the same run.

Every side scores the same N mini-swe-agent files from a cold start: plain ``swerm score -o`` is
a fresh process (imports, model load, read, render, score, write); each Ray job runs on a fresh
local cluster (``num_cpus`` = the machine's cores) whose workers start, import and load the model
the same way. Ray's own start-up (``ray.init``) is timed apart and left out of the ratios.

(a) 1 actor ÷ plain ``swerm score``: the Ray engine's overhead.      target <= 1.2 (N >= 64)
(b) 1 actor ÷ 2 actors: what a second actor gains on this machine (each gets half the cores).
Also: Ray start-up, time to the first result of each job, and the largest |raw difference|
between the sides (fp32: every side must give the same scores).

The model is ``make_tiny_model`` scaled to ``--hidden-size`` (random weights; only speed is
measured), so that scoring, not start-up, is most of the work.

    .venv/bin/python benchmarks/ray_scoring.py [--trajectories 64] [--hidden-size 384] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from swerm_plugin.config import SwermConfig
from swerm_plugin.scale import score_dataset

WORDS = [
    "def",
    "return",
    "self",
    "value",
    "items",
    "None",
    "error",
    "parse",
    "config",
    "path",
    "test",
    "assert",
    "line",
    "index",
]


def filler(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) + rng.choice(["", "", ":", "\n", "()"]) for _ in range(words))


def write_run(folder: Path, n: int, steps: int) -> Path:
    """``n`` mini-swe-agent ``.traj.json`` files of ``steps`` steps (~250 tokens each)."""
    for index in range(n):
        rng = random.Random(index)
        iid = f"bench__task-{index}"
        patch = f"diff --git a/p.py b/p.py\n+    return {filler(rng, 5)}\n"
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": f"Please solve this issue: {filler(rng, 150)}"},
        ]
        for step in range(rng.randint(steps // 2, steps)):
            messages.append({"role": "assistant", "content": f"THOUGHT: {filler(rng, 40)}\n\n"
                             f"```mswea_bash_command\npython check_{step}.py\n```"})  # fmt: skip
            messages.append({"role": "user", "content": f"<output>\n{filler(rng, 120)}\n</output>"})
        messages.append({"role": "exit", "content": patch, "extra": {"submission": patch}})
        document = {
            "info": {"exit_status": "Submitted", "submission": patch, "mini_version": "2.4.6"},
            "messages": messages,
            "trajectory_format": "mini-swe-agent-1.1",
            "instance_id": iid,
        }
        path = folder / iid / f"{iid}.traj.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document))
    return folder


def plain(run: Path, model: Path, out: Path) -> tuple[float, dict[str, float]]:
    """``swerm score RUN --model M -o OUT`` in a fresh process."""
    command = [sys.executable, "-m", "swerm_plugin.cli", "score", str(run), "--model", str(model)]
    start = time.perf_counter()
    subprocess.run([*command, "-o", str(out)], check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    records = [json.loads(line) for line in out.read_text().splitlines()]
    return elapsed, {r["content_hash"]: r["raw"] for r in records}


def on_ray(run: Path, config: SwermConfig, actors: int) -> dict[str, Any]:
    """One job on a fresh local cluster: start-up, job time, time to the first result."""
    import ray

    start = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="WARNING")
    started = time.perf_counter() - start
    first: list[float] = []
    raws: dict[str, float] = {}

    def take(record: dict[str, Any]) -> None:
        first.append(first[0] if first else time.perf_counter())
        raws[record["content_hash"]] = record["raw"]

    try:
        begin = time.perf_counter()
        result = score_dataset([run], config=config, actors=actors, on_record=take,
                               ray_progress=False)  # fmt: skip
        elapsed = time.perf_counter() - begin
    finally:
        ray.shutdown()
    assert result.failed == 0, result.failures
    return {"start": started, "job": elapsed, "first": first[0] - begin, "raws": raws}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trajectories", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8, help="steps per trajectory, at most")
    parser.add_argument("--hidden-size", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=1, help="plain, 1 actor, 2 actors; medians")
    args = parser.parse_args()
    console = Console()
    sys.path.insert(0, str(Path(__file__).parent))
    from local_scoring import bench_model

    with tempfile.TemporaryDirectory() as tmp:
        model = bench_model(Path(tmp) / "model", args.hidden_size)
        run = write_run(Path(tmp) / "run", args.trajectories, args.steps)
        config = SwermConfig(model=str(model), dtype="float32")
        rounds = []
        for index in range(args.rounds):  # interleaved: load on a shared machine hits all sides
            base_s, base_raws = plain(run, model, Path(tmp) / f"plain-{index}.jsonl")
            rounds.append((base_s, base_raws, on_ray(run, config, 1), on_ray(run, config, 2)))
    differences = [
        abs(side["raws"][key] - value)
        for _, base_raws, *sides in rounds
        for side in sides
        for key, value in base_raws.items()
    ]
    base_s = statistics.median(r[0] for r in rounds)
    one = {k: statistics.median(r[2][k] for r in rounds) for k in ("start", "job", "first")}
    two = {k: statistics.median(r[3][k] for r in rounds) for k in ("start", "job", "first")}
    console.print(
        f"{args.trajectories} trajectories, hidden size {args.hidden_size}, {os.cpu_count()} CPUs"
        f"; plain swerm score {base_s:.1f} s; largest |raw difference| {max(differences):.1e}"
    )
    for index, (plain_s, _, ray_one, ray_two) in enumerate(rounds, 1):
        console.print(
            f"round {index}: plain {plain_s:.1f} s, 1 actor {ray_one['job']:.1f} s, "
            f"2 actors {ray_two['job']:.1f} s"
        )
    table = Table(title=f"Ray scoring (medians of {args.rounds} rounds, cold starts)")
    for column in ("measure", "Ray s", "baseline s", "ratio", "target", ""):
        table.add_column(column)
    for name, mine, base, target in (
        ("(a) 1 actor ÷ plain swerm score", one["job"], base_s, 1.2),
        ("(b) 1 actor ÷ 2 actors", one["job"], two["job"], None),
    ):
        ratio = mine / base
        verdict = "" if target is None else "[green]ok[/]" if ratio <= target else "[red]over[/]"
        limit = "" if target is None else f"<= {target}"
        table.add_row(name, f"{mine:.1f}", f"{base:.1f}", f"{ratio:.3f}", limit, verdict)
    console.print(table)
    for label, side in (("1 actor", one), ("2 actors", two)):
        console.print(
            f"{label}: Ray start-up {side['start']:.1f} s (not in the ratios), first result "
            f"after {side['first']:.1f} s, job {side['job']:.1f} s"
        )


if __name__ == "__main__":
    main()
