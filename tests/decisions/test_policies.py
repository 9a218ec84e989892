"""The built-in decide and select policies: accept / reject / retry, and reranking."""

from __future__ import annotations

from typing import Any

import pluggy
import pytest

from swerm_plugin.config import SwermConfig
from swerm_plugin.decisions.policy import plan_retry, retry_feedback, submission_patch
from swerm_plugin.decisions.ranking import rank
from swerm_plugin.model import CandidateGroup, Score, Step
from swerm_plugin.plugins.manager import Hooks, build_plugin_manager

from .conftest import MakeDiff, MakeTrajectory


@pytest.fixture
def pm(monkeypatch: pytest.MonkeyPatch) -> pluggy.PluginManager:
    monkeypatch.setenv("SWERM_DISABLE_PLUGIN_AUTOLOAD", "1")
    return build_plugin_manager()


def hooks(pm: pluggy.PluginManager, **policy: Any) -> Hooks:
    return Hooks(pm, SwermConfig(policy=policy))


def test_accept_and_reject_with_abstain_or_flag(
    pm: pluggy.PluginManager, make_trajectory: MakeTrajectory
) -> None:
    good = make_trajectory(patch="diff\n+fix\n")
    accepted = hooks(pm, threshold=0.7).decide(good, Score(raw=0.7), attempt=1)
    assert accepted.action == "accept" and accepted.score == 0.7

    abstain = hooks(pm, threshold=0.7, on_reject="empty_patch")
    rejected = abstain.decide(good, Score(raw=0.69), attempt=1)
    assert rejected.action == "reject" and "abstain with an empty patch" in rejected.reason
    assert submission_patch(good, rejected, abstain.config) == ""
    flag = hooks(pm, threshold=0.7)
    flagged = flag.decide(good, Score(raw=0.2), attempt=1)
    assert flagged.action == "reject" and "flagged" in flagged.reason
    assert submission_patch(good, flagged, flag.config) == good.patch
    assert submission_patch(good, accepted, abstain.config) == good.patch


def test_calibrated_probability_is_what_the_threshold_sees(
    pm: pluggy.PluginManager, make_trajectory: MakeTrajectory
) -> None:
    decision = hooks(pm, threshold=0.5).decide(
        make_trajectory(patch="x"), Score(raw=0.9, calibrated=0.4), attempt=1
    )
    assert decision.action == "reject" and decision.score == 0.4


def test_retry_with_feedback_until_attempts_run_out(
    pm: pluggy.PluginManager, make_trajectory: MakeTrajectory
) -> None:
    policy = hooks(pm, threshold=0.8, max_attempts=3)
    low = make_trajectory(patch="diff\n+x\n")
    first = policy.decide(low, Score(raw=0.3), attempt=1)
    assert first.action == "retry"
    assert first.feedback is not None
    assert "30%" in first.feedback and "80%" in first.feedback
    assert "Attempts left after this one: 1" in first.feedback
    assert policy.decide(low, Score(raw=0.3), attempt=3).action == "reject"
    empty = policy.decide(make_trajectory(), Score(raw=0.99), attempt=1)
    assert empty.action == "retry" and "without any change" in (empty.feedback or "")
    resample = hooks(pm, threshold=0.8, max_attempts=3, retry_mode="resample")
    fresh = resample.decide(low, Score(raw=0.3), attempt=1)
    assert fresh.action == "retry" and fresh.feedback is None and "resample" in fresh.reason


def test_retry_respects_the_cost_budget(
    pm: pluggy.PluginManager, make_trajectory: MakeTrajectory
) -> None:
    policy = hooks(pm, threshold=0.8, max_attempts=5, cost_budget=1.0)
    cheap = make_trajectory(patch="x", cost=0.2, metadata={"total_cost": 0.5})
    assert policy.decide(cheap, Score(raw=0.1), attempt=2).action == "retry"
    costly = make_trajectory(patch="x", cost=0.6, metadata={"total_cost": 0.6})
    stop = policy.decide(costly, Score(raw=0.1), attempt=1)
    assert stop.action == "reject" and "would exceed the cost budget" in stop.reason
    spent = plan_retry(attempt=1, max_attempts=5, spent=1.2, budget=1.0, last_cost=0.1)
    assert not spent.retry and "cost budget 1 spent" in spent.reason
    unknown = plan_retry(attempt=1, max_attempts=5, spent=None, budget=1.0, last_cost=None)
    assert unknown.retry  # no cost reported: only the attempt limit applies


def test_feedback_without_a_score() -> None:
    assert "a low chance" in retry_feedback(None, 0.5, True)


def test_rerank_order_and_tie_breaks(
    make_trajectory: MakeTrajectory, make_diff: MakeDiff, fix: str
) -> None:
    other = make_diff("pkg/mod.py", ["x = 1"], ["x = 2"])
    group = CandidateGroup(
        instance_id="i",
        candidates=[
            make_trajectory(patch=other, exit_status="submitted"),  # 0.8, alone
            make_trajectory(patch=fix, exit_status="limit"),  # 0.8, agrees with 2
            make_trajectory(patch=fix, exit_status="submitted", steps=[Step(role="user")] * 3),
            make_trajectory(patch="", exit_status="submitted"),  # empty: last
            make_trajectory(patch=other + "\n", exit_status="submitted"),  # unscored
        ],
    )
    scores = [Score(raw=0.8), Score(raw=0.8), Score(raw=0.6), Score(raw=0.99), None]
    shares = [2 / 4, 2 / 4, 2 / 4, 0.0, 2 / 4]
    assert rank(group, scores) == [0, 1, 2, 4, 3]
    tied = [Score(raw=0.8), Score(raw=0.8), Score(raw=0.8), Score(raw=0.99), None]
    # equal p: more agreement first (1, 2 over 0), then submitted (2) before a limit exit (1)
    assert rank(group, tied, consensus=[0.25, 0.5, 0.5, 0.0, 0.25]) == [2, 1, 0, 4, 3]
    # hybrid, weight 0.5: 0.65, 0.65, 0.55 → the submitted one of the first two wins
    assert rank(group, scores, consensus=shares, hybrid_weight=0.5)[:3] == [0, 1, 2]


def test_select_hook_uses_consensus_per_config(
    pm: pluggy.PluginManager, make_trajectory: MakeTrajectory, make_diff: MakeDiff, fix: str
) -> None:
    other = make_diff("pkg/mod.py", ["x = 1"], ["x = 2"])
    group = CandidateGroup(
        instance_id="i",
        candidates=[
            make_trajectory(patch=other),
            make_trajectory(patch=fix),
            make_trajectory(patch=fix + "\n"),
        ],
    )
    scores = [Score(raw=0.6), Score(raw=0.6), Score(raw=0.5)]
    assert hooks(pm).select(group, scores) == [1, 0, 2]  # tie goes to the agreed-on fix
    assert hooks(pm, consensus="off").select(group, scores) == [0, 1, 2]  # smaller patch
    # hybrid 0.5: 0.6→(0.6+1/3)/2=.467, 0.6→(0.6+2/3)/2=.633, 0.5→(0.5+2/3)/2=.583
    assert hooks(pm, consensus="hybrid", consensus_weight=0.5).select(group, scores) == [1, 2, 0]
