"""``make_tiny_model``: deterministic, loadable offline, portable to older transformers/vLLM."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from swerm_plugin.testing import TINY_SPECIAL_TOKENS, make_tiny_model


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_other_weights(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    again = make_tiny_model(tmp_path / "again", seed=0)
    other = make_tiny_model(tmp_path / "other", seed=1)
    assert digest(again) == digest(tiny_model_dir)
    assert digest(other)["model.safetensors"] != digest(tiny_model_dir)["model.safetensors"]
    assert digest(other)["tokenizer.json"] == digest(tiny_model_dir)["tokenizer.json"]


def test_building_leaves_the_global_torch_rng_alone(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_tiny_model(tmp_path / "m", seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_loads_offline_as_the_documented_architecture(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    config = model.config
    assert type(model).__name__ == "Qwen3MoeForCausalLM"
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (128, 2, 2)
    assert (config.num_experts, config.num_experts_per_tok, config.head_dim) == (8, 2, 64)
    assert config.max_position_embeddings >= 32768
    assert sorted(p.name for p in tiny_model_dir.glob("*.bin")) == []


def test_tokenizer_has_the_verdict_and_chat_tokens(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = tokenizer.convert_tokens_to_ids(list(TINY_SPECIAL_TOKENS))
    assert len(set(ids)) == len(TINY_SPECIAL_TOKENS) and tokenizer.unk_token_id not in ids
    for verdict in (" YES", " NO"):
        assert len(tokenizer(verdict, add_special_tokens=False)["input_ids"]) == 1
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert rendered == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.decode(tokenizer("def f(x):\n    return x")["input_ids"]) == (
        "def f(x):\n    return x"
    )


def test_saved_files_name_only_classes_older_libraries_know(tiny_model_dir: Path) -> None:
    tokenizer_config = json.loads((tiny_model_dir / "tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert "chat_template" in tokenizer_config
    config = json.loads((tiny_model_dir / "config.json").read_text())
    # transformers 4.x and vLLM read these names; 5.x writes num_local_experts/rope_parameters.
    assert config["num_experts"] == 8 and config["rope_theta"] == 10000.0
    assert config["architectures"] == ["Qwen3MoeForCausalLM"]


def test_architecture_overrides(tmp_path: Path) -> None:
    folder = make_tiny_model(tmp_path / "wide", hidden_size=256, num_attention_heads=4)
    config = json.loads((folder / "config.json").read_text())
    assert (config["hidden_size"], config["num_attention_heads"], config["head_dim"]) == (
        256,
        4,
        64,
    )


def test_an_unknown_override_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'hidden_sise'; did you mean 'hidden_size'"):
        make_tiny_model(tmp_path / "bad", hidden_sise=256)
