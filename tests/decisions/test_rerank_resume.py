"""Rerank with a reward model: scores come through the real Verifier pipeline, are cached as they
are computed, and a second run rescoring nothing gives the same predictions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from swerm_plugin import hookimpl
from swerm_plugin.cli import cli
from swerm_plugin.config import SwermConfig
from swerm_plugin.decisions.rerank import rerank_group
from swerm_plugin.decisions.runs import group_by_task, load_runs, score_groups
from swerm_plugin.model import Score
from swerm_plugin.plugins import get_hooks, get_plugin_manager
from swerm_plugin.prompts.prompt import Prompt
from swerm_plugin.testing import MockRewardBackend
from swerm_plugin.verifier import Verifier

from .conftest import MakeDiff, WritePreds


class PatchLengthBackend(MockRewardBackend):
    """A stand-in for a model (none can be downloaded here): P(YES) grows with the prompt's
    length, so longer patches win; every prompt it scores is recorded."""

    name: ClassVar[str] = "patch-length"
    scored: ClassVar[list[str]] = []

    def __init__(self, config: SwermConfig) -> None:
        super().__init__(config)

    def score_batch(self, prompts: Sequence[Prompt]) -> list[Score]:
        PatchLengthBackend.scored.extend(p.content_hash for p in prompts)
        return [Score(raw=min(0.99, len(p.text) / 5000), backend=self.name) for p in prompts]


@pytest.fixture
def runs(write_run: WritePreds, make_diff: MakeDiff) -> list[Path]:
    short = make_diff("a.py", ["x = 1"], ["x = 2"])
    long = make_diff("a.py", ["x = 1"], ["x = 2", "y = 3", "z = 4"])
    return [write_run("r1", {"t1": short, "t2": long}), write_run("r2", {"t1": long, "t2": short})]


def test_verifier_scores_feed_the_rerank(runs: list[Path]) -> None:
    loaded = load_runs(runs)
    groups = group_by_task(loaded)
    # The queued mock stands in for the model; rendering and calibration are the real ones.
    backend = MockRewardBackend(scores=[0.2, 0.9, 0.7, 0.1])
    config = SwermConfig(policy={"threshold": 0.8, "on_reject": "empty_patch"})
    with Verifier(config, backend=backend) as verifier:
        scores = score_groups(groups, config, scorer=verifier.score)
    hooks = get_hooks(config)
    decisions = [rerank_group(g, s, hooks) for g, s in zip(groups, scores, strict=True)]
    assert [d.chosen.run_id for d in decisions] == ["r2", "r1"]  # t1: .9 (r2), t2: .7 (r1)
    assert [d.decision.action for d in decisions] == ["accept", "reject"]
    assert decisions[1].patch == ""  # .7 < .8: abstain


def test_same_folder_names_get_distinct_run_ids(tmp_path: Path, runs: list[Path]) -> None:
    again = tmp_path / "again" / "r1"
    again.mkdir(parents=True)
    (again / "preds.jsonl").write_text(runs[0].read_text())
    assert [r.run_id for r in load_runs([runs[0], again / "preds.jsonl"])] == ["r1", "r1#2"]


def test_interrupted_rerank_resumes_without_rescoring(runs: list[Path], tmp_path: Path) -> None:
    class Plugin:
        @hookimpl
        def swerm_register_backends(self, register: Any) -> None:
            register(PatchLengthBackend)

    get_plugin_manager().register(Plugin())
    get_hooks().register_commands(cli)
    PatchLengthBackend.scored.clear()
    args = ["rerank", *map(str, runs), "--backend", "patch-length"]
    first = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "a.jsonl")])
    assert first.exit_code == 0, first.output
    assert len(PatchLengthBackend.scored) == 4
    cache = tmp_path / "a.jsonl.decisions.jsonl.scores.jsonl"
    assert len(cache.read_text().splitlines()) == 4
    # Simulate an interruption that lost the outputs but kept the score cache.
    (tmp_path / "a.jsonl").unlink()
    second = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "a.jsonl")])
    assert second.exit_code == 0, second.output
    assert len(PatchLengthBackend.scored) == 4  # nothing rescored
    preds = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert all("z = 4" in p["model_patch"] for p in preds)  # the longer patch wins each task
