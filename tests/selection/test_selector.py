"""The selector's tiers, their order, and the support matrix that lets eval re-select in subsets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from swerm_plugin.backends.base import GroupScorer
from swerm_plugin.backends.consensus import ConsensusScorer
from swerm_plugin.config import SwermConfig
from swerm_plugin.model import CandidateGroup, Score, Step
from swerm_plugin.selection import Selector

from .conftest import ELSEWHERE, FIX, OTHER_FIX, SCRATCH, TEST_CHANGE, candidate, diff, group


def best(selector: Selector, *candidates: object) -> list[int]:
    """Indices of the candidates with the highest key."""
    keys = selector.support_matrix(group(*candidates)).sum(axis=1)  # type: ignore[arg-type]
    return np.flatnonzero(keys == keys.max()).tolist()


def test_two_equal_patches_beat_four_similar_ones() -> None:
    # The held-out failure of similarity voting: four unresolved patches that share most lines
    # (each adds its own extra line) out-voted two byte-identical resolved ones.
    base = ["    if not items:", "        return None", "    log(items)", "    count(items)"]
    similar = [
        diff("pkg/mod.py", ["    return items[0]"], [*base, f"    v{i}()"]) for i in range(4)
    ]
    right = diff("pkg/mod.py", ["    return items[0]"], ["    return items[0] if items else None"])
    patches = [right, right, *similar]
    old = ConsensusScorer(SwermConfig()).support_matrix(group(*(candidate(p) for p in patches)))
    assert old.sum(axis=1).argmax() >= 2  # similarity votes pick one of the four
    assert best(Selector(), *(candidate(p) for p in patches)) == [0, 1]


def test_agreement_on_the_change_ignores_tests_and_scratch_files() -> None:
    found = best(
        Selector(),
        candidate(OTHER_FIX),
        candidate(FIX + TEST_CHANGE),
        candidate(FIX + SCRATCH),
    )
    assert found == [1]  # the two fixes agree; the one without a scratch file wins the tie


def test_agreement_on_the_files_breaks_a_tie_of_changes() -> None:
    found = best(Selector(priors=()), candidate(ELSEWHERE), candidate(FIX), candidate(OTHER_FIX))
    assert found == [1, 2]  # each change is alone, but two of them touch pkg/mod.py


def test_a_patch_that_changes_no_source_comes_last() -> None:
    selector = Selector()
    g = group(candidate(TEST_CHANGE + SCRATCH), candidate(ELSEWHERE), candidate(""))
    shares = selector.shares(g)
    assert shares[1] > shares[0] > shares[2] == 0.0
    assert np.all((shares >= 0) & (shares < 1))


def steps(n: int, *actions: str) -> list[Step]:
    filler = [Step(role="assistant", action="ls")] * (n - len(actions))
    return [*filler, *(Step(role="assistant", action=a) for a in actions)]


@pytest.mark.parametrize(
    ("better", "worse"),
    [
        ({"exit_status": "submitted"}, {"exit_status": "limit"}),
        ({"exit_status": "unknown"}, {"exit_status": "error"}),  # unknown sits in between
        ({"steps": steps(5, "edit 1:2", "pytest")}, {"steps": steps(5, "pytest", "edit 1:2")}),
        ({"steps": steps(4)}, {"steps": steps(9)}),  # shorter
    ],
)
def test_each_prior_breaks_a_tie(better: dict[str, object], worse: dict[str, object]) -> None:
    # the two candidates make different changes to the same file: the agreement tiers tie
    assert best(Selector(), candidate(OTHER_FIX, **worse), candidate(FIX, **better)) == [1]


def test_priors_come_in_order() -> None:
    # submitted outranks a clean patch, which outranks a shorter run
    limit_clean = candidate(FIX, exit_status="limit", steps=steps(2))
    submitted_scratch = candidate(OTHER_FIX + SCRATCH, exit_status="submitted", steps=steps(9))
    assert best(Selector(), limit_clean, submitted_scratch) == [1]
    long_clean = candidate(FIX, steps=steps(9))
    short_scratch = candidate(OTHER_FIX + SCRATCH, steps=steps(2))
    assert best(Selector(), short_scratch, long_clean) == [1]


def test_trajectory_length_is_relative_to_the_run() -> None:
    # Run "slow" always takes about 40 steps, run "fast" about 10: 30 steps is short for "slow",
    # 20 is long for "fast".
    history = [
        group(
            candidate(ELSEWHERE, "slow", steps=steps(40 + i)),
            candidate(ELSEWHERE, "fast", steps=steps(10 + i)),
        )
        for i in range(5)
    ]
    task = group(
        candidate(FIX, "slow", steps=steps(30)), candidate(OTHER_FIX, "fast", steps=steps(20))
    )
    assert best(Selector().prepare([*history, task]), *task.candidates) == [0]
    assert best(Selector(), *task.candidates) == [1]  # unprepared: compared within the task


def test_the_key_of_a_subset_is_a_sum_over_the_subset() -> None:
    patches = [FIX, FIX + SCRATCH, OTHER_FIX, ELSEWHERE, TEST_CHANGE, OTHER_FIX]
    candidates = [candidate(p, steps=steps(3 + i)) for i, p in enumerate(patches)]
    full = Selector().prepare([group(*candidates)])
    matrix = full.support_matrix(group(*candidates))
    for size in (2, 3, 4):
        for subset in itertools.combinations(range(len(patches)), size):
            sub = list(subset)
            from_matrix = matrix[np.ix_(sub, sub)].sum(axis=1)
            fresh = full.support_matrix(group(*(candidates[i] for i in sub))).sum(axis=1)
            assert (
                np.argsort(from_matrix, kind="stable").tolist()
                == np.argsort(fresh, kind="stable").tolist()
            )
            assert (from_matrix == from_matrix.max()).tolist() == (fresh == fresh.max()).tolist()


def test_unknown_signal_names_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown selector signals: same_vibe, longest \(agreem"):
        Selector(agreements=("same_vibe",), priors=("longest",))


@pytest.mark.parametrize(
    ("prior", "better", "worse"),
    [
        ("small", FIX, diff("pkg/mod.py", ["a = 1"], ["a = 2", "b = 3", "c = 4", "d = 5"])),
        ("no_tests", OTHER_FIX, FIX + TEST_CHANGE),
        ("no_new_files", OTHER_FIX, FIX + diff("pkg/new.py", [], ["X = 1"], new=True)),
    ],
)
def test_the_priors_left_out_of_the_default(prior: str, better: str, worse: str) -> None:
    assert prior not in Selector().priors
    assert best(Selector(priors=(prior,)), candidate(worse), candidate(better)) == [1]


def test_a_group_scorer_without_a_support_matrix_is_scored_on_its_own() -> None:
    class Fixed(GroupScorer):
        name = "fixed"

        def score_group(self, group: CandidateGroup) -> list[Score]:
            return [Score(raw=0.1 * i, kind="vote_share") for i in range(len(group.candidates))]

    matrix = Fixed(SwermConfig()).support_matrix(group(candidate(FIX), candidate(FIX)))
    np.testing.assert_allclose(matrix, np.diag([0.0, 0.1]))
