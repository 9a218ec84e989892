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
    ) -> None:
        self.path = str(path)
        self.record = record
        self.field = field
        self.expected = expected
        where = self.path
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
