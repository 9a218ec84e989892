"""Property tests: a damaged file raises TrajectoryFormatError (or still reads), nothing else.

Two kinds of damage: bytes (cut, overwritten, deleted, inserted: mostly broken JSON and broken
UTF-8) and structure (a value anywhere in the document swapped for another JSON value, or
removed: valid JSON with wrong types, missing fields and odd shapes).
"""

from __future__ import annotations

import contextlib
import copy
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swerm_plugin.model import Trajectory
from swerm_plugin.readers import TrajectoryFormatError, TruncatedRecordWarning, load
from swerm_plugin.readers.reports import read_resolved
from swerm_plugin.readers.swebench import read_predictions

# ``formats`` only holds pure builder functions, so sharing it across examples is safe.
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SAMPLES = [
    "sweagent_v1",
    "sweagent_v0",
    "sweagent_retry",
    "mini_1",
    "mini_1.1",
    "openhands_v0_jsonl",
    "openhands_v0_events",
    "sdk_events_jsonl",
    "sdk_record",
    "predictions_jsonl",
    "predictions_json",
]


def _sample(formats: Any, name: str) -> tuple[Any, bool]:
    """A valid value of format ``name``, and whether it is written as JSON Lines."""
    if name == "sweagent_retry":
        attempt = formats.sweagent_v1()
        return {"attempts": [attempt, formats.sweagent_v0()], **attempt}, False
    if name.startswith("mini_"):
        return formats.mini(name.removeprefix("mini_")), False
    builders = {
        "sweagent_v1": (lambda: formats.sweagent_v1(), False),
        "sweagent_v0": (lambda: formats.sweagent_v0(), False),
        "openhands_v0_jsonl": (
            lambda: [formats.openhands_v0_record(f"x__x-{i}") for i in range(2)],
            True,
        ),
        "openhands_v0_events": (lambda: formats.openhands_v0_events(), False),
        "sdk_events_jsonl": (lambda: formats.sdk_events(), True),
        "sdk_record": (lambda: formats.sdk_record(), False),
        "predictions_jsonl": (
            lambda: [formats.prediction("a__a-1"), formats.prediction("b__b-2")],
            True,
        ),
        "predictions_json": (
            lambda: {i: formats.prediction(i) for i in ("a__a-1", "b__b-2")},
            False,
        ),
    }
    build, lines = builders[name]
    return build(), lines


def _encode(value: Any, lines: bool) -> bytes:
    if lines:
        return "".join(json.dumps(v) + "\n" for v in value).encode()
    return json.dumps(value, indent=1).encode()


def _read_all(data: bytes, name: str) -> None:
    """Read ``data`` every way a user can; only TrajectoryFormatError may escape."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "damaged.traj"
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TruncatedRecordWarning)
            try:
                trajectories = list(load(path))
            except TrajectoryFormatError as exc:
                assert str(path) in str(exc)  # every error names the file
            else:
                assert all(isinstance(t, Trajectory) for t in trajectories)
            if name.startswith("predictions"):
                with contextlib.suppress(TrajectoryFormatError):
                    read_predictions(path)
            with contextlib.suppress(TrajectoryFormatError):
                read_resolved(path)


damage = st.sampled_from(["cut", "overwrite", "delete", "insert"])


@SETTINGS
@given(
    name=st.sampled_from(SAMPLES),
    kind=damage,
    where=st.floats(min_value=0.0, max_value=1.0),
    junk=st.binary(min_size=1, max_size=8),
)
def test_damaged_bytes_raise_only_format_errors(formats, name, kind, where, junk) -> None:
    data = _encode(*_sample(formats, name))
    at = int(where * (len(data) - 1))
    if kind == "cut":
        data = data[:at]
    elif kind == "overwrite":
        data = data[:at] + junk + data[at + len(junk) :]
    elif kind == "delete":
        data = data[:at] + data[at + len(junk) :]
    else:
        data = data[:at] + junk + data[at:]
    _read_all(data, name)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*prefix, i))
    return found


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


@SETTINGS
@given(
    name=st.sampled_from(SAMPLES),
    pick=st.floats(min_value=0.0, max_value=1.0),
    replacement=json_values,
    remove=st.booleans(),
)
def test_wrong_shapes_raise_only_format_errors(formats, name, pick, replacement, remove) -> None:
    value, lines = _sample(formats, name)
    value = copy.deepcopy(value)
    paths = _paths(value)
    path = paths[int(pick * (len(paths) - 1))]
    if not path:
        value = replacement
    else:
        parent = value
        for key in path[:-1]:
            parent = parent[key]
        if remove and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = replacement
    if lines and not isinstance(value, list):
        lines = False
    _read_all(_encode(value, lines), name)
