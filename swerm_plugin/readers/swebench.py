"""SWE-bench harness I/O: predictions in and out, and labels onto trajectories.

Predictions are ``{instance_id, model_name_or_path, model_patch}`` records in a ``.jsonl`` file,
a ``.json`` list, or a ``.json`` object keyed by instance id (SWE-agent's and mini-swe-agent's
``preds.json``). Labels come only from the harness's reports (:mod:`.reports`), never from
trajectory files: a trajectory cannot declare itself resolved.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from swerm_plugin.errors import PredictionsWriteError, TrajectoryFormatError
from swerm_plugin.jsonl import atomic_write_json, atomic_write_jsonl
from swerm_plugin.model import Trajectory
from swerm_plugin.readers.fields import Obj, Where
from swerm_plugin.readers.probe import JsonSource, probe

PREDICTIONS_EXPECTED = (
    "SWE-bench predictions: JSON Lines or a JSON list of {instance_id, model_name_or_path, "
    "model_patch}, or a JSON object keyed by instance id"
)


class Prediction(BaseModel):
    """One SWE-bench prediction. Extra keys in input files are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    instance_id: str = Field(min_length=1)
    model_name_or_path: str | None = None
    model_patch: str | None = None

    @classmethod
    def from_trajectory(
        cls, trajectory: Trajectory, *, model_name_or_path: str | None = None
    ) -> Prediction:
        """The prediction a trajectory submits; the model name defaults to the trajectory's."""
        return cls(
            instance_id=trajectory.instance_id,
            model_name_or_path=model_name_or_path or trajectory.model_name,
            model_patch=trajectory.patch,
        )


def is_prediction(value: Any) -> bool:
    return isinstance(value, dict) and "instance_id" in value and "model_patch" in value


def looks_like_predictions(value: Any, *, lines: bool) -> bool:
    """Whether a parsed document (or the first JSON Lines record) is a predictions file."""
    if lines or is_prediction(value):
        return is_prediction(value)
    if isinstance(value, list):
        return not value or is_prediction(value[0])
    if isinstance(value, dict):
        if not value:
            return True  # an empty preds.json: a run that has not finished an instance yet
        first = next(iter(value.values()))
        return isinstance(first, dict) and "model_patch" in first and "history" not in first
    return False


def _prediction_items(source: JsonSource) -> Iterator[tuple[Where, Any, str | None]]:
    """(where, raw record, key) for each prediction, before any checking."""
    for line, value in source.records():
        if source.is_lines:
            yield Where(source.path, line=line), value, None
        elif isinstance(value, list):
            for i, item in enumerate(value):
                yield Where(source.path, record=i), item, None
        elif isinstance(value, dict) and not is_prediction(value):
            for key, item in value.items():
                yield Where(source.path, record=key), item, key
        else:
            yield Where(source.path), value, None


def iter_predictions(source: JsonSource) -> Iterator[tuple[Where, Prediction]]:
    """Each prediction of a probed predictions file, with where it was found; with
    ``source.on_bad_line`` set, a bad record is reported there and the rest are read."""
    for where, value, key in _prediction_items(source):
        prediction = source.convert(partial(_prediction, value, where, key=key))
        if prediction is not None:
            yield where, prediction


def _prediction(value: Any, where: Where, *, key: str | None) -> Prediction:
    record = Obj.of(value, where)
    instance_id = record.scalar_text("instance_id") or (key or "")
    if not instance_id:
        raise record.error("missing required field", "instance_id", "a non-empty string")
    if key is not None and instance_id != key:
        raise record.error(
            f"instance id {instance_id!r} differs from its key {key!r}", "instance_id", repr(key)
        )
    if "model_patch" not in record.data:  # null is the harness's empty patch; absent is an error
        raise record.error("missing required field", "model_patch", "the patch (a string or null)")
    return Prediction(
        instance_id=instance_id,
        model_name_or_path=record.opt_str("model_name_or_path"),
        model_patch=record.opt_str("model_patch"),
    )


def read_predictions(path: str | Path) -> list[Prediction]:
    """Every prediction in ``path`` (``.jsonl``, ``.json`` list, or ``.json`` keyed by id).

    :raises TrajectoryFormatError: naming the file, line or record and the field at fault.
    """
    source = probe(path)
    if not looks_like_predictions(source.first, lines=source.is_lines):
        raise TrajectoryFormatError(
            source.path, "not a SWE-bench predictions file", expected=PREDICTIONS_EXPECTED
        )
    return [prediction for _, prediction in iter_predictions(source)]


def write_predictions(
    path: str | Path, predictions: Iterable[Prediction | Mapping[str, Any]]
) -> Path:
    """Write predictions atomically; ``.jsonl`` one per line, ``.json`` keyed by instance id.

    The ``.json`` form is what SWE-agent and mini-swe-agent write as ``preds.json``; it cannot
    hold two predictions for one instance, so duplicates raise (write ``.jsonl`` instead).
    """
    target = Path(path)
    items = [p if isinstance(p, Prediction) else Prediction.model_validate(p) for p in predictions]
    records = [p.model_dump() for p in items]
    if target.suffix == ".jsonl":
        atomic_write_jsonl(target, records)
    elif target.suffix == ".json":
        keyed: dict[str, dict[str, Any]] = {}
        for record in records:
            if record["instance_id"] in keyed:
                raise PredictionsWriteError(
                    f"{target}: two predictions for {record['instance_id']!r}; a .json file "
                    "keeps one per instance, write a .jsonl file to keep both"
                )
            keyed[record["instance_id"]] = record
        atomic_write_json(target, keyed)
    else:
        raise PredictionsWriteError(
            f"{target}: unknown predictions suffix {target.suffix!r}; use .jsonl or .json"
        )
    return target


def attach_labels(
    trajectories: Iterable[Trajectory],
    labels: Mapping[str, bool] | None = None,
    *,
    by_run: Mapping[str, Mapping[str, bool]] | None = None,
    missing: bool | None = None,
) -> list[Trajectory]:
    """Copies of ``trajectories`` with ``label`` set from resolved labels by instance id.

    :param labels: ``{instance_id: resolved}`` for trajectories of any run.
    :param by_run: ``{run_id: {instance_id: resolved}}`` when several runs were read; a
        trajectory whose ``run_id`` is here is looked up there (and only there).
    :param missing: the label for a trajectory found in neither; ``None`` keeps its label.
    """
    out = []
    for trajectory in trajectories:
        table: Mapping[str, bool] | None = labels
        run = trajectory.run_id
        if by_run is not None and run is not None and run in by_run:
            table = by_run[run]
        label = table.get(trajectory.instance_id) if table is not None else None
        if label is None:
            label = missing if missing is not None else trajectory.label
        out.append(trajectory.model_copy(update={"label": label}))
    return out
