"""The ``judge`` backend against a real vLLM CPU server, through litellm's chat completions.

The served model is the tiny random verifier (its ``<YES>``/``<NO>`` rows lifted so both are
among the top log-probs): its numbers mean nothing, but the plumbing is real. Verdict-only
judging must read exactly the model's next-token distribution at the pre-filled verdict position
(checked against transformers on the same weights and the same chat text); with a rationale, the
tiny model writes no verdict line, and every trajectory is an error, never a number.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.config import RemoteConfig, SwermConfig
from swerm_plugin.judge.settings import JudgeConfig
from swerm_plugin.model import Trajectory
from swerm_plugin.testing.vllm_cpu import VllmServer
from swerm_plugin.verifier import Verifier

from .conftest import GENERATE_NAME, judge_messages, judge_verdict_ids, sample_trajectories

pytestmark = pytest.mark.slow
AGREEMENT = 1e-3
VERDICTS = ("<YES>", "<NO>")


def judge_on(server: VllmServer, **judge: Any) -> SwermConfig:
    return SwermConfig(
        backend="judge",
        max_tokens=1500,  # the prompt's budget: it and the answer must fit the 4096 context
        remote=RemoteConfig(endpoints=[server.url]),
        judge=JudgeConfig(model=GENERATE_NAME, verdicts=VERDICTS, **judge),
    )


def local_p_yes(model_dir: Path, trajectory: Trajectory) -> float:
    """P(<YES>) over the two verdicts after the pre-filled answer, by transformers on the same
    weights and the same chat text."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        ids = judge_verdict_ids(tokenizer, trajectory)
        logits = model(torch.tensor([ids])).logits[0, -1]
    yes, no = tokenizer.convert_tokens_to_ids(list(VERDICTS))
    return 1.0 / (1.0 + math.exp(float(logits[no] - logits[yes])))


@pytest.fixture(scope="module")
def trajectories() -> list[Trajectory]:
    return sample_trajectories(3, 2, seed=11)


def test_judge_verdict_only_against_a_real_vllm_server(
    vllm_server: VllmServer, served_model_dir: Path, trajectories: list[Trajectory]
) -> None:
    config = judge_on(vllm_server, mode="verdict")
    with Verifier(config) as verifier:
        rendered = [verifier.render(t).messages for t in trajectories]
        scores = verifier.score(trajectories)
    # The conftest's test-side rendering is the backend's own.
    assert rendered == [judge_messages(t) for t in trajectories]
    assert all(s.error is None for s in scores), [s.error for s in scores]
    assert all(s.template == "judge-verdict" and s.sanitized for s in scores)
    assert all(s.prompt_tokens and s.completion_tokens == 1 for s in scores)
    assert all(s.cost_usd is None for s in scores), "a self-hosted model has no price"
    # Both verdicts are among the top 20 (the served copy lifts them), so every score is exact
    # and is the model's own distribution at the verdict position.
    assert not any(s.approximate for s in scores)
    for trajectory, score in zip(trajectories, scores, strict=True):
        assert score.raw == pytest.approx(local_p_yes(served_model_dir, trajectory), abs=AGREEMENT)
    assert len({round(s.raw or 0, 4) for s in scores}) > 1, "the scores must differ"


def test_judge_rationale_without_a_verdict_line_is_an_error_on_vllm(
    vllm_server: VllmServer, trajectories: list[Trajectory]
) -> None:
    config = judge_on(vllm_server, max_rationale_tokens=12)
    with Verifier(config) as verifier:
        # The served context, from vLLM's /v1/models, less the answer's tokens.
        assert verifier.backend.discover_context_length() == 4096 - 12
        scores = verifier.score(trajectories[:2])
    for score in scores:
        assert score.raw is None and score.calibrated is None
        assert "judge backend:" in (score.error or "")
        assert score.completion_tokens == 12, "the rationale ran to its token limit"
