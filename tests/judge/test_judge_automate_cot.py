"""Automate-CoT end to end through the command line, litellm and real HTTP: ``swerm judge pool``
(augment, prune) → ``swerm judge select`` → ``swerm score`` with the chosen exemplars.

No model that writes rationales runs here, so a scripted OpenAI-compatible server on 127.0.0.1
plays the model (:mod:`swerm_plugin.testing.judge_server`): its rationale chains and verdicts
are prepared below, and how well it judges depends on which exemplars its prompt shows, so the
best exemplars are known. The runs are SWE-agent 1.x folders with their harness resolved-lists,
as users have them.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.jsonl import iter_jsonl
from swerm_plugin.judge.exemplars import read_exemplars, read_pool
from swerm_plugin.testing import run_cli
from swerm_plugin.testing.judge_server import Answer, ScriptedServer
from swerm_plugin.testing.runs import Attempt, write_sweagent_run

POOL_TASKS = {f"pool-{i}": i % 2 == 0 for i in range(6)}
DEV_TASKS = {f"dev-{i}": i % 3 != 0 for i in range(8)}
#: How much an exemplar made from each pool task helps the scripted model (others mislead it).
HELPFUL = {"pool-0": 1.5, "pool-1": 1.5}
CHAINS = 4


class ScriptedModel:
    """Chains: per task, the 1st and 2nd agree with the label, the 3rd contradicts it, the 4th
    has no verdict. Judging: P(right) = sigmoid(-0.3 + sum of the shown exemplars' help)."""

    def __init__(self) -> None:
        self.labels = POOL_TASKS | DEV_TASKS
        self.chains: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Answer:
        user = body["messages"][1]["content"]
        start = user.rindex("=== ATTEMPT TO JUDGE ===")
        task = re.search(r"Task (\S+):", user[start:])
        assert task is not None, user[start:]
        iid, label = task.group(1), self.labels[task.group(1)]
        if body["temperature"] > 0:
            return self._chain(iid, label)
        shown = re.findall(r"tag q-(\S+)-\d", user[:start])
        help_ = sum(HELPFUL.get(t, -0.5) for t in shown)
        right = 1 / (1 + math.exp(0.3 - help_))
        p_yes = right if label else 1 - right
        verdict = "YES" if p_yes >= 0.5 else "NO"
        return Answer(f"Judged with {len(shown)} examples.\nVERDICT: {verdict}", p_yes=p_yes)

    def _chain(self, iid: str, label: bool) -> Answer:
        with self.lock:
            number = self.chains[iid] % CHAINS
            self.chains[iid] += 1
        if number == 3:
            return Answer("I cannot decide without running the tests.")
        verdict = label if number < 2 else not label
        return Answer(
            f"Chain {number}: the patch edits the parser, tag q-{iid}-{number}.\n"
            f"VERDICT: {'YES' if verdict else 'NO'}"
        )


@pytest.fixture
def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scripted: Callable[..., ScriptedServer]
) -> dict[str, Any]:
    """Labelled pool and dev runs, the scripted server, and a swerm.toml pointing at it."""
    model = ScriptedModel()
    server = scripted(model)
    runs = {}
    for name, tasks in (("pool", POOL_TASKS), ("dev", DEV_TASKS)):
        attempts = {
            iid: Attempt(patch=f"diff --git a/p.py b/p.py\n+fix {iid}\n", resolved=resolved,
                         actions=["cat p.py", "sed -i s/a/b/ p.py"])
            for iid, resolved in tasks.items()
        }  # fmt: skip
        runs[name] = write_sweagent_run(tmp_path / f"{name}-run", attempts)
    (tmp_path / "swerm.toml").write_text(
        f'backend = "judge"\n[remote]\nendpoints = ["{server.url}"]\nmax_retries = 1\n'
        'backoff_s = 0.01\n[judge]\nmodel = "scripted-judge"\n'
    )
    monkeypatch.chdir(tmp_path)
    return {"server": server, "model": model, "runs": runs, "dir": tmp_path}


def make_pool(world: dict[str, Any], *extra: str) -> Any:
    run, labels = world["runs"]["pool"]
    return run_cli("judge", "pool", run, "--labels", labels, "--chains", CHAINS,
                   "-o", "pool.json", "--json", *extra)  # fmt: skip


def test_judge_augment_writes_chains_at_temperature(world: dict[str, Any]) -> None:
    result = make_pool(world)
    assert result.exit_code == 0, result.output
    chains = [r for r in world["server"].chat_requests() if r["temperature"] > 0]
    assert len(chains) == len(POOL_TASKS) * CHAINS
    assert all(r["temperature"] == 0.7 and not r.get("logprobs") for r in chains)
    # Augmenting is zero-shot and always asks for a rationale.
    assert all("=== EXAMPLE" not in r["messages"][1]["content"] for r in chains)
    assert all("Write a short rationale" in r["messages"][1]["content"] for r in chains)
    report = json.loads(result.stdout)
    assert report["stats"]["chains"] == 24 and report["usage"]["calls"] == 24
    assert report["usage"]["cost_usd"] is None and report["usage"]["prompt_tokens"] > 0


def test_judge_prune_keeps_chains_that_agree_with_the_label(world: dict[str, Any]) -> None:
    assert make_pool(world).exit_code == 0
    pool = read_pool(world["dir"] / "pool.json")
    stats = pool.stats
    assert (stats.trajectories, stats.kept, stats.contradicted, stats.unparsable) == (6, 12, 6, 6)
    assert len(pool.exemplars) == 12
    for exemplar in pool.exemplars:
        assert exemplar.verdict == exemplar.label == POOL_TASKS[exemplar.instance_id]
        assert re.fullmatch(r"Chain [01]: the patch edits the parser, tag q-\S+-[01]\.",
                            exemplar.rationale)  # fmt: skip
        assert "VERDICT" not in exemplar.rationale
        assert exemplar.problem.startswith(f"Task {exemplar.instance_id}:")
        assert "[STEP 1]" in exemplar.trajectory and "+fix" in exemplar.patch
    assert len({e.id for e in pool.exemplars}) == 12


def test_judge_pool_resumes_and_never_overwrites_a_foreign_file(world: dict[str, Any]) -> None:
    assert make_pool(world).exit_code == 0
    asked = len(world["server"].chat_requests())
    again = make_pool(world)
    assert again.exit_code == 0, again.output
    assert len(world["server"].chat_requests()) == asked, "a done trajectory is not asked again"
    (world["dir"] / "notes.json").write_text('{"mine": true}')
    run, labels = world["runs"]["pool"]
    refused = run_cli("judge", "pool", run, "--labels", labels, "-o", "notes.json")
    assert refused.exit_code == 1
    assert "not a judge pool file" in refused.stderr
    assert json.loads((world["dir"] / "notes.json").read_text()) == {"mine": True}


def select(world: dict[str, Any], *options: object) -> Any:
    run, labels = world["runs"]["dev"]
    return run_cli("judge", "select", run, "--labels", labels, "--pool", "pool.json",
                   "-o", "exemplars.json", "--json", *options)  # fmt: skip


def test_judge_select_chooses_the_helpful_exemplars_within_the_budget(
    world: dict[str, Any],
) -> None:
    """k = 2 of 12; 4 prompts x 4 dev trajectories = 16 calls a step; a budget of 100 calls
    allows 6 steps. lr 0.05 (not the default 1e-3) so that 6 steps move the distributions."""
    assert make_pool(world).exit_code == 0
    result = select(world, "--k", 2, "--samples", 4, "--batch", 4, "--lr", 0.05,
                    "--budget-calls", 100, "--seed", 3)  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["stop_reason"] == "budget_calls" and len(report["steps"]) == 6
    assert all(step["calls"] == 16 for step in report["steps"])
    document = read_exemplars(world["dir"] / "exemplars.json")
    pool = read_pool(world["dir"] / "pool.json")
    assert document.pool.exemplar_ids == [e.id for e in pool.exemplars]
    assert {e.instance_id for e in document.chosen} <= set(HELPFUL)
    assert document.final is not None and document.final["n"] == len(DEV_TASKS)
    assert document.final["loss"] < report["steps"][0]["mean_loss"]
    assert document.usage["calls"] == 6 * 16 + len(DEV_TASKS)
    assert document.usage["cost_usd"] is None
    assert len(document.probabilities) == 2 and len(document.probabilities[0]) == 12
    assert "chose 2 exemplars" in result.stderr and "no price known" in result.stderr


def test_judge_select_refuses_a_budget_below_one_step(world: dict[str, Any]) -> None:
    assert make_pool(world).exit_code == 0
    result = select(world, "--samples", 4, "--batch", 4, "--budget-calls", 10)
    assert result.exit_code == 1
    assert "one step takes about 16 calls" in result.stderr and "--budget-calls" in result.stderr


def test_judge_end_to_end_pool_prune_select_judge(world: dict[str, Any]) -> None:
    assert make_pool(world).exit_code == 0
    assert select(world, "--k", 2, "--samples", 4, "--batch", 4, "--lr", 0.05,
                  "--max-steps", 3, "--no-final-eval").exit_code == 0  # fmt: skip
    chosen = read_exemplars(world["dir"] / "exemplars.json").chosen
    (world["dir"] / "swerm.toml").write_text(
        (world["dir"] / "swerm.toml").read_text() + 'exemplars = "exemplars.json"\n'
    )
    before = len(world["server"].chat_requests())
    run, _ = world["runs"]["dev"]
    result = run_cli("score", run, "-o", "scores.jsonl")
    assert result.exit_code == 0, result.output
    assert f"the verifier's calls for {len(DEV_TASKS)} cost no price known" in result.stderr
    records = [r for _, r in iter_jsonl(world["dir"] / "scores.jsonl", torn_tail="error")]
    assert len(records) == len(DEV_TASKS)
    versions = {r["template_version"] for r in records}
    assert len(versions) == 1 and versions.pop().startswith("1+")
    for record in records:
        assert record["backend"] == "judge" and record["error"] is None
        assert 0 < record["raw"] < 1 and not record["approximate"] and record["sanitized"]
        assert record["prompt_tokens"] > 0 and record["completion_tokens"] > 0
        assert "cost_usd" in record and record["cost_usd"] is None
    judged = world["server"].chat_requests()[before:]
    for request in judged:
        user = request["messages"][1]["content"]
        assert [f"=== EXAMPLE {n} ===" in user for n in (1, 2, 3)] == [True, True, False]
        assert all(exemplar.rationale in user for exemplar in chosen)


class Interrupted(Exception):
    """Stands for Ctrl-C in the middle of a search."""


def test_judge_select_resumes_an_interrupted_search(world: dict[str, Any]) -> None:
    from swerm_plugin.cli.judge import _dev_set, _read_pool, labelled
    from swerm_plugin.cli.options import Problems
    from swerm_plugin.config import load_config
    from swerm_plugin.judge.backend import JudgeBackend
    from swerm_plugin.judge.exemplars import SelectCheckpoint
    from swerm_plugin.judge.tune import SelectOptions, search_key, select_exemplars

    assert make_pool(world).exit_code == 0
    args = ("--k", 2, "--samples", 4, "--batch", 4, "--lr", 0.05, "--max-steps", 4, "--seed", 3)
    assert select(world, *args, "--no-final-eval").exit_code == 0
    whole = read_exemplars(world["dir"] / "exemplars.json")
    (world["dir"] / "exemplars.json").unlink()
    # The same search, stopped after its second step, as Ctrl-C would stop it.
    options = SelectOptions(k=2, samples=4, batch=4, lr=0.05, max_steps=4, seed=3, final_eval=False)
    pool, ref = _read_pool(Path("pool.json"))
    run, labels = world["runs"]["dev"]
    dev = _dev_set(labelled([run], [labels], Problems()), pool, Problems())
    backend = JudgeBackend(load_config())
    saved = SelectCheckpoint(Path("exemplars.json"), search_key(backend, ref, dev, options))

    def checkpoint(state: dict[str, Any]) -> None:
        saved.save(state)
        if len(state["steps"]) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        select_exemplars(backend, pool, ref, dev, options, budget=None, checkpoint=checkpoint)
    backend.close()
    assert saved.path.exists()
    before = len(world["server"].chat_requests())
    resumed = select(world, *args, "--no-final-eval")
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming the search saved in {saved.path.name}" in resumed.stderr.replace("\n", "")
    assert len(world["server"].chat_requests()) - before == 2 * 16, "only the last two steps"
    document = read_exemplars(world["dir"] / "exemplars.json")
    assert document.steps == whole.steps
    assert [e.id for e in document.chosen] == [e.id for e in whole.chosen]
    assert document.usage == whole.usage and document.probabilities == whole.probabilities
    assert not saved.path.exists(), "a finished search leaves no checkpoint"


def test_judge_select_stops_on_a_token_budget(world: dict[str, Any]) -> None:
    assert make_pool(world).exit_code == 0
    args = ("--k", 2, "--samples", 4, "--batch", 4, "--seed", 3, "--no-final-eval")
    assert select(world, *args, "--max-steps", 1).exit_code == 0
    step = read_exemplars(world["dir"] / "exemplars.json").steps[0]
    per_step = step["prompt_tokens"] + step["completion_tokens"]
    # A second step would take about as many tokens as the first: more than 1.5 steps' worth.
    result = select(world, *args, "--budget-tokens", int(per_step * 1.5))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["stop_reason"] == "budget_tokens" and len(report["steps"]) == 1
    assert report["usage"]["prompt_tokens"] + report["usage"]["completion_tokens"] == per_step


def test_judge_select_cannot_keep_a_token_budget_without_usage() -> None:
    from swerm_plugin.errors import JudgeError
    from swerm_plugin.judge.calls import Usage
    from swerm_plugin.judge.tune import SelectOptions, _over_budget

    options = SelectOptions(budget_tokens=1000)
    assert _over_budget(options, Usage(1, 300, 100, None), Usage(1, 300, 100, None)) is None
    assert _over_budget(options, Usage(2, 600, 200, None), Usage(1, 300, 100, None)) == (
        "budget_tokens"
    )
    with pytest.raises(JudgeError, match="report no token usage"):
        _over_budget(options, Usage(1, None, None, None), Usage(1, None, None, None))
