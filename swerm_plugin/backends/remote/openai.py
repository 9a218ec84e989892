"""The ``openai`` backend: any OpenAI-compatible server (vLLM, SGLang, TGI, hosted), via litellm.

One token is generated (``max_tokens=1``, greedy) and the top-k log-probs of that position are
read. When both verdict tokens are among them, P(YES) is exact. When one is missing, its
probability is only known to be at most the smallest listed one (and at most the mass not
listed); swerm gives it that largest possible value, so the score is the least confident one the
data allows, and ``Score.approximate`` says it is a bound.

``remote.openai_api = "completions"`` (default) sends token ids, rendered on the client.
``"chat"`` is for servers that take only messages: the text is sent with agent markup neutralised
(``Score.sanitized``) and verdict tokens are matched by their text.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from swerm_plugin.backends.remote.base import (
    RemoteBackend,
    ReplyError,
    ServerInfo,
    load_tokenizer,
)
from swerm_plugin.backends.remote.http import (
    RETRY_STATUSES,
    RequestRejected,
    TransientError,
    parse_retry_after,
    status_hint,
)
from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import RemoteError
from swerm_plugin.model import Score, TopLogprobs
from swerm_plugin.prompts.prompt import Prompt
from swerm_plugin.prompts.tokens import tokenizer_kit


def verdict_probability(
    top: Mapping[str, float], yes_keys: Iterable[str], no_keys: Iterable[str]
) -> tuple[float, bool]:
    """P(YES) over the two verdict tokens from one position's top-k log-probs.

    ``yes_keys`` / ``no_keys`` are the keys that stand for each verdict (its text, and vLLM's
    ``"token_id:N"``). Returns ``(p, approximate)``; see the module docstring for the bound.
    """
    log_yes = max((top[k] for k in yes_keys if k in top), default=None)
    log_no = max((top[k] for k in no_keys if k in top), default=None)
    if log_yes is not None and log_no is not None:
        return _two_way(log_yes, log_no), False
    listed = [math.exp(value) for value in top.values()]
    ceiling = min(min(listed, default=1.0), max(0.0, 1.0 - sum(listed)))
    log_ceiling = math.log(ceiling) if ceiling > 0 else -math.inf
    if log_yes is None and log_no is None:
        return 0.5, True
    if log_yes is None:
        return _two_way(log_ceiling, log_no), True  # type: ignore[arg-type]
    return _two_way(log_yes, log_ceiling), True


def _two_way(log_yes: float, log_no: float) -> float:
    """exp(yes) / (exp(yes) + exp(no)), stable for any magnitudes."""
    if log_no == -math.inf:
        return 1.0
    if log_yes == -math.inf:
        return 0.0
    return 1.0 / (1.0 + math.exp(log_no - log_yes))


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def top_logprobs_of(response: Any, *, chat: bool) -> dict[str, float]:
    """``{token: logprob}`` of the first generated position (max on duplicate token texts)."""
    choices = _field(response, "choices")
    if not choices:
        raise ReplyError(f"the reply has no choices: {response!r:.200}")
    logprobs = _field(choices[0], "logprobs")
    if chat:
        content = _field(logprobs, "content") if logprobs is not None else None
        entries = _field(content[0], "top_logprobs") if content else None
        pairs = [(_field(e, "token"), _field(e, "logprob")) for e in entries or []]
    else:
        tops = _field(logprobs, "top_logprobs") if logprobs is not None else None
        first = tops[0] if tops else None
        pairs = list(first.items()) if isinstance(first, Mapping) else []
    top: dict[str, float] = {}
    for token, value in pairs:
        if isinstance(token, str) and isinstance(value, int | float):
            top[token] = max(float(value), top.get(token, -math.inf))
    if not top:
        raise ReplyError(
            "the reply has no top log-probs for the first generated token; use a server that "
            "returns logprobs (vLLM allows up to 20 unless started with --max-logprobs)"
        )
    return top


def top_k_of(top: Mapping[str, float], k: int, tokenizer: Any) -> TopLogprobs:
    """The ``k`` likeliest entries of one position's top log-probs as token ids.

    vLLM names tokens ``"token_id:N"`` (``return_tokens_as_token_ids``); other servers name them
    by text, which is mapped back to an id only when the text is exactly one token.
    """
    ranked = sorted(top.items(), key=lambda kv: kv[1], reverse=True)
    ids: list[int] = []
    values: list[float] = []
    for key, value in ranked:
        token_id = _token_id(key, tokenizer)
        if token_id in ids:
            continue
        ids.append(token_id)
        values.append(value)
        if len(ids) == k:
            return TopLogprobs(ids=ids, logprobs=values)
    raise ReplyError(
        f"the reply lists {len(ids)} alternatives for the verdict position, fewer than the "
        f"{k} asked for (--topk); raise the server's --max-logprobs"
    )


def _token_id(key: str, tokenizer: Any) -> int:
    if key.startswith("token_id:") and key[len("token_id:") :].isdigit():
        return int(key[len("token_id:") :])
    ids = tokenizer.encode(key, add_special_tokens=False) if tokenizer is not None else []
    if len(ids) != 1:
        raise ReplyError(
            f"cannot tell the token id of the top log-prob entry {key!r}; with vLLM set "
            "remote.vllm_extensions = true so that the server names token ids"
        )
    return int(ids[0])


def _litellm() -> Any:
    """litellm, imported on first use and kept quiet: no network fetch at import, no banner.

    litellm writes its records below WARNING to *stdout*, where ``swerm score`` writes JSON
    lines, and with ``--debug`` it would dump every request; so its loggers start at WARNING
    unless someone set their level already.
    """
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def as_attempt_error(exc: Exception, timeout_s: float) -> Exception:
    """A litellm exception as :class:`TransientError` (worth retrying) or
    :class:`RequestRejected`."""
    litellm = _litellm()
    status = getattr(exc, "status_code", None)
    text = str(exc).replace("\n", " ")[:300]
    if isinstance(exc, litellm.Timeout):
        return TransientError(f"no reply within {timeout_s:g} s")
    if isinstance(exc, litellm.APIConnectionError) and not isinstance(status, int):
        return TransientError(f"connection failed ({text})")
    if isinstance(status, int) and (status in RETRY_STATUSES or status >= 500):
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or getattr(
            exc, "litellm_response_headers", None
        )
        retry_after = parse_retry_after(headers.get("retry-after")) if headers else None
        return TransientError(f"HTTP {status}: {text}", retry_after=retry_after)
    if isinstance(status, int) and 400 <= status < 500:
        return RequestRejected(f"HTTP {status}: {text}{status_hint(status)}", status=status)
    return TransientError(f"{type(exc).__name__}: {text}")


class OpenAIBackend(RemoteBackend):
    """P(YES) from the top log-probs of one generated token, through litellm."""

    name: ClassVar[str] = "openai"

    def __init__(self, config: SwermConfig) -> None:
        self.chat = config.remote.openai_api == "chat"
        self.needs_tokenizer = not self.chat
        self.sends_text = self.chat
        super().__init__(config)
        self._sdk_clients: dict[str, Any] = {}
        if self.chat and config.remote.tokenizer:
            # Text goes to the server, but the served model's markup is known: neutralise all of
            # it in agent text (every special and added token), not only the common families'.
            kit = tokenizer_kit(load_tokenizer(config.remote.tokenizer))
            self.text_markup = tuple(kit.added)

    @classmethod
    def topk_unsupported(cls, config: SwermConfig) -> str | None:
        if config.remote.openai_api == "chat":
            return (
                "the openai backend in chat mode sees tokens only as text, not ids, so it "
                "cannot record the top-K (--topk); use openai_api = 'completions'"
            )
        return None

    def check_prompt(self, prompt: Prompt) -> str | None:
        if not self.chat:
            return super().check_prompt(prompt)
        if prompt.token_ids is not None:
            return (
                "chat mode sends text, so prompts must be rendered without a tokenizer (then "
                "agent markup is neutralised); the Verifier does this for this backend"
            )
        prefilled = bool(prompt.messages) and prompt.messages[-1]["role"] == "assistant"
        if prefilled and not self.config.remote.vllm_extensions:
            return (
                "the template pre-fills the assistant turn, which chat servers accept only "
                "through vLLM's continue_final_message: set remote.vllm_extensions = true, or "
                "use openai_api = 'completions'"
            )
        return None

    async def _fetch_info(self) -> ServerInfo:
        try:
            return await super()._fetch_info()
        except RemoteError as exc:
            if exc.status == 404:  # hosted APIs need not list models
                return ServerInfo(self.model_name, None)
            raise

    def _sdk_client(self, base: str) -> Any:
        """One pooled OpenAI SDK client per endpoint, handed to litellm (which would otherwise
        cache clients process-wide), without its own retries: the retry policy is ours."""
        if base not in self._sdk_clients:
            from openai import AsyncOpenAI

            self._sdk_clients[base] = AsyncOpenAI(
                base_url=f"{base}/v1",
                api_key=self.client.api_key or "no-key",
                max_retries=0,
                timeout=self.config.remote.timeout_s,
            )
        return self._sdk_clients[base]

    def _verdict_keys(self, prompt: Prompt) -> tuple[list[str], list[str]]:
        yes, no = [prompt.verdict_tokens[0]], [prompt.verdict_tokens[1]]
        if not self.chat:
            ids = prompt.verdict_token_ids
            if ids is None:
                kit = tokenizer_kit(self.tokenizer)
                ids = (kit.token_id(yes[0]), kit.token_id(no[0]))
            yes.append(f"token_id:{ids[0]}")
            no.append(f"token_id:{ids[1]}")
        return yes, no

    def _request(self, prompt: Prompt) -> dict[str, Any]:
        remote = self.config.remote
        extra: dict[str, Any] = {}
        request: dict[str, Any] = {
            "model": self.model_name,
            "custom_llm_provider": "openai",
            "max_tokens": 1,
            "temperature": 0.0,
            "timeout": remote.timeout_s,
            "num_retries": 0,
        }
        if self.chat:
            request.update(
                messages=prompt.messages, logprobs=True, top_logprobs=remote.top_logprobs
            )
            if prompt.messages[-1]["role"] == "assistant":
                extra.update(continue_final_message=True, add_generation_prompt=False)
        else:
            request.update(
                prompt=prompt.token_ids, logprobs=max(remote.top_logprobs, self.config.topk or 0)
            )
            if remote.vllm_extensions:
                extra["return_tokens_as_token_ids"] = True
        if extra:
            request["extra_body"] = extra
        return request

    async def score_valid(self, prompts: list[Prompt], info: ServerInfo) -> list[Score]:
        return list(await asyncio.gather(*(self._score_one(p) for p in prompts)))

    async def _score_one(self, prompt: Prompt) -> Score:
        litellm = _litellm()
        start = time.perf_counter()
        try:
            yes, no = self._verdict_keys(prompt)
        except ValueError as exc:
            return self.failed(prompt, str(exc), 0.0)
        request = self._request(prompt)
        call = litellm.acompletion if self.chat else litellm.atext_completion
        timeout_s = self.config.remote.timeout_s

        async def send(base: str) -> Any:
            try:
                return await call(**request, client=self._sdk_client(base))
            except Exception as exc:
                raise as_attempt_error(exc, timeout_s) from None

        try:
            response = await self.client.call(send, what="completion with logprobs")
            top = top_logprobs_of(response, chat=self.chat)
            best = top_k_of(top, self.config.topk, self.tokenizer) if self.config.topk else None
        except (RemoteError, ReplyError) as exc:
            return self.failed(prompt, str(exc), time.perf_counter() - start)
        raw, approximate = verdict_probability(top, yes, no)
        elapsed = time.perf_counter() - start
        return self.scored(raw, elapsed, approximate=approximate, topk=best)

    def close(self) -> None:
        if not self._loop.closed:
            clients = list(self._sdk_clients.values())
            self._sdk_clients.clear()
            self._loop.run(_close_all, clients)
        super().close()


async def _close_all(clients: list[Any]) -> None:
    for client in clients:
        await client.close()
