"""The contract every trajectory reader implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from swerm_plugin.trajectory import Trajectory


class TrajectoryFormatError(ValueError):
    """A file is not a readable trajectory; the message names file, record, field, expectation."""

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        record: int | str | None = None,
        field: str | None = None,
        expected: str | None = None,
        line: int | None = None,
    ) -> None:
        self.path = str(path)
        self.record = record
        self.field = field
        self.expected = expected
        self.line = line
        self.problem = problem
        where = self.path
        if line is not None:
            where += f", line {line}"
        if record is not None:
            where += f", record {record}"
        if field is not None:
            where += f", field '{field}'"
        message = f"{where}: {problem}"
        if expected:
            message += f" (expected {expected})"
        super().__init__(message)


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
