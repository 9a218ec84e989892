"""SWE-bench predictions files read as trajectories: the patch of each attempt, no steps.

Useful when only ``preds.json``/``preds.jsonl`` survive from a run (best-of-k over several
runs' predictions, majority voting, label joins). The parsing is
:mod:`swerm_plugin.readers.swebench`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

from swerm_plugin.model import Trajectory
from swerm_plugin.readers.base import JsonReader
from swerm_plugin.readers.loader import PREDICTIONS_FORMAT, PREDICTIONS_SOURCE
from swerm_plugin.readers.probe import JsonSource
from swerm_plugin.readers.swebench import (
    PREDICTIONS_EXPECTED,
    iter_predictions,
    looks_like_predictions,
)

PREDICTIONS_NAME = re.compile(r"pred", re.IGNORECASE)


class SwebenchPredictionsAdapter(JsonReader):
    name: ClassVar[str] = PREDICTIONS_FORMAT
    description: ClassVar[str] = PREDICTIONS_EXPECTED

    def accepts(self, value: Any, *, lines: bool) -> bool:
        return looks_like_predictions(value, lines=lines)

    def accepts_source(self, source: JsonSource) -> bool:
        # An empty list or object is a predictions file only by its name ("preds.json" of a run
        # that has not finished an instance yet); as "x.traj.json" it is a broken trajectory.
        if source.first in ({}, []) and not PREDICTIONS_NAME.search(source.path.name):
            return False
        return super().accepts_source(source)

    def read_source(self, source: JsonSource) -> Iterator[Trajectory]:
        for where, prediction in iter_predictions(source):
            yield Trajectory(
                instance_id=prediction.instance_id,
                source=PREDICTIONS_SOURCE,
                patch=prediction.model_patch or "",
                model_name=prediction.model_name_or_path,
                source_path=str(source.path),
                source_record=where.line if where.line is not None else where.record,
            )
