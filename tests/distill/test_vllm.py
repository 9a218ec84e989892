"""The distilled student served by a real vLLM CPU server: the ``vllm`` and ``openai`` backends
find its card through ``remote.tokenizer`` and apply its temperature, agreeing with the
transformers backend; and the top-K that ``swerm score --topk`` records is the same through the
transformers backend and the openai backend (completions) to 1e-3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from swerm_plugin.config import RemoteConfig, SwermConfig
from swerm_plugin.model import Score, TopLogprobs, Trajectory
from swerm_plugin.testing.vllm_cpu import VllmEnvError, VllmServer, ensure_vllm_env
from swerm_plugin.verifier import Verifier

from .conftest import REPO, TEMPLATE, Distilled, RuleData, held_out

pytestmark = pytest.mark.slow
AGREEMENT = 1e-3
SERVED_NAME = "swerm-student"


@pytest.fixture(scope="module")
def student_server(
    distilled: Distilled, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VllmServer]:
    try:
        python = ensure_vllm_env(REPO / ".venv-vllm")
    except VllmEnvError as exc:
        pytest.fail(f"cannot build the vLLM environment (.venv-vllm): {exc}", pytrace=False)
    log = tmp_path_factory.mktemp("vllm-student") / "server.log"
    server = VllmServer(python, distilled.output, served_name=SERVED_NAME, log_path=log)
    with server:
        yield server


@pytest.fixture(scope="module")
def trajectories(rule_data: RuleData) -> list[Trajectory]:
    return held_out(rule_data)[:24]


def score(config: SwermConfig, trajectories: list[Trajectory]) -> list[Score]:
    with Verifier(config) as verifier:
        scores = verifier.score(trajectories)
    assert all(s.ok for s in scores), [s.error for s in scores]
    return scores


def remote(backend: str, server: VllmServer, folder: Path, **settings: object) -> SwermConfig:
    return SwermConfig(
        backend=backend,
        model=SERVED_NAME,
        template=TEMPLATE,
        remote=RemoteConfig(endpoints=[server.url], tokenizer=str(folder)),
        **settings,  # type: ignore[arg-type]
    )


def local(folder: Path, **settings: object) -> SwermConfig:
    return SwermConfig(
        backend="transformers",
        model=str(folder),
        template=TEMPLATE,
        **settings,  # type: ignore[arg-type]
    )


def test_the_served_student_scores_with_its_temperature(
    student_server: VllmServer, distilled: Distilled, trajectories: list[Trajectory]
) -> None:
    temperature = distilled.card["temperature"]
    ours = score(local(distilled.output), trajectories)
    for backend in ("vllm", "openai"):
        theirs = score(remote(backend, student_server, distilled.output), trajectories)
        for a, b in zip(theirs, ours, strict=True):
            assert a.temperature == b.temperature == temperature
            assert not a.approximate, "the student keeps its verdicts on top (rest bucket)"
            assert a.raw == pytest.approx(b.raw, abs=AGREEMENT), backend
    assert max(s.raw or 0 for s in ours) - min(s.raw or 0 for s in ours) > 0.2


def assert_same_top_k(theirs: TopLogprobs, ours: TopLogprobs) -> None:
    """Same tokens with the same log-probs; a token in only one list must be tied (within the
    tolerance) with the other list's last one, where the two may order a tie differently."""
    assert len(theirs.ids) == len(ours.ids)
    mine = dict(zip(ours.ids, ours.logprobs, strict=True))
    for token, value in zip(theirs.ids, theirs.logprobs, strict=True):
        if token in mine:
            assert value == pytest.approx(mine[token], abs=AGREEMENT)
        else:
            assert value == pytest.approx(ours.logprobs[-1], abs=AGREEMENT)


def test_top_k_agrees_between_transformers_and_openai(
    student_server: VllmServer, distilled: Distilled, trajectories: list[Trajectory]
) -> None:
    ours = score(local(distilled.output, topk=5), trajectories)
    theirs = score(remote("openai", student_server, distilled.output, topk=5), trajectories)
    for a, b in zip(theirs, ours, strict=True):
        assert a.topk is not None and b.topk is not None
        assert_same_top_k(a.topk, b.topk)
    # Both verdict tokens lead every list: the distribution a distillation would transfer.
    verdicts = set(ours[0].topk.ids[:2]) if ours[0].topk else set()
    assert all(s.topk is not None and set(s.topk.ids[:2]) == verdicts for s in ours)
