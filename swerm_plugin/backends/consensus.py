"""Execution-free, model-free consensus scoring: majority voting over normalised patches.

Independent attempts that converge on the same change are more often right than a one-off
(Agentless's majority vote). Patches are compared in the normal form of
:mod:`swerm_plugin.patches`, and near-identical patches (similarity at or above a threshold)
share votes.

A consensus score is a vote share in [0, 1] (``Score.kind == "vote_share"``), not a
probability: fit a calibrator on it (``swerm calibrate``) before reading it as P(resolved).
:class:`ConsensusScorer` is registered as the ``consensus`` backend, so a plugin can replace it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from swerm_plugin.backends.base import GroupScorer
from swerm_plugin.model import CandidateGroup, Score
from swerm_plugin.patches import dice_overlap, line_bag, normalize_patch

BACKEND_NAME = "consensus"
DEFAULT_SIMILARITY = 0.7


def vote_matrix(patches: Sequence[str], *, similarity: float = DEFAULT_SIMILARITY) -> np.ndarray:
    """``V[i, j]``: the vote candidate ``j`` gives candidate ``i``.

    1 when their normal forms are equal (so ``V[i, i] = 1``), their :func:`patch_similarity`
    when it is at least ``similarity``, else 0; rows and columns of empty patches are all 0.
    ``similarity=1`` gives exact voting.
    """
    if not 0.0 < similarity <= 1.0:
        raise ValueError(f"similarity must be in (0, 1], got {similarity}")
    normal = [normalize_patch(p) for p in patches]
    forms = sorted({n for n in normal if n})
    index = {form: i for i, form in enumerate(forms)}
    between = np.eye(len(forms))  # form-to-form votes, computed once per distinct form
    if similarity < 1.0:
        bags = [line_bag(form) for form in forms]
        for a in range(len(forms)):
            for b in range(a + 1, len(forms)):
                sim = dice_overlap(bags[a], bags[b])
                if sim >= similarity:
                    between[a, b] = between[b, a] = sim
    which = np.array([index.get(n, -1) for n in normal], dtype=int)
    real = np.flatnonzero(which >= 0)
    out = np.zeros((len(patches), len(patches)))
    out[np.ix_(real, real)] = between[np.ix_(which[real], which[real])]
    return out


def consensus_scores(
    patches: Sequence[str], *, similarity: float = DEFAULT_SIMILARITY
) -> np.ndarray:
    """Vote share of each candidate patch among the non-empty ones, in [0, 1].

    A candidate's support is the number of candidates with the same normal form (itself
    included) plus, for each similar one (:func:`patch_similarity` at or above ``similarity``),
    that similarity (:func:`vote_matrix`). Empty patches get 0 and cast no vote.
    """
    votes = vote_matrix(patches, similarity=similarity)
    n_voters = int(np.count_nonzero(np.diag(votes)))
    if n_voters == 0:
        return np.zeros(len(patches))
    out: np.ndarray = votes.sum(axis=1) / n_voters
    return out


def naive_consensus_scores(patches: Sequence[str]) -> np.ndarray:
    """The baseline vote: exact match after stripping each line's surrounding whitespace."""
    normal = ["\n".join(line.strip() for line in p.splitlines() if line.strip()) for p in patches]
    counts = Counter(n for n in normal if n)
    n_voters = sum(counts.values())
    if not n_voters:
        return np.zeros(len(patches))
    return np.array([counts[n] / n_voters if n else 0.0 for n in normal])


class ConsensusScorer(GroupScorer):
    """Scores each candidate of a task by its share of the votes of all candidates."""

    name: ClassVar[str] = BACKEND_NAME
    version: ClassVar[str] = "1"

    def support_matrix(self, group: CandidateGroup) -> np.ndarray:
        return vote_matrix(
            [t.patch for t in group.candidates],
            similarity=self.config.policy.consensus_similarity,
        )

    def score_group(self, group: CandidateGroup) -> list[Score]:
        shares = consensus_scores(
            [t.patch for t in group.candidates],
            similarity=self.config.policy.consensus_similarity,
        )
        return [Score(raw=float(share), kind="vote_share", backend=self.name) for share in shares]
