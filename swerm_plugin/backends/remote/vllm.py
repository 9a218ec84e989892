"""The ``vllm`` backend: vLLM's ``/generative_scoring``.

The server returns P(first label) from a softmax over just the two verdict tokens' log-probs at
the position after the prompt: exactly the verifier's score, with no sampling and no top-k cut.

The candidates of one task share the template text and the problem statement (the prompt's first
``prefix_len`` tokens). They go as one request: the shared prefix as ``query``, each candidate's
rest as an ``item``. The split is made on token ids, so ``query + item`` is exactly the prompt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from swerm_plugin.backends.remote.base import RemoteBackend, ReplyError, ServerInfo, filled
from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import RemoteError
from swerm_plugin.model import Score
from swerm_plugin.prompts.prompt import Prompt
from swerm_plugin.prompts.tokens import tokenizer_kit


@dataclass
class ScoringRequest:
    """One ``/generative_scoring`` call: ``indices`` are the positions of its prompts."""

    indices: list[int]
    query: list[int]
    items: list[list[int]]
    labels: tuple[int, int]

    def singles(self) -> list[ScoringRequest]:
        """The same prompts as one request each (to isolate one the server refuses)."""
        return [
            ScoringRequest([index], self.query, [item], self.labels)
            for index, item in zip(self.indices, self.items, strict=True)
        ]


def plan_requests(
    token_ids: Sequence[Sequence[int]],
    labels: Sequence[tuple[int, int]],
    prefix_lens: Sequence[int | None],
    *,
    group: bool,
    max_items: int,
) -> list[ScoringRequest]:
    """Requests covering every prompt once.

    With ``group``, prompts whose first ``prefix_len`` tokens (and verdict ids) are identical
    share a request, at most ``max_items`` each; other prompts go alone, whole as the query.
    """
    requests: list[ScoringRequest] = []
    buckets: dict[tuple[tuple[int, ...], tuple[int, int]], list[int]] = {}
    for index, (ids, label, cut) in enumerate(zip(token_ids, labels, prefix_lens, strict=True)):
        if group and cut:
            buckets.setdefault((tuple(ids[:cut]), label), []).append(index)
        else:
            requests.append(ScoringRequest([index], list(ids), [[]], label))
    for (prefix, label), members in buckets.items():
        cut = len(prefix)
        for start in range(0, len(members), max_items):
            chunk = members[start : start + max_items]
            items = [list(token_ids[i][cut:]) for i in chunk]
            requests.append(ScoringRequest(chunk, list(prefix), items, label))
    return requests


class VllmBackend(RemoteBackend):
    """P(YES) from vLLM's ``/generative_scoring`` with the two verdict token ids."""

    name: ClassVar[str] = "vllm"

    @classmethod
    def topk_unsupported(cls, config: SwermConfig) -> str | None:
        return (
            "the vllm backend scores with /generative_scoring, which returns only the two-way "
            "softmax of the verdict tokens, not the top-K: use backend 'openai' (completions, "
            "the same server) or 'transformers' with --topk"
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._checked_labels: set[tuple[int, int]] = set()

    def labels_of(self, prompt: Prompt) -> tuple[int, int]:
        if prompt.verdict_token_ids is not None:
            return prompt.verdict_token_ids
        kit = tokenizer_kit(self.tokenizer)
        return (kit.token_id(prompt.verdict_tokens[0]), kit.token_id(prompt.verdict_tokens[1]))

    async def check_labels(self, labels: tuple[int, int], verdicts: tuple[str, str]) -> None:
        """Make sure the server's tokenizer gives the verdict strings the same ids as ours; a
        different tokenizer would make every score meaningless without any error."""
        if labels in self._checked_labels:
            return
        for token, expected in zip(verdicts, labels, strict=True):
            payload = {"model": self.model_name, "prompt": token, "add_special_tokens": False}
            try:
                reply = await self.client.post_json("/tokenize", payload, what="/tokenize")
            except RemoteError as exc:
                if exc.status == 404:  # a server without /tokenize: nothing to compare with
                    break
                raise
            got = reply.get("tokens") if isinstance(reply, dict) else None
            if got != [expected]:
                raise ReplyError(
                    f"the server tokenizes {token!r} as {got} but the local tokenizer gives "
                    f"[{expected}]: remote.tokenizer must be the served model's tokenizer"
                )
        self._checked_labels.add(labels)

    async def score_valid(self, prompts: list[Prompt], info: ServerInfo) -> list[Score]:
        results: list[Score | None] = [None] * len(prompts)
        members: dict[tuple[int, int], list[int]] = {}
        for index, prompt in enumerate(prompts):
            try:
                members.setdefault(self.labels_of(prompt), []).append(index)
            except ValueError as exc:  # a verdict string that is not one token
                results[index] = self.failed(prompt, str(exc), 0.0)
        todo: list[int] = []
        labels: list[tuple[int, int]] = []
        for label, indices in members.items():
            try:
                await self.check_labels(label, prompts[indices[0]].verdict_tokens)
            except (RemoteError, ReplyError) as exc:
                for index in indices:
                    results[index] = self.failed(prompts[index], str(exc), 0.0)
                continue
            todo.extend(indices)
            labels.extend([label] * len(indices))
        chosen = [prompts[i] for i in todo]
        requests = plan_requests(
            [prompt.token_ids or [] for prompt in chosen],
            labels,
            [prompt.prefix_len for prompt in chosen],
            group=self.config.remote.group_candidates,
            max_items=self.config.remote.max_items,
        )
        done = await asyncio.gather(*(self._send(chosen, request) for request in requests))
        for request, scores in zip(requests, done, strict=True):
            for local, score in zip(request.indices, scores, strict=True):
                results[todo[local]] = score
        return filled(results)

    async def _send(self, prompts: list[Prompt], request: ScoringRequest) -> list[Score]:
        """Scores for one request's prompts (``request.indices`` index ``prompts``)."""
        payload = {
            "model": self.model_name,
            "query": request.query,
            "items": request.items,
            "label_token_ids": list(request.labels),
            "apply_softmax": True,
        }
        what = f"/generative_scoring of {len(request.items)} prompt(s)"
        start = time.perf_counter()
        try:
            reply = await self.client.post_json("/generative_scoring", payload, what=what)
            values = read_scores(reply, len(request.items))
        except RemoteError as exc:
            if exc.status == 400 and len(request.indices) > 1:
                parts = await asyncio.gather(*(self._send(prompts, r) for r in request.singles()))
                return [score for part in parts for score in part]
            elapsed = time.perf_counter() - start
            return [self.failed(prompts[i], str(exc), elapsed) for i in request.indices]
        except ReplyError as exc:
            elapsed = time.perf_counter() - start
            return [self.failed(prompts[i], str(exc), elapsed) for i in request.indices]
        elapsed = time.perf_counter() - start
        return [
            self.scored(value, elapsed) for i, value in zip(request.indices, values, strict=True)
        ]


def read_scores(reply: Any, expected: int) -> list[float]:
    """The item scores of a ``/generative_scoring`` reply, in item order."""
    data = reply.get("data") if isinstance(reply, dict) else None
    if not isinstance(data, list) or len(data) != expected:
        raise ReplyError(f"expected {expected} scores from /generative_scoring, got {reply!r:.200}")
    values: list[float | None] = [None] * expected
    for entry in data:
        try:
            index, value = int(entry["index"]), float(entry["score"])
        except (KeyError, TypeError, ValueError):
            raise ReplyError(f"malformed /generative_scoring entry: {entry!r:.200}") from None
        if not 0 <= index < expected or not 0.0 <= value <= 1.0:
            raise ReplyError(f"/generative_scoring entry out of range: {entry!r:.200}")
        values[index] = value
    if any(value is None for value in values):
        raise ReplyError(f"/generative_scoring repeated an index: {reply!r:.200}")
    return [value for value in values if value is not None]
