"""best@k maths: closed forms by hand and by brute force, sampling against the closed form."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swerm_plugin.evaluation.best_of_n import (
    RankedTasks,
    best_at_k,
    consensus_pick,
    evaluate_best_of_n,
    oracle,
    pass_at_k,
    random_pick,
    sample_best_at_k,
    sample_consensus_at_k,
)

# Labels in rank order: task A's top-ranked candidate fails, its second resolves.
HAND = RankedTasks.from_lists([[False, True, False], [True, True], [False]])


def test_closed_forms_by_hand() -> None:
    assert random_pick(HAND) == pytest.approx((1 / 3 + 1 + 0) / 3)
    assert oracle(HAND) == pytest.approx(2 / 3)
    assert best_at_k(HAND, 1) == pytest.approx(4 / 9)
    # k = 2 on task A: {0,1} and {0,2} pick the failing rank 0, {1,2} picks rank 1 → 1/3
    assert best_at_k(HAND, 2) == pytest.approx((1 / 3 + 1 + 0) / 3)
    # k = 3 (and any larger k): always the top-ranked candidate
    assert best_at_k(HAND, 3) == best_at_k(HAND, 8) == pytest.approx(1 / 3)
    assert pass_at_k(HAND, 2) == pytest.approx((2 / 3 + 1 + 0) / 3)


def brute_force(ranked: list[list[bool]], k: int) -> tuple[float, float]:
    """best@k and pass@k by enumerating every k-subset of every task."""
    best = passed = 0.0
    for labels in ranked:
        subsets = list(itertools.combinations(range(len(labels)), min(k, len(labels))))
        best += np.mean([labels[min(s)] for s in subsets])
        passed += np.mean([any(labels[i] for i in s) for s in subsets])
    return best / len(ranked), passed / len(ranked)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.booleans(), min_size=1, max_size=7), min_size=1, max_size=6),
    st.integers(min_value=1, max_value=8),
)
def test_closed_forms_equal_enumeration(ranked: list[list[bool]], k: int) -> None:
    tasks = RankedTasks.from_lists(ranked)
    expected_best, expected_pass = brute_force(ranked, k)
    assert best_at_k(tasks, k) == pytest.approx(expected_best)
    assert pass_at_k(tasks, k) == pytest.approx(expected_pass)


def test_sampling_agrees_with_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    ranked = [list(rng.random(rng.integers(1, 12)) < 0.4) for _ in range(200)]
    tasks = RankedTasks.from_lists(ranked)
    draws = sample_best_at_k(tasks, n_subsets=2000, seed=1)
    assert draws.shape == (2000, tasks.max_candidates)
    exact = np.array([best_at_k(tasks, k) for k in range(1, tasks.max_candidates + 1)])
    # standard error of a mean of 2000 draws is below 0.001 here
    np.testing.assert_allclose(draws.mean(axis=0), exact, atol=0.004)
    assert np.all(draws[:, -1] == draws[0, -1])  # k = N leaves nothing to chance


def test_evaluate_reports_every_k_with_intervals() -> None:
    result = evaluate_best_of_n(HAND, n_subsets=500)
    assert list(result.best_at_k) == [1, 2, 3]
    for k, (low, high) in result.best_at_k_ci.items():
        assert low <= result.best_at_k[k] + 1e-9 and result.best_at_k[k] <= high + 1e-9
    assert result.best_at_k_ci[3] == (pytest.approx(1 / 3), pytest.approx(1 / 3))


def test_consensus_revotes_inside_each_subset() -> None:
    # Candidates 0 and 1 agree (and fail); 2 resolves alone. All three: the pair wins (0).
    # A 2-subset wins for the pair when it holds both ({0,1}); {0,2} and {1,2} are ties,
    # broken at random: best@2 = 1/3·0 + 2/3·1/2 = 1/3. best@1 is the random pick, 1/3.
    votes = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    labels = np.array([False, False, True])
    draws = sample_consensus_at_k([votes], [labels], n_subsets=6000, seed=3)
    np.testing.assert_allclose(draws.mean(axis=0), [1 / 3, 1 / 3, 0.0], atol=0.02)
    assert consensus_pick(votes, labels) == 0.0
    assert consensus_pick(np.eye(2), np.array([True, False])) == 0.5  # a tie: the mean


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="task 1 has no candidates"):
        RankedTasks.from_lists([[True], []])
    with pytest.raises(ValueError, match="no tasks to evaluate"):
        RankedTasks.from_lists([])
    with pytest.raises(ValueError, match="k must be at least 1"):
        best_at_k(HAND, 0)
