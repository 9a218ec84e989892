"""Recording the teacher's top-K (``swerm score --topk``), and every way ``swerm distill``
refuses its input, each with a message that says what to do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from swerm_plugin.backends.remote.base import ReplyError
from swerm_plugin.backends.remote.openai import top_k_of
from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import ConfigError
from swerm_plugin.scores import read_scores
from swerm_plugin.testing import MockRewardBackend, run_cli
from swerm_plugin.verifier import Verifier

from ..conftest import mini_swe_agent_file
from .conftest import SmallCase


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    for i, fix in enumerate(["a + b", "b + a", "sum((a, b))"]):
        mini_swe_agent_file(folder, f"calc__calc-{i}", fix)
    return folder


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


# --- swerm score --topk ---


def test_score_records_the_top_k_of_a_hand_written_forward_pass(
    runs: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    out = tmp_path / "scores.jsonl"
    result = run_cli("score", runs, "--model", tiny_model_dir, "--topk", 4, "-o", out)
    assert result.exit_code == 0, result.stderr
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    with Verifier(SwermConfig(model=str(tiny_model_dir))) as verifier:
        trajectories = {t.content_hash(): t for t in verifier_inputs(runs)}
        for record in lines(out):
            prompt = verifier.render(trajectories[record["content_hash"]])
            with torch.no_grad():
                logits = model(torch.tensor([prompt.token_ids])).logits[0, -1]
            values, ids = torch.log_softmax(logits, -1).topk(4)
            assert record["topk"]["ids"] == ids.tolist()
            assert record["topk"]["logprobs"] == pytest.approx(values.tolist(), abs=1e-5)


def verifier_inputs(runs: Path) -> list[Any]:
    from swerm_plugin.readers import load

    return list(load(runs))


def test_scores_without_the_top_k_are_scored_again_when_it_is_asked_for(
    runs: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.jsonl"
    assert run_cli("score", runs, "--model", tiny_model_dir, "-o", out).exit_code == 0
    assert all(record["topk"] is None for record in lines(out))
    again = run_cli("score", runs, "--model", tiny_model_dir, "--topk", 3, "-o", out)
    assert again.exit_code == 0 and "scored 3, failed 0, 0 already in" in again.stderr
    assert all(len(score.topk.ids) == 3 for score in read_scores(out).values() if score.topk)
    assert len(read_scores(out)) == 3 and len(lines(out)) == 6
    done = run_cli("score", runs, "--model", tiny_model_dir, "--topk", 3, "-o", out)
    assert "scored 0, failed 0, 3 already in" in done.stderr


@pytest.mark.parametrize(
    ("backend", "env", "message"),
    [
        ("vllm", {}, "returns only the two-way softmax"),
        ("classify", {}, "has no next-token distribution"),
        ("openai", {"SWERM_REMOTE__OPENAI_API": "chat"}, "sees tokens only as text"),
        ("selector", {}, "votes among candidates"),
    ],
)
def test_backends_that_cannot_give_the_top_k_are_a_usage_error(
    runs: Path,
    backend: str,
    env: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = run_cli("score", runs, "--backend", backend, "--model", "m", "--topk", 5)
    assert result.exit_code == 2
    assert message in result.stderr and "swerm: error:" in result.stderr


def test_a_backend_without_log_probs_refuses_topk_in_python_too() -> None:
    with pytest.raises(ConfigError, match="mock backend does not report next-token log-probs"):
        Verifier(SwermConfig(topk=5), backend=MockRewardBackend(default=0.5))


def test_top_k_of_reads_token_ids_and_single_token_texts(tiny_tokenizer: Any) -> None:
    top = {"token_id:7": -0.5, "token_id:3": -1.0, "token_id:9": -3.0}
    assert top_k_of(top, 2, tiny_tokenizer).model_dump() == {
        "ids": [7, 3],
        "logprobs": [-0.5, -1.0],
    }
    yes = tiny_tokenizer.encode(" YES", add_special_tokens=False)[0]
    assert top_k_of({" YES": -0.1, "token_id:3": -2.0}, 2, tiny_tokenizer).ids == [yes, 3]
    with pytest.raises(ReplyError, match="fewer than the 4 asked for"):
        top_k_of(top, 4, tiny_tokenizer)
    with pytest.raises(ReplyError, match="remote.vllm_extensions = true"):
        top_k_of({"two words here": -0.1}, 1, tiny_tokenizer)


# --- swerm distill refusing its input ---


def distill(case: SmallCase, out: Path, *extra: Any, scores: Path | None = None) -> Any:
    return run_cli(
        "distill", case.run, "--teacher-scores", scores or case.scores, "--student",
        case.student, "-o", out, "--epochs", 1, "--batch-tokens", 4096, *extra,
    )  # fmt: skip


def rewrite(case: SmallCase, path: Path, change: Any) -> Path:
    path.write_text("".join(json.dumps(change(dict(r))) + "\n" for r in case.records))
    return path


def test_teacher_scores_without_the_top_k_are_refused(
    small_case: SmallCase, tmp_path: Path
) -> None:
    plain = rewrite(small_case, tmp_path / "plain.jsonl", lambda r: {**r, "topk": None})
    result = distill(small_case, tmp_path / "out", scores=plain)
    assert result.exit_code == 1
    assert "holds no score with top-K log-probs" in result.stderr
    assert (
        "hint: score the runs with the teacher first: swerm score RUNS... --topk 5" in result.stderr
    )
    assert not (tmp_path / "out").exists()


def test_teacher_scores_of_two_templates_are_refused(small_case: SmallCase, tmp_path: Path) -> None:
    count = iter(range(len(small_case.records)))
    mixed = rewrite(
        small_case,
        tmp_path / "mixed.jsonl",
        lambda r: {**r, "template": "swe-gym"} if next(count) % 2 else r,
    )
    result = distill(small_case, tmp_path / "out", scores=mixed)
    assert result.exit_code == 1 and "mixes prompt templates" in result.stderr


def test_cut_teacher_prompts_need_the_teachers_budget(
    small_case: SmallCase, tmp_path: Path
) -> None:
    cut = rewrite(small_case, tmp_path / "cut.jsonl", lambda r: {**r, "truncated": True})
    result = distill(small_case, tmp_path / "out", scores=cut)
    assert result.exit_code == 1 and "were cut to a token budget" in result.stderr
    assert "give --max-tokens with the budget `swerm score` used" in result.stderr


def test_a_student_with_another_tokenizer_is_refused(small_case: SmallCase, tmp_path: Path) -> None:
    other = tmp_path / "other-student"
    shutil.copytree(small_case.student, other)
    tokenizer = json.loads((other / "tokenizer.json").read_text())
    vocab = tokenizer["model"]["vocab"]
    first, second = list(vocab)[100:102]
    vocab[first], vocab[second] = vocab[second], vocab[first]
    (other / "tokenizer.json").write_text(json.dumps(tokenizer))
    result = run_cli(
        "distill", small_case.run, "--teacher-scores", small_case.scores, "--student", other,
        "-o", tmp_path / "out",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "differs from the teacher's" in result.stderr and "in its vocabulary" in result.stderr
    assert "hint: pick a student of the teacher's model family" in result.stderr


@pytest.mark.parametrize(
    ("fractions", "split", "change"),
    [((0.001, 0.3), "val", "raise"), ((0.6, 0.5), "train", "lower")],
)
def test_too_few_tasks_for_the_split_are_refused(
    small_case: SmallCase, tmp_path: Path, fractions: tuple[float, float], split: str, change: str
) -> None:
    val, test = fractions
    result = distill(small_case, tmp_path / "out", "--val-fraction", val, "--test-fraction", test)
    assert result.exit_code == 1 and f"the {split} split is empty" in result.stderr
    assert f"{change} --val-fraction / --test-fraction" in result.stderr


def test_a_foreign_output_folder_is_left_alone(small_case: SmallCase, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = distill(small_case, out, "--val-fraction", 0.3, "--test-fraction", 0.3)
    assert result.exit_code == 1 and "exists and is not empty" in result.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.slow
def test_trajectories_the_teacher_did_not_see_are_named_and_the_rest_is_used(
    small_case: SmallCase, tmp_path: Path
) -> None:
    changed = iter(range(len(small_case.records)))
    shifted = rewrite(
        small_case,
        tmp_path / "shifted.jsonl",
        lambda r: {**r, "n_tokens": r["n_tokens"] + 1} if next(changed) == 0 else r,
    )
    out = tmp_path / "out"
    result = distill(
        small_case, out, "--val-fraction", 0.3, "--test-fraction", 0.3, "--json", scores=shifted
    )
    assert result.exit_code == 3, result.stderr
    report = json.loads(result.stdout)
    (problem,) = report["problems"]
    assert problem["kind"] == "skipped" and "not the prompt the teacher saw" in problem["message"]
    card = report["card"]
    assert card["data"]["n_examples"] == len(small_case.records) - 1
    assert card["teacher"]["temperature_fitted_on"] == "none (no labels): T = 1"
    assert (out / "swerm-card.json").is_file() and "labels_only" not in card["training"]
