"""A YES/NO causal-LM verifier as a one-logit sequence classifier.

The verifier's score is the softmax over its two verdict tokens' logits at the last prompt
position, ``P(YES) = exp(l_yes) / (exp(l_yes) + exp(l_no)) = sigmoid(l_yes - l_no)``. Both logits
are rows of the LM head applied to the same hidden state ``h``, so
``l_yes - l_no = (W[yes] - W[no]) . h``: a linear head with the single row ``W[yes] - W[no]``
(no bias) gives a logit whose sigmoid is exactly P(YES). This is the checkpoint form of what vLLM
does online for rerankers with ``method = "from_2_way_softmax"``
(``vllm/model_executor/models/adapters.py``, ``load_weights_using_from_2_way_softmax``).

The classifier is ``<Family>ForSequenceClassification`` (transformers reads the score at the
last non-padding token; vLLM's pooling runner at the last prompt token): it skips the LM head,
whose vocabulary-wide matrix multiplication is the largest single one in a small model, and
serves through ``/classify`` with vLLM's classification batching. The weights are streamed one
safetensors file at a time, so a 60 GB checkpoint never sits in memory at once.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swerm_plugin.errors import ConversionError

LM_HEAD = "lm_head.weight"
EMBEDDINGS = "model.embed_tokens.weight"
SCORE = "score.weight"
INDEX = "model.safetensors.index.json"
CAUSAL_SUFFIX = "ForCausalLM"
SEQ_CLS_SUFFIX = "ForSequenceClassification"


@dataclass(frozen=True)
class Conversion:
    """What :func:`convert_seq_cls` wrote."""

    source: str
    target: str
    architecture: str
    verdict_tokens: tuple[str, str]
    verdict_ids: tuple[int, int]
    tied: bool
    files: tuple[str, ...]

    @property
    def target_path(self) -> Path:
        return Path(self.target)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "architecture": self.architecture,
            "verdict_tokens": list(self.verdict_tokens),
            "verdict_ids": list(self.verdict_ids),
            "tied_embeddings": self.tied,
            "files": list(self.files),
        }


def classifier_architecture(architecture: str) -> str:
    """The transformers sequence-classification class for a causal-LM ``architecture``.

    :raises ConversionError: when the architecture is no causal LM, or transformers has no
        sequence-classification class of that model family.
    """
    import transformers

    if not architecture.endswith(CAUSAL_SUFFIX):
        raise ConversionError(
            f"'{architecture}' is not a causal LM (an architecture ending in {CAUSAL_SUFFIX}); "
            "only a verifier that answers with verdict tokens can be converted"
        )
    target = architecture[: -len(CAUSAL_SUFFIX)] + SEQ_CLS_SUFFIX
    if not hasattr(transformers, target):
        raise ConversionError(
            f"transformers {transformers.__version__} has no {target}, so the converted model "
            f"could not be loaded; '{architecture}' cannot be converted (dense and MoE Qwen3, "
            "Qwen2 and Llama-family models can)",
            hint="score this model with the vllm backend (/generative_scoring) instead",
        )
    return target


def convert_seq_cls(
    source: str | Path, target: str | Path, verdict_tokens: Sequence[str] = ("YES", "NO")
) -> Conversion:
    """Write ``source`` (a causal-LM folder: config.json, tokenizer, safetensors) to ``target``
    as a one-logit ``<Family>ForSequenceClassification`` whose sigmoid is P(``verdict_tokens[0]``)
    over the two verdict tokens.

    ``target`` must not exist (or be an empty folder); it appears only when complete.

    :raises ConversionError: for anything that would make the result wrong or unloadable.
    """
    src, dst = Path(source).expanduser(), Path(target).expanduser()
    config = _read_config(src)
    architecture = _architecture(config, src)
    classifier = classifier_architecture(architecture)
    (yes, no), pad = _verdict_ids(src, verdict_tokens)
    if config.get("pad_token_id") is None and pad is not None:
        config = {**config, "pad_token_id": pad}  # transformers finds the last token by padding
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise ConversionError(f"{dst} already exists; give a new folder for the converted model")
    files = _weight_files(src)
    tied = bool(config.get("tie_word_embeddings", False))
    dst.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
    work.chmod(0o755)  # mkdtemp makes it private; the model folder is an ordinary one
    try:
        written = _write_weights(src, work, files, (yes, no))
        _copy_side_files(src, work)
        labelled = _classifier_config(config, classifier, architecture, verdict_tokens, (yes, no))
        (work / "config.json").write_text(json.dumps(labelled, indent=2, sort_keys=True) + "\n")
        if dst.exists():
            dst.rmdir()
        work.rename(dst)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Conversion(
        str(src),
        str(dst),
        classifier,
        (verdict_tokens[0], verdict_tokens[1]),
        (yes, no),
        tied,
        tuple(written),
    )


def _read_config(src: Path) -> dict[str, Any]:
    path = src / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConversionError(f"{src} has no config.json; give the model's folder") from None
    except (OSError, ValueError) as exc:
        raise ConversionError(f"{path} cannot be read as JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ConversionError(f"{path} is not a JSON object")
    return config


def _architecture(config: dict[str, Any], src: Path) -> str:
    architectures = config.get("architectures")
    if not isinstance(architectures, list) or len(architectures) != 1:
        raise ConversionError(
            f"{src}/config.json must name exactly one architecture, got {architectures!r}"
        )
    return str(architectures[0])


def _verdict_ids(src: Path, verdict_tokens: Sequence[str]) -> tuple[tuple[int, int], int | None]:
    """The ids of the two verdict strings (each must be one token) and the padding id."""
    from transformers import AutoTokenizer

    from swerm_plugin.errors import PromptRenderError
    from swerm_plugin.prompts.tokens import tokenizer_kit

    if len(verdict_tokens) != 2 or len(set(verdict_tokens)) != 2 or not all(verdict_tokens):
        raise ConversionError(
            f"give two different verdict strings (YES first), got {list(verdict_tokens)!r}"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(src)
        kit = tokenizer_kit(tokenizer)
        ids = (kit.token_id(verdict_tokens[0]), kit.token_id(verdict_tokens[1]))
    except (OSError, ValueError) as exc:
        if isinstance(exc, PromptRenderError):
            raise ConversionError(str(exc)) from exc
        raise ConversionError(f"cannot load the tokenizer in {src}: {exc}") from exc
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return ids, pad


def _weight_files(src: Path) -> list[str]:
    index = src / INDEX
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        return sorted(set(weight_map.values()))
    files = sorted(p.name for p in src.glob("*.safetensors"))
    if not files:
        raise ConversionError(
            f"{src} has no *.safetensors weights (swerm converts safetensors only; save .bin "
            "weights again with save_pretrained(safe_serialization=True))"
        )
    if len(files) > 1:
        raise ConversionError(f"{src} has several safetensors files but no {INDEX}")
    return files


def _head_rows(src: Path, files: list[str], ids: tuple[int, int]) -> Any:
    """``W[yes] - W[no]`` of the LM head (or of the tied input embeddings), in float32."""
    from safetensors import safe_open

    for name in (LM_HEAD, EMBEDDINGS):
        for file in files:
            with safe_open(str(src / file), framework="pt") as handle:
                if name in handle.keys():  # noqa: SIM118 - safe_open has no __contains__
                    head = handle.get_slice(name)
                    rows = [head[i : i + 1].float() for i in ids]
                    return rows[0] - rows[1]
    raise ConversionError(f"{src} has neither {LM_HEAD} nor {EMBEDDINGS}: no LM head to convert")


def _write_weights(src: Path, work: Path, files: list[str], ids: tuple[int, int]) -> list[str]:
    """Copy every tensor but the LM head, file by file; the score row goes with the first."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    score = _head_rows(src, files, ids)
    weight_map: dict[str, str] = {}
    total = 0
    for position, file in enumerate(files):
        tensors: dict[str, Any] = {}
        with safe_open(str(src / file), framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118
                if name != LM_HEAD:
                    tensors[name] = handle.get_tensor(name)
        if position == 0:
            tensors[SCORE] = score.contiguous()
        for name, tensor in tensors.items():
            weight_map[name] = file
            total += tensor.numel() * tensor.element_size()
        save_file(tensors, str(work / file), metadata={"format": "pt"})
        del tensors
    if len(files) > 1:
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        (work / INDEX).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return files


def _copy_side_files(src: Path, work: Path) -> None:
    """Tokenizer, chat template and every other small file (weights and configs are rewritten)."""
    skip = {"config.json", INDEX, "generation_config.json"}
    for entry in src.iterdir():
        if entry.is_file() and entry.suffix != ".safetensors" and entry.name not in skip:
            shutil.copy2(entry, work / entry.name)


def _classifier_config(
    config: dict[str, Any],
    classifier: str,
    architecture: str,
    verdict_tokens: Sequence[str],
    ids: tuple[int, int],
) -> dict[str, Any]:
    out = dict(config)
    out["architectures"] = [classifier]
    out["num_labels"] = 1
    out["id2label"] = {"0": verdict_tokens[0]}
    out["label2id"] = {verdict_tokens[0]: 0}
    # One independent probability per output: transformers trains it with BCE, vLLM's pooling
    # runner applies a sigmoid (vllm/model_executor/layers/pooler/activations.py).
    out["problem_type"] = "multi_label_classification"
    out.pop("method", None)
    out.pop("classifier_from_token", None)
    out["swerm_conversion"] = {
        "from_architecture": architecture,
        "verdict_tokens": list(verdict_tokens),
        "verdict_token_ids": list(ids),
        "score": "sigmoid(logit) = softmax over the two verdict tokens' logits, first token",
    }
    return out
