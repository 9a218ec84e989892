"""The parts of a Ray job that run without a cluster: reading documents and files into rows, the
scoring actor's work on a batch, shards and their recovery, the actor plan's checks, and the
command line's refusals. The job on a real cluster is in ``test_ray_job.py``."""

from __future__ import annotations

import json
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from swerm_plugin.config import RemoteConfig, SwermConfig
from swerm_plugin.errors import (
    BackendUnavailable,
    ConfigError,
    OutputFileError,
    ScaleError,
    TrajectoryFormatError,
)
from swerm_plugin.model import Score, Trajectory
from swerm_plugin.scale import stages
from swerm_plugin.scale.actors import plan_actors
from swerm_plugin.scale.job import ScaleResult, _import_ray, _sources_dataset, _swerm_cause
from swerm_plugin.scale.shards import Collector, ShardedOutput, shard_records
from swerm_plugin.scores import score_record
from swerm_plugin.testing.cli import run_cli
from swerm_plugin.verifier import Verifier

Document = Callable[..., dict[str, Any]]


def read(document: Any, *, done: frozenset[str] = frozenset(), path: str | None = "m.json") -> Any:
    row = {"document": document, "source_path": path}
    return stages.read_document(row, column="document", path_column="source_path", done=done)


def test_a_document_becomes_its_trajectory_row(mini_document: Document) -> None:
    text = json.dumps(mini_document(1))
    (row,) = read(text)
    trajectory = pickle.loads(row["trajectory"])
    assert row["status"] == stages.TODO and row["key"] == trajectory.content_hash()
    assert trajectory.instance_id == "acme__widgets-1" and trajectory.source_path == "m.json"
    assert read(text.encode()) == [row]  # bytes, as read_binary_files gives them
    (skipped,) = read(text, done=frozenset({row["key"]}))
    assert (skipped["status"], skipped["trajectory"]) == (stages.SKIPPED, b"")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"messages": [', "read failed: m.json, line 1: truncated JSON"),
        ({"messages": []}, "a document must be JSON text (str or bytes), not dict"),
        ('{"hello": 1}', "unknown trajectory format (readers tried: "),
    ],
    ids=["torn", "not-text", "unknown"],
)
def test_a_bad_document_becomes_an_error_record(document: Any, message: str) -> None:
    (row,) = read(document)
    record = orjson.loads(row["record"])
    assert row["status"] == stages.FAILED and row["key"].startswith(stages.READ_ERROR_KEY)
    assert record["content_hash"] == row["key"] and record["raw"] is None
    assert message in record["error"] and record["source_path"] == "m.json"
    assert read(document) == [row]  # the same key next time: a resumed job skips it
    (skipped,) = read(document, done=frozenset({row["key"]}))
    assert skipped["status"] == stages.SKIPPED


def test_documents_without_a_path_get_a_name_from_their_content() -> None:
    (first,) = read('{"hello": 1}', path=None)
    (second,) = read('{"hello": 2}', path=None)
    names = {orjson.loads(r["record"])["source_path"] for r in (first, second)}
    assert len(names) == 2 and all(n.startswith("document-") for n in names)


def test_a_source_file_is_read_with_its_reader(mini_document: Document, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.traj.json", tmp_path / "bad.traj.json"
    good.write_text(json.dumps(mini_document(2)))
    bad.write_text(json.dumps({**mini_document(3), "messages": "not a list"}))
    (row,) = stages.read_source({"path": str(good), "format": "mini-swe-agent"}, done=frozenset())
    assert pickle.loads(row["trajectory"]).source_path == str(good)
    (error,) = stages.read_source({"path": str(bad), "format": "mini-swe-agent"}, done=frozenset())
    assert error["status"] == stages.FAILED
    assert orjson.loads(error["record"])["error"].startswith(f"read failed: {bad}")


@pytest.fixture(scope="module")
def actor(tiny_model_dir: Path) -> stages.ScoreActor:
    return stages.ScoreActor(SwermConfig(model=str(tiny_model_dir), dtype="float32"), threads=1)


def batch_of(documents: list[dict[str, Any]], config: SwermConfig) -> Any:
    rows = [row for d in documents for row in read(json.dumps(d))]
    rows += read('{"hello": 1}')  # an error row passes through untouched
    table = stages.table({name: [r[name] for r in rows] for name in stages.COLUMNS})
    return stages.render_batch(table, config=config)


def test_the_actor_scores_what_the_render_task_prepared(
    actor: stages.ScoreActor, mini_document: Document
) -> None:
    documents = [mini_document(seed) for seed in (4, 5)]
    out = stages.columns(actor(batch_of(documents, actor.verifier.config)))
    assert out["status"] == [stages.SCORED, stages.SCORED, stages.FAILED]
    records = [orjson.loads(r) for r in out["record"]]
    trajectories = [pickle.loads(read(json.dumps(d))[0]["trajectory"]) for d in documents]
    with Verifier(actor.verifier.config) as verifier:
        expected = verifier.score(trajectories)
    for record, score in zip(records, expected, strict=False):
        assert record["raw"] == pytest.approx(score.raw, abs=1e-6)
    assert "unknown trajectory format" in records[2]["error"]


def test_a_failing_batch_gives_each_trajectory_its_error(
    actor: stages.ScoreActor, mini_document: Document, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: Any) -> list[Score]:
        raise RuntimeError("boom")

    monkeypatch.setattr(actor.verifier, "score_rendered", boom)
    out = stages.columns(actor(batch_of([mini_document(6)], actor.verifier.config)))
    record = orjson.loads(out["record"][0])
    assert out["status"][0] == stages.SCORED and record["instance_id"] == "acme__widgets-6"
    assert record["error"] == "scoring failed: RuntimeError: boom" and record["raw"] is None


def record(n: int, *, error: str | None = None) -> dict[str, Any]:
    trajectory = Trajectory(instance_id=f"t-{n}", source="test")
    return score_record(trajectory, Score(raw=None if error else 0.5, error=error))


def test_shards_recover_what_the_jsonl_lacks(tmp_path: Path) -> None:
    out, folder = tmp_path / "scores.jsonl", tmp_path / "scores.jsonl.shards"
    with ShardedOutput(out, folder, inputs=[]) as sink:
        sink.write([record(1), record(2)])
        sink.write([record(3, error="backend failed")])
    lines = out.read_bytes().splitlines()
    out.write_bytes(lines[0] + b"\n")  # killed between the shard and the JSONL
    (folder / ".part-x.jsonl.1234.tmp").write_text("half a shard")  # an unfinished temp file
    with ShardedOutput(out, folder, inputs=[]) as sink:
        assert sink.recovered == 2 and len(sink.done) == 3
    assert sorted(out.read_bytes().splitlines()) == sorted(lines)
    assert len(list(shard_records(folder))) == 3


def test_a_shard_changed_by_hand_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "s.shards"
    folder.mkdir()
    (folder / "part-1-000001.jsonl").write_text('{"content_hash": "a", "raw": 0.5')
    with pytest.raises(OutputFileError, match="part-1-000001.jsonl, line 1") as caught:
        ShardedOutput(tmp_path / "s.jsonl", folder, inputs=[]).__enter__()
    assert caught.value.hint is not None and "move" in caught.value.hint


def test_the_collector_counts_drops_duplicates_and_batches(tmp_path: Path) -> None:
    delivered: list[list[dict[str, Any]]] = []
    collector = Collector(delivered.append, shard_size=3, flush_s=3600)
    raw = {n: orjson.dumps(record(n, error="x" if n == 2 else None)) for n in (1, 2, 3)}
    collector.take([("k1", "scored", raw[1]), ("k1", "scored", raw[1]), ("k9", "skipped", b"")])
    assert delivered == []  # two records: below the shard size
    collector.take([("k2", "scored", raw[2]), ("k3", "scored", raw[3])])
    assert [len(batch) for batch in delivered] == [3]
    tally = collector.tally
    assert (tally.scored, tally.failed, tally.skipped, tally.duplicates) == (2, 1, 1, 1)
    assert tally.failures == [
        {"instance_id": "t-2", "source_path": None, "attempt": 1, "error": "x"}
    ]


def cluster(cpus: float, gpus: float = 0) -> Any:
    return SimpleNamespace(cluster_resources=lambda: {"CPU": cpus, "GPU": gpus})


def test_the_actor_plan_fits_the_cluster_or_says_why_not(tiny_model_dir: Path) -> None:
    local = SwermConfig(model=str(tiny_model_dir))
    plan = plan_actors(cluster(2), local, 1, 0, None, None)
    assert (plan.cpus, plan.gpus, plan.threads) == (0.5, 0, 2)
    assert plan_actors(cluster(2), local, 2, 0, None, None).threads == 1
    with pytest.raises(ScaleError, match="3 actors x 0.5 CPUs leave less than one of the clus"):
        plan_actors(cluster(2), local, 3, 0, None, None)
    with pytest.raises(ScaleError, match="need 2 GPUs; the Ray cluster has 1"):
        plan_actors(cluster(16, gpus=1), local, 2, 1, None, None)
    remote = SwermConfig(backend="vllm", model="m", remote=RemoteConfig(endpoints=["http://x"]))
    assert plan_actors(cluster(2), remote, 4, 0, None, None).cpus == 0.25
    with pytest.raises(ConfigError, match="give the GPUs to the vLLM replicas"):
        plan_actors(cluster(16, gpus=8), remote, 2, 1, None, None)


def test_without_ray_the_engine_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ScaleError, match="the Ray engine needs Ray Data") as caught:
        _import_ray()
    assert caught.value.hint == "install the ray extra: pip install 'swerm-plugin[ray]'"


def test_the_command_line_refuses_ray_options_without_the_ray_engine(tmp_path: Path) -> None:
    result = run_cli("score", tmp_path, "--actors", 2)
    assert result.exit_code == 2
    assert "swerm: error: --address, --actors and --gpus-per-actor need --engine ray" in (
        result.stderr
    )
    result = run_cli("score", tmp_path, "--engine", "ray", "--explain")
    assert result.exit_code == 2 and "run it without --engine ray" in result.stderr
    result = run_cli("score", tmp_path, "--engine", "ray", "--json")
    assert result.exit_code == 2 and "work with --engine local only" in result.stderr
    result = run_cli("score", tmp_path, "--engine", "ray", "--topk", 5)
    assert result.exit_code == 2 and "--topk work with --engine local only" in result.stderr
    assert "--gpus-per-actor" in run_cli("score", "--help").stdout


def test_the_summary_says_what_happened() -> None:
    done = ScaleResult(scored=3, skipped=2, output=Path("s.jsonl"), shards=1)
    assert done.summary().startswith("scored 3, failed 0, skipped 2 (already in s.jsonl)")
    assert "2 duplicates not scored twice" in ScaleResult(scored=1, duplicates=2).summary()


def test_a_workers_swerm_error_reaches_the_driver_as_itself() -> None:
    original = BackendUnavailable("cannot load weights of 'm': no model.safetensors")

    class Wrapped(Exception):  # what Ray raises for a task's exception: the original in .cause
        cause = original

    assert _swerm_cause(Wrapped("RayTaskError(BackendUnavailable): ...")) is original
    # An actor that failed to start: Ray keeps only the traceback text.
    died = RuntimeError(
        "The actor died because of an error raised in its creation task\n  File ...\n"
        "swerm_plugin.errors.BackendUnavailable: cannot load weights of 'm': no safetensors\n"
    )
    rebuilt = _swerm_cause(died)
    assert isinstance(rebuilt, BackendUnavailable)
    assert str(rebuilt) == "cannot load weights of 'm': no safetensors"
    assert _swerm_cause(RuntimeError("out of memory")) is None


def test_an_empty_folder_is_an_error_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(TrajectoryFormatError, match="no trajectory files found in this folder"):
        _sources_dataset(None, [tmp_path], frozenset(), Collector(print, shard_size=1, flush_s=0))
