"""A remote backend through Ray actors: light actors (a quarter of a CPU each) send the prompts
the render tasks made to the real vLLM CPU server, and give the scores one process gets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.config import RemoteConfig, SwermConfig
from swerm_plugin.readers import load
from swerm_plugin.scale import score_dataset
from swerm_plugin.testing.vllm_cpu import VllmServer
from swerm_plugin.verifier import Verifier

from .conftest import GENERATE_NAME

pytestmark = pytest.mark.slow
#: The same server and token ids on both sides; only the requests' grouping differs.
TOLERANCE = 1e-4


def test_vllm_scores_through_ray_actors_match_one_process(
    ray_cluster: str,
    vllm_server: VllmServer,
    served_model_dir: Path,
    mini_document: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    for seed in range(8):
        document = mini_document(seed)
        path = run / document["instance_id"] / "t.traj.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(document))
    remote = RemoteConfig(endpoints=[vllm_server.url], tokenizer=str(served_model_dir))
    config = SwermConfig(backend="vllm", model=GENERATE_NAME, remote=remote)
    out = tmp_path / "scores.jsonl"
    result = score_dataset([run], config=config, output=out, actors=2, batch_size=3)

    assert (result.scored, result.failed) == (8, 0), result.failures
    records = {r["content_hash"]: r for r in map(json.loads, out.read_text().splitlines())}
    trajectories = list(load(run))
    with Verifier(config) as verifier:
        expected = verifier.score(trajectories)
    assert records.keys() == {t.content_hash() for t in trajectories}
    for trajectory, score in zip(trajectories, expected, strict=True):
        record = records[trajectory.content_hash()]
        assert (record["backend"], record["model"]) == ("vllm", GENERATE_NAME)
        assert record["raw"] == pytest.approx(score.raw, abs=TOLERANCE)
        assert record["n_tokens"] == score.n_tokens
    assert max(s.raw or 0 for s in expected) - min(s.raw or 0 for s in expected) > 0.01
