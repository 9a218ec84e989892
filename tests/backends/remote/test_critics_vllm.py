"""The OpenHands critic presets against real vLLM CPU servers with their head shapes.

* ``openhands-critic-4b``: a tiny ``Qwen3ForSequenceClassification`` with the 27 outputs of the
  SDK's label space, served by ``--runner pooling``; the score is ``sigmoid(logit[success])``.
* ``openhands-critic-32b``: a tiny ``Qwen2ForTokenClassification`` with one biased output per
  token (the 32B's head), read through ``/pooling`` at the last assistant turn's end.

Each test starts its model's server and stops it when done (one at a time).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.config import load_config
from swerm_plugin.model import Trajectory
from swerm_plugin.presets.builtin import OPENHANDS_CRITIC_LABELS
from swerm_plugin.testing import make_tiny_model
from swerm_plugin.testing.vllm_cpu import VllmServer
from swerm_plugin.verifier import Verifier

from .conftest import sample_trajectories, start_vllm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trajectories() -> list[Trajectory]:
    return sample_trajectories(3, 2, seed=5)


def local_head_outputs(model_dir: Path, head: str, token_ids: list[list[int]]) -> list[float]:
    """The head's raw output for each prompt, in transformers (fp32): output 0 at the last
    token (for a sequence classifier, that is where it reads)."""
    import torch
    import transformers

    auto = {
        "seq_cls": transformers.AutoModelForSequenceClassification,
        "token_cls": transformers.AutoModelForTokenClassification,
    }[head]
    model = auto.from_pretrained(model_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        outputs = [model(torch.tensor([ids])).logits for ids in token_ids]
    if head == "seq_cls":
        return [float(out[0, 0]) for out in outputs]
    return [float(out[0, -1, 0]) for out in outputs]


def critic_scores(
    preset: str, server: VllmServer, model_dir: Path, trajectories: list[Trajectory]
) -> tuple[list[float], list[list[int]], list[bool]]:
    config = load_config(
        environ={},
        verifier=preset,
        model=server.served_name,
        remote={"endpoints": [server.url], "tokenizer": str(model_dir)},
    )
    with Verifier(config) as verifier:
        prompts = [verifier.render(t) for t in trajectories]
        scores = verifier.score(trajectories)
    assert all(s.ok for s in scores), [s.error for s in scores]
    assert {s.backend for s in scores} == {"classify"}
    ids = [p.token_ids or [] for p in prompts]
    return [s.raw or 0.0 for s in scores], ids, [s.approximate for s in scores]


def serve_tiny(
    python: Path, tmp_path_factory: pytest.TempPathFactory, name: str, **model: Any
) -> Iterator[tuple[VllmServer, Path]]:
    """A tiny model of the given shape, served by the pooling runner, as ``name``."""
    folder = make_tiny_model(tmp_path_factory.mktemp(name) / "model", **model)
    with start_vllm(python, folder, name, folder.parent, ["--runner", "pooling"]) as server:
        yield server, folder


@pytest.fixture(scope="module")
def critic_4b(
    vllm_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[VllmServer, Path]]:
    yield from serve_tiny(
        vllm_python,
        tmp_path_factory,
        "critic-4b",
        architecture="qwen3",
        head="seq_cls",
        labels=OPENHANDS_CRITIC_LABELS,
    )


def test_openhands_critic_4b_reads_the_success_output(
    critic_4b: tuple[VllmServer, Path], trajectories: list[Trajectory]
) -> None:
    import math

    server, folder = critic_4b
    scores, ids, approximate = critic_scores("openhands-critic-4b", server, folder, trajectories)
    logits = local_head_outputs(folder, "seq_cls", ids)
    for value, logit in zip(scores, logits, strict=True):
        assert value == pytest.approx(1 / (1 + math.exp(-logit)), abs=1e-3)
    assert not any(approximate)
    assert max(scores) - min(scores) > 0.02


@pytest.fixture(scope="module")
def critic_32b(
    vllm_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[VllmServer, Path]]:
    yield from serve_tiny(
        vllm_python,
        tmp_path_factory,
        "critic-32b",
        architecture="qwen2",
        head="token_cls",
        initializer_range=0.02,  # keeps the value near [0, 1] for most prompts
    )


def test_openhands_critic_32b_reads_the_value_at_the_last_turns_end(
    critic_32b: tuple[VllmServer, Path], trajectories: list[Trajectory]
) -> None:
    server, folder = critic_32b
    scores, ids, approximate = critic_scores("openhands-critic-32b", server, folder, trajectories)
    end = ids[0][-1]
    assert all(prompt[-1] == end for prompt in ids)  # every prompt stops at <|im_end|>
    values = local_head_outputs(folder, "token_cls", ids)
    for score, value, flagged in zip(scores, values, approximate, strict=True):
        assert score == pytest.approx(min(1.0, max(0.0, value)), abs=1e-3)
        assert flagged == (not 0.0 <= value <= 1.0)
