"""The ``judge`` backend: a verifier made of any API model, through litellm.

The prompt is the judge's template (:mod:`.template`) with the exemplars ``judge.exemplars``
names, rendered as text (agent markup and the template's structure neutralised, so every score
is ``sanitized``). The model answers; P(YES) comes from

* the verdict word's log-probs, when the provider returns them (``judge.verdict_from`` ``auto``
  or ``logprobs``): exact, or a bound flagged ``approximate`` when a verdict is outside the
  top-k;
* else ``judge.n_samples`` sampled answers at ``judge.temperature``: the share of YES, flagged
  ``approximate`` with ``n_samples`` set.

``judge.mode = "verdict"`` asks for the verdict alone: the answer is pre-filled with
``VERDICT:`` and one token is read. An answer without a verdict is an error for that trajectory,
never a default number. Every score carries the tokens its calls were billed and their cost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from swerm_plugin.backends.base import RewardBackend
from swerm_plugin.backends.remote.base import ReplyError
from swerm_plugin.backends.remote.loop import LoopThread
from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import RemoteError
from swerm_plugin.judge.calls import JudgeCalls, Reply, Usage
from swerm_plugin.judge.exemplars import Exemplar, read_exemplars
from swerm_plugin.judge.template import JudgeTemplate, judge_template
from swerm_plugin.judge.verdicts import (
    UnparsableReply,
    first_word_verdict,
    p_yes_from_logprobs,
    parse_verdict,
    share_of_yes,
)
from swerm_plugin.model import Score
from swerm_plugin.prompts.prompt import Prompt

log = logging.getLogger("swerm.judge")
#: Tokens a verdict-only answer may take when it is not pre-filled ("VERDICT: YES").
_SHORT_ANSWER_TOKENS = 8


@dataclass
class Judgement:
    """The judge's answer for one prompt: P(YES), or why there is none, and what it cost."""

    p_yes: float | None = None
    approximate: bool = False
    n_samples: int | None = None
    usage: Usage = field(default_factory=Usage)
    error: str | None = None
    latency_s: float = 0.0

    def score(self) -> Score:
        usage = self.usage
        return Score(
            raw=self.p_yes,
            approximate=self.approximate,
            n_samples=self.n_samples,
            prompt_tokens=usage.prompt_tokens if usage.calls else None,
            completion_tokens=usage.completion_tokens if usage.calls else None,
            cost_usd=usage.cost_usd if usage.calls else None,
            latency_s=self.latency_s,
            error=self.error,
        )


def load_exemplars(config: SwermConfig) -> list[Exemplar]:
    """The exemplars ``judge.exemplars`` names (none: zero-shot)."""
    if not config.judge.exemplars:
        return []
    document = read_exemplars(Path(config.judge.exemplars).expanduser())
    model = config.judge.model or config.model
    if document.model != model:
        log.warning(
            "judge: the exemplars in %s were chosen with %s, not %s; they still apply, but "
            "choosing them again with this model may judge better",
            config.judge.exemplars, document.model, model,
        )  # fmt: skip
    return document.chosen


class JudgeBackend(RewardBackend):
    """P(YES) from an API model's answer to the judge's prompt (see the module docs)."""

    name: ClassVar[str] = "judge"
    sends_text = True

    def __init__(self, config: SwermConfig) -> None:
        super().__init__(config)
        self.settings = config.judge
        self.calls = JudgeCalls(config)
        self.model_name = self.calls.model
        self.exemplars = load_exemplars(config)
        self.template: JudgeTemplate = judge_template(self.exemplars, self.settings)
        self._loop = LoopThread("swerm-judge")
        #: Whether the provider returns log-probs; learned from the first reply.
        self.gives_logprobs: bool | None = None
        self._context_asked = False

    def prompt_template(self) -> JudgeTemplate:
        return self.template

    def discover_context_length(self) -> int | None:
        """The model's input limit, less the answer's tokens: from litellm's model card, else
        (a server at ``remote.endpoints``) the ``max_model_len`` vLLM lists in ``/v1/models``."""
        if self.context_length is None and not self._context_asked:
            self._context_asked = True
            limit = self.calls.model_info.get("max_input_tokens")
            if not isinstance(limit, int) and not self.calls.hosted:
                limit = self.run(self._served_length)
            if isinstance(limit, int) and limit > self.settings.max_rationale_tokens:
                self.context_length = limit - self.settings.max_rationale_tokens
        return self.context_length

    async def _served_length(self) -> int | None:
        try:
            reply = await self.calls.client.get_json("/v1/models", what="listing served models")
        except RemoteError:
            return None
        cards = reply.get("data") if isinstance(reply, dict) else None
        for card in cards if isinstance(cards, list) else []:
            served = {self.model_name, self.model_name.split("/", 1)[-1]}  # openai/NAME: NAME
            if isinstance(card, dict) and card.get("id") in served:
                length = card.get("max_model_len")
                return length if isinstance(length, int) else None
        return None

    # --- scoring ---

    def score_batch(self, prompts: Sequence[Prompt]) -> list[Score]:
        return [j.score() for j in self.run(self.judge_all, list(prompts))]

    async def ascore_batch(self, prompts: Sequence[Prompt]) -> list[Score]:
        judgements = await self._loop.arun(self.judge_all, list(prompts))
        return [j.score() for j in judgements]

    def run(self, func: Any, *args: Any) -> Any:
        """Run a coroutine function of this backend on its own loop and wait for it."""
        return self._loop.run(func, *args)

    async def judge_all(self, prompts: list[Prompt]) -> list[Judgement]:
        return list(await asyncio.gather(*(self.judge(p.messages) for p in prompts)))

    async def judge(self, messages: list[dict[str, str]]) -> Judgement:
        """The judgement of one rendered prompt; failures become ``Judgement.error``."""
        start = time.perf_counter()
        usage = Usage()
        try:
            judgement = await self._judge(messages, usage)
        except (RemoteError, ReplyError, UnparsableReply) as exc:
            message = self.calls.client.redact(f"judge backend: {exc}")
            judgement = Judgement(error=message)
        judgement.usage = usage
        judgement.latency_s = time.perf_counter() - start
        return judgement

    async def _judge(self, messages: list[dict[str, str]], usage: Usage) -> Judgement:
        source = self.settings.verdict_from
        if source != "sampling" and self.gives_logprobs is not False:
            reply = await self._ask(messages, usage, logprobs=True)
            if reply.tokens is not None:
                self.gives_logprobs = True
                p, approximate = p_yes_from_logprobs(
                    reply.tokens, self.settings.verdicts, verdict_only=self._one_token
                )
                return Judgement(p, approximate)
            if source == "logprobs":
                raise ReplyError(
                    f"{self.model_name} returned no log-probs; set judge.verdict_from = "
                    "'sampling' (or 'auto') to estimate P(YES) from sampled verdicts"
                )
            self.gives_logprobs = False
            log.info("judge: %s returns no log-probs; sampling verdicts", self.model_name)
        asked = [self._ask(messages, usage, logprobs=False) for _ in range(self.settings.n_samples)]
        replies = await asyncio.gather(*asked, return_exceptions=True)  # all done: usage complete
        failed = [r for r in replies if isinstance(r, BaseException)]
        if failed:
            raise failed[0]
        answers = [self.verdict_of(reply.text) for reply in replies if isinstance(reply, Reply)]
        return Judgement(share_of_yes(answers), approximate=True, n_samples=len(answers))

    @property
    def _one_token(self) -> bool:
        """Verdict mode with the answer pre-filled: the verdict is the first generated token."""
        return self.settings.mode == "verdict" and self.settings.prefill

    def verdict_of(self, text: str) -> bool:
        """The verdict in one sampled answer. :raises UnparsableReply: there is none."""
        verdicts = self.settings.verdicts
        if self.settings.mode == "verdict":
            try:
                return parse_verdict(text, verdicts).is_yes
            except UnparsableReply:
                return first_word_verdict(text, verdicts)
        return parse_verdict(text, verdicts).is_yes

    async def _ask(self, messages: list[dict[str, str]], usage: Usage, *, logprobs: bool) -> Reply:
        if self.settings.mode == "rationale":
            max_tokens = self.settings.max_rationale_tokens
        else:
            max_tokens = 1 if logprobs and self._one_token else _SHORT_ANSWER_TOKENS
        request = self.calls.request(
            messages,
            max_tokens=max_tokens,
            temperature=0.0 if logprobs else self.settings.temperature,
            logprobs=logprobs,
        )
        reply = await self.calls.complete(request)
        usage.add(reply.usage)
        return reply

    # --- lifetime ---

    def close(self) -> None:
        if self._loop.closed:
            return
        self._loop.run(self.calls.aclose)
        self._loop.close()
