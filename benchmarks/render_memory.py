"""Peak memory of rendering a huge trajectory, as a ratio to rendering one that fits the budget.

The renderer cuts a trajectory far over budget by characters before tokenizing, so its memory is
bounded by the budget, not by the input. Each measurement runs in a fresh process: the peak
resident set (``ru_maxrss``) while rendering, minus the resident set just before (tokenizer and
trajectory already in memory). Target: a 2M-token trajectory at a 32k budget ≤ 3× a 32k one.

    python benchmarks/render_memory.py [--budget 32768] [--huge-tokens 2000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys
from transformers import AutoTokenizer
from swerm_plugin.model import Step, Trajectory
from swerm_plugin.prompts import render
from swerm_plugin.prompts.render import render_prompt

model, tokens, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if sys.argv[4] == "off":  # the comparison: tokenize everything, as before the character cut
    render.CHARACTER_CUT_FROM = 10**12
tokenizer = AutoTokenizer.from_pretrained(model)
line = "value = parse(items[index]) if items else None  # the fix for the empty list\n"
per_line = len(tokenizer(line, add_special_tokens=False)["input_ids"])
lines = max(1, tokens // per_line)
steps_n = 40
chunk = line * (lines // steps_n)
steps = [Step(role="assistant", thought=f"step {i}", action=f"cat f{i}.py", observation=chunk)
         for i in range(steps_n)]
trajectory = Trajectory(instance_id="bench__bench-1", source="bench", problem_statement="Fix it.",
                        steps=steps, patch="--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n")
def rss_kib():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() // 1024
render_prompt(Trajectory(instance_id="w", source="w", steps=steps[:1]), "swe-rm", tokenizer, 512)
before = rss_kib()
prompt = render_prompt(trajectory, "swe-rm", tokenizer, budget)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"tokens": lines * per_line, "prompt_tokens": prompt.n_tokens,
                  "before_kib": before, "peak_kib": peak, "cuts": len(prompt.cuts)}))
"""


def measure(model: Path, tokens: int, budget: int, cut: str = "on") -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(model), str(tokens), str(budget), cut],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=32768)
    parser.add_argument("--huge-tokens", type=int, default=2_000_000)
    args = parser.parse_args()
    from swerm_plugin.testing import make_tiny_model

    with tempfile.TemporaryDirectory() as folder:
        model = make_tiny_model(Path(folder) / "tiny")
        runs = {
            "fits the budget": measure(model, args.budget, args.budget),
            "huge": measure(model, args.huge_tokens, args.budget),
            "huge, no char cut": measure(model, args.huge_tokens, args.budget, "off"),
        }
    growth = {name: max(1, r["peak_kib"] - r["before_kib"]) / 1024 for name, r in runs.items()}
    for name, result in runs.items():
        print(
            f"{name:>18}: {result['tokens']:>9} tokens -> {result['prompt_tokens']} tokens "
            f"({result['cuts']} cuts); rendering peaked {growth[name]:.1f} MiB above "
            f"{result['before_kib'] / 1024:.0f} MiB"
        )
    ratio = growth["huge"] / growth["fits the budget"]
    print(f"peak memory of rendering, huge / fits the budget: {ratio:.2f} (target <= 3)")
    print(
        f"without the character cut: {growth['huge, no char cut'] / growth['fits the budget']:.2f}"
    )


if __name__ == "__main__":
    main()
