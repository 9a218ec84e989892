"""Fuzzing the readers and the renderer with mutated real-format files.

Every sample format the tests build (SWE-agent 0.x/1.x and its retry file, mini-swe-agent 1 and
1.1, OpenHands V0 and SDK, SWE-bench predictions) is damaged at random, in bytes (cut, overwrite,
delete, insert) or in structure (a value anywhere swapped for another JSON value, or removed, or
nested a thousand deep), written to a file, read the way users read, and every trajectory that
comes out is rendered with the tiny model's tokenizer. A format error naming the file is the
right answer to damage; any other exception is a bug. Prints that count (target 0), the slowest
case, and the error kinds seen.

    python benchmarks/fuzz_readers.py [--cases 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import copy
import importlib.util
import json
import random
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

from swerm_plugin.errors import PromptRenderError, TrajectoryFormatError
from swerm_plugin.jsonl import TruncatedRecordWarning
from swerm_plugin.prompts.render import render_prompt
from swerm_plugin.readers import load

REPO = Path(__file__).resolve().parents[1]
SAMPLE_NAMES = (
    "sweagent_v1", "sweagent_v0", "sweagent_retry", "mini_1", "mini_1.1", "openhands_v0_jsonl",
    "openhands_v0_events", "sdk_events_jsonl", "sdk_record", "predictions_jsonl",
    "predictions_json",
)  # fmt: skip
FILE_NAMES = ("x.traj", "x.traj.json", "output.jsonl", "preds.json", "events.jsonl", "notes.json")


def _formats() -> Any:
    """The tests' real-format sample builders (tests/readers/conftest.py), loaded by path."""
    spec = importlib.util.spec_from_file_location(
        "reader_formats", REPO / "tests/readers/conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Formats


def sample(formats: Any, name: str) -> tuple[Any, bool]:
    """A valid value of format ``name`` and whether it is JSON Lines."""
    if name == "sweagent_retry":
        attempt = formats.sweagent_v1()
        return {"attempts": [attempt, formats.sweagent_v0()], **attempt}, False
    if name.startswith("mini_"):
        return formats.mini(name.removeprefix("mini_")), False
    if name == "openhands_v0_jsonl":
        return [formats.openhands_v0_record(f"x__x-{i}") for i in range(2)], True
    if name == "sdk_events_jsonl":
        return formats.sdk_events(), True
    if name == "predictions_jsonl":
        return [formats.prediction("a__a-1"), formats.prediction("b__b-2")], True
    if name == "predictions_json":
        return {i: formats.prediction(i) for i in ("a__a-1", "b__b-2")}, False
    return getattr(formats, name)(), False


DEEP = "__swerm_fuzz_deep__"


def encode(value: Any, lines: bool) -> bytes:
    if lines and isinstance(value, list):
        text = "".join(json.dumps(v) + "\n" for v in value)
    else:
        text = json.dumps(value, indent=1)
    return text.replace(f'"{DEEP}"', "[" * 1100 + "]" * 1100).encode()


def random_value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(9 if depth < 2 else 7)
    text = "".join(rng.choice("ab\x1b\u202e<|>/") for _ in range(rng.randint(1, 9)))
    simple = [None, True, rng.randint(-9, 9), 10 ** rng.randint(20, 400), rng.random(), "", text]
    if pick < 7:
        return simple[pick]
    if pick == 7:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {f"k{i}": random_value(rng, depth + 1) for i in range(rng.randint(0, 3))}


def paths_in(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths_in(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths_in(item, (*prefix, i))
    return found


def mutate_structure(value: Any, rng: random.Random) -> Any:
    value = copy.deepcopy(value)
    path = rng.choice(paths_in(value))
    replacement = random_value(rng)
    if rng.random() < 0.05:
        replacement = DEEP  # replaced by 1,100 nested arrays once encoded
    if not path:
        return replacement
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    if rng.random() < 0.3 and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return value


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(max(1, len(data)))
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    kind = rng.choice(("cut", "overwrite", "delete", "insert"))
    if kind == "cut":
        return data[:at]
    if kind == "overwrite":
        return data[:at] + junk + data[at + len(junk) :]
    if kind == "delete":
        return data[:at] + data[at + len(junk) :]
    return data[:at] + junk + data[at:]


def one_case(data: bytes, name: str, folder: Path, tokenizer: Any) -> str:
    """Read and render one file; the outcome: ok, format error, or the unexpected exception."""
    path = folder / name
    path.write_bytes(data)
    try:
        for trajectory in load(path):
            render_prompt(trajectory, "swe-rm", tokenizer, 2048)
    except TrajectoryFormatError as exc:
        assert str(path) in str(exc), f"a format error must name the file: {exc}"
        return "format error"
    except PromptRenderError:
        return "render error"
    return "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from transformers import AutoTokenizer

    from swerm_plugin.testing import make_tiny_model

    rng = random.Random(args.seed)
    formats = _formats()
    outcomes: collections.Counter[str] = collections.Counter()
    unexpected: list[str] = []
    slowest = (0.0, "")
    warnings.simplefilter("ignore", TruncatedRecordWarning)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = AutoTokenizer.from_pretrained(make_tiny_model(Path(tmp) / "tiny"))
        start = time.perf_counter()
        for case in range(args.cases):
            kind = rng.choice(SAMPLE_NAMES)
            value, lines = sample(formats, kind)
            if rng.random() < 0.5:
                data = mutate_bytes(encode(value, lines), rng)
            else:
                data = encode(mutate_structure(value, rng), lines)
            began = time.perf_counter()
            try:
                outcomes[one_case(data, rng.choice(FILE_NAMES), Path(tmp), tokenizer)] += 1
            except Exception:
                outcomes["unexpected"] += 1
                unexpected.append(f"case {case} ({kind}): {traceback.format_exc(limit=3)}")
            took = time.perf_counter() - began
            slowest = max(slowest, (took, f"case {case} ({kind}, {len(data)} bytes)"))
        total = time.perf_counter() - start
    print(f"{args.cases} mutated files in {total:.1f} s: {dict(outcomes)}")
    print(f"slowest case: {slowest[1]} took {slowest[0] * 1000:.1f} ms")
    print(f"exceptions other than format errors: {len(unexpected)} (target 0)")
    for text in unexpected[:5]:
        print(text)


if __name__ == "__main__":
    main()
