"""The contract every trajectory reader implements, and the base class of the JSON readers.

A reader registers through ``swerm_register_adapters``. :class:`TrajectoryAdapter` is the plain
contract (``sniff`` the first bytes, ``read`` the file); :class:`JsonReader` is the fast path for
JSON and JSON Lines formats: the loader parses a file once and offers the parsed value to every
JSON reader's :meth:`~JsonReader.accepts`, so a folder walk never parses a document twice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from swerm_plugin.errors import TrajectoryFormatError
from swerm_plugin.model import Trajectory
from swerm_plugin.readers.probe import JsonSource, probe


class TrajectoryAdapter(ABC):
    """Reads one framework's file format; subclasses register via ``swerm_register_adapters``."""

    name: ClassVar[str]

    @abstractmethod
    def sniff(self, path: Path, head: bytes) -> bool:
        """Whether the file at ``path``, whose first bytes are ``head``, is in this format."""

    @abstractmethod
    def read(self, path: Path) -> Iterator[Trajectory]:
        """Yield the trajectories in ``path``; raise :class:`TrajectoryFormatError` on bad input."""

    def sniff_dir(self, path: Path) -> bool:
        """Whether the directory ``path`` is one source in this format (read whole by ``read``).

        Most formats are files; a format stored as a folder of files (the OpenHands SDK's
        ``events/event-*.json``) overrides this so a directory walk hands it the folder.
        """
        return False


class JsonReader(TrajectoryAdapter):
    """A reader for JSON documents or JSON Lines, choosing by the parsed content.

    The loader probes a file once (:func:`~swerm_plugin.readers.probe.probe`) and offers the
    parsed document, or the first record of a JSON Lines file, to :meth:`accepts`; the winner
    reads the same :class:`JsonSource`, so nothing is parsed twice.
    """

    #: What this reader reads, shown when no reader recognises a file.
    description: ClassVar[str]

    @abstractmethod
    def accepts(self, value: Any, *, lines: bool) -> bool:
        """Whether ``value`` (the document, or the first record when ``lines``) is this format."""

    @abstractmethod
    def read_source(self, source: JsonSource) -> Iterator[Trajectory]:
        """Yield the trajectories of a probed file this reader accepted."""

    def accepts_source(self, source: JsonSource) -> bool:
        """Whether a probed file is this format; by default :meth:`accepts` on its content
        (override to look at the file name too)."""
        return self.accepts(source.first, lines=source.is_lines)

    def sniff(self, path: Path, head: bytes) -> bool:
        try:
            source = probe(path)
        except TrajectoryFormatError:
            return False
        return self.accepts_source(source)

    def read(self, path: Path) -> Iterator[Trajectory]:
        path = Path(path)
        source = probe(path)
        if not self.accepts_source(source):
            raise TrajectoryFormatError(path, f"not a {self.name} file", expected=self.description)
        return self.read_source(source)
