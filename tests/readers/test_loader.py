from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from swerm_plugin.builtins.readers import builtin_adapters
from swerm_plugin.model import Trajectory
from swerm_plugin.readers import (
    TrajectoryAdapter,
    TrajectoryFormatError,
    detect_format,
    find_sources,
    load,
)


def test_format_comes_from_content_not_the_file_name(tmp_path: Path, formats) -> None:
    # Each file carries another format's usual name.
    cases = {
        "output.jsonl": (formats.sweagent_v1(), "swe-agent"),
        "x.traj": (formats.mini(), "mini-swe-agent"),
        "preds.json": (formats.openhands_v0_record(), "openhands-v0"),
        "events.traj.json": (formats.sdk_events(), "openhands-sdk"),
        "trajectory.traj": ([formats.prediction("a__a-1")], "swebench-predictions"),
    }
    for name, (content, expected) in cases.items():
        path = formats.write_json(tmp_path / name, content)
        assert detect_format(path) == expected, name
        assert len(list(load(path))) == 1


def test_sweagent_run_folder(tmp_path: Path, formats) -> None:
    run = tmp_path / "sweagent-run"
    for iid in ("b__b-2", "a__a-1"):
        formats.write_json(run / iid / f"{iid}.traj", formats.sweagent_v1(iid))
        formats.write_json(run / iid / f"{iid}.pred", formats.prediction(iid))
        (run / iid / f"{iid}.patch").write_text(formats.PATCH)
        (run / iid / f"{iid}.debug.log").write_text("INFO started\n")
    formats.write_json(run / "preds.json", {i: formats.prediction(i) for i in ("a__a-1", "b__b-2")})
    (run / "run_batch.config.yaml").write_text("agent: {}\n")
    (run / "run_batch_exit_statuses.yaml").write_text("instances_by_exit_status: {}\n")

    trajs = list(load(run))

    # one trajectory per instance, in path order; the predictions repeat them and are dropped
    assert [t.instance_id for t in trajs] == ["a__a-1", "b__b-2"]
    assert {t.source for t in trajs} == {"swe-agent/1.x"}
    assert {t.run_id for t in trajs} == {"sweagent-run"}
    assert detect_format(run) == "swe-agent"


def test_retry_agent_attempt_folders_are_not_read_twice(tmp_path: Path, formats) -> None:
    folder = tmp_path / "run" / "a__a-1"
    attempt = formats.sweagent_v1("a__a-1")
    formats.write_json(folder / "a__a-1.traj", {"attempts": [attempt, attempt], **attempt})
    formats.write_json(folder / "attempt_0" / "a__a-1.traj", attempt)
    formats.write_json(folder / "attempt_1" / "a__a-1.traj", attempt)

    trajs = list(load(tmp_path / "run"))

    assert [t.attempt for t in trajs] == [1, 2]
    assert {t.run_id for t in trajs} == {"run"}


def test_mini_run_folder_and_mixed_formats(tmp_path: Path, formats) -> None:
    formats.write_json(
        tmp_path / "mini" / "a__a-1" / "a__a-1.traj.json", formats.mini(iid="a__a-1")
    )
    (tmp_path / "mini" / "minisweagent.log").write_text("log")
    formats.write_jsonl(tmp_path / "oh" / "output.jsonl", [formats.openhands_v0_record()] * 2)

    assert detect_format(tmp_path) == "mini-swe-agent+openhands-v0"
    sources = find_sources(tmp_path)
    assert [(s.path.name, s.format) for s in sources] == [
        ("a__a-1.traj.json", "mini-swe-agent"),
        ("output.jsonl", "openhands-v0"),
    ]
    run = "some-model_maxiter_30_run_1"  # what the OpenHands records say
    assert [t.run_id for t in load(tmp_path)] == ["mini", run, run]


def test_predictions_only_folders_are_read(tmp_path: Path, formats) -> None:
    for run in ("run-a", "run-b"):
        formats.write_jsonl(
            tmp_path / run / "preds.jsonl", [formats.prediction("x__x-1", model=run)] * 2
        )
        formats.write_json(tmp_path / run / "resolved.json", {"resolved": ["x__x-1"]})
    trajs = list(load(tmp_path))
    assert [(t.run_id, t.model_name) for t in trajs] == [("run-a", "run-a")] * 2 + [
        ("run-b", "run-b")
    ] * 2


def test_run_id_argument_wins(tmp_path: Path, formats) -> None:
    path = formats.write_jsonl(tmp_path / "output.jsonl", [formats.openhands_v0_record()] * 2)
    assert {t.run_id for t in load(path, run_id="mine")} == {"mine"}


def test_badly_named_trajectory_file_in_a_walk_is_an_error(tmp_path: Path, formats) -> None:
    formats.write_json(tmp_path / "a__a-1" / "a__a-1.traj", formats.sweagent_v1())
    (tmp_path / "b__b-2").mkdir()
    (tmp_path / "b__b-2" / "b__b-2.traj").write_text('{"trajectory": [')
    (tmp_path / "notes.json").write_text("{ not json either")  # not named like one: skipped

    with pytest.raises(TrajectoryFormatError) as info:
        list(load(tmp_path))

    assert info.value.path == str(tmp_path / "b__b-2" / "b__b-2.traj")


def test_folder_without_trajectories(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# nothing here")
    with pytest.raises(TrajectoryFormatError, match="no trajectory files found in this folder"):
        list(load(tmp_path))
    with pytest.raises(TrajectoryFormatError, match="no trajectory files found"):
        detect_format(tmp_path)


def test_hidden_and_temporary_files_are_ignored(tmp_path: Path, formats) -> None:
    formats.write_json(tmp_path / "a.traj", formats.sweagent_v1())
    (tmp_path / ".a.traj.1234.tmp").write_text('{"trajectory": [')  # an atomic write in progress
    assert len(list(load(tmp_path))) == 1


def test_jsonl_is_streamed_lazily(tmp_path: Path, formats) -> None:
    path = formats.write_jsonl(tmp_path / "output.jsonl", [formats.openhands_v0_record()] * 3)
    with path.open("ab") as fh:
        fh.write(b"{broken\n")
    stream = load(path)
    assert next(iter(stream)).instance_id == "calc__calc-1"  # records before the damage are usable
    with pytest.raises(TrajectoryFormatError):
        list(stream)


class _YamlTrajectories(TrajectoryAdapter):
    """A third-party reader for a non-JSON format, to check the order readers are tried in."""

    name: ClassVar[str] = "yaml-demo"

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.startswith(b"instance: ")

    def read(self, path: Path) -> Iterator[Trajectory]:
        instance = path.read_text().split("instance: ", 1)[1].strip()
        yield Trajectory(instance_id=instance, source="yaml-demo/1")


class _GreedyJson(TrajectoryAdapter):
    """Claims every JSON object; registered first, it wins over the built-ins."""

    name: ClassVar[str] = "greedy"

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.lstrip().startswith(b"{")

    def read(self, path: Path) -> Iterator[Trajectory]:
        yield Trajectory(
            instance_id=json.loads(path.read_text()).get("instance_id", "?"), source="greedy"
        )


def test_readers_are_tried_in_order(tmp_path: Path, formats) -> None:
    yaml_file = tmp_path / "t.yaml"
    yaml_file.write_text("instance: demo__demo-1\n")
    record = formats.write_json(tmp_path / "r.json", formats.openhands_v0_record())

    readers = [_YamlTrajectories(), *builtin_adapters()]
    [traj] = load(yaml_file, adapters=readers)
    assert (traj.instance_id, traj.source, traj.run_id) == (
        "demo__demo-1",
        "yaml-demo/1",
        tmp_path.name,
    )
    assert traj.source_path == str(yaml_file)
    assert detect_format(record, adapters=readers) == "openhands-v0"
    assert detect_format(record, adapters=[_GreedyJson(), *builtin_adapters()]) == "greedy"


def test_reader_yielding_something_else_is_reported(tmp_path: Path) -> None:
    class Broken(_YamlTrajectories):
        def read(self, path: Path) -> Iterator[Trajectory]:
            yield {"instance_id": "x"}  # type: ignore[misc]

    path = tmp_path / "t.yaml"
    path.write_text("instance: x\n")
    with pytest.raises(TypeError, match="reader 'yaml-demo' yielded dict"):
        list(load(path, adapters=[Broken()]))


def test_openhands_evaluation_results_are_not_trajectories(tmp_path: Path, formats) -> None:
    formats.write_jsonl(tmp_path / "output.jsonl", [formats.openhands_v0_record()] * 2)
    evaluated = {**formats.openhands_v0_record(), "history": [], "test_result": {"report": {}}}
    formats.write_jsonl(tmp_path / "output.swebench_eval.jsonl", [evaluated] * 2)
    assert [s.path.name for s in find_sources(tmp_path)] == ["output.jsonl"]
