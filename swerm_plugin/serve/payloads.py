"""Request bodies → trajectories, for each route.

``/v1/score`` and ``/v1/rerank`` take any document swerm's readers read (a mini-swe-agent
``.traj.json``, a SWE-agent ``.traj``, an OpenHands ``output.jsonl`` record or JSON Lines of
them, SDK events, SWE-bench predictions, swerm's own Trajectory JSON), or a batch
``{"trajectories": [doc, ...]}`` (``{"candidates": [...]}`` for rerank) whose items are such
documents. Bodies are read in memory by the same readers as files
(:func:`swerm_plugin.readers.loader.read_parsed`); a plugin's non-JSON reader gets the body as
a temporary file. ``/v1/reward`` and the OpenRLHF route take RL rollouts as text
(:func:`swerm_plugin.decisions.rewards.trajectory_from_rollout`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from swerm_plugin.decisions.rewards import (
    REWARD_MODES,
    RewardMode,
    rollout_fields,
    trajectory_from_rollout,
)
from swerm_plugin.errors import RewardError, TrajectoryFormatError
from swerm_plugin.model import Trajectory
from swerm_plugin.readers.base import JsonReader, TrajectoryAdapter
from swerm_plugin.readers.loader import load, read_parsed
from swerm_plugin.readers.probe import ParsedSource, probe_bytes
from swerm_plugin.serve.service import Problem

#: The name a request body goes by in error messages.
BODY = "request"


def _too_many(count: int, limit: int) -> Problem:
    return Problem(
        413, "too_many_trajectories", f"{count} trajectories in one request; at most {limit}"
    )


def _parse(body: bytes) -> ParsedSource:
    try:
        return probe_bytes(body, BODY)
    except TrajectoryFormatError as exc:
        raise Problem(400, "invalid_json", str(exc)) from None


def _batch_items(source: ParsedSource, key: str) -> list[Any] | None:
    """The items of ``{key: [...]}``, or ``None`` when the body is one document."""
    value = source.first
    if source.is_lines or not isinstance(value, dict) or set(value) != {key}:
        return None
    items = value[key]
    if not isinstance(items, list):
        raise Problem(422, "invalid_request", f"'{key}' must be a list of trajectory documents")
    return items


def _file_readers(adapters: Sequence[TrajectoryAdapter]) -> list[TrajectoryAdapter]:
    return [a for a in adapters if not isinstance(a, JsonReader)]


def _read_as_file(body: bytes, adapters: Sequence[TrajectoryAdapter]) -> list[Trajectory]:
    """For plugin readers that read files only: the body as a temporary file."""
    with tempfile.TemporaryDirectory(prefix="swerm-serve-") as folder:
        path = Path(folder) / BODY
        path.write_bytes(body)
        found = list(load(path, adapters=adapters))
    for trajectory in found:
        trajectory.source_path = None
    return found


def trajectories_from_body(
    body: bytes, *, key: str, limit: int, adapters: Sequence[TrajectoryAdapter]
) -> list[Trajectory]:
    """Every trajectory in a request body (see the module docs).

    :raises Problem: 400 not JSON (and no file reader takes it), 422 not a trajectory in any
        format, 413 more than ``limit`` trajectories.
    """
    file_readers = _file_readers(adapters)
    try:
        source = probe_bytes(body, BODY)
    except TrajectoryFormatError as exc:
        if not file_readers:
            raise Problem(400, "invalid_json", str(exc)) from None
        return _checked(_try_read(lambda: _read_as_file(body, file_readers)), limit)
    items = _batch_items(source, key)
    if items is None:
        found = _try_read(lambda: read_parsed(source, adapters=adapters))
    else:
        if len(items) > limit:
            raise _too_many(len(items), limit)
        found = []
        for index, item in enumerate(items):
            item_source = ParsedSource(f"{BODY}.{key}[{index}]", [(1, item)])
            found.extend(_try_read(lambda s=item_source: read_parsed(s, adapters=adapters)))
    return _checked(found, limit)


def _try_read(read: Any) -> list[Trajectory]:
    try:
        return list(read())
    except TrajectoryFormatError as exc:
        raise Problem(422, "invalid_trajectory", str(exc)) from None


def _checked(found: list[Trajectory], limit: int) -> list[Trajectory]:
    if not found:
        raise Problem(422, "no_trajectories", "the request holds no trajectory")
    if len(found) > limit:
        raise _too_many(len(found), limit)
    return found


def _object(body: bytes) -> dict[str, Any]:
    value = _parse(body).first
    if not isinstance(value, dict):
        raise Problem(422, "invalid_request", "the body must be a JSON object")
    return value


def check_mode(value: Any, default: RewardMode) -> RewardMode:
    """The reward mode asked for (``None``: ``default``)."""
    if value is None:
        return default
    if value not in REWARD_MODES:
        raise Problem(422, "invalid_request", f"mode must be one of {', '.join(REWARD_MODES)}")
    return value


def _rollout(item: Any, index: int) -> Trajectory:
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise Problem(422, "invalid_request", f"rollouts[{index}]: expected an object with 'text'")
    extra = item.get("fields")
    if extra is not None and not isinstance(extra, dict):
        raise Problem(422, "invalid_request", f"rollouts[{index}].fields: expected an object")
    try:
        return trajectory_from_rollout(
            item["text"],
            prompt=str(item.get("prompt") or ""),
            fields=rollout_fields(extra, item.get("ground_truth")),
        )
    except RewardError as exc:
        raise Problem(422, "reward_error", f"rollouts[{index}]: {exc}") from None


def rollouts_from_body(
    body: bytes, *, limit: int, default_mode: RewardMode
) -> tuple[list[Trajectory], RewardMode]:
    """``{"rollouts": [{"text", "prompt"?, "fields"?, "ground_truth"?}], "mode"?}``: the
    rollouts as trajectories (verl's ``solution_str``, ``extra_info`` and ``ground_truth``)."""
    value = _object(body)
    items = value.get("rollouts")
    if not isinstance(items, list) or not items:
        raise Problem(422, "invalid_request", "'rollouts' must be a non-empty list")
    if len(items) > limit:
        raise _too_many(len(items), limit)
    mode = check_mode(value.get("mode"), default_mode)
    return [_rollout(item, i) for i, item in enumerate(items)], mode


def _strings(value: dict[str, Any], key: str, count: int | None) -> list[str] | None:
    """The list of strings under ``key`` (a ``null`` item is ``""``: a dataset without labels)."""
    items = value.get(key)
    if items is None:
        return None
    if not isinstance(items, list) or not all(isinstance(i, str | None) for i in items):
        raise Problem(422, "invalid_request", f"'{key}' must be a list of strings")
    items = [i or "" for i in items]
    if count is not None and len(items) != count:
        raise Problem(422, "invalid_request", f"'{key}' has {len(items)} items, 'query' {count}")
    return items


def _label_fields(label: str, mode: RewardMode) -> Mapping[str, Any] | str | None:
    """An OpenRLHF label: a JSON object of fields, else the resolved label (hybrid mode only)."""
    if label.lstrip().startswith("{"):
        try:
            parsed = orjson.loads(label)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    return label if mode == "hybrid" and label else None


def openrlhf_rollouts(body: bytes, *, limit: int, mode: RewardMode) -> list[Trajectory]:
    """OpenRLHF's remote reward request ``{"query": [...], "prompts": [...], "labels": [...]}``
    as rollouts: the response is the query after its prompt (the whole query without one)."""
    value = _object(body)
    queries = _strings(value, "query", None)
    if not queries:
        raise Problem(422, "invalid_request", "'query' must be a non-empty list of strings")
    if len(queries) > limit:
        raise _too_many(len(queries), limit)
    prompts = _strings(value, "prompts", len(queries)) or [""] * len(queries)
    labels = _strings(value, "labels", len(queries)) or [""] * len(queries)
    rollouts = []
    for index, (query, prompt, label) in enumerate(zip(queries, prompts, labels, strict=True)):
        text = query[len(prompt) :] if prompt and query.startswith(prompt) else query
        item = {"text": text, "prompt": prompt, "ground_truth": _label_fields(label, mode)}
        rollouts.append(_rollout(item, index))
    return rollouts
