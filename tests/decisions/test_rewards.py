"""RL rewards: the SWE-RM hybrid, the score alone, and the TRL / verl function shapes."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from swerm_plugin.config import SwermConfig
from swerm_plugin.decisions.rewards import (
    RewardError,
    hybrid_reward,
    is_finished,
    reward_for,
    reward_record,
    trl_reward_function,
    verl_compute_score,
)
from swerm_plugin.model import Score, Trajectory
from swerm_plugin.testing import MockRewardBackend
from swerm_plugin.verifier import Verifier

from .conftest import MakeTrajectory


def test_hybrid_reward_cases() -> None:
    assert hybrid_reward(0.25, resolved=True, finished=True) == 1.25
    assert hybrid_reward(0.25, resolved=True, finished=False) == 1.25  # resolved comes first
    assert hybrid_reward(0.25, resolved=False, finished=False) == -0.25
    assert hybrid_reward(0.25, resolved=False, finished=True) == 0.25


def test_finished_status(make_trajectory: MakeTrajectory) -> None:
    assert is_finished(make_trajectory(exit_status="submitted"))
    assert not is_finished(make_trajectory(patch="x", exit_status="limit"))
    assert is_finished(make_trajectory(patch="x")) and not is_finished(make_trajectory())


def test_reward_for_uses_the_calibrated_score(make_trajectory: MakeTrajectory) -> None:
    resolved = make_trajectory(patch="x", exit_status="submitted", label=True)
    score = Score(raw=0.9, calibrated=0.6)
    assert reward_for(resolved, score) == pytest.approx(1.6)
    assert reward_for(resolved, score, mode="score") == pytest.approx(0.6)
    record = reward_record(resolved, score, mode="hybrid")
    assert record["reward"] == pytest.approx(1.6) and record["content_hash"]


def test_reward_errors_say_what_is_missing(make_trajectory: MakeTrajectory) -> None:
    unlabelled = make_trajectory(patch="x")
    with pytest.raises(RewardError, match="needs the resolved label"):
        reward_for(unlabelled, Score(raw=0.5))
    with pytest.raises(RewardError, match="no verifier score \\(timeout\\)"):
        reward_for(unlabelled, Score(error="timeout"), mode="score")
    with pytest.raises(RewardError, match="unknown reward mode 'bonus'"):
        reward_for(unlabelled, Score(raw=0.5), mode="bonus")  # type: ignore[arg-type]


def recording_scorer(values: Sequence[float]) -> tuple[list[Trajectory], object]:
    """A scorer that returns ``values`` in order and keeps what it was asked to score."""
    seen: list[Trajectory] = []
    queue = list(values)

    def score(trajectories: Sequence[Trajectory]) -> list[Score]:
        seen.extend(trajectories)
        return [Score(raw=queue.pop(0)) for _ in trajectories]

    return seen, score


def test_trl_reward_function_with_conversational_completions() -> None:
    seen, scorer = recording_scorer([0.2, 0.7])
    reward = trl_reward_function(scorer, mode="hybrid")  # type: ignore[arg-type]
    rewards = reward(
        prompts=[[{"role": "user", "content": "fix bug 1"}], [{"role": "user", "content": "2"}]],
        completions=[[{"role": "assistant", "content": "I edited a.py"}], "done"],
        instance_id=["a__a-1", "b__b-2"],
        patch=["diff a", "diff b"],
        resolved=[False, True],
        exit_status=["submitted", "submitted"],
    )
    assert rewards == pytest.approx([0.2, 1.7])
    assert [t.instance_id for t in seen] == ["a__a-1", "b__b-2"]
    assert seen[0].steps[0].content == "I edited a.py" and seen[0].patch == "diff a"
    assert seen[0].problem_statement == "fix bug 1"
    assert reward.__name__ == "swerm_hybrid_reward"


def test_trl_reward_function_scores_through_a_real_verifier() -> None:
    # The mock stands in for the model only; rendering and calibration are the real pipeline.
    backend = MockRewardBackend(scores=[0.4])
    verifier = Verifier(SwermConfig(), backend=backend)
    reward = trl_reward_function(verifier.score, mode="score")
    assert reward(completions=["ran the tests"], patch=["diff --git a/x b/x"]) == [0.4]
    assert "diff --git a/x b/x" in backend.prompts[0].text


def test_verl_compute_score_signature_and_labels() -> None:
    _, scorer = recording_scorer([0.5, 0.5, 0.5])
    compute_score = verl_compute_score(scorer)  # type: ignore[arg-type]
    info = {"instance_id": "a__a-1", "patch": "diff", "exit_status": "limit"}
    assert compute_score("swe-bench", "log", True, extra_info=info) == pytest.approx(1.5)
    # unresolved and stopped by a limit: -0.5 + 0.5
    assert compute_score("swe-bench", "log", "false", extra_info=info) == pytest.approx(0.0)
    finished = {"resolved": 0, "exit_status": "submitted"}  # ground truth as a mapping
    assert compute_score("swe-bench", "log", finished, info) == pytest.approx(0.5)
    with pytest.raises(RewardError, match="cannot read 'maybe' as a resolved label"):
        compute_score("swe-bench", "log", "maybe", info)
