"""Reward backends: turn rendered prompts into raw P(YES) scores."""

from swerm_plugin.backends.base import BackendUnavailable, RewardBackend

__all__ = ["BackendUnavailable", "RewardBackend"]
