"""Examples → tensors, and the student's verdict logits on a set of examples.

Batches are planned by padded tokens (longest first, as the transformers backend scores) and
left-padded with position ids from the padding mask, so the student is trained and evaluated on
exactly the token ids the backend scores it on. Only the last position goes through the LM head.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from swerm_plugin.backends.transformers import pad_left, plan_batches
from swerm_plugin.distill.data import Example
from swerm_plugin.distill.loss import transfer_targets, verdict_logit


@dataclass
class Batch:
    """One training batch: model inputs and, per row, what the losses need."""

    inputs: dict[str, Any]
    top_ids: Any
    targets: Any
    verdict_ids: Any
    labels: Any
    n_tokens: int

    def to(self, device: Any) -> Batch:
        return Batch(
            inputs={name: tensor.to(device) for name, tensor in self.inputs.items()},
            top_ids=self.top_ids.to(device),
            targets=self.targets.to(device),
            verdict_ids=self.verdict_ids.to(device),
            labels=self.labels.to(device),
            n_tokens=self.n_tokens,
        )


def plan(examples: Sequence[Example], batch_tokens: int) -> list[list[int]]:
    """Indices of ``examples`` grouped into batches of at most ``batch_tokens`` padded tokens."""
    return plan_batches([len(e.token_ids) for e in examples], batch_tokens)


def make_batch(
    examples: Sequence[Example],
    pad: int,
    *,
    k: int,
    teacher_temperature: float,
    rest: bool,
) -> Batch:
    """The tensors of ``examples`` (one batch), with the transfer targets of their top-``k``."""
    import torch

    top_logprobs = torch.tensor([e.top_logprobs[:k] for e in examples], dtype=torch.float32)
    labels = [-1 if e.label is None else int(e.label) for e in examples]
    return Batch(
        inputs=pad_left([e.token_ids for e in examples], pad),
        top_ids=torch.tensor([e.top_ids[:k] for e in examples], dtype=torch.long),
        targets=transfer_targets(top_logprobs, teacher_temperature, rest=rest),
        verdict_ids=torch.tensor([e.verdict_ids for e in examples], dtype=torch.long),
        labels=torch.tensor(labels, dtype=torch.long),
        n_tokens=sum(len(e.token_ids) for e in examples),
    )


def last_logits(model: Any, inputs: dict[str, Any]) -> Any:
    """Next-token logits after each row's last token, shape ``(batch, vocab)``."""
    return model(**inputs, use_cache=False, logits_to_keep=1).logits[:, -1, :]


def predict_logits(model: Any, examples: Sequence[Example], pad: int, batch_tokens: int) -> Any:
    """The student's ``l_yes − l_no`` for every example, in order (float64 array)."""
    import torch

    out = np.zeros(len(examples), dtype=float)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for members in plan(examples, batch_tokens):
                chosen = [examples[i] for i in members]
                inputs = {
                    name: tensor.to(device)
                    for name, tensor in pad_left([e.token_ids for e in chosen], pad).items()
                }
                verdicts = torch.tensor([e.verdict_ids for e in chosen], device=device)
                z = verdict_logit(last_logits(model, inputs), verdicts)
                out[members] = z.cpu().numpy()
    finally:
        model.train(was_training)
    return out
