"""``swerm convert seq-cls``: the converted classifier's sigmoid is the verifier's P(YES)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.config import SwermConfig
from swerm_plugin.convert import convert_seq_cls
from swerm_plugin.errors import ConversionError
from swerm_plugin.model import Trajectory
from swerm_plugin.prompts import render_prompt
from swerm_plugin.testing import make_tiny_model, run_cli
from tests.conftest import make_trajectory

AGREEMENT = 1e-5


def trajectories() -> list[Trajectory]:
    return [make_trajectory(seed, n_steps=1 + seed % 3, words=12) for seed in range(6)]


def classifier_probabilities(folder: Path, token_ids: list[list[int]]) -> list[float]:
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        return [
            torch.sigmoid(model(torch.tensor([ids])).logits[0, 0].double()).item()
            for ids in token_ids
        ]


@pytest.mark.parametrize(
    ("architecture", "overrides", "template", "verdicts"),
    [
        ("qwen3_moe", {}, "swe-rm", ("<YES>", "<NO>")),
        ("qwen3", {}, "swe-gym", ("YES", "NO")),
        ("qwen3", {"tie_word_embeddings": True}, "r2e-gym", ("YES", "NO")),
        ("qwen2", {}, "swe-gym", ("YES", "NO")),
    ],
    ids=["qwen3-moe", "qwen3-dense", "qwen3-tied", "qwen2"],
)
def test_converted_classifier_equals_the_generative_score(
    tmp_path: Path,
    architecture: str,
    overrides: dict[str, Any],
    template: str,
    verdicts: tuple[str, str],
) -> None:
    from transformers import AutoTokenizer

    from swerm_plugin.backends.transformers import TransformersBackend

    source = make_tiny_model(tmp_path / "lm", architecture=architecture, **overrides)
    done = convert_seq_cls(source, tmp_path / "cls", verdicts)
    tokenizer = AutoTokenizer.from_pretrained(source)
    prompts = [render_prompt(t, template, tokenizer) for t in trajectories()]
    config = SwermConfig(model=str(source), backend="transformers", dtype="float32")
    backend = TransformersBackend(config)
    try:
        generative = [score.raw for score in backend.score_batch(prompts)]
    finally:
        backend.close()
    converted = classifier_probabilities(done.target_path, [p.token_ids or [] for p in prompts])
    assert all(g is not None for g in generative)
    for ours, theirs in zip(converted, generative, strict=True):
        assert abs(ours - (theirs or 0.0)) <= AGREEMENT
    assert max(converted) - min(converted) > 0.01  # a constant would agree by luck
    assert done.tied == bool(overrides.get("tie_word_embeddings"))


def test_what_the_converted_folder_holds(tmp_path: Path) -> None:
    from safetensors import safe_open

    source = make_tiny_model(tmp_path / "lm")
    done = convert_seq_cls(source, tmp_path / "cls", ("<YES>", "<NO>"))
    config = json.loads((tmp_path / "cls" / "config.json").read_text())
    assert config["architectures"] == ["Qwen3MoeForSequenceClassification"]
    assert (config["num_labels"], config["problem_type"]) == (1, "multi_label_classification")
    assert config["id2label"] == {"0": "<YES>"}
    assert config["swerm_conversion"]["verdict_token_ids"] == list(done.verdict_ids)
    with safe_open(str(tmp_path / "cls" / "model.safetensors"), framework="pt") as handle:
        names = set(handle.keys())
        score = handle.get_tensor("score.weight")
    assert "lm_head.weight" not in names and "model.embed_tokens.weight" in names
    assert tuple(score.shape) == (1, 128) and str(score.dtype) == "torch.float32"
    for side in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        assert (tmp_path / "cls" / side).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cls", "lm"]  # no temporary left


def test_sharded_weights_keep_an_index(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    source = make_tiny_model(tmp_path / "lm", architecture="qwen3")
    sharded = tmp_path / "sharded"
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    model.save_pretrained(sharded, max_shard_size="300KB")
    for side in ("tokenizer.json", "tokenizer_config.json"):
        (sharded / side).write_bytes((source / side).read_bytes())
    assert (sharded / "model.safetensors.index.json").is_file()
    done = convert_seq_cls(sharded, tmp_path / "cls", ("YES", "NO"))
    index = json.loads((tmp_path / "cls" / "model.safetensors.index.json").read_text())
    assert "score.weight" in index["weight_map"] and "lm_head.weight" not in index["weight_map"]
    assert len(done.files) > 1
    ids = [[5, 6, 7, 8, 9, 10]]
    whole = convert_seq_cls(source, tmp_path / "whole", ("YES", "NO"))
    assert classifier_probabilities(done.target_path, ids) == pytest.approx(
        classifier_probabilities(whole.target_path, ids), abs=AGREEMENT
    )


def test_refusals_say_why(tmp_path: Path) -> None:
    source = make_tiny_model(tmp_path / "lm", architecture="qwen3")
    with pytest.raises(ConversionError, match="'<judgement>' is 3 tokens"):
        convert_seq_cls(source, tmp_path / "a", ("<judgement>", "NO"))
    with pytest.raises(ConversionError, match="two different verdict strings"):
        convert_seq_cls(source, tmp_path / "a", ("YES", "YES"))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    with pytest.raises(ConversionError, match="already exists"):
        convert_seq_cls(source, tmp_path / "taken", ("YES", "NO"))
    classifier = make_tiny_model(tmp_path / "cls", architecture="qwen3", head="seq_cls")
    with pytest.raises(ConversionError, match="is not a causal LM"):
        convert_seq_cls(classifier, tmp_path / "b", ("YES", "NO"))
    config = json.loads((source / "config.json").read_text())
    (source / "config.json").write_text(
        json.dumps({**config, "architectures": ["MadeUpForCausalLM"]})
    )
    with pytest.raises(ConversionError, match="has no MadeUpForSequenceClassification"):
        convert_seq_cls(source, tmp_path / "c", ("YES", "NO"))
    with pytest.raises(ConversionError, match="has no config.json"):
        convert_seq_cls(tmp_path / "taken", tmp_path / "d", ("YES", "NO"))
    assert not any((tmp_path / name).exists() for name in ("a", "b", "c", "d"))


def test_the_command(tmp_path: Path) -> None:
    source = make_tiny_model(tmp_path / "lm", architecture="qwen3")
    done = run_cli(
        "convert", "seq-cls", source, tmp_path / "cls", "--verifier", "swe-gym-verifier", "--json"
    )
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["verdict_tokens"] == ["YES", "NO"]  # the preset's
    assert report["architecture"] == "Qwen3ForSequenceClassification"
    again = run_cli("convert", "seq-cls", source, tmp_path / "cls")
    assert again.exit_code == 1 and "already exists" in again.stderr
    explicit = run_cli(
        "convert", "seq-cls", source, tmp_path / "cls2", "--verdict-tokens", "<YES>", "<NO>"
    )
    assert explicit.exit_code == 0, explicit.output
    assert "P('<YES>')" in explicit.stderr and "--runner pooling" in explicit.stderr
