"""``swerm score --engine ray`` and ``score_dataset`` on a real local Ray cluster (2 CPUs, the
session's ``ray_cluster``) with the tiny model in float32: the same scores as one process, error
records for what cannot be read, and a job killed midway that resumes without duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from swerm_plugin.config import SwermConfig
from swerm_plugin.model import Score
from swerm_plugin.readers import load
from swerm_plugin.scale import score_dataset
from swerm_plugin.scale.shards import shard_records
from swerm_plugin.testing.cli import run_cli
from swerm_plugin.verifier import Verifier

pytestmark = pytest.mark.slow
#: fp32 on both sides; batches are composed differently, nothing else differs.
TOLERANCE = 1e-5


def write_run(folder: Path, documents: list[dict[str, Any]]) -> Path:
    for document in documents:
        iid = document["instance_id"]
        path = folder / iid / f"{iid}.traj.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document))
    return folder


def plain_scores(config: SwermConfig, path: Path) -> dict[str, Score]:
    """``swerm score`` in one process: content hash -> score."""
    trajectories = list(load(path, on_error=lambda _: None))
    with Verifier(config) as verifier:
        scores = verifier.score(trajectories)
    return {t.content_hash(): s for t, s in zip(trajectories, scores, strict=True)}


def read_records(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def assert_same_scores(records: list[dict[str, Any]], plain: dict[str, Score]) -> None:
    by_hash = {r["content_hash"]: r for r in records if r["error"] is None}
    assert by_hash.keys() == plain.keys()
    for key, score in plain.items():
        record = by_hash[key]
        assert record["raw"] == pytest.approx(score.raw, abs=TOLERANCE)
        assert record["calibrated"] == pytest.approx(score.calibrated, abs=TOLERANCE)
        assert (record["n_tokens"], record["truncated"]) == (score.n_tokens, score.truncated)
    raws = [s.raw or 0.0 for s in plain.values()]
    assert max(raws) - min(raws) > 0.01  # a constant would match by luck


@pytest.fixture(scope="module")
def fp32(tiny_model_dir: Path) -> SwermConfig:
    return SwermConfig(model=str(tiny_model_dir), backend="transformers", dtype="float32")


def test_cli_on_ray_gives_the_single_process_scores(
    ray_cluster: str,
    tiny_model_dir: Path,
    fp32: SwermConfig,
    mini_document: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    runs = write_run(tmp_path / "run", [mini_document(seed) for seed in range(10)])
    broken = runs / "broken" / "broken.traj.json"
    broken.parent.mkdir()
    broken.write_text('{"messages": [')
    out = tmp_path / "scores.jsonl"
    args = ["score", runs, "--engine", "ray", "--address", ray_cluster, "--actors", 2]
    result = run_cli(*args, "--chunk-size", 3, "--model", tiny_model_dir, "-o", out)

    assert result.exit_code == 3, result.stderr  # partial: one file could not be read
    assert "scored 10, failed 1" in result.stderr
    assert f"failed: ? ({broken}): read failed: {broken}, line 1: truncated JSON" in result.stderr
    records = read_records(out)
    assert len(records) == 11 == len({r["content_hash"] for r in records})
    assert_same_scores(records, plain_scores(fp32, runs))
    (error,) = [r for r in records if r["error"] is not None]
    assert error["source_path"] == str(broken) and error["raw"] is None
    assert error["error"].startswith(f"read failed: {broken}, line 1")
    shards = list(shard_records(out.with_name("scores.jsonl.shards")))
    assert sorted(orjson.dumps(r) for r in shards) == sorted(orjson.dumps(r) for r in records)

    again = run_cli(*args, "--model", tiny_model_dir, "-o", out)
    assert again.exit_code == 0, again.stderr
    assert "scored 0, failed 0, skipped 11" in again.stderr and read_records(out) == records


def test_a_dataset_of_documents_keeps_going_past_bad_documents(
    ray_cluster: str,
    fp32: SwermConfig,
    mini_document: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    import ray.data

    documents = [mini_document(seed) for seed in range(20, 26)]
    rows = [
        {"document": json.dumps(d), "source_path": f"mem/{i}.json"} for i, d in enumerate(documents)
    ]
    rows.insert(2, {"document": '{"messages": [', "source_path": "mem/torn.json"})
    rows.insert(5, {"document": json.dumps({"hello": "world"}), "source_path": "mem/odd.json"})
    result = score_dataset(ray.data.from_items(rows), config=fp32, batch_size=2)

    assert (result.scored, result.failed) == (6, 2)
    errors = {r["source_path"]: r["error"] for r in result.records if r["error"] is not None}
    assert errors["mem/torn.json"].startswith("read failed: mem/torn.json, line 1: ")
    assert "unknown trajectory format" in errors["mem/odd.json"]
    assert "mini-swe-agent" in errors["mem/odd.json"]  # names the readers it tried
    # The same documents as files: the same trajectories (content hashes) and scores.
    plain = plain_scores(fp32, write_run(tmp_path / "run", documents))
    assert_same_scores(result.records, plain)


JOB = textwrap.dedent(
    """
    import json, sys, time
    import ray
    from swerm_plugin.config import SwermConfig
    from swerm_plugin.scale import score_dataset

    address, model, documents, output = sys.argv[1:5]
    ray.init(address=address, logging_level="WARNING")

    def slow(row):
        time.sleep(0.4)  # a job that takes a while: it is killed midway
        return row

    rows = [{"document": line} for line in open(documents).read().splitlines()]
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map(slow)
    config = SwermConfig(model=model, backend="transformers", dtype="float32")
    score_dataset(dataset, config=config, output=output, batch_size=2, shard_size=1, flush_s=0)
    """
)


def test_a_killed_job_resumes_without_duplicates(
    ray_cluster: str,
    tiny_model_dir: Path,
    fp32: SwermConfig,
    mini_document: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    import ray.data

    lines = [json.dumps(mini_document(seed)) for seed in range(40, 56)]
    (tmp_path / "docs.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "job.py").write_text(JOB)
    out, shards = tmp_path / "scores.jsonl", tmp_path / "scores.jsonl.shards"
    command = [sys.executable, str(tmp_path / "job.py"), ray_cluster, str(tiny_model_dir)]
    job = subprocess.Popen(
        [*command, str(tmp_path / "docs.jsonl"), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not (shards.is_dir() and any(shards.glob("part-*.jsonl"))):
            assert job.poll() is None, job.stderr.read().decode()[-3000:] if job.stderr else ""
            assert time.monotonic() < deadline, "no shard written in 180 s"
            time.sleep(0.05)
    finally:
        os.killpg(job.pid, signal.SIGKILL)  # the driver, as a crash or a pre-empted node would
        job.wait(timeout=30)
    finished = {r["content_hash"] for r in shard_records(shards)}
    assert 1 <= len(finished) < len(lines), "the job was to be killed midway"

    rows = [{"document": line} for line in lines]
    result = score_dataset(ray.data.from_items(rows), config=fp32, output=out, batch_size=4)
    assert (result.skipped, result.scored) == (len(finished), len(lines) - len(finished))
    records = read_records(out)
    assert len(records) == len(lines) == len({r["content_hash"] for r in records})
    assert all(r["error"] is None for r in records)
    assert finished <= {r["content_hash"] for r in records}
    assert {r["content_hash"] for r in shard_records(shards)} == {
        r["content_hash"] for r in records
    }


def scoring_actors() -> list[int]:
    """The processes of this session's scoring actors: descendants of this process (the local
    cluster's raylet started them) whose title names the actor class."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])

    def descends(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    found = []
    for pid in filter(descends, parents):
        try:
            if b"ScoreActor" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def test_an_actor_that_dies_midway_loses_nothing(
    ray_cluster: str,
    fp32: SwermConfig,
    mini_document: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    import ray.data

    def slow(row: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.3)  # the actor is killed while batches are still to come
        return row

    lines = [json.dumps(mini_document(seed)) for seed in range(60, 76)]
    rows = ray.data.from_items([{"document": line} for line in lines], override_num_blocks=16)
    out, shards = tmp_path / "scores.jsonl", tmp_path / "scores.jsonl.shards"
    killed: list[int] = []

    def kill_an_actor_after_the_first_shard() -> None:
        deadline = time.monotonic() + 180
        while not (shards.is_dir() and any(shards.glob("part-*.jsonl"))):
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        for pid in scoring_actors():
            os.kill(pid, signal.SIGKILL)  # out of memory, a lost node: the process is gone
            killed.append(pid)

    killer = threading.Thread(target=kill_an_actor_after_the_first_shard, daemon=True)
    killer.start()
    result = score_dataset(
        rows.map(slow), config=fp32, output=out, batch_size=2, shard_size=1, flush_s=0
    )
    killer.join(timeout=10)

    assert killed, "no scoring actor was found to kill"
    assert (result.scored, result.failed) == (len(lines), 0), result.failures
    records = read_records(out)
    assert len(records) == len(lines) == len({r["content_hash"] for r in records})
