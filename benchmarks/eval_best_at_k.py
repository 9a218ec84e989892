"""Speed of the best@k evaluation behind ``swerm eval``: vectorised numpy against a plain loop.

Workload (the issue's): 500 tasks × 32 candidates, 1,000 random k-subsets for every k = 1..32.
The baseline is the straightforward implementation of the same computation: for each k, each
draw and each task, sample k candidates and take the best-ranked one's label. Both are timed in
this run on this machine; the script prints both times and their ratio, and checks that the two
agree (same estimator, different random numbers).

    python benchmarks/eval_best_at_k.py            # full baseline (about a minute)
    python benchmarks/eval_best_at_k.py --quick    # baseline on 1/10 of the draws, scaled up
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

from swerm_plugin.evaluation.best_of_n import RankedTasks, best_at_k, sample_best_at_k


def make_tasks(n_tasks: int, n_candidates: int, seed: int) -> list[list[bool]]:
    """Tasks of varied difficulty; each task's labels in rank order (a better-than-random
    ranking: resolving candidates are more likely near the top)."""
    rng = np.random.default_rng(seed)
    tasks = []
    for _ in range(n_tasks):
        rate = rng.beta(0.6, 1.4)
        labels = rng.random(n_candidates) < rate
        order = np.argsort(-(labels + rng.normal(0, 0.8, n_candidates)))
        tasks.append([bool(v) for v in labels[order]])
    return tasks


def loop_best_at_k(ranked: list[list[bool]], n_subsets: int, seed: int) -> np.ndarray:
    """The baseline: nested Python loops, one random.sample per (k, draw, task)."""
    rng = random.Random(seed)
    width = max(len(r) for r in ranked)
    out = np.zeros((n_subsets, width))
    for k in range(1, width + 1):
        for draw in range(n_subsets):
            resolved = 0
            for labels in ranked:
                subset = rng.sample(range(len(labels)), min(k, len(labels)))
                resolved += labels[min(subset)]
            out[draw, k - 1] = resolved / len(ranked)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--candidates", type=int, default=32)
    parser.add_argument("--subsets", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="baseline on 1/10 of the draws")
    args = parser.parse_args()

    ranked = make_tasks(args.tasks, args.candidates, seed=0)
    tasks = RankedTasks.from_lists(ranked)

    start = time.perf_counter()
    draws = sample_best_at_k(tasks, n_subsets=args.subsets, seed=1)
    exact = [best_at_k(tasks, k) for k in range(1, tasks.max_candidates + 1)]
    fast = time.perf_counter() - start

    baseline_subsets = max(1, args.subsets // 10) if args.quick else args.subsets
    start = time.perf_counter()
    looped = loop_best_at_k(ranked, baseline_subsets, seed=2)
    slow = (time.perf_counter() - start) * args.subsets / baseline_subsets

    gap = np.max(np.abs(draws.mean(axis=0) - looped.mean(axis=0)))
    exact_gap = np.max(np.abs(draws.mean(axis=0) - np.array(exact)))
    print(
        f"workload: {args.tasks} tasks x {args.candidates} candidates, "
        f"{args.subsets} subsets per k, k = 1..{tasks.max_candidates}"
    )
    print(f"vectorised (sampling + exact closed form): {fast:8.3f} s")
    scaled = f" (measured on {baseline_subsets} subsets, scaled)" if args.quick else ""
    print(f"python loop baseline:                      {slow:8.3f} s{scaled}")
    print(f"speed-up: {slow / fast:.0f}x")
    print(f"max |mean difference| vs loop: {gap:.4f}; vs exact closed form: {exact_gap:.4f}")


if __name__ == "__main__":
    main()
