"""Readers: every framework's output files → :class:`~swerm_plugin.model.Trajectory`.

``load(path)`` reads a file or a run folder of any supported format; formats are told apart by
content, by the readers registered through ``swerm_register_adapters``. One module per
framework, plus :mod:`.swebench` for the harness's predictions, reports and labels.
"""

from swerm_plugin.errors import TrajectoryFormatError
from swerm_plugin.jsonl import TruncatedRecordWarning
from swerm_plugin.readers.base import JsonReader, TrajectoryAdapter
from swerm_plugin.readers.loader import Source, detect_format, find_sources, load
from swerm_plugin.readers.probe import JsonSource

__all__ = [
    "JsonReader",
    "JsonSource",
    "Source",
    "TrajectoryAdapter",
    "TrajectoryFormatError",
    "TruncatedRecordWarning",
    "detect_format",
    "find_sources",
    "load",
]
