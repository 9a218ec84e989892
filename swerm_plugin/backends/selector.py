"""The default scorer without a model: :class:`swerm_plugin.selection.Selector` as a group scorer.

Its scores are the selector's keys scaled into [0, 1) (``kind="vote_share"``): they rank a task's
candidates, they are not probabilities (calibrate them before reading them as P(resolved)).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from swerm_plugin.backends.base import GroupScorer
from swerm_plugin.config import SwermConfig
from swerm_plugin.model import CandidateGroup, Score
from swerm_plugin.selection import SELECTOR_NAME, SELECTOR_VERSION, Selector


class SelectorScorer(GroupScorer):
    """Exact agreement on the source change, then on the files, then run-health priors."""

    name: ClassVar[str] = SELECTOR_NAME
    version: ClassVar[str] = SELECTOR_VERSION

    def __init__(self, config: SwermConfig) -> None:
        super().__init__(config)
        self.selector = Selector()

    def prepare(self, groups: Sequence[CandidateGroup]) -> None:
        self.selector.prepare(groups)

    def support_matrix(self, group: CandidateGroup) -> np.ndarray:
        return self.selector.support_matrix(group)

    def score_group(self, group: CandidateGroup) -> list[Score]:
        return [
            Score(raw=float(share), kind=self.kind, backend=self.name)
            for share in self.selector.shares(group)
        ]
