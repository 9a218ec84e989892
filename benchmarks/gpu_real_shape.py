"""GPU check at real shape: Qwen3-30B-A3B (SWE-RM's architecture) scored by swerm's
transformers backend on 8k- and 32k-token prompts, against the bare forward pass.

The model is built on the GPU from the published architecture with random bf16 weights
(nothing is downloaded): 48 layers, hidden 2048, 32 query and 4 key/value heads of dim 128,
128 experts with 8 active, expert intermediate 768, vocabulary 151936, untied LM head (the
``config.json`` of Qwen/Qwen3-30B-A3B). transformers' ``Qwen3MoeConfig`` defaults agree on
everything but two fields, set explicitly here: its ``num_hidden_layers`` defaults to 24 (the
published model has 48) and ``head_dim`` is not one of its arguments (the attention falls back
to hidden / heads = 64; the published model has 128).

For each case it prints tokens/s and the fraction of the physical bound: the device's bf16 peak
over 2 x active parameters FLOP per token (embeddings excluded, experts counted 8/128; the LM
head runs on the last position only, and attention's own quadratic FLOPs are not in the bound,
so long prompts can show a lower fraction). The same for the bare forward pass
(``model(input_ids, logits_to_keep=1)``) on the same token ids; swerm's time / bare time must
be at most 1.15, else the script exits 1.

Not run yet (no GPU was available to the session that wrote it); it needs one CUDA device with
about 70 GB free (H100 80GB, H200, A100 80GB) and runs in a few minutes:

    python benchmarks/gpu_real_shape.py [--peak-tflops 989] [--experts grouped_mm]
    python benchmarks/gpu_real_shape.py --dry-run    # a scaled-down model on the CPU (smoke)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Dense bf16 peak (no sparsity) in TFLOP/s by device name fragment; --peak-tflops overrides.
BF16_PEAK_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 80GB HBM3": 989.0,
    "H100 PCIe": 756.0,
    "H100": 756.0,
    "A100": 312.0,
    "L40S": 362.0,
    "B200": 2250.0,
}
MAX_OVERHEAD = 1.15
#: Qwen/Qwen3-30B-A3B config.json, the fields that shape the compute.
REAL_SHAPE: dict[str, Any] = {
    "num_hidden_layers": 48,
    "hidden_size": 2048,
    "num_attention_heads": 32,
    "num_key_value_heads": 4,
    "head_dim": 128,
    "num_experts": 128,
    "num_experts_per_tok": 8,
    "moe_intermediate_size": 768,
    "intermediate_size": 6144,
    "vocab_size": 151936,
    "max_position_embeddings": 40960,
    "rope_theta": 1_000_000.0,
    "rms_norm_eps": 1e-6,
    "norm_topk_prob": True,
    "tie_word_embeddings": False,
    "decoder_sparse_step": 1,
}
DRY_SHAPE = {
    **REAL_SHAPE,
    "num_hidden_layers": 2,
    "hidden_size": 256,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "num_experts": 8,
    "num_experts_per_tok": 2,
    "moe_intermediate_size": 128,
    "vocab_size": 4096,
}


def build_model(shape: dict[str, Any], device: str, dtype: Any, experts: str) -> Any:
    import torch
    from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM

    config = Qwen3MoeConfig(**shape)
    config._experts_implementation = experts
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen3MoeForCausalLM._from_config(config, dtype=dtype)
    return model.eval()


def active_parameters(model: Any) -> int:
    """Parameters one token passes through: embeddings excluded, experts scaled by top-k / n."""
    config = model.config
    share = config.num_experts_per_tok / config.num_experts
    total = 0.0
    for name, parameter in model.named_parameters():
        if name.endswith("embed_tokens.weight") or name.startswith("lm_head"):
            continue
        total += parameter.numel() * (share if ".mlp.experts." in name else 1.0)
    return int(total)


def backend_over(model: Any, shape: dict[str, Any], folder: Path, device: str, dtype: str) -> Any:
    """swerm's transformers backend holding ``model`` (built in memory: writing 61 GB of random
    weights to disk only to read them back would measure the disk)."""
    from swerm_plugin.backends.transformers import TransformersBackend
    from swerm_plugin.config import SwermConfig
    from swerm_plugin.testing import make_tiny_tokenizer

    make_tiny_tokenizer(folder)  # only its padding id is used: prompts are given as token ids
    (folder / "config.json").write_text(
        json.dumps({**shape, "model_type": "qwen3_moe", "architectures": ["Qwen3MoeForCausalLM"]})
    )
    config = SwermConfig(
        model=str(folder), backend="transformers", device=device, dtype=dtype, batch_tokens=32768
    )
    backend = TransformersBackend(config)
    backend._model = model  # the weights "loaded": the in-memory model above
    return backend


def prompts_of(length: int, count: int, vocab: int, seed: int) -> list[Any]:
    import random

    from swerm_plugin.prompts.prompt import Prompt

    rng = random.Random(seed)
    return [
        Prompt(
            content_hash=f"bench-{seed}-{i}",
            template="bench",
            template_version="0",
            token_ids=[rng.randrange(vocab) for _ in range(length)],
            verdict_token_ids=(vocab - 2, vocab - 1),
        )
        for i in range(count)
    ]


def timed(run: Callable[[], Any], repeats: int, sync: Callable[[], None]) -> float:
    run()  # warm-up (kernels, allocator)
    sync()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def bare_forward(model: Any, prompts: list[Any]) -> Callable[[], Any]:
    import torch

    device = next(model.parameters()).device
    batch = torch.tensor([p.token_ids for p in prompts], device=device)

    def run() -> Any:
        with torch.inference_mode():
            logits = model(input_ids=batch, use_cache=False, logits_to_keep=1).logits[:, -1, :]
            pairs = torch.tensor([p.verdict_token_ids for p in prompts], device=device)
            return torch.softmax(logits.gather(1, pairs).double(), dim=-1)[:, 0].tolist()

    return run


def peak_tflops(name: str, given: float | None) -> float:
    if given is not None:
        return given
    for fragment, peak in BF16_PEAK_TFLOPS.items():
        if fragment in name:
            return peak
    raise SystemExit(f"unknown bf16 peak for '{name}': give it with --peak-tflops")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak")
    parser.add_argument("--experts", default="grouped_mm", help="transformers experts kernel")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dry-run", action="store_true", help="small model on the CPU")
    args = parser.parse_args()
    import torch

    if args.dry_run:
        shape, device, dtype, dtype_name = DRY_SHAPE, "cpu", torch.float32, "float32"
        cases, name, peak = [(512, 1), (2048, 1), (512, 4)], "cpu (dry run)", 1.0
        experts = "eager"

        def sync() -> None:
            return None
    else:
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA device: run with --dry-run for the CPU smoke test")
        shape, device, dtype, dtype_name = REAL_SHAPE, "cuda", torch.bfloat16, "bfloat16"
        cases, name = [(8192, 1), (32768, 1), (8192, 4)], torch.cuda.get_device_name()
        peak, experts, sync = (
            peak_tflops(name, args.peak_tflops),
            args.experts,
            torch.cuda.synchronize,
        )
    start = time.perf_counter()
    model = build_model(shape, device, dtype, experts)
    active = active_parameters(model)
    print(
        f"{name}: built {sum(p.numel() for p in model.parameters()) / 1e9:.2f} B parameters "
        f"({active / 1e9:.3f} B active per token) in {time.perf_counter() - start:.0f} s; "
        f"experts kernel {experts}; bound {peak * 1e12 / (2 * active):,.0f} tokens/s "
        f"at {peak:g} TFLOP/s",
        flush=True,
    )
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        backend = backend_over(model, shape, Path(tmp), device, dtype_name)
        print(
            f"{'tokens x prompts':>17} {'swerm s':>9} {'bare s':>9} {'swerm tok/s':>12} "
            f"{'bare tok/s':>11} {'swerm %bound':>13} {'bare %bound':>12} {'ratio':>6}"
        )
        for length, count in cases:
            prompts = prompts_of(length, count, shape["vocab_size"], seed=length + count)
            scores = backend.score_batch(prompts)
            assert all(s.ok for s in scores), scores[0].error
            ours = timed(lambda p=prompts: backend.score_batch(p), args.repeats, sync)
            bare = timed(bare_forward(model, prompts), args.repeats, sync)
            tokens = length * count
            bound = peak * 1e12 / (2 * active)
            ratio = ours / bare
            failed |= ratio > MAX_OVERHEAD
            print(
                f"{length:>8} x {count:<6} {ours:9.3f} {bare:9.3f} {tokens / ours:12,.0f} "
                f"{tokens / bare:11,.0f} {100 * tokens / ours / bound:12.1f}% "
                f"{100 * tokens / bare / bound:11.1f}% {ratio:6.3f}",
                flush=True,
            )
    if device == "cuda":
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    else:
        print("dry run: the script works; CPU timings on a tiny model say nothing, not checked")
        return 0
    verdict = "FAIL" if failed else "PASS"
    print(f"{verdict}: swerm / bare forward time must be at most {MAX_OVERHEAD} in every case")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
