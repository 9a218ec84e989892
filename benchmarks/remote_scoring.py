"""Remote scoring speed against a real vLLM CPU server serving the tiny model.

Each figure is a ratio against a baseline measured in the same run, on the same server:

1. swerm's ``vllm`` backend ÷ a bare httpx loop posting the same ``/generative_scoring``
   payloads at the same concurrency (throughput ratio; target >= 0.9);
2. swerm at concurrency 8 ÷ concurrency 1 (speed-up);
3. a task's candidates grouped into one request (shared prefix as the query) ÷ one request per
   candidate (time ratio; below 1 means grouping is faster);
4. for information: the ``openai`` backend (litellm) ÷ a bare httpx loop on ``/v1/completions``.

Every measurement scores its own freshly generated trajectories, so no run is served from the
prefix cache another run filled; methods are interleaved over rounds and medians are reported.

Usage: ``.venv/bin/python benchmarks/remote_scoring.py [--trajectories 128] [--rounds 3]``
(builds ``.venv-vllm`` on first use, like the tests).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from swerm_plugin.backends.base import RewardBackend
from swerm_plugin.backends.remote.openai import OpenAIBackend
from swerm_plugin.backends.remote.vllm import VllmBackend
from swerm_plugin.config import RemoteConfig, SwermConfig
from swerm_plugin.model import Step, Trajectory
from swerm_plugin.prompts import render_prompt
from swerm_plugin.prompts.prompt import Prompt
from swerm_plugin.testing import make_tiny_model
from swerm_plugin.testing.vllm_cpu import VllmServer, ensure_vllm_env

REPO = Path(__file__).resolve().parents[1]
SERVED = "swerm-bench"
CANDIDATES_PER_TASK = 4
_FILLER = (
    "the parser fails on empty input so the fix returns None early and a regression test "
    "checks the edge case while the module keeps its public interface unchanged"
)
WORDS = _FILLER.split()


def trajectories(n: int, seed: int) -> list[Trajectory]:
    """``n`` trajectories, ``CANDIDATES_PER_TASK`` per task sharing a long problem statement."""
    rng = random.Random(seed)

    def text(words: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(words))

    out = []
    for index in range(n):
        task = index // CANDIDATES_PER_TASK
        if index % CANDIDATES_PER_TASK == 0:
            problem = f"Issue {seed}-{task}: " + text(250)
        steps = [
            Step(role="assistant", thought=text(60), action="pytest -q", observation=text(60))
            for _ in range(2)
        ]
        out.append(
            Trajectory(
                instance_id=f"bench__{seed}-{task}",
                source="bench/1",
                problem_statement=problem,
                steps=steps,
                patch="diff --git a/p.py b/p.py\n+    return None\n",
            )
        )
    return out


def scoring_payload(prompt: Prompt) -> dict[str, Any]:
    """What swerm's vllm backend sends for one ungrouped prompt."""
    assert prompt.token_ids is not None and prompt.verdict_token_ids is not None
    return {
        "model": SERVED,
        "query": prompt.token_ids,
        "items": [[]],
        "label_token_ids": list(prompt.verdict_token_ids),
        "apply_softmax": True,
    }


def completion_payload(prompt: Prompt) -> dict[str, Any]:
    """What swerm's openai backend sends (through litellm) for one prompt."""
    return {
        "model": SERVED,
        "prompt": prompt.token_ids,
        "max_tokens": 1,
        "temperature": 0.0,
        "logprobs": 20,
        "return_tokens_as_token_ids": True,
    }


async def bare_httpx(url: str, path: str, payloads: list[dict[str, Any]], concurrency: int) -> None:
    """The baseline: an asyncio loop posting each payload, at most ``concurrency`` at a time."""
    limit = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:

        async def post(payload: dict[str, Any]) -> None:
            async with limit:
                response = await client.post(url + path, json=payload)
                response.raise_for_status()

        await asyncio.gather(*(post(payload) for payload in payloads))


class Bench:
    def __init__(self, server: VllmServer, model_dir: Path, n: int) -> None:
        from transformers import AutoTokenizer

        self.server = server
        self.model_dir = model_dir
        self.n = n
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.seed = 0
        self.backends: dict[tuple[str, int, bool], RewardBackend] = {}

    def fresh_prompts(self) -> list[Prompt]:
        self.seed += 1
        return [render_prompt(t, "swe-rm", self.tokenizer) for t in trajectories(self.n, self.seed)]

    def backend(self, kind: str, concurrency: int, group: bool) -> RewardBackend:
        """One backend per setting, warmed up (handshake done, connections open)."""
        key = (kind, concurrency, group)
        if key not in self.backends:
            remote = RemoteConfig(
                endpoints=[self.server.url],
                tokenizer=str(self.model_dir),
                concurrency=concurrency,
                group_candidates=group,
                timeout_s=300,
            )
            config = SwermConfig(backend=kind, model=SERVED, remote=remote)
            backend: RewardBackend = (VllmBackend if kind == "vllm" else OpenAIBackend)(config)
            warm = backend.score_batch(self.fresh_prompts()[:concurrency])
            assert all(score.ok for score in warm), warm[0].error
            self.backends[key] = backend
        return self.backends[key]

    def swerm(self, kind: str, concurrency: int, group: bool = False) -> Callable[[], float]:
        def run() -> float:
            backend = self.backend(kind, concurrency, group)
            prompts = self.fresh_prompts()
            start = time.perf_counter()
            scores = backend.score_batch(prompts)
            elapsed = time.perf_counter() - start
            failed = [score.error for score in scores if not score.ok]
            assert not failed, failed[0]
            return elapsed

        return run

    def bare(self, path: str, concurrency: int) -> Callable[[], float]:
        build = scoring_payload if path == "/generative_scoring" else completion_payload

        def run() -> float:
            payloads = [build(prompt) for prompt in self.fresh_prompts()]
            start = time.perf_counter()
            asyncio.run(bare_httpx(self.server.url, path, payloads, concurrency))
            return time.perf_counter() - start

        return run

    def close(self) -> None:
        for backend in self.backends.values():
            backend.close()


def measure(methods: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Median seconds per method; methods take turns within each round."""
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(rounds):
        for name, run in methods.items():
            times[name].append(run())
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trajectories", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--eager", action="store_true", help="start vLLM without torch.compile (faster start-up)"
    )
    args = parser.parse_args()
    python = ensure_vllm_env(REPO / ".venv-vllm")
    with tempfile.TemporaryDirectory(prefix="swerm-bench-") as tmp:
        model_dir = make_tiny_model(Path(tmp) / "model")
        server = VllmServer(
            python, model_dir, served_name=SERVED, log_path=Path(tmp) / "vllm.log", eager=args.eager
        )
        print(f"starting vLLM ({'eager' if args.eager else 'compiled'}) ...", flush=True)
        with server:
            bench = Bench(server, model_dir, args.trajectories)
            try:
                median = measure(
                    {
                        "httpx c8": bench.bare("/generative_scoring", 8),
                        "swerm c8": bench.swerm("vllm", 8),
                        "swerm c1": bench.swerm("vllm", 1),
                        "swerm c8 grouped": bench.swerm("vllm", 8, group=True),
                        "httpx completions c8": bench.bare("/v1/completions", 8),
                        "swerm openai c8": bench.swerm("openai", 8),
                    },
                    args.rounds,
                )
            finally:
                bench.close()
    n = args.trajectories
    tokens = statistics.mean(p.n_tokens or 0 for p in bench.fresh_prompts())
    print(
        f"\n{n} trajectories per run (about {tokens:.0f} tokens each, {CANDIDATES_PER_TASK} per "
        f"task), median of {args.rounds} rounds, one vLLM CPU server"
    )
    for name, seconds in median.items():
        print(f"  {name:<22} {seconds:7.3f} s  {n / seconds:7.1f} trajectories/s")
    print("\nratios (baseline measured in this run):")
    print(
        f"  swerm vllm / bare httpx throughput, c8: {median['httpx c8'] / median['swerm c8']:.3f}"
        "  (target >= 0.9)"
    )
    print(
        f"  concurrency 8 vs 1 speed-up:            {median['swerm c1'] / median['swerm c8']:.2f}x"
    )
    print(
        "  grouped / one request per candidate:    "
        f"{median['swerm c8 grouped'] / median['swerm c8']:.3f} (time; < 1 is faster)"
    )
    print(
        "  swerm openai (litellm) / bare httpx:    "
        f"{median['httpx completions c8'] / median['swerm openai c8']:.3f} (throughput)"
    )


if __name__ == "__main__":
    main()
