"""Each preset scores through the backend it names, against real vLLM CPU servers.

The judges (``swe-rm``, ``swe-gym-verifier``, ``r2e-gym-verifier``) go through ``vllm``
(``/generative_scoring``) on the session's generating server; the same model converted to a
one-logit classifier answers ``/classify`` on the session's classifying server, and must agree
with ``/generative_scoring`` on the same prompts. The OpenHands critics' heads are in
``test_critics_vllm.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.config import load_config
from swerm_plugin.model import Score, Trajectory
from swerm_plugin.testing.vllm_cpu import VllmServer
from swerm_plugin.verifier import Verifier

from .conftest import CLASSIFY_NAME, GENERATE_NAME, sample_trajectories

pytestmark = pytest.mark.slow
AGREEMENT = 1e-3


@pytest.fixture(scope="module")
def trajectories() -> list[Trajectory]:
    """12 trajectories: 4 tasks with 3 candidates each (candidates share a prefix)."""
    return sample_trajectories(4, 3, seed=11)


def score(trajectories: list[Trajectory], **settings: Any) -> list[Score]:
    with Verifier(load_config(environ={}, **settings)) as verifier:
        scores = verifier.score(trajectories)
    assert all(s.ok for s in scores), [s.error for s in scores]
    return scores


def remote(url: str, tokenizer: Path, **extra: Any) -> dict[str, Any]:
    return {"endpoints": [url], "tokenizer": str(tokenizer), **extra}


def assert_agree(theirs: list[Score], ours: list[Score], tolerance: float) -> None:
    for remote_score, local_score in zip(theirs, ours, strict=True):
        assert remote_score.raw == pytest.approx(local_score.raw, abs=tolerance)
        assert remote_score.n_tokens == local_score.n_tokens
    values = [s.raw or 0.0 for s in ours]
    assert max(values) - min(values) > 0.02  # the scores spread: agreement is not by luck


@pytest.mark.parametrize("preset", ["swe-rm", "swe-gym-verifier", "r2e-gym-verifier"])
def test_judge_presets_score_through_vllm(
    vllm_server: VllmServer,
    served_model_dir: Path,
    trajectories: list[Trajectory],
    preset: str,
) -> None:
    remote_scores = score(
        trajectories,
        verifier=preset,
        model=GENERATE_NAME,
        remote=remote(vllm_server.url, served_model_dir),
    )
    assert {s.backend for s in remote_scores} == {"vllm"}
    local_scores = score(
        trajectories,
        verifier=preset,
        model=str(served_model_dir),
        backend="transformers",
        dtype="float32",
    )
    assert {s.template for s in local_scores} == {s.template for s in remote_scores}
    assert_agree(remote_scores, local_scores, AGREEMENT)


def test_converted_classifier_agrees_with_generative_scoring(
    vllm_server: VllmServer,
    vllm_classify_server: VllmServer,
    served_model_dir: Path,
    trajectories: list[Trajectory],
) -> None:
    """`swerm convert seq-cls` output on vLLM's /classify against the original model's
    /generative_scoring: the same prompts (token ids), the same P(YES) within 1e-3."""
    generative = score(
        trajectories,
        backend="vllm",
        model=GENERATE_NAME,
        remote=remote(vllm_server.url, served_model_dir),
    )
    classified = score(
        trajectories,
        backend="classify",
        model=CLASSIFY_NAME,
        remote=remote(vllm_classify_server.url, served_model_dir),
    )
    assert {s.backend for s in classified} == {"classify"}
    assert_agree(classified, generative, AGREEMENT)
