"""How fast, and in how much memory, ``swerm_plugin.readers.load`` streams a big OpenHands file.

Builds a synthetic OpenHands V0 ``output.jsonl`` (default about 500 MB) in a temporary folder,
then measures on the same lines, in the same run:

* throughput: plain ``orjson.loads`` of every line (the baseline: reading JSON at all) against
  ``load()`` producing :class:`Trajectory` objects. Printed as baseline time / reader time, so
  1.0 means "as fast as parsing alone" (target >= 0.5);
* peak memory (tracemalloc) while ``load()`` streams the file, as a multiple of the largest
  record's size in bytes (target <= 3): memory must follow the largest record, not the file.

The file is deleted afterwards. Usage: ``python benchmarks/read_trajectories.py [--size-mb N]``.
"""

from __future__ import annotations

import argparse
import gc
import random
import string
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import orjson

from swerm_plugin.builtins.readers import builtin_adapters
from swerm_plugin.readers import load

PLACEHOLDER = "bench__bench-0000000"  # fixed width, replaced per record in the serialized bytes
WORDS = [
    "def", "return", "self", "import", "class", "value", "result", "error", "path", "config",
    "None", "True", "for", "in", "if", "else", "raise", "assert", "data", "items",
]  # fmt: skip


def _text(rng: random.Random, size: int) -> str:
    """Code-like text: lines of words, indentation, quotes and the odd non-ASCII character."""
    lines, total = [], 0
    while total < size:
        indent = " " * (4 * rng.randrange(4))
        words = " ".join(rng.choices(WORDS, k=rng.randrange(3, 12)))
        line = f'{indent}{words} = "{rng.choice(string.ascii_letters)}\\t" # é'
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines)


def _tool_call(call_id: str, name: str, arguments: dict[str, Any], thought: str) -> dict[str, Any]:
    return {
        "function_name": name,
        "tool_call_id": call_id,
        "model_response": {
            "id": f"gen-{call_id}",
            "model": "bench/model",
            "choices": [
                {
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": thought,
                        "tool_calls": [
                            {
                                "id": call_id,
                                "type": "function",
                                "function": {
                                    "name": name,
                                    "arguments": orjson.dumps(arguments).decode(),
                                },
                            }
                        ],
                    },
                }
            ],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 100},
        },
        "total_calls_in_response": 1,
    }


def make_record(rng: random.Random, n_pairs: int, observation_size: int) -> dict[str, Any]:
    """One OpenHands V0 evaluation record shaped like the real ones (see docs/formats.md)."""
    issue = _text(rng, 2_000)
    instruction = (
        "<uploaded_files>/workspace/repo</uploaded_files>\n"
        f"<issue_description>\n{issue}\n</issue_description>"
    )
    history: list[dict[str, Any]] = [
        {"id": 0, "source": "agent", "action": "system", "args": {"content": _text(rng, 6_000)}},
        {"id": 1, "source": "user", "action": "message", "args": {"content": instruction}},
        {"id": 2, "source": "user", "action": "recall", "args": {"query": instruction}},
        {"id": 3, "source": "environment", "observation": "recall", "cause": 2, "content": "ok"},
    ]
    for i in range(n_pairs):
        action_id = 4 + 2 * i
        thought = _text(rng, rng.randrange(100, 600))
        if i % 3 == 2:
            name, action = "str_replace_editor", "edit"
            arguments = {
                "command": "str_replace",
                "path": "/workspace/repo/a.py",
                "old_str": _text(rng, 200),
                "new_str": _text(rng, 200),
            }
        else:
            name, action = "execute_bash", "run"
            arguments = {"command": f"grep -rn '{rng.choice(WORDS)}' /workspace/repo | head -{i}"}
        history.append(
            {
                "id": action_id,
                "timestamp": "2025-04-30T16:32:57.821635",
                "source": "agent",
                "message": f"Running {action}",
                "action": action,
                "tool_call_metadata": _tool_call(f"toolu_{i:03d}", name, arguments, thought),
                "llm_metrics": {
                    "accumulated_cost": 0.01 * i,
                    "costs": [],
                    "response_latencies": [],
                },
                "args": {**arguments, "thought": thought, "blocking": False},
            }
        )
        size = int(observation_size * rng.uniform(0.2, 1.8))
        history.append(
            {
                "id": action_id + 1,
                "timestamp": "2025-04-30T16:32:58.441272",
                "source": "agent",
                "message": f"Command {i} executed with exit code 0.",
                "cause": action_id,
                "observation": action,
                "content": _text(rng, size),
                "extras": {"command": arguments.get("command", ""), "metadata": {"exit_code": 0}},
            }
        )
    history.append(
        {
            "id": 4 + 2 * n_pairs,
            "source": "agent",
            "action": "finish",
            "args": {"final_thought": "Done.", "thought": ""},
        }
    )
    return {
        "instance_id": PLACEHOLDER,
        "test_result": {"git_patch": "diff --git a/a.py b/a.py\n" + _text(rng, 3_000)},
        "instruction": instruction,
        "metadata": {
            "agent_class": "CodeActAgent",
            "llm_config": {"model": "bench/model"},
            "max_iterations": 100,
            "eval_output_dir": "evaluation/outputs/bench_run",
        },
        "history": history,
        "metrics": {"accumulated_cost": 1.25, "costs": [{"cost": 0.01}] * n_pairs},
        "error": None,
        "instance": {"instance_id": PLACEHOLDER, "problem_statement": issue},
    }


def write_file(path: Path, size_mb: int, seed: int = 0) -> tuple[int, int]:
    """Write about ``size_mb`` MB of records; return (records, largest record in bytes).

    A dozen distinct records of varied size are made once and repeated with new instance ids,
    plus one record several times larger than the rest, placed mid-file.
    """
    rng = random.Random(seed)
    shapes = [(rng.randrange(20, 90), rng.randrange(2_000, 24_000)) for _ in range(12)]
    templates = [orjson.dumps(make_record(rng, n, size)) for n, size in shapes]
    largest = orjson.dumps(make_record(rng, 150, 40_000))
    target = size_mb * 1_000_000
    written = records = 0
    with path.open("wb") as fh:
        while written < target:
            template = largest if records == 60 else templates[records % len(templates)]
            line = template.replace(PLACEHOLDER.encode(), f"bench__bench-{records:07d}".encode())
            fh.write(line + b"\n")
            written += len(line) + 1
            records += 1
    return records, max(len(largest), *(len(t) for t in templates))


def time_baseline(path: Path) -> float:
    start = time.perf_counter()
    with path.open("rb") as fh:
        for line in fh:
            orjson.loads(line)
    return time.perf_counter() - start


def time_reader(path: Path) -> tuple[float, int]:
    readers = builtin_adapters()
    start = time.perf_counter()
    steps = sum(len(trajectory.steps) for trajectory in load(path, adapters=readers))
    return time.perf_counter() - start, steps


def time_parser_only(path: Path) -> float:
    """The decoder the readers use (msgspec), alone: what the readers add on top of it."""
    import msgspec

    decode = msgspec.json.Decoder().decode
    start = time.perf_counter()
    with path.open("rb") as fh:
        for line in fh:
            decode(line)
    return time.perf_counter() - start


def peak_memory(path: Path) -> int:
    """Peak Python-heap bytes (tracemalloc) above the starting point while ``load()`` streams."""
    readers = builtin_adapters()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    steps = 0
    for trajectory in load(path, adapters=readers):
        steps += len(trajectory.steps)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size-mb", type=int, default=500, help="synthetic file size (default 500)"
    )
    parser.add_argument("--repeat", type=int, default=2, help="timed passes each; best is kept")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="swerm-bench-") as folder:
        path = Path(folder) / "output.jsonl"
        t0 = time.perf_counter()
        records, largest = write_file(path, args.size_mb)
        size = path.stat().st_size
        print(
            f"synthetic OpenHands output.jsonl: {size / 1e6:.0f} MB, {records} records, "
            f"largest record {largest / 1e6:.2f} MB (written in {time.perf_counter() - t0:.1f} s)"
        )

        # Interleaved passes, best of each: a busy machine slows all three alike.
        baselines, parser_times, reader_times = [], [], []
        for _ in range(args.repeat):
            baselines.append(time_baseline(path))
            parser_times.append(time_parser_only(path))
            reader_times.append(time_reader(path))
        baseline, parser_only = min(baselines), min(parser_times)
        reader = min(t for t, _ in reader_times)
        steps = reader_times[0][1]
        print(f"orjson.loads per line:  {baseline:.2f} s ({size / 1e6 / baseline:.0f} MB/s)")
        print(f"msgspec decode per line: {parser_only:.2f} s (the readers' decoder, alone)")
        speed = size / 1e6 / reader
        print(f"adapters.load:          {reader:.2f} s ({speed:.0f} MB/s, {steps} steps)")
        ratio = baseline / reader
        print(f"throughput ratio (orjson time / reader time): {ratio:.2f}  (target >= 0.5)")

        peak = peak_memory(path)
        multiple = peak / largest
        print(
            f"peak Python heap while streaming (tracemalloc): {peak / 1e6:.1f} MB"
            f" = {multiple:.2f} x largest record  (target <= 3)"
        )
    return 0 if ratio >= 0.5 and multiple <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
