"""``swerm rerank`` over an OpenHands/benchmarks output folder with per-attempt files.

OpenHands/benchmarks writes one ``output.critic_attempt_<k>.jsonl`` per attempt (records
``{instance_id, attempt, test_result: {git_patch}, instruction, metadata, history: [SDK events],
...}``) beside ``output.jsonl``. The records here are built in that shape, with SDK events as
the SDK serialises them; scores come from the tiny model through the transformers backend.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from swerm_plugin.cli import main
from swerm_plugin.readers import load

HEADER = "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-a - b\n"
PATCHES = {1: HEADER + "+a * b\n", 2: HEADER + "+a + b\n"}


def sdk_history(k: int) -> list[dict[str, Any]]:
    """A user message, one terminal action and its observation, then ``finish``."""
    return [
        {
            "kind": "MessageEvent",
            "id": f"m{k}",
            "source": "user",
            "llm_message": {"role": "user", "content": [{"type": "text", "text": "Fix add()."}]},
        },
        {
            "kind": "ActionEvent",
            "id": f"a{k}",
            "source": "agent",
            "thought": [{"type": "text", "text": f"Attempt {k}: edit calc.py."}],
            "tool_name": "terminal",
            "tool_call_id": f"call{k}",
            "action": {"kind": "TerminalAction", "command": f"sed -i s/-/+/ calc.py  # {k}"},
        },
        {
            "kind": "ObservationEvent",
            "id": f"o{k}",
            "source": "environment",
            "tool_name": "terminal",
            "tool_call_id": f"call{k}",
            "action_id": f"a{k}",
            "observation": {
                "kind": "TerminalObservation",
                "content": [{"type": "text", "text": ""}],
            },
        },
        {
            "kind": "ActionEvent",
            "id": f"f{k}",
            "source": "agent",
            "thought": [],
            "tool_name": "finish",
            "tool_call_id": f"finish{k}",
            "action": {"kind": "FinishAction", "message": "done"},
        },
    ]


def write_benchmarks_output(folder: Path) -> None:
    folder.mkdir()
    for k, patch in PATCHES.items():
        record = {
            "instance_id": "calc__calc-1",
            "attempt": k,
            "test_result": {"git_patch": patch},
            "instruction": "Fix add().",
            "metadata": {"llm": {"model": "test-model"}},
            "history": sdk_history(k),
            "metrics": {"accumulated_cost": 0.1},
            "error": None,
            "instance": {"instance_id": "calc__calc-1"},
        }
        (folder / f"output.critic_attempt_{k}.jsonl").write_text(json.dumps(record) + "\n")
    # OpenHands/benchmarks' merged file repeats the last attempt; the reader drops the copy.
    (folder / "output.jsonl").write_text((folder / "output.critic_attempt_2.jsonl").read_text())


def test_each_critic_attempt_is_one_candidate(tmp_path: Path) -> None:
    write_benchmarks_output(tmp_path / "eval")
    candidates = sorted(load(tmp_path / "eval"), key=lambda t: t.attempt)
    assert [(t.attempt, t.patch) for t in candidates] == [(1, PATCHES[1]), (2, PATCHES[2])]


@pytest.mark.slow
def test_rerank_picks_one_attempt_per_task(tmp_path: Path, tiny_model_dir: Path) -> None:
    write_benchmarks_output(tmp_path / "eval")
    out = tmp_path / "preds.jsonl"

    assert (
        main(["rerank", str(tmp_path / "eval"), "-o", str(out), "--model", str(tiny_model_dir)])
        == 0
    )

    (prediction,) = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert prediction["instance_id"] == "calc__calc-1"
    assert prediction["model_patch"] in PATCHES.values()
