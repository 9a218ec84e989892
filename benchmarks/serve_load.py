"""``swerm serve`` under load: N concurrent clients for T seconds, on 127.0.0.1 only.

Figures, each against a baseline measured in the same run on the same trajectories:

1. served throughput (trajectories/s answered by a ``swerm serve`` process, one trajectory per
   request from N concurrent clients) ÷ the in-process ``Verifier.score`` throughput in batches
   of N (the backend's batch throughput): target >= 0.8 with micro-batching;
2. for comparison, the same load on a server without micro-batching (``--max-batch-size 1``);
3. p50 and p99 request latency, the mean backend batch size (from ``/metrics``), and the
   requests lost (sent, never answered 200) or duplicated (an answer for another request, or
   twice): both must be 0. Every request carries its own ``run_id``; the answer must carry it
   back with the content hash of the trajectory sent.

Load and baseline alternate in ``--rounds`` rounds of equal length, so both see the same
machine (a shared one changes speed over minutes). The model is ``make_tiny_model`` scaled to
``--hidden-size`` (random weights: only speed counts).

    .venv/bin/python benchmarks/serve_load.py [--clients 8] [--seconds 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from local_scoring import bench_model, filler
from rich.console import Console
from rich.table import Table

from swerm_plugin.config import SwermConfig
from swerm_plugin.model import Step, Trajectory
from swerm_plugin.verifier import Verifier

REPO = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@dataclass
class Load:
    """What the load on one server saw, and the in-process baseline run between its rounds."""

    sent: int = 0
    answered: list[tuple[str, str]] = field(default_factory=list)  # (run_id, content_hash)
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    expected: dict[str, str] = field(default_factory=dict)  # run_id -> content_hash sent
    mean_batch: float = 0.0
    baseline_done: int = 0
    baseline_elapsed: float = 0.0

    @property
    def throughput(self) -> float:
        return len(self.answered) / self.elapsed

    @property
    def baseline(self) -> float:
        return self.baseline_done / self.baseline_elapsed

    def lost(self) -> int:
        return self.sent - len({run_id for run_id, _ in self.answered})

    def duplicated(self) -> int:
        ids = [run_id for run_id, _ in self.answered]
        wrong = sum(1 for run_id, digest in self.answered if self.expected.get(run_id) != digest)
        return len(ids) - len(set(ids)) + wrong

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def agent_run(index: int) -> Trajectory:
    """One of the load's trajectories: 1 to 3 agent steps."""
    rng = random.Random(index)
    steps = [
        Step(
            role="assistant",
            thought=filler(rng, 40),
            action=f"python check_{step}.py",
            observation=filler(rng, 80),
        )
        for step in range(1 + index % 3)
    ]
    return Trajectory(
        instance_id=f"load-{index}",
        source="benchmark",
        problem_statement="The parser crashes on empty input.\n" + filler(rng, 80),
        steps=steps,
        patch="diff --git a/p.py b/p.py\n+    if not items:\n+        return None\n",
    )


def run_baseline(
    verifier: Verifier, trajectories: list[Trajectory], batch: int, seconds: float, load: Load
) -> None:
    """In-process ``Verifier.score`` in batches of ``batch`` for ``seconds``, added to ``load``."""
    start = time.perf_counter()
    for chunk in itertools.cycle(range(0, len(trajectories), batch)):
        load.baseline_done += len(verifier.score(trajectories[chunk : chunk + batch]))
        if time.perf_counter() - start >= seconds:
            break
    load.baseline_elapsed += time.perf_counter() - start


def start_server(model: Path, *options: str) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWERM")}
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, "-m", "swerm_plugin.cli", "serve", "--model", str(model)]
    process = subprocess.Popen(
        [*command, "--port", "0", *options], stderr=subprocess.PIPE, text=True, env=env
    )
    assert process.stderr is not None
    for line in process.stderr:
        if found := LISTENING.search(line):
            url = found.group(1)
            break
    else:
        raise SystemExit(f"swerm serve exited with {process.wait()} before listening")
    deadline = time.monotonic() + 120
    while httpx.get(f"{url}/healthz").status_code != 200:
        if time.monotonic() > deadline:
            raise SystemExit("swerm serve never became ready")
        time.sleep(0.1)
    return process, url


def stop_server(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=120)


async def run_load(
    url: str, trajectories: list[Trajectory], clients: int, seconds: float, load: Load, tag: str
) -> None:
    """``clients`` workers, each posting one trajectory at a time until ``seconds`` pass; what
    they see is added to ``load`` (request ids ``<tag>-<n>``)."""
    documents = [t.model_dump(mode="json") for t in trajectories]
    hashes = [t.content_hash() for t in trajectories]
    counter = itertools.count()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def worker(http: httpx.AsyncClient, deadline: float) -> None:
        while time.perf_counter() < deadline:
            n = next(counter)
            run_id = f"{tag}-{n}"
            load.expected[run_id] = hashes[n % len(documents)]
            body = orjson.dumps({**documents[n % len(documents)], "run_id": run_id})
            load.sent += 1
            start = time.perf_counter()
            try:
                reply = await http.post("/v1/score", content=body)
            except httpx.HTTPError as exc:
                load.failures.append(type(exc).__name__)
                continue
            load.latencies.append(time.perf_counter() - start)
            if reply.status_code != 200:
                load.failures.append(str(reply.status_code))
                continue
            for record in reply.json()["results"]:
                load.answered.append((record["run_id"], record["content_hash"]))

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300) as http:
        start = time.perf_counter()
        await asyncio.gather(*(worker(http, start + seconds) for _ in range(clients)))
        load.elapsed += time.perf_counter() - start
        load.mean_batch = mean_batch((await http.get("/metrics")).text)


def mean_batch(metrics: str) -> float:
    values = {}
    for line in metrics.splitlines():
        if line.startswith(("swerm_serve_batch_size_sum ", "swerm_serve_batch_size_count ")):
            name, value = line.split()
            values[name] = float(value)
    count = values.get("swerm_serve_batch_size_count", 0.0)
    return values.get("swerm_serve_batch_size_sum", 0.0) / count if count else 0.0


def served(
    model: Path, verifier: Verifier, trajectories: list[Trajectory], args: Any, *options: str
) -> Load:
    """One server under load, round by round, each round followed by the baseline."""
    process, url = start_server(model, *options)
    load, share = Load(), args.seconds / args.rounds
    try:
        asyncio.run(run_load(url, trajectories[:4], 4, 2.0, Load(), "warm-up"))
        for round_ in range(args.rounds):
            asyncio.run(run_load(url, trajectories, args.clients, share, load, f"r{round_}"))
            run_baseline(verifier, trajectories, args.clients, share, load)
    finally:
        code = stop_server(process)
    if code != 0:
        load.failures.append(f"server exit {code}")
    return load


def report(console: Console, loads: dict[str, Load], clients: int) -> None:
    table = Table(title=f"swerm serve under load: {clients} clients, 127.0.0.1")
    columns = ("server", "traj/s", "in-process traj/s", "ratio", "p50 s", "p99 s", "mean batch")
    for column in (*columns, "lost", "dup", "errors"):
        table.add_column(column, justify="right")
    for name, load in loads.items():
        table.add_row(
            name,
            f"{load.throughput:.2f}",
            f"{load.baseline:.2f}",
            f"{load.throughput / load.baseline:.3f}",
            f"{load.percentile(0.5):.3f}",
            f"{load.percentile(0.99):.3f}",
            f"{load.mean_batch:.1f}",
            str(load.lost()),
            str(load.duplicated()),
            str(len(load.failures)),
        )
    console.print(table)
    batched = loads["micro-batching"]
    ratio = batched.throughput / batched.baseline
    verdict = "ok" if ratio >= 0.8 else "below target"
    console.print(f"micro-batching ÷ in-process batches of {clients}: {ratio:.3f} ({verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=30.0, help="load time per server")
    parser.add_argument("--rounds", type=int, default=3, help="load/baseline alternations")
    parser.add_argument("--trajectories", type=int, default=48, help="distinct trajectories")
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--skip-unbatched", action="store_true", help="no --max-batch-size 1 run")
    args = parser.parse_args()
    if not 1 <= args.clients <= 256 or not 0 < args.seconds <= 600 or args.rounds < 1:
        raise SystemExit("--clients must be in 1..256, --seconds in (0, 600], --rounds >= 1")
    console = Console(width=120)
    with tempfile.TemporaryDirectory() as tmp:
        model = bench_model(Path(tmp) / "model", args.hidden_size)
        trajectories = [agent_run(i) for i in range(args.trajectories)]
        config = SwermConfig(model=str(model), backend="transformers")
        with Verifier(config) as verifier:
            lengths = [verifier.render(t).n_tokens or 0 for t in trajectories]
            console.print(
                f"{len(trajectories)} trajectories of {min(lengths)}-{max(lengths)} tokens, "
                f"hidden size {args.hidden_size}; {os.cpu_count()} CPUs"
            )
            verifier.score(trajectories[: args.clients])  # warm-up
            options = ("--max-batch-size", str(args.clients), "--max-wait-ms", "5")
            loads = {"micro-batching": served(model, verifier, trajectories, args, *options)}
            if not args.skip_unbatched:
                unbatched = ("--max-batch-size", "1")
                loads["no batching"] = served(model, verifier, trajectories, args, *unbatched)
    report(console, loads, args.clients)


if __name__ == "__main__":
    main()
