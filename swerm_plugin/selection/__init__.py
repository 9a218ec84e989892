"""Picking among candidates without a model: execution-free signals of each candidate
(:mod:`.signals`), the lexicographic selector that combines them (:mod:`.selector`), and the
weight that mixes it with a reward model's probability (:mod:`.hybrid`)."""

from swerm_plugin.selection.selector import (
    DEFAULT_AGREEMENTS,
    DEFAULT_PRIORS,
    SELECTOR_NAME,
    SELECTOR_VERSION,
    Selector,
)
from swerm_plugin.selection.signals import (
    PatchSignals,
    TrajectorySignals,
    file_role,
    patch_signals,
    trajectory_signals,
)

__all__ = [
    "DEFAULT_AGREEMENTS",
    "DEFAULT_PRIORS",
    "SELECTOR_NAME",
    "SELECTOR_VERSION",
    "PatchSignals",
    "Selector",
    "TrajectorySignals",
    "file_role",
    "patch_signals",
    "trajectory_signals",
]
