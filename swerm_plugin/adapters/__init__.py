"""Readers for each framework's output, and the live integrations (imported lazily).

``load(path)`` reads a file or a run folder of any supported format into
:class:`~swerm_plugin.trajectory.Trajectory` objects; formats are told apart by content.
"""

from swerm_plugin.adapters._json import TruncatedRecordWarning
from swerm_plugin.adapters.base import TrajectoryAdapter, TrajectoryFormatError
from swerm_plugin.adapters.loader import Source, detect_format, find_sources, load

__all__ = [
    "Source",
    "TrajectoryAdapter",
    "TrajectoryFormatError",
    "TruncatedRecordWarning",
    "detect_format",
    "find_sources",
    "load",
]
