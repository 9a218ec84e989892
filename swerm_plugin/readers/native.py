"""swerm's own trajectory JSON: what ``Trajectory.model_dump(mode="json")`` writes.

One object, a JSON list of them, or JSON Lines of them. The keys are the
:class:`~swerm_plugin.model.Trajectory` fields (``instance_id`` and ``source`` required, the rest
optional), so a harness swerm has no reader for can write this shape directly, and a service
client can send it. A ``label`` in the document is dropped: labels come only from the harness's
reports, never from a trajectory (a trajectory cannot declare itself resolved).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import ValidationError

from swerm_plugin.model import Trajectory
from swerm_plugin.readers.base import JsonReader
from swerm_plugin.readers.fields import Where
from swerm_plugin.readers.probe import JsonSource

_FIELDS = frozenset(Trajectory.model_fields)
_REQUIRED = frozenset({"instance_id", "source"})


def is_trajectory_json(value: Any) -> bool:
    """Whether ``value`` is one trajectory in swerm's own shape (only its keys, both required)."""
    return isinstance(value, dict) and _REQUIRED <= value.keys() <= _FIELDS


class SwermTrajectoryReader(JsonReader):
    name: ClassVar[str] = "swerm"
    description: ClassVar[str] = (
        "swerm's own Trajectory JSON: {instance_id, source, problem_statement, steps: [{role, "
        "content, thought, action, observation}], patch, ...}, a JSON list of them, or JSON Lines"
    )

    def accepts(self, value: Any, *, lines: bool) -> bool:
        if isinstance(value, list) and not lines:
            return bool(value) and is_trajectory_json(value[0])
        return is_trajectory_json(value)

    def read_source(self, source: JsonSource) -> Iterator[Trajectory]:
        for line, value in source.records():
            at_line = line if source.is_lines else None
            if isinstance(value, list):
                for index, item in enumerate(value):
                    yield _trajectory(item, Where(source.path, line=at_line, record=index))
            else:
                yield _trajectory(value, Where(source.path, line=at_line))


def _trajectory(value: Any, where: Where) -> Trajectory:
    if not isinstance(value, dict):
        raise where.error("not an object", expected="a swerm Trajectory object")
    try:
        trajectory = Trajectory.model_validate({**value, "label": None})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise where.error(first["msg"], field=field, expected="a swerm Trajectory") from None
    return trajectory
