"""Rendering real framework output (``../shared/real``, outside the repository) under a budget.

Skipped on a fresh clone without that folder; the other scoring tests build their own inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.model import Trajectory
from swerm_plugin.prompts import render_prompt

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "real"
FILES = [
    "sweagent/v1_test_repo.traj",
    "sweagent/django_lite_runs/sweagent-gpt4-0125_cost_2_1__django__django-13590.traj",
    "minisweagent/v1_gemini3pro_django__django-11099.traj.json",
    "minisweagent/v2_generated_demo.traj.json",
    "openhands/legacy_multi_swe_bench_output.jsonl",
]


def real_trajectories(name: str) -> list[Trajectory]:
    path = REAL / name
    if not path.exists():
        pytest.skip(f"real-format samples not found at {path} (they live outside the repo)")
    from swerm_plugin.readers import loader

    return list(loader.load(path))


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("template", ["swe-rm", "r2e-gym"])
def test_real_trajectories_render_within_budget(
    name: str, template: str, tiny_tokenizer: Any
) -> None:
    for trajectory in real_trajectories(name):
        full = render_prompt(trajectory, template, tiny_tokenizer)
        assert full.n_tokens is not None and full.prefix_len is not None
        budget = min(full.n_tokens, 3000)
        prompt = render_prompt(trajectory, template, tiny_tokenizer, budget)
        assert prompt.n_tokens is not None and prompt.n_tokens <= budget
        assert prompt.truncated == (full.n_tokens > budget)
        if trajectory.patch.strip() and not any(c.kind == "patch" for c in prompt.cuts):
            assert trajectory.patch.strip() in prompt.text
        # The agent's text never produced chat markup.
        im_start = tiny_tokenizer.convert_tokens_to_ids("<|im_start|>")
        assert (prompt.token_ids or []).count(im_start) == 3
