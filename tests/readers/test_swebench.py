from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from swerm_plugin.model import Trajectory
from swerm_plugin.readers import TrajectoryFormatError, load
from swerm_plugin.readers.reports import read_resolved
from swerm_plugin.readers.swebench import (
    Prediction,
    PredictionsWriteError,
    attach_labels,
    read_predictions,
    write_predictions,
)


@pytest.fixture
def preds(formats) -> list[dict]:
    return [formats.prediction("a__a-1"), formats.prediction("b__b-2", patch=None)]


def test_three_prediction_layouts_read_the_same(tmp_path: Path, formats, preds) -> None:
    jsonl = formats.write_jsonl(tmp_path / "preds.jsonl", preds)
    as_list = formats.write_json(tmp_path / "list.json", preds)
    keyed = formats.write_json(tmp_path / "preds.json", {p["instance_id"]: p for p in preds})

    expected = [
        Prediction(instance_id="a__a-1", model_name_or_path="my-model", model_patch=formats.PATCH),
        Prediction(instance_id="b__b-2", model_name_or_path="my-model", model_patch=None),
    ]
    assert read_predictions(jsonl) == expected
    assert read_predictions(as_list) == expected
    assert read_predictions(keyed) == expected


def test_keyed_predictions_may_omit_the_id_but_not_contradict_the_key(
    tmp_path: Path, formats
) -> None:
    ok = formats.write_json(
        tmp_path / "ok.json", {"a__a-1": {"model_patch": "", "model_name_or_path": None}}
    )
    assert read_predictions(ok)[0].instance_id == "a__a-1"

    bad = formats.write_json(tmp_path / "bad.json", {"a__a-1": formats.prediction("z__z-9")})
    with pytest.raises(TrajectoryFormatError) as info:
        read_predictions(bad)
    assert info.value.record == "a__a-1"
    assert "differs from its key" in str(info.value)


def test_prediction_with_a_wrong_type(tmp_path: Path, formats, preds) -> None:
    preds[1]["model_patch"] = ["diff"]
    path = formats.write_jsonl(tmp_path / "preds.jsonl", preds)
    with pytest.raises(TrajectoryFormatError) as info:
        read_predictions(path)
    assert (info.value.line, info.value.field) == (2, "model_patch")
    assert "found a list (expected a string or null)" in str(info.value)


def test_not_a_predictions_file(tmp_path: Path, formats) -> None:
    path = formats.write_json(tmp_path / "x.json", formats.sweagent_v1())
    with pytest.raises(TrajectoryFormatError, match="not a SWE-bench predictions file"):
        read_predictions(path)


def test_predictions_are_trajectories_with_a_patch_and_no_steps(
    tmp_path: Path, formats, preds
) -> None:
    path = formats.write_jsonl(tmp_path / "acr-run-1" / "preds.jsonl", preds)
    first, second = load(path)
    assert (first.source, first.patch, first.steps) == ("swebench/predictions", formats.PATCH, [])
    assert second.patch == ""  # a null patch is an empty one
    assert first.model_name == "my-model"
    assert first.run_id == "acr-run-1"
    assert (first.source_record, second.source_record) == (1, 2)


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_write_then_read_round_trips(tmp_path: Path, preds, suffix: str) -> None:
    path = tmp_path / "out" / f"preds{suffix}"
    write_predictions(path, [Prediction(**preds[0]), preds[1]])
    assert read_predictions(path) == [Prediction(**p) for p in preds]
    if suffix == ".json":  # the preds.json layout: an object keyed by instance id
        assert list(json.loads(path.read_text())) == ["a__a-1", "b__b-2"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp files left


def test_failed_write_keeps_the_previous_file(tmp_path: Path, preds) -> None:
    path = tmp_path / "preds.jsonl"
    write_predictions(path, preds)
    before = path.read_bytes()

    def failing():
        yield Prediction(**preds[0])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_predictions(path, failing())
    assert path.read_bytes() == before


def test_write_refuses_what_it_cannot_keep(tmp_path: Path, preds) -> None:
    with pytest.raises(PredictionsWriteError, match="two predictions for 'a__a-1'.*write a .jsonl"):
        write_predictions(tmp_path / "p.json", [preds[0], preds[0]])
    with pytest.raises(PredictionsWriteError, match="unknown predictions suffix '.csv'"):
        write_predictions(tmp_path / "p.csv", preds)


def test_prediction_from_trajectory() -> None:
    traj = Trajectory(instance_id="a__a-1", source="x", patch="diff", model_name="m")
    assert Prediction.from_trajectory(traj) == Prediction(
        instance_id="a__a-1", model_name_or_path="m", model_patch="diff"
    )
    assert (
        Prediction.from_trajectory(traj, model_name_or_path="swerm-best@8").model_name_or_path
        == "swerm-best@8"
    )


# --- reports ----------------------------------------------------------------------------------


def test_run_report_labels_every_evaluated_instance(tmp_path: Path, formats) -> None:
    report = {
        "total_instances": 300,
        "submitted_instances": 5,
        "completed_ids": ["a", "b", "c"],
        "resolved_ids": ["a"],
        "unresolved_ids": ["b", "c"],
        "error_ids": ["d"],
        "empty_patch_ids": ["e"],
        "incomplete_ids": ["f"],
        "schema_version": 2,
    }
    path = formats.write_json(tmp_path / "model__x.run1.json", report)
    assert read_resolved(path) == {"a": True, "b": False, "c": False, "d": False, "e": False}


def test_resolved_list_with_the_submitted_ids(tmp_path: Path, formats) -> None:
    path = formats.write_json(
        tmp_path / "resolved.json",
        {
            "source": "notes",
            "resolved": ["a", "c"],
            "in_verified": ["a", "b", "z"],
            "no_apply": ["d"],
        },
    )
    # in_verified is not a label; no_apply means evaluated and not resolved
    assert read_resolved(path) == {"a": True, "c": True, "d": False}
    assert read_resolved(path, submitted=["a", "b", "c", "d"]) == {
        "a": True,
        "b": False,
        "c": True,
        "d": False,
    }

    plain = formats.write_json(tmp_path / "plain.json", ["a", "b"])
    assert read_resolved(plain) == {"a": True, "b": True}

    flags = formats.write_json(tmp_path / "flags.json", {"a": True, "b": False})
    assert read_resolved(flags) == {"a": True, "b": False}


def test_folder_of_per_instance_reports(tmp_path: Path, formats) -> None:
    logs = tmp_path / "logs" / "run_evaluation" / "run1" / "my-model"
    for iid, resolved in (("a__a-1", True), ("b__b-2", False)):
        formats.write_json(
            logs / iid / "report.json",
            {
                iid: {
                    "patch_is_None": False,
                    "patch_exists": True,
                    "resolved": resolved,
                    "tests_status": {},
                }
            },
        )
    (logs / "a__a-1" / "run_instance.log").write_text("not json")
    assert read_resolved(tmp_path / "logs") == {"a__a-1": True, "b__b-2": False}


def test_disagreeing_reports_in_one_folder(tmp_path: Path, formats) -> None:
    formats.write_json(tmp_path / "r1" / "a" / "report.json", {"a": {"resolved": True}})
    formats.write_json(tmp_path / "r2" / "a" / "report.json", {"a": {"resolved": False}})
    with pytest.raises(TrajectoryFormatError, match="read each run's folder on its own"):
        read_resolved(tmp_path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ({"total_instances": 3}, "field 'total_instances'"),
        ({"a": {"resolved": "yes"}}, "field 'a.resolved'"),
        ({"resolved": ["a", 7]}, "field 'resolved[1]'"),
        ([["a"]], "field '[0]'"),
    ],
)
def test_bad_reports(tmp_path: Path, formats, content, problem: str) -> None:
    path = formats.write_json(tmp_path / "report.json", content)
    with pytest.raises(
        TrajectoryFormatError, match=problem.replace("[", r"\[").replace("]", r"\]")
    ):
        read_resolved(path)


def test_empty_report_folder(tmp_path: Path) -> None:
    with pytest.raises(TrajectoryFormatError, match="no report.json file under this folder"):
        read_resolved(tmp_path)


def test_attach_labels_by_instance_and_by_run() -> None:
    trajs = [
        Trajectory(instance_id="a", source="x", run_id="r1"),
        Trajectory(instance_id="a", source="x", run_id="r2"),
        Trajectory(instance_id="b", source="x", run_id="r3", label=True),
    ]
    by_run = {"r1": {"a": True}, "r2": {"a": False}}

    labelled = attach_labels(trajs, {"a": True}, by_run=by_run)
    assert [t.label for t in labelled] == [True, False, True]  # r3 keeps its label
    assert [t.label for t in trajs] == [None, None, True]  # inputs are not modified

    assert [t.label for t in attach_labels(trajs, {}, missing=False)] == [False, False, False]
    assert [t.label for t in attach_labels(trajs, by_run={"r2": {}})] == [None, None, True]


def test_label_file_never_read_from_trajectory_text(tmp_path: Path, formats) -> None:
    """A trajectory that claims to be resolved is still unlabelled: labels come from reports."""
    record = formats.openhands_v0_record()
    record["test_result"]["report"] = {"resolved": True}
    record["resolved"] = True
    [traj] = load(formats.write_json(tmp_path / "r.json", record))
    assert traj.label is None
    assert os.path.basename(traj.source_path or "") == "r.json"


def test_openhands_evaluated_records(tmp_path: Path, formats) -> None:
    def evaluated(iid: str, resolved: object) -> dict:
        return {
            "instance_id": iid,
            "history": [],
            "test_result": {"report": {"resolved": resolved}},
        }

    path = formats.write_jsonl(
        tmp_path / "output.swebench_eval.jsonl", [evaluated("a", True), evaluated("b", False)]
    )
    assert read_resolved(path) == {"a": True, "b": False}

    bad = formats.write_jsonl(tmp_path / "bad.jsonl", [evaluated("a", True), evaluated("b", "no")])
    with pytest.raises(TrajectoryFormatError) as info:
        read_resolved(bad)
    assert (info.value.line, info.value.field) == (2, "test_result.report.resolved")
