"""The judge's model calls through litellm (any provider), with their tokens and cost.

Every call goes through the shared retrying client
(:class:`~swerm_plugin.backends.remote.http.RemoteClient`): with ``remote.endpoints`` set, calls
are load-balanced over those servers (OpenAI-compatible unless ``judge.provider`` names another
protocol); without, they go to the provider's own API, whose key litellm reads from the
environment (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``...) unless ``remote.api_key`` names one.

Cost comes from litellm's price map (``LITELLM_LOCAL_MODEL_COST_MAP=True``: the map shipped with
litellm, never fetched): ``None`` for a model it has no price for, never 0.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from swerm_plugin.backends.remote.base import ReplyError
from swerm_plugin.backends.remote.http import RemoteClient
from swerm_plugin.backends.remote.openai import _field, _litellm, as_attempt_error
from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import BackendUnavailable
from swerm_plugin.judge.verdicts import TokenLogprobs

#: Providers whose servers take OpenAI's routes under ``/v1``.
_OPENAI_STYLE = frozenset({"openai", "hosted_vllm", "text-completion-openai"})


@dataclass
class Usage:
    """Calls, tokens and cost, summed. ``None`` where any call did not report its tokens, or
    had no price: an unknown is never counted as 0."""

    calls: int = 0
    prompt_tokens: int | None = 0
    completion_tokens: int | None = 0
    cost_usd: float | None = 0.0

    def add(self, other: Usage) -> Usage:
        self.calls += other.calls
        self.prompt_tokens = _sum(self.prompt_tokens, other.prompt_tokens)
        self.completion_tokens = _sum(self.completion_tokens, other.completion_tokens)
        self.cost_usd = _sum(self.cost_usd, other.cost_usd)
        return self

    @property
    def total_tokens(self) -> int | None:
        return _sum(self.prompt_tokens, self.completion_tokens)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
        }

    @classmethod
    def total(cls, parts: Sequence[Usage]) -> Usage:
        out = cls()
        for part in parts:
            out.add(part)
        return out


def _sum(a: Any, b: Any) -> Any:
    return None if a is None or b is None else a + b


@dataclass
class Reply:
    """One generated answer: its text, its tokens' log-probs (``None`` when the provider gave
    none) and what the call used."""

    text: str
    tokens: list[TokenLogprobs] | None
    usage: Usage = field(default_factory=Usage)


def judge_model(config: SwermConfig) -> str:
    """The model the judge asks: ``judge.model``, else the top-level ``model``."""
    model = config.judge.model or config.model
    if not model:
        raise BackendUnavailable(
            "the judge backend needs a model: set judge.model (or model, --model) to a litellm "
            "model name, e.g. gpt-4o-mini, anthropic/claude-sonnet-4-5, or the served name of "
            "the server in remote.endpoints"
        )
    return model


def judge_provider(config: SwermConfig, model: str) -> str | None:
    """``judge.provider``; else the one litellm reads from the model name; else ``openai`` for
    a model served at ``remote.endpoints`` (any OpenAI-compatible server)."""
    if config.judge.provider:
        return config.judge.provider
    try:
        return str(_litellm().get_llm_provider(model)[1])
    except Exception:
        if config.remote.endpoints:
            return "openai"
    raise BackendUnavailable(
        f"litellm cannot tell which provider serves '{model}': prefix it with the provider "
        "(e.g. anthropic/..., openai/...), set judge.provider, or set remote.endpoints to the "
        "server that serves it"
    )


class JudgeCalls:
    """Chat completions for the judge: one retrying client, prices looked up once."""

    def __init__(self, config: SwermConfig) -> None:
        self.config = config
        self.model = judge_model(config)
        self.provider = judge_provider(config, self.model)
        remote = config.remote
        self.hosted = not remote.endpoints
        # A provider's own API has no URL of ours: one pseudo-endpoint names it in messages.
        urls = remote.endpoints or [f"litellm:{self.provider}"]
        self.client = RemoteClient.from_config(remote, endpoints=urls)

    def request(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float,
        logprobs: bool,
    ) -> dict[str, Any]:
        """The litellm arguments of one call (without the endpoint)."""
        request: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "timeout": self.config.remote.timeout_s,
            "num_retries": 0,
            "max_retries": 0,
            # A provider without log-probs (Anthropic...) gets the call without them; the reply
            # then has none and the verdict is sampled instead.
            "drop_params": True,
        }
        if self.provider:
            request["custom_llm_provider"] = self.provider
        if logprobs:
            request.update(logprobs=True, top_logprobs=self.config.remote.top_logprobs)
        if not self.hosted and self.config.remote.vllm_extensions:
            # vLLM: name special tokens in the log-probs (a verdict may be one, e.g. <YES>),
            # and continue a pre-filled answer instead of starting a new turn.
            extra: dict[str, Any] = {"skip_special_tokens": False}
            if messages and messages[-1]["role"] == "assistant":
                extra.update(continue_final_message=True, add_generation_prompt=False)
            request["extra_body"] = extra
        return request

    async def complete(self, request: dict[str, Any], *, what: str = "judge completion") -> Reply:
        """One call with retries and failover; the reply's text, log-probs and usage.

        :raises RemoteError: the call failed for good. :raises ReplyError: a malformed reply.
        """
        litellm = _litellm()
        timeout_s = self.config.remote.timeout_s
        key = self.client.api_key

        async def send(base: str) -> Any:
            where: dict[str, Any] = {}
            if not self.hosted:
                openai_style = self.provider in _OPENAI_STYLE
                where["api_base"] = f"{base}/v1" if openai_style else base
                where["api_key"] = key or "no-key"
            elif key:
                where["api_key"] = key
            try:
                return await litellm.acompletion(**request, **where)
            except Exception as exc:
                raise as_attempt_error(exc, timeout_s) from None

        response = await self.client.call(send, what=what)
        return self.reply_of(response)

    def reply_of(self, response: Any) -> Reply:
        choices = _field(response, "choices")
        if not choices:
            raise ReplyError(f"the reply has no choices: {response!r:.200}")
        message = _field(choices[0], "message")
        text = _field(message, "content") if message is not None else None
        if not isinstance(text, str):
            raise ReplyError(f"the reply has no text: {choices[0]!r:.200}")
        return Reply(text, tokens_of(choices[0]), self.usage_of(response))

    def usage_of(self, response: Any) -> Usage:
        usage = _field(response, "usage")
        prompt = _field(usage, "prompt_tokens") if usage is not None else None
        completion = _field(usage, "completion_tokens") if usage is not None else None
        # litellm fills in zeros when the server reported no usage; a real prompt has tokens.
        if not isinstance(prompt, int) or not isinstance(completion, int) or prompt <= 0:
            return Usage(calls=1, prompt_tokens=None, completion_tokens=None, cost_usd=None)
        return Usage(1, prompt, completion, self.price(prompt, completion))

    def price(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """What the tokens cost by litellm's price map; ``None`` when it has no price."""
        if not self._priced:
            return None
        try:
            parts = _litellm().cost_per_token(
                model=self.model,
                custom_llm_provider=self.provider,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
        except Exception:
            return None
        total = float(sum(parts))
        return total if math.isfinite(total) else None

    @functools.cached_property
    def _priced(self) -> bool:
        info = self.model_info
        return info.get("input_cost_per_token") is not None and (
            info.get("output_cost_per_token") is not None
        )

    @functools.cached_property
    def model_info(self) -> dict[str, Any]:
        """litellm's card of the model (prices, context); empty when it does not know it."""
        try:
            return dict(_litellm().get_model_info(self.model, custom_llm_provider=self.provider))
        except Exception:
            return {}

    async def aclose(self) -> None:
        await self.client.aclose()


def tokens_of(choice: Any) -> list[TokenLogprobs] | None:
    """Every generated token with its top alternatives; ``None`` without log-probs."""
    logprobs = _field(choice, "logprobs")
    content = _field(logprobs, "content") if logprobs is not None else None
    if not content:
        return None
    tokens = []
    for entry in content:
        token = _field(entry, "token")
        top: dict[str, float] = {}
        for alternative in _field(entry, "top_logprobs") or []:
            text, value = _field(alternative, "token"), _field(alternative, "logprob")
            if isinstance(text, str) and isinstance(value, int | float):
                top[text] = max(float(value), top.get(text, -math.inf))
        logprob = _field(entry, "logprob")
        if isinstance(token, str) and isinstance(logprob, int | float):
            top.setdefault(token, float(logprob))
        if not isinstance(token, str):
            raise ReplyError(f"a log-probs entry has no token text: {entry!r:.200}")
        tokens.append(TokenLogprobs(token, top))
    return tokens
