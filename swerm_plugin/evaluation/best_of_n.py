"""Best-of-N evaluation maths: best@k, pass@k, the random pick and the oracle.

Every function takes the tasks as :class:`RankedTasks`: for each task, the resolved labels of its
candidates in the order the selection policy ranks them (best first). A task may have fewer
candidates than others (a run produced nothing for it); it then counts with what it has: a
k-subset of a task with ``m < k`` candidates is all ``m`` of them.

For a random k-subset of ``m`` ranked candidates, the one at rank ``j`` (0-based) is picked
exactly when it is in the subset and no better-ranked one is, which has probability
``C(m-1-j, k-1) / C(m, k)``. That gives best@k averaged over *all* k-subsets in closed form;
:func:`sample_best_at_k` draws random subsets instead, for the spread (confidence intervals) a
user with only k attempts would see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Random subsets are drawn in chunks of this many, so memory stays bounded for large N.
_DRAWS_PER_CHUNK = 250


@dataclass(frozen=True)
class RankedTasks:
    """Labels of every task's candidates, best-ranked first, padded to a matrix.

    ``labels[t, j]`` is whether task ``t``'s ``j``-th ranked candidate resolved it (False past
    ``counts[t]``).
    """

    labels: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_lists(cls, ranked: Sequence[Sequence[bool]]) -> RankedTasks:
        """Build from one list of labels per task, each already in rank order."""
        if not ranked:
            raise ValueError("no tasks to evaluate")
        counts = np.array([len(r) for r in ranked], dtype=np.int64)
        if counts.min() == 0:
            empty = int(np.flatnonzero(counts == 0)[0])
            raise ValueError(f"task {empty} has no candidates; leave such tasks out")
        labels = np.zeros((len(ranked), int(counts.max())), dtype=bool)
        for t, row in enumerate(ranked):
            labels[t, : len(row)] = np.asarray(row, dtype=bool)
        return cls(labels=labels, counts=counts)

    @property
    def n_tasks(self) -> int:
        return int(self.counts.size)

    @property
    def max_candidates(self) -> int:
        return int(self.labels.shape[1])

    @property
    def n_resolved(self) -> np.ndarray:
        """Resolved candidates per task."""
        return self.labels.sum(axis=1)


def _comb(n: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Binomial coefficients, 0 where ``r > n`` or either is negative (float, exact to 2^53)."""
    from scipy.special import comb

    out: np.ndarray = comb(n, r, exact=False)
    return out


def selection_weights(counts: np.ndarray, k: int, width: int) -> np.ndarray:
    """``W[t, j]`` = probability that a random k-subset of task ``t`` picks its rank-``j`` one."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    m = counts[:, None].astype(float)
    kk = np.minimum(k, counts)[:, None].astype(float)
    j = np.arange(width)[None, :].astype(float)
    weights = _comb(m - 1.0 - j, kk - 1.0) / _comb(m, kk)
    out: np.ndarray = np.where(j < m, weights, 0.0)
    return out


def best_at_k_per_task(tasks: RankedTasks, k: int) -> np.ndarray:
    """Each task's chance that the policy's pick from a random k-subset resolves it."""
    weights = selection_weights(tasks.counts, k, tasks.max_candidates)
    out: np.ndarray = (weights * tasks.labels).sum(axis=1)
    return out


def best_at_k(tasks: RankedTasks, k: int) -> float:
    """Fraction of tasks resolved when picking the top-ranked of k random candidates, averaged
    over all k-subsets (exact). A 1-subset leaves no choice, so best@1 *is* the random pick, to
    the last bit."""
    if k == 1:
        return random_pick(tasks)
    return float(best_at_k_per_task(tasks, k).mean())


def pass_at_k(tasks: RankedTasks, k: int) -> float:
    """Fraction of tasks where a random k-subset holds at least one resolving candidate (the
    oracle at k; the unbiased estimator ``1 − C(m−c, k) / C(m, k)``)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    m = tasks.counts.astype(float)
    kk = np.minimum(k, tasks.counts).astype(float)
    misses = _comb(m - tasks.n_resolved, kk) / _comb(m, kk)
    return float(np.mean(1.0 - misses))


def random_pick(tasks: RankedTasks) -> float:
    """Fraction resolved when picking one candidate per task uniformly at random."""
    return float(np.mean(tasks.n_resolved / tasks.counts))


def oracle(tasks: RankedTasks) -> float:
    """Fraction of tasks with at least one resolving candidate (pass@N)."""
    return float(np.mean(tasks.n_resolved > 0))


def sample_best_at_k(tasks: RankedTasks, *, n_subsets: int = 1000, seed: int = 0) -> np.ndarray:
    """best@k for k = 1..N on ``n_subsets`` random draws: an array of shape (n_subsets, N).

    Row ``r`` draws one random k-subset per task for every k at once: a random order of each
    task's candidates, whose first k form a uniform k-subset. The best rank within each prefix is
    a running minimum, so all k cost one shuffle. Tasks are grouped by candidate count so every
    shuffle is a dense array operation.
    """
    if n_subsets < 1:
        raise ValueError(f"n_subsets must be at least 1, got {n_subsets}")
    rng = np.random.default_rng(seed)
    width = tasks.max_candidates
    hits = np.zeros((n_subsets, width), dtype=np.int64)
    for m in np.unique(tasks.counts):
        rows = tasks.labels[tasks.counts == m, :m]
        base = np.arange(m, dtype=np.int16 if m < 2**15 else np.int64)
        for start in range(0, n_subsets, _DRAWS_PER_CHUNK):
            draws = min(_DRAWS_PER_CHUNK, n_subsets - start)
            order = rng.permuted(np.broadcast_to(base, (draws, rows.shape[0], m)), axis=-1)
            best_rank = np.minimum.accumulate(order, axis=-1)
            picked = np.take_along_axis(
                np.broadcast_to(rows, (draws, *rows.shape)), best_rank.astype(np.intp), axis=-1
            )
            per_prefix = picked.sum(axis=1)  # (draws, m): resolved tasks for k = 1..m
            hits[start : start + draws, :m] += per_prefix
            hits[start : start + draws, m:] += per_prefix[:, -1:]  # k > m: all m candidates
    out: np.ndarray = hits / tasks.n_tasks
    return out


def sample_consensus_at_k(
    votes: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    *,
    n_subsets: int = 1000,
    seed: int = 0,
) -> np.ndarray:
    """best@k of a selector whose pick depends on the subset (votes), for k = 1..N on random
    subsets: an array of shape (n_subsets, N).

    Unlike a fixed ranking, a vote depends on who else is in the subset, so each subset is
    re-voted: ``votes[t]`` is task ``t``'s support matrix
    (:meth:`~swerm_plugin.backends.base.GroupScorer.support_matrix`; for plain voting the vote
    matrix) and ``labels[t]`` its resolved labels. A tie goes to a random one of the tied
    candidates (the first of them in the subset's random order).
    """
    if n_subsets < 1:
        raise ValueError(f"n_subsets must be at least 1, got {n_subsets}")
    rng = np.random.default_rng(seed)
    width = max(v.shape[0] for v in votes)
    hits = np.zeros((n_subsets, width))
    rows = np.arange(n_subsets)[:, None]
    for task_votes, task_labels in zip(votes, labels, strict=True):
        m = task_votes.shape[0]
        perms = rng.permuted(np.broadcast_to(np.arange(m), (n_subsets, m)), axis=-1)
        for k in range(1, m + 1):
            members = perms[:, :k]
            support = task_votes[members[:, :, None], members[:, None, :]].sum(axis=-1)
            tied = _ties(support, support.max(axis=1, keepdims=True))
            winner = members[rows, np.argmax(tied, axis=1)[:, None]][:, 0]
            hits[:, k - 1] += task_labels[winner]
        hits[:, m:] += task_labels[winner][:, None]  # k > m: the full set, as at k = m
    out: np.ndarray = hits / len(votes)
    return out


def consensus_pick(votes: np.ndarray, labels: np.ndarray) -> float:
    """Chance that the pick by support matrix ``votes`` over all candidates resolves the task (a
    tie is broken uniformly at random, so this is the mean label of the tied best)."""
    support = votes.sum(axis=1)
    tied = _ties(support, support.max())
    return float(labels[tied].mean())


def _ties(support: np.ndarray, best: np.ndarray | float) -> np.ndarray:
    """Which supports equal the best: up to rounding only, since a selector's keys are large
    integers whose last units are real differences."""
    out: np.ndarray = np.isclose(support, best, rtol=1e-12, atol=1e-12)
    return out


@dataclass(frozen=True)
class BestOfN:
    """The headline figures, as fractions in [0, 1]."""

    n_tasks: int
    random: float
    oracle: float
    best_at_k: dict[int, float]
    best_at_k_ci: dict[int, tuple[float, float]]
    pass_at_k: dict[int, float]
    #: The k whose best@k is a Monte-Carlo mean over random subsets rather than exact.
    estimated: tuple[int, ...] = ()


def evaluate_best_of_n(
    tasks: RankedTasks,
    *,
    n_subsets: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    draws: np.ndarray | None = None,
) -> BestOfN:
    """best@k with the central ``confidence`` interval of ``n_subsets`` random draws, pass@k,
    random pick and oracle, for k = 1..N.

    best@k is the exact mean over all k-subsets of the fixed ranking in ``tasks``; a selector
    whose choice depends on the subset (consensus) passes its own ``draws`` (shape
    ``(n_subsets, N)``, from :func:`sample_consensus_at_k`), whose mean is used instead for
    k ≥ 2 and listed in ``estimated``; best@1 is exact either way (one candidate, no choice).
    """
    ks = range(1, tasks.max_candidates + 1)
    estimated = () if draws is None else tuple(k for k in ks if k > 1)
    if draws is None:
        draws = sample_best_at_k(tasks, n_subsets=n_subsets, seed=seed)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [alpha, 1.0 - alpha], axis=0)
    return BestOfN(
        n_tasks=tasks.n_tasks,
        random=random_pick(tasks),
        oracle=oracle(tasks),
        best_at_k={
            k: float(draws[:, k - 1].mean()) if k in estimated else best_at_k(tasks, k) for k in ks
        },
        best_at_k_ci={k: (float(low[k - 1]), float(high[k - 1])) for k in ks},
        pass_at_k={k: pass_at_k(tasks, k) for k in ks},
        estimated=estimated,
    )
