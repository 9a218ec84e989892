"""The ``classify`` backend: critics with a classification or value head, served by vLLM's pooling
runner (``/classify``, or ``/pooling`` for per-token values such as the OpenHands critic's).

The score is one output of the head, chosen by ``remote.score_label``: a class index, or a label
name looked up in the model's ``id2label``. By default a single-output head gives its only value
and a two-class head its second class (the positive one). Per-token outputs are read at the last
token, the end of the last turn.

``remote.activation`` says how an output becomes a probability:

* ``server``: vLLM's own activation (softmax across the outputs, or a sigmoid for one output or
  a ``multi_label_classification`` config); the output must already lie in [0, 1];
* ``sigmoid``: the raw logit (``use_activation: false``) through a sigmoid here: right for heads
  trained with BCE per output, such as the OpenHands critic 4B, whichever activation the
  server's config would pick;
* ``raw``: the raw value as it is, for regression heads (the OpenHands critic 32B); a value
  outside [0, 1] is clipped and the score flagged ``approximate``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from swerm_plugin.backends.remote.base import RemoteBackend, ReplyError, ServerInfo
from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import RemoteError
from swerm_plugin.model import Score
from swerm_plugin.prompts.prompt import Prompt


def read_outputs(reply: Any, expected: int, route: str) -> list[list[float]]:
    """One output vector per input, in input order, from a ``/classify`` or ``/pooling`` reply."""
    data = reply.get("data") if isinstance(reply, dict) else None
    if not isinstance(data, list) or len(data) != expected:
        raise ReplyError(f"expected {expected} results from /{route}, got {reply!r:.200}")
    rows: list[list[float] | None] = [None] * expected
    for entry in data:
        values = (
            entry.get("probs" if route == "classify" else "data")
            if isinstance(entry, dict)
            else None
        )
        index = entry.get("index") if isinstance(entry, dict) else None
        if isinstance(values, list) and values and isinstance(values[-1], list):
            values = values[-1]  # per-token outputs: the last token's
        if (
            not isinstance(index, int)
            or not 0 <= index < expected
            or not isinstance(values, list)
            or not values
            or not all(isinstance(v, int | float) for v in values)
        ):
            raise ReplyError(f"malformed /{route} result: {entry!r:.200}")
        rows[index] = [float(v) for v in values]
    if any(row is None for row in rows):
        raise ReplyError(f"/{route} repeated an index: {reply!r:.200}")
    return [row for row in rows if row is not None]


class ClassifyBackend(RemoteBackend):
    """One output of a served classifier's head as P(resolved)."""

    name: ClassVar[str] = "classify"
    reads_verdict: ClassVar[bool] = False
    applies_card: ClassVar[bool] = False

    @classmethod
    def topk_unsupported(cls, config: SwermConfig) -> str | None:
        return (
            "the classify backend reads a classification or value head, which has no "
            "next-token distribution to take the top-K of (--topk)"
        )

    def __init__(self, config: SwermConfig) -> None:
        super().__init__(config)
        self.route = config.remote.classify_route
        self._labels: dict[str, int] | None = None

    def label_index(self, n_outputs: int) -> int:
        """Which of the head's ``n_outputs`` values is the score."""
        wanted = self.config.remote.score_label
        if wanted is None:
            if n_outputs > 2:
                raise ReplyError(
                    f"the head has {n_outputs} outputs; set remote.score_label to the index or "
                    "label name of the one that means 'resolved'"
                )
            return n_outputs - 1
        if isinstance(wanted, str):
            labels = self._label_names()
            if wanted not in labels:
                raise ReplyError(
                    f"score_label '{wanted}' is not a label of the model; its labels are "
                    f"{sorted(labels, key=labels.__getitem__)}"
                )
            wanted = labels[wanted]
        if not 0 <= wanted < n_outputs:
            raise ReplyError(f"score_label {wanted} is out of range for a head of {n_outputs}")
        return wanted

    def _label_names(self) -> dict[str, int]:
        """``label → index`` from the model's config (``id2label``), loaded once."""
        if self._labels is None:
            from transformers import AutoConfig

            source = self.config.remote.tokenizer or self.model_name
            try:
                model_config = AutoConfig.from_pretrained(
                    source, trust_remote_code=self.config.trust_remote_code
                )
            except (OSError, ValueError) as exc:
                raise ReplyError(
                    f"cannot read the label names of '{source}' ({exc}); give score_label as an "
                    "index instead"
                ) from exc
            id2label = getattr(model_config, "id2label", None) or {}
            self._labels = {str(name): int(index) for index, name in id2label.items()}
        return self._labels

    async def score_valid(self, prompts: list[Prompt], info: ServerInfo) -> list[Score]:
        size = self.config.remote.max_items
        chunks = [prompts[i : i + size] for i in range(0, len(prompts), size)]
        done = await asyncio.gather(*(self._send(chunk) for chunk in chunks))
        return [score for chunk in done for score in chunk]

    async def _send(self, prompts: Sequence[Prompt]) -> list[Score]:
        payload: dict[str, Any] = {
            "model": self.model_name,
            "input": [prompt.token_ids for prompt in prompts],
            "add_special_tokens": False,
        }
        if self.config.remote.activation != "server":
            payload["use_activation"] = False
        start = time.perf_counter()
        try:
            reply = await self.client.post_json(
                f"/{self.route}", payload, what=f"/{self.route} of {len(prompts)} prompt(s)"
            )
            rows = read_outputs(reply, len(prompts), self.route)
            values = [row[self.label_index(len(row))] for row in rows]
        except (RemoteError, ReplyError) as exc:
            elapsed = time.perf_counter() - start
            return [self.failed(prompt, str(exc), elapsed) for prompt in prompts]
        elapsed = time.perf_counter() - start
        return [
            self._probability(prompt, value, elapsed)
            for prompt, value in zip(prompts, values, strict=True)
        ]

    def _probability(self, prompt: Prompt, value: float, elapsed: float) -> Score:
        activation = self.config.remote.activation
        if activation == "sigmoid":
            return self.scored(0.5 * (1.0 + math.tanh(value / 2.0)), elapsed)  # no overflow
        if 0.0 <= value <= 1.0:
            return self.scored(value, elapsed)
        if activation == "raw" and math.isfinite(value):
            return self.scored(min(1.0, max(0.0, value)), elapsed, approximate=True)
        return self.failed(
            prompt,
            f"the head's output {value:g} is not a probability; serve the model with its "
            "activation on (vLLM's default), set remote.activation to 'sigmoid' (logits) or "
            "'raw' (a value head), or pick another output with remote.score_label",
            elapsed,
        )
