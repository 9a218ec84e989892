"""Typed access to parsed JSON, so a wrong type or a missing field is a clear error.

Readers never index raw dicts: ``Obj(record, where).req_str("instance_id")`` either returns a
``str`` or raises a :class:`TrajectoryFormatError` naming the file, line or record, the field
path (``history[3].args.command``) and what was expected. Corrupted input therefore never
surfaces as a bare ``KeyError`` or ``TypeError``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from swerm_plugin.errors import TrajectoryFormatError
from swerm_plugin.jsonl import loads


class Where:
    """Where a value came from: the file, and the line (JSON Lines) or record within it."""

    __slots__ = ("line", "path", "record")

    def __init__(self, path: Path, line: int | None = None, record: int | str | None = None):
        self.path = path
        self.line = line
        self.record = record

    def error(
        self, problem: str, *, field: str | None = None, expected: str | None = None
    ) -> TrajectoryFormatError:
        return TrajectoryFormatError(
            self.path,
            problem,
            line=self.line,
            record=self.record,
            field=field or None,
            expected=expected,
        )


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def join_field(prefix: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else key


def wrong_type(where: Where, field: str, value: Any, expected: str) -> TrajectoryFormatError:
    return where.error(f"found {_type_name(value)}", field=field, expected=expected)


def text_of(value: Any, where: Where, field: str) -> str:
    """Message content as text: a string, or a list of content parts (OpenAI/SDK style).

    Text parts are joined; image parts become ``[image]``; ``null`` is the empty string.
    """
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if not isinstance(value, list):
        raise wrong_type(where, field, value, "a string or a list of content parts")
    parts: list[str] = []
    for i, part in enumerate(value):
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict):
            text = part.get("text")
            if isinstance(text, str):
                parts.append(text)
            elif text is not None:
                raise wrong_type(where, join_field(join_field(field, i), "text"), text, "a string")
            elif "image" in str(part.get("type", "")) or "image_url" in part:
                parts.append("[image]")
        else:
            raise wrong_type(where, join_field(field, i), part, "a string or a content part")
    return "".join(parts)


class Obj:
    """A JSON object with typed getters; ``field`` is its path within the record.

    The path is built only when an error needs it: readers wrap every event and most values,
    and formatting ``history[123].args`` for each of them would cost more than the reading.
    """

    __slots__ = ("_index", "_key", "_parent", "_prefix", "data", "where")

    def __init__(
        self,
        data: dict[str, Any],
        where: Where,
        field: str = "",
        *,
        parent: Obj | None = None,
        key: str | None = None,
        index: int | None = None,
    ) -> None:
        self.data = data
        self.where = where
        self._prefix = field
        self._parent = parent
        self._key = key
        self._index = index

    @property
    def field(self) -> str:
        path = self._parent.field if self._parent is not None else self._prefix
        if self._key is not None:
            path = join_field(path, self._key)
        if self._index is not None:
            path = join_field(path, self._index)
        return path

    @classmethod
    def of(cls, value: Any, where: Where, field: str = "") -> Obj:
        if not isinstance(value, dict):
            raise wrong_type(where, field, value, "a JSON object")
        return cls(value, where, field)

    @classmethod
    def item(cls, value: Any, where: Where, field: str, index: int) -> Obj:
        """Item ``index`` of the list at ``field``, checked to be an object."""
        if not isinstance(value, dict):
            raise wrong_type(where, join_field(field, index), value, "a JSON object")
        return cls(value, where, field, index=index)

    def _child(self, value: Any, key: str, index: int | None = None) -> Obj:
        if not isinstance(value, dict):
            name = self.name(key) if index is None else join_field(self.name(key), index)
            raise wrong_type(self.where, name, value, "a JSON object")
        return Obj(value, self.where, parent=self, key=key, index=index)

    def name(self, key: str) -> str:
        return join_field(self.field, key)

    def error(self, problem: str, key: str, expected: str | None = None) -> TrajectoryFormatError:
        return self.where.error(problem, field=self.name(key), expected=expected)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def req_str(self, key: str) -> str:
        value = self.data.get(key)
        if isinstance(value, str):
            return value
        if value is None:
            raise self.error("missing required field", key, "a string")
        raise wrong_type(self.where, self.name(key), value, "a string")

    def opt_str(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None or isinstance(value, str):
            return value
        raise wrong_type(self.where, self.name(key), value, "a string or null")

    def text(self, key: str) -> str:
        """A string or list of content parts, as text; missing or ``null`` is ``""``."""
        value = self.data.get(key)
        if isinstance(value, str):
            return value  # the usual case, without building the field path
        return text_of(value, self.where, self.name(key))

    def scalar_text(self, key: str) -> str:
        """A string, or a number/boolean shown as text (ids, statuses); missing is ``""``."""
        value = self.data.get(key)
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, bool | int | float):
            with contextlib.suppress(ValueError):  # ints past Python's str() digit limit
                return str(value)
        raise wrong_type(self.where, self.name(key), value, "a string")

    def opt_obj(self, key: str) -> Obj | None:
        value = self.data.get(key)
        if value is None:
            return None
        return self._child(value, key)

    def obj(self, key: str) -> Obj:
        value = self.data.get(key)
        if value is None:
            raise self.error("missing required field", key, "a JSON object")
        return self._child(value, key)

    def obj_or_json(self, key: str) -> Obj | None:
        """An object, or a string holding a JSON object (SWE-agent ``replay_config``)."""
        value = self.data.get(key)
        if isinstance(value, str):
            try:
                value = loads(value)
            except orjson.JSONDecodeError as exc:
                raise self.error(
                    f"string is not valid JSON ({exc.msg})", key, "a JSON object or JSON string"
                ) from None
        if value is None:
            return None
        return self._child(value, key)

    def array(self, key: str, *, required: bool = False) -> list[Any]:
        value = self.data.get(key)
        if isinstance(value, list):
            return value
        if value is None and not required:
            return []
        if value is None:
            raise self.error("missing required field", key, "a list")
        raise wrong_type(self.where, self.name(key), value, "a list")

    def objects(self, key: str, *, required: bool = False) -> Iterator[Obj]:
        """The items of a list field, each checked to be an object."""
        for i, item in enumerate(self.array(key, required=required)):
            yield self._child(item, key, i)

    def number(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        number: float | None = None
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            with contextlib.suppress(ValueError, OverflowError):  # "lots", 10**400
                number = float(value)
        if number is not None and math.isfinite(number):
            return number
        raise wrong_type(self.where, self.name(key), value, "a finite number")

    def integer(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            if -(2**63) <= value < 2**63:
                return value
            raise self.error("integer out of range", key, "a 64-bit integer")
        raise wrong_type(self.where, self.name(key), value, "an integer")
