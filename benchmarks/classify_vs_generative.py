"""A YES/NO verifier served as a classifier: ``/classify`` vs ``/generative_scoring``.

The tiny verifier (``make_tiny_model``, here with a wider body: hidden 512, 4 layers) is served
twice by vLLM on this machine's CPU with the same flags (``--enable-prefix-caching``, float32,
the same context): once generating, scored through ``/generative_scoring`` (swerm's ``vllm``
backend, a task's candidates grouped into one request with the shared prefix as the query); once
converted by ``swerm convert seq-cls`` and served by the pooling runner, scored through
``/classify`` (swerm's ``classify`` backend, a task's candidates in one request). The servers
run one after the other (one vLLM server at a time on a shared machine); every round scores
fresh trajectories, so no round is served from a cache another filled. Printed: throughput of
each, the ratio classify / generative_scoring, and the largest |P difference| on the same
prompts.

Usage: ``.venv/bin/python benchmarks/classify_vs_generative.py [--trajectories 64] [--rounds 3]``
(builds ``.venv-vllm`` on first use, like the tests; trajectories from ``remote_scoring.py``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from remote_scoring import CANDIDATES_PER_TASK, trajectories

from swerm_plugin.backends.base import RewardBackend
from swerm_plugin.backends.remote.classify import ClassifyBackend
from swerm_plugin.backends.remote.vllm import VllmBackend
from swerm_plugin.config import RemoteConfig, SwermConfig
from swerm_plugin.convert import convert_seq_cls
from swerm_plugin.prompts import render_prompt
from swerm_plugin.prompts.prompt import Prompt
from swerm_plugin.testing import make_tiny_model
from swerm_plugin.testing.vllm_cpu import VllmServer, ensure_vllm_env

REPO = Path(__file__).resolve().parents[1]
SERVED = "swerm-bench"


def backend_for(kind: str, server: VllmServer, model_dir: Path) -> RewardBackend:
    remote = RemoteConfig(
        endpoints=[server.url],
        tokenizer=str(model_dir),
        concurrency=8,
        group_candidates=True,
        max_items=CANDIDATES_PER_TASK,
        timeout_s=600,
    )
    config = SwermConfig(backend=kind, model=SERVED, remote=remote)
    return VllmBackend(config) if kind == "vllm" else ClassifyBackend(config)


def run_rounds(
    backend: RewardBackend, rounds: list[list[Prompt]]
) -> tuple[list[float], list[list[float]]]:
    """Seconds per round and the scores of every round."""
    warm = backend.score_batch(rounds[0][:CANDIDATES_PER_TASK])
    assert all(score.ok for score in warm), warm[0].error
    seconds, values = [], []
    for prompts in rounds:
        start = time.perf_counter()
        scores = backend.score_batch(prompts)
        seconds.append(time.perf_counter() - start)
        failed = [score.error for score in scores if not score.ok]
        assert not failed, failed[0]
        values.append([score.raw or 0.0 for score in scores])
    return seconds, values


def prefix_cache_hit_rate(server: VllmServer) -> float | None:
    """Tokens served from the prefix cache / tokens looked up, from vLLM's /metrics."""
    import httpx

    totals: dict[str, float] = {}
    for line in httpx.get(f"{server.url}/metrics", timeout=30).text.splitlines():
        for name in ("vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total"):
            if line.startswith(name + "{") or line.startswith(name + " "):
                totals[name] = totals.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    queries = totals.get("vllm:prefix_cache_queries_total")
    return totals.get("vllm:prefix_cache_hits_total", 0.0) / queries if queries else None


def serve_and_score(
    python: Path, model_dir: Path, kind: str, args: list[str], rounds: list[list[Prompt]], log: Path
) -> tuple[list[float], list[list[float]]]:
    server = VllmServer(
        python, model_dir, served_name=SERVED, log_path=log, extra_args=args, max_model_len=4096
    )
    print(f"starting vLLM for {kind} ...", flush=True)
    with server:
        backend = backend_for(kind, server, model_dir)
        try:
            result = run_rounds(backend, rounds)
        finally:
            backend.close()
        rate = prefix_cache_hit_rate(server)
        print(f"  prefix cache hit rate ({kind}): {'n/a' if rate is None else f'{rate:.2f}'}")
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trajectories", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    python = ensure_vllm_env(REPO / ".venv-vllm")
    with tempfile.TemporaryDirectory(prefix="swerm-bench-") as tmp:
        from transformers import AutoTokenizer

        model_dir = make_tiny_model(
            Path(tmp) / "model",
            hidden_size=512,
            num_hidden_layers=4,
            num_attention_heads=8,
            num_key_value_heads=2,
            intermediate_size=1024,
            moe_intermediate_size=256,
        )
        classifier = convert_seq_cls(model_dir, Path(tmp) / "classifier", ("<YES>", "<NO>"))
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        rounds = [
            [render_prompt(t, "swe-rm", tokenizer) for t in trajectories(args.trajectories, seed)]
            for seed in range(1, args.rounds + 1)
        ]
        flags = ["--enable-prefix-caching"]
        generative = serve_and_score(
            python, model_dir, "vllm", flags, rounds, Path(tmp) / "generate.log"
        )
        classified = serve_and_score(
            python,
            classifier.target_path,
            "classify",
            ["--runner", "pooling", *flags],
            rounds,
            Path(tmp) / "classify.log",
        )
    n = args.trajectories
    tokens = statistics.mean(p.n_tokens or 0 for p in rounds[0])
    prefix = statistics.mean(p.prefix_len or 0 for p in rounds[0])
    gen_s, cls_s = statistics.median(generative[0]), statistics.median(classified[0])
    worst = max(
        abs(a - b)
        for round_g, round_c in zip(generative[1], classified[1], strict=True)
        for a, b in zip(round_g, round_c, strict=True)
    )
    print(
        f"\n{n} trajectories per round ({CANDIDATES_PER_TASK} candidates per task, about "
        f"{tokens:.0f} tokens each of which {prefix:.0f} shared), median of {args.rounds} rounds"
    )
    for name, seconds in (("/generative_scoring", gen_s), ("/classify", cls_s)):
        print(f"  {name:<20} {seconds:7.3f} s  {n / seconds:7.1f} trajectories/s")
    print(f"\nthroughput ratio classify / generative_scoring: {gen_s / cls_s:.3f}")
    print(f"largest |P(classify) - P(generative_scoring)| on the same prompts: {worst:.2e}")


if __name__ == "__main__":
    main()
