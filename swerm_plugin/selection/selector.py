"""The no-model selector: exact agreement first, then priors, combined lexicographically.

A candidate's key, compared between the candidates of one task, is, in order:

1. **same change**: how many candidates (itself included) made the same change to source
   files: equal source forms (:mod:`swerm_plugin.selection.signals`), exact, never by
   similarity (near-duplicates lost on held-out runs: two equal resolved patches must beat four
   similar unresolved ones). A patch that changes no source file gets no votes, so it comes
   after every one that does;
2. **same files**: how many touched the same set of source files;
3. **priors**, one after the other: the agent submitted (the run did not stop at a step, cost
   or context limit, or on an error); the patch leaves no scratch file behind; the agent ran
   code after its last edit; the trajectory is short *for its run* (the share of that run's
   trajectories that took more steps). Patch size is measured but not used: smaller won on some
   agents' runs and lost on others (``docs/decisions.md``).

A signal a run did not record (no trajectory) sits between its two values, so it neither helps
nor hurts. The key is an exact integer, written as a pairwise *support matrix* ``M``: the key of
candidate ``i`` among any subset ``S`` of the candidates is ``sum(M[i, j] for j in S)``, so
``swerm eval`` can re-select inside random k-subsets. Ties are real ties.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from swerm_plugin.model import CandidateGroup, Trajectory
from swerm_plugin.selection.signals import (
    PatchSignals,
    TrajectorySignals,
    patch_signals,
    trajectory_signals,
)

SELECTOR_NAME = "selector"
#: Bumped whenever a change can change a pick.
SELECTOR_VERSION = "1"
_PERCENT_LEVELS = 1000  # run-relative signals in steps of 0.1 %


@dataclass(frozen=True)
class Candidate:
    """One candidate's signals and the run it came from."""

    run_id: str
    has_patch: bool
    patch: PatchSignals
    trajectory: TrajectorySignals

    @classmethod
    def of(cls, trajectory: Trajectory) -> Candidate:
        return cls(
            run_id=trajectory.run_id or "",
            has_patch=trajectory.has_patch,
            patch=patch_signals(trajectory.patch),
            trajectory=trajectory_signals(trajectory),
        )


@dataclass(frozen=True)
class RunStats:
    """A run's distribution of the run-relative signals, sorted."""

    steps: np.ndarray
    source_lines: np.ndarray

    @classmethod
    def of(cls, candidates: Sequence[Candidate]) -> RunStats:
        steps = [c.trajectory.steps for c in candidates if c.has_patch]
        lines = [c.patch.source_lines for c in candidates if c.patch.changes_source]
        return cls(
            steps=np.sort(np.array([s for s in steps if s is not None], dtype=float)),
            source_lines=np.sort(np.array(lines, dtype=float)),
        )


def share_above(value: float | None, population: np.ndarray) -> int:
    """``1000 ×`` the share of ``population`` above ``value`` (ties count half); 500 when
    either is unknown."""
    if value is None or population.size == 0:
        return _PERCENT_LEVELS // 2
    low = np.searchsorted(population, value, side="left")
    high = np.searchsorted(population, value, side="right")
    share = (population.size - high + 0.5 * (high - low)) / population.size
    return round(_PERCENT_LEVELS * share)


def _three_way(flag: bool | None) -> int:
    return 1 if flag is None else 2 * int(flag)


PriorFn = Callable[[Candidate, RunStats], int]
#: Each prior: (number of levels, level of a candidate given its run's stats); higher is better.
PRIORS: dict[str, tuple[int, PriorFn]] = {
    "submitted": (3, lambda c, run: _three_way(c.trajectory.submitted)),
    "clean": (2, lambda c, run: int(not c.patch.scratch_files)),
    "tested": (3, lambda c, run: _three_way(c.trajectory.ran_code_after_last_edit)),
    "short": (_PERCENT_LEVELS + 1, lambda c, run: share_above(c.trajectory.steps, run.steps)),
    # Measured, not used by default (docs/decisions.md): a small change for its run, tests left
    # alone, no new source file.
    "small": (
        _PERCENT_LEVELS + 1,
        lambda c, run: share_above(c.patch.source_lines or None, run.source_lines),
    ),
    "no_tests": (2, lambda c, run: int(not c.patch.test_files)),
    "no_new_files": (2, lambda c, run: int(not c.patch.new_source_files)),
}
#: What candidates agree on; ``None`` never agrees with anything.
AGREEMENTS: dict[str, Callable[[PatchSignals], Hashable | None]] = {
    "same_change": lambda s: s.source_form or None,
    "same_files": lambda s: s.source_files or None,
}
DEFAULT_AGREEMENTS = ("same_change", "same_files")
DEFAULT_PRIORS = ("submitted", "clean", "tested", "short")


class Selector:
    """Ranks the candidates of a task without a model (see the module docs).

    :meth:`prepare` with every task of the runs first, so the run-relative priors compare a
    trajectory with the rest of its own run; unprepared, each task's candidates are the
    population.
    """

    def __init__(
        self,
        *,
        agreements: Sequence[str] = DEFAULT_AGREEMENTS,
        priors: Sequence[str] = DEFAULT_PRIORS,
    ) -> None:
        unknown = [n for n in agreements if n not in AGREEMENTS] + [
            n for n in priors if n not in PRIORS
        ]
        if unknown:
            raise ValueError(
                f"unknown selector signals: {', '.join(unknown)} (agreements: "
                f"{', '.join(AGREEMENTS)}; priors: {', '.join(PRIORS)})"
            )
        self.agreements = tuple(agreements)
        self.priors = tuple(priors)
        self.runs_: dict[str, RunStats] = {}

    def prepare(self, groups: Sequence[CandidateGroup]) -> Selector:
        """Learn each run's distribution of trajectory lengths and change sizes."""
        return self.prepare_candidates([c for g in groups for c in self.candidates(g)])

    def prepare_candidates(self, candidates: Iterable[Candidate]) -> Selector:
        """:meth:`prepare` from candidates already read (:meth:`candidates`)."""
        by_run: dict[str, list[Candidate]] = {}
        for candidate in candidates:
            by_run.setdefault(candidate.run_id, []).append(candidate)
        self.runs_ = {run: RunStats.of(members) for run, members in by_run.items()}
        return self

    @staticmethod
    def candidates(group: CandidateGroup) -> list[Candidate]:
        """The signals of each candidate of ``group``, in order."""
        return [Candidate.of(t) for t in group.candidates]

    def _prior_levels(self) -> int:
        return int(np.prod([PRIORS[name][0] for name in self.priors], dtype=np.int64))

    def prior(self, candidate: Candidate, run: RunStats) -> int:
        """The priors of one candidate as one mixed-radix integer (higher is better)."""
        value = 0
        for name in self.priors:
            levels, level = PRIORS[name]
            value = value * levels + level(candidate, run)
        return value

    def _scale(self, n: int) -> tuple[list[int], int]:
        """The weight of each agreement, and the bound every key stays under."""
        weight = self._prior_levels()
        weights = []
        for _ in self.agreements:
            weights.append(weight)
            weight *= n + 1
        return weights[::-1], weight

    def support_matrix(self, group: CandidateGroup) -> np.ndarray:
        """``M[i, j]``: what candidate ``j`` adds to candidate ``i``'s key (module docs)."""
        return self.matrix(self.candidates(group))

    def matrix(self, candidates: Sequence[Candidate]) -> np.ndarray:
        """:meth:`support_matrix` from candidates already read."""
        n = len(candidates)
        weights, _ = self._scale(n)
        out = np.zeros((n, n))
        for name, weight in zip(self.agreements, weights, strict=True):
            keys = [AGREEMENTS[name](c.patch) for c in candidates]
            same = np.array([[a is not None and a == b for b in keys] for a in keys])
            out += weight * same
        fallback = RunStats.of(candidates)
        for i, candidate in enumerate(candidates):
            out[i, i] += self.prior(candidate, self.runs_.get(candidate.run_id, fallback))
        real = np.array([c.has_patch for c in candidates], dtype=bool)
        out[~real, :] = 0.0
        out[:, ~real] = 0.0
        return out

    def shares(self, group: CandidateGroup) -> np.ndarray:
        """Each candidate's key over all candidates, scaled into [0, 1) (0 for no patch)."""
        _, bound = self._scale(len(group.candidates))
        out: np.ndarray = self.support_matrix(group).sum(axis=1) / bound
        return out
