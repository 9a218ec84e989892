"""A tiny verifier model built locally (nothing is downloaded): a byte-level BPE tokenizer and a
random Qwen3-MoE causal LM, for tests, examples and benchmarks. Imports no test framework."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TINY_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<YES>", "<NO>")
#: ChatML with tools, in the shape of Qwen's templates: tool definitions in the system turn,
#: tool results as a user turn of ``<tool_response>`` blocks, tool calls as ``<tool_call>`` JSON.
#: A system + user conversation renders exactly as plain ChatML.
TINY_CHAT_TEMPLATE = (
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] + '\\n\\n' }}{%- endif %}"
    "{{- '# Tools\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}"
    "{{- '\\n</tools><|im_end|>\\n' }}"
    "{%- elif messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'system' and loop.first %}"
    "{%- elif message['role'] == 'tool' %}"
    "{%- if loop.first or messages[loop.index0 - 1]['role'] != 'tool' %}"
    "{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + message['content'] + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1]['role'] != 'tool' %}"
    "{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] }}"
    "{%- if message.tool_calls %}{%- for call in message.tool_calls %}"
    "{{- '\\n<tool_call>\\n{\"name\": \"' + call['function']['name'] + '\", \"arguments\": ' }}"
    "{%- if call['function']['arguments'] is string %}{{- call['function']['arguments'] }}"
    "{%- else %}{{- call['function']['arguments'] | tojson }}{%- endif %}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# Text in the shapes verifier prompts contain: issue prose, shell output, code, diffs, verdicts.
_TINY_CORPUS = """\
The function returns the wrong value when the input list is empty. Expected an empty result but
got an exception: IndexError: list index out of range. Steps to reproduce the issue are below.
Please evaluate the following interaction between an AI assistant and a user. Did the assistant
resolve the request? Answer YES or NO. The answer is YES. The answer is NO. YES NO YES NO
You are an expert judge evaluating AI assistant interactions. Reply with a single verdict token.
Thought: I should look at the failing test first, then reproduce the bug with a small script.
Action: cd /repo && python -m pytest tests/test_utils.py -x -q 2>&1 | tail -n 20
Observation: 3 passed, 1 failed in 0.42s. FAILED tests/test_utils.py::test_empty - AssertionError
Traceback (most recent call last):
  File "/repo/src/utils.py", line 42, in first_item
    return items[0]
def first_item(items):
    if not items:
        return None
    return items[0]

class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def parse(self) -> dict[str, int]:
        result = {}
        for line in self.text.splitlines():
            key, _, value = line.partition("=")
            result[key.strip()] = int(value)
        return result
diff --git a/src/utils.py b/src/utils.py
index 3b18e51..a9c1f2d 100644
--- a/src/utils.py
+++ b/src/utils.py
@@ -40,3 +40,5 @@ def first_item(items):
+    if not items:
+        return None
     return items[0]
<judgement>YES</judgement> <judgement>NO</judgement> [STEP] [ASSISTANT] [USER] [PATCH] [/PATCH]
=== INTERACTION LOG === === END INTERACTION === === FINAL PATCH === 0123456789 {}[]()<>:;,.!?
"""


#: Architecture families a tiny model can have: the transformers class-name prefix of each.
TINY_ARCHITECTURES = {"qwen3_moe": "Qwen3Moe", "qwen3": "Qwen3", "qwen2": "Qwen2"}
#: Heads a tiny model can have: the transformers class-name suffix of each.
TINY_HEADS = {
    "causal_lm": "ForCausalLM",
    "seq_cls": "ForSequenceClassification",
    "token_cls": "ForTokenClassification",
}
_MOE_FIELDS = {"moe_intermediate_size": 128, "num_experts": 8, "num_experts_per_tok": 2}


def make_tiny_model(
    folder: str | Path,
    seed: int = 0,
    *,
    architecture: str = "qwen3_moe",
    head: str = "causal_lm",
    labels: tuple[str, ...] | list[str] | None = None,
    **arch_overrides: Any,
) -> Path:
    """Build a tiny random verifier in ``folder`` and return the folder.

    A byte-level BPE tokenizer trained on a small built-in corpus (special tokens
    ``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>``, ``<YES>``, ``<NO>``; ChatML chat template
    with tools, :data:`TINY_CHAT_TEMPLATE`; `` YES``, `` NO``, ``YES`` and ``NO`` are single
    tokens) and a random model: by default a ``Qwen3MoeForCausalLM`` (hidden 128, 2 layers, 8
    experts with 2 active, 2 heads of head_dim 64, 32k positions), saved as safetensors.

    :param architecture: ``qwen3_moe``, ``qwen3`` (dense) or ``qwen2`` (dense, biased QKV).
    :param head: ``causal_lm``, ``seq_cls`` (one output per sequence, read at the last token) or
        ``token_cls`` (one output per token); the classifier heads have one output per name in
        ``labels`` (default one output, ``"score"``), written to ``id2label``.
    :param arch_overrides: replace config fields (e.g. ``hidden_size=512``).

    The same arguments give byte-identical files, which also load with transformers 4.5x and
    vLLM.
    """
    import torch
    import transformers

    if architecture not in TINY_ARCHITECTURES or head not in TINY_HEADS:
        raise ValueError(
            f"make_tiny_model: architecture must be one of {sorted(TINY_ARCHITECTURES)} and head "
            f"one of {sorted(TINY_HEADS)}, got {architecture!r} / {head!r}"
        )
    prefix = TINY_ARCHITECTURES[architecture]
    config_class = getattr(transformers, f"{prefix}Config")
    _check_overrides(arch_overrides, config_class)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    ids, vocab_size = make_tiny_tokenizer(out)
    arch = _tiny_arch(architecture, ids, vocab_size)
    if head != "causal_lm":
        names = list(labels) if labels else ["score"]
        arch["id2label"] = dict(enumerate(names))
        arch["label2id"] = {name: index for index, name in enumerate(names)}
    arch.update(arch_overrides)
    config = config_class(**arch)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = getattr(transformers, prefix + TINY_HEADS[head])(config).eval()
    finally:
        torch.random.set_rng_state(generator_state)
    model.save_pretrained(out, safe_serialization=True)
    _make_config_portable(out / "config.json", arch)
    return out


def _tiny_arch(architecture: str, ids: dict[str, int], vocab_size: int) -> dict[str, Any]:
    arch: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "head_dim": 64,
        "max_position_embeddings": 32768,
        # Wider than the usual 0.02 so that different inputs give clearly different scores.
        "initializer_range": 0.2,
        "tie_word_embeddings": False,
        "pad_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "bos_token_id": None,
    }
    if architecture == "qwen3_moe":
        arch.update(_MOE_FIELDS)
    return arch


def make_tiny_tokenizer(folder: str | Path) -> tuple[dict[str, int], int]:
    """Train and save the tiny byte-level BPE tokenizer (and its config, with
    :data:`TINY_CHAT_TEMPLATE`) in ``folder``; returns the special tokens' ids and the vocabulary
    size. Needs only ``tokenizers`` (no torch), so environments without torch can build it."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=2048,
        special_tokens=list(TINY_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_TINY_CORPUS.splitlines(keepends=True) * 4, trainer)
    tokenizer.save(str(out / "tokenizer.json"))
    ids: dict[str, int] = {}
    for token in TINY_SPECIAL_TOKENS:
        token_id = tokenizer.token_to_id(token)
        if token_id is None:  # cannot happen: the trainer adds them first
            raise RuntimeError(f"tiny tokenizer lost its special token {token}")
        ids[token] = token_id
    _write_tiny_tokenizer_config(out, ids)
    return ids, tokenizer.get_vocab_size()


def _check_overrides(overrides: dict[str, Any], config_class: Any) -> None:
    """Qwen3MoeConfig keeps unknown keyword arguments silently; a typo must not."""
    import difflib
    import inspect

    known = set(inspect.signature(config_class).parameters) | {"head_dim"}
    for key in overrides:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"make_tiny_model: unknown architecture field '{key}'{hint}")


def _write_tiny_tokenizer_config(out: Path, ids: dict[str, int]) -> None:
    """A tokenizer_config.json that transformers 4.5x (vLLM) and 5.x both load.

    Written by hand: transformers 5 would save ``tokenizer_class: TokenizersBackend``, which 4.x
    does not know.
    """
    from swerm_plugin.jsonl import atomic_write_json, atomic_write_text

    atomic_write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": 32768,
            "bos_token": None,
            "eos_token": "<|im_end|>",
            "pad_token": "<|endoftext|>",
            "unk_token": None,
            "additional_special_tokens": ["<|im_start|>", "<YES>", "<NO>"],
            "clean_up_tokenization_spaces": False,
            "added_tokens_decoder": {
                str(token_id): {
                    "content": token,
                    "lstrip": False,
                    "normalized": False,
                    "rstrip": False,
                    "single_word": False,
                    "special": True,
                }
                for token, token_id in ids.items()
            },
            "chat_template": TINY_CHAT_TEMPLATE,
        },
    )
    atomic_write_text(out / "chat_template.jinja", TINY_CHAT_TEMPLATE)


def _make_config_portable(path: Path, arch: dict[str, Any]) -> None:
    """Add the key names transformers 4.x and vLLM read (5.x renamed some of them)."""
    import json

    from swerm_plugin.jsonl import atomic_write_json

    data = json.loads(path.read_text())
    data.pop("transformers_version", None)  # keeps files identical across library versions
    if "num_experts" in arch:
        data["num_experts"] = arch["num_experts"]
    data.setdefault("rope_theta", (data.get("rope_parameters") or {}).get("rope_theta", 10000.0))
    data.setdefault("torch_dtype", data.get("dtype", "float32"))
    atomic_write_json(path, data)
