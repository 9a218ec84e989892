"""The student: loading it for training (optionally with LoRA adapters), moving its trainable
weights in and out of checkpoints, and writing it as a plain model folder.

The student trains in float32 (with bfloat16 autocast on a GPU); the folder it becomes holds
merged weights (no adapters) in the dtype of the model it started from, its own ``config.json``
and tokenizer files copied unchanged (older transformers and vLLM read them as before), so any
backend loads it like any other model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from swerm_plugin.errors import DistillError

_INSTALL_HINT = "install the distill extra: pip install 'swerm-plugin[distill]'"
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
)


def resolve_device(wanted: str) -> str:
    import torch

    if wanted != "auto":
        return wanted
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_tokenizer(source: str, *, trust_remote_code: bool = False) -> Any:
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise DistillError(f"swerm distill needs transformers ({exc}); {_INSTALL_HINT}") from None
    try:
        return AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise DistillError(f"cannot load the tokenizer of '{source}': {exc}") from None


def load_student(
    source: str,
    *,
    lora_rank: int | None,
    gradient_checkpointing: bool = False,
    trust_remote_code: bool = False,
) -> Any:
    """The student in float32 and train mode; with ``lora_rank``, LoRA adapters on every linear
    layer (the base weights frozen)."""
    try:
        import torch
        from transformers import AutoModelForCausalLM
    except ImportError as exc:
        raise DistillError(f"swerm distill needs torch and transformers ({exc})") from None
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=torch.float32, use_safetensors=True, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError) as exc:
        raise DistillError(f"cannot load the student '{source}': {exc}") from None
    if gradient_checkpointing:
        model.gradient_checkpointing_enable()
    if lora_rank:
        model = _with_lora(model, lora_rank)
    return model.train()


def _with_lora(model: Any, rank: int) -> Any:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise DistillError(f"--lora needs peft ({exc}); {_INSTALL_HINT}") from None
    config = LoraConfig(
        r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules="all-linear", bias="none"
    )
    return get_peft_model(model, config)


def trainable_weights(model: Any) -> dict[str, Any]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def set_weights(model: Any, weights: dict[str, Any]) -> None:
    """Load checkpointed trainable weights; they must be exactly the model's trainable ones."""
    import torch

    expected = set(trainable_weights(model))
    if set(weights) != expected:
        raise DistillError(
            "the checkpoint's weights do not match the student's trainable weights; delete the "
            "output folder's .swerm-distill to start over"
        )
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value.to(params[name].device, params[name].dtype))


def plain_model(model: Any) -> Any:
    """``model`` without LoRA adapters (merged into the weights)."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model


def save_model_folder(model: Any, tokenizer: Any, source: str, folder: Path) -> None:
    """Write the student as a model folder: safetensors weights in the source's dtype, the
    source's own ``config.json`` and tokenizer files when it is a local folder."""
    import torch

    origin = Path(source).expanduser()
    original = origin / "config.json"
    settings = json.loads(original.read_text()) if original.is_file() else {}
    dtype_name = settings.get("torch_dtype") or settings.get("dtype") or "float32"
    dtype = getattr(torch, str(dtype_name), torch.float32)
    model = plain_model(model).to("cpu", dtype)
    model.save_pretrained(folder, safe_serialization=True)
    if original.is_file():
        shutil.copyfile(original, folder / "config.json")
    copied = [name for name in TOKENIZER_FILES if (origin / name).is_file()]
    for name in copied:
        shutil.copyfile(origin / name, folder / name)
    if not copied:
        tokenizer.save_pretrained(folder)
