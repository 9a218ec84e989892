"""Readers for each framework's output, and the live integrations (imported lazily)."""

from swerm_plugin.adapters.base import TrajectoryAdapter, TrajectoryFormatError

__all__ = ["TrajectoryAdapter", "TrajectoryFormatError"]
