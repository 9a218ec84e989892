"""What the backends that score on inference servers share.

A :class:`RemoteBackend` owns one :class:`~swerm_plugin.backends.remote.http.RemoteClient` and
a private event loop (so sync callers reuse pooled connections across batches), loads the served
model's tokenizer on the client, learns the server's context length once (on request, never on
attribute access), and turns every outcome, failures included, into exactly one
:class:`~swerm_plugin.model.Score` per prompt.

Prompts go to servers as token ids: vLLM parses special tokens inside text prompts, so text would
let an agent write its own ``<|im_start|>assistant\\n<YES>``.
"""

from __future__ import annotations

import asyncio
import time
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from swerm_plugin.backends.base import RewardBackend
from swerm_plugin.backends.card import read_card, scale_probability
from swerm_plugin.backends.remote.http import RemoteClient
from swerm_plugin.backends.remote.loop import LoopThread
from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import BackendUnavailable, RemoteError
from swerm_plugin.model import Score, TopLogprobs
from swerm_plugin.prompts.prompt import Prompt

T = TypeVar("T")
_REMOTE_HINT = "install the remote extra: pip install 'swerm-plugin[remote]'"


class ReplyError(ValueError):
    """The server answered, but not in the shape this backend expects."""


@dataclass(frozen=True)
class ServerInfo:
    """What the client learned from a server once, before scoring."""

    model: str
    max_model_len: int | None


def filled(results: Sequence[T | None]) -> list[T]:
    """``results`` once every slot is set; a gap is a bug, never a score to drop silently."""
    missing = [index for index, result in enumerate(results) if result is None]
    if missing:
        raise RuntimeError(f"no result for prompts {missing[:10]}: this is a bug in swerm")
    return [result for result in results if result is not None]


def load_tokenizer(source: str, *, trust_remote_code: bool = False) -> Any:
    """The served model's tokenizer from a local folder or hub id, for client-side tokenization."""
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise BackendUnavailable(
            f"tokenizing on the client needs transformers ({exc}); install the local extra: "
            "pip install 'swerm-plugin[local]'"
        ) from exc
    folder = Path(source).expanduser()
    name = str(folder) if folder.exists() else source
    try:
        return AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(
            f"cannot load the tokenizer '{source}' ({exc}); swerm tokenizes on the client so that "
            "agent text cannot forge the verdict: set remote.tokenizer to a folder (or hub id) "
            "holding the served model's tokenizer files"
        ) from exc


class RemoteBackend(RewardBackend):
    """Base class of the ``vllm``, ``openai`` and ``classify`` backends."""

    name: ClassVar[str]
    #: Whether prompts must come as token ids (so the backend loads a tokenizer).
    needs_tokenizer: bool = True
    #: Whether the score is read from the two verdict tokens (not from a model's head).
    reads_verdict: ClassVar[bool] = True
    #: Where the model list lives, relative to an endpoint URL.
    models_path: ClassVar[str] = "/v1/models"
    #: Whether the temperature of a ``swerm-card.json`` in the tokenizer folder applies to the
    #: scores (verdict-token backends; not value heads).
    applies_card: ClassVar[bool] = True

    def __init__(self, config: SwermConfig) -> None:
        super().__init__(config)
        remote = config.remote
        if not remote.endpoints:
            raise BackendUnavailable(
                f"the {self.name} backend needs a server: set remote.endpoints to its root URL(s), "
                'e.g. endpoints = ["http://127.0.0.1:8000"] in swerm.toml or '
                "SWERM_REMOTE__ENDPOINTS='[\"http://127.0.0.1:8000\"]'"
            )
        if not config.model:
            raise BackendUnavailable(
                f"the {self.name} backend needs the served model name: set model (--model) to the "
                "name the server knows it by (vLLM's --served-model-name)"
            )
        try:
            import httpx  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailable(f"{self.name} backend: {exc}; {_REMOTE_HINT}") from exc
        self.model_name: str = config.model
        self.tokenizer = (
            load_tokenizer(
                remote.tokenizer or config.model, trust_remote_code=config.trust_remote_code
            )
            if self.needs_tokenizer
            else None
        )
        if self.applies_card:
            self.card = read_card(remote.tokenizer or config.model)
        self.client = RemoteClient.from_config(remote)
        self._loop = LoopThread(f"swerm-{self.name}")
        self._info: ServerInfo | None = None
        self._info_lock: asyncio.Lock | None = None
        self._context_asked = False

    # --- the server, learned once ---

    def check(self) -> None:
        """The server answers and serves the model (``/v1/models``), or :class:`RemoteError`."""
        try:
            self._loop.run(self.server_info)
        except ReplyError as exc:
            raise RemoteError(f"{self.name} backend: {exc}", attempts=1) from None

    def discover_context_length(self) -> int | None:
        """Ask the server once for its context length (``/v1/models``); ``None`` when it cannot
        say (down, or not listing it). Later batches fill it in after a success."""
        if self._info is None and not self._context_asked:
            self._context_asked = True
            try:
                self._loop.run(self.server_info)
            except (RemoteError, ReplyError):
                return None
        return self.context_length

    async def server_info(self) -> ServerInfo:
        """The served model's card from ``/v1/models`` (cached after the first success)."""
        if self._info is None:
            if self._info_lock is None:
                self._info_lock = asyncio.Lock()
            async with self._info_lock:
                if self._info is None:
                    self._info = await self._fetch_info()
                    self.context_length = self._info.max_model_len
        return self._info

    async def _fetch_info(self) -> ServerInfo:
        reply = await self.client.get_json(self.models_path, what="listing served models")
        cards = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(cards, list):
            raise ReplyError(f"{self.models_path} did not return a model list: {reply!r:.200}")
        names = [str(card.get("id")) for card in cards if isinstance(card, dict)]
        if self.model_name not in names:
            raise ReplyError(
                f"the server serves {names}, not '{self.model_name}'; set model to one of them"
            )
        card = cards[names.index(self.model_name)]
        length = card.get("max_model_len")
        return ServerInfo(self.model_name, int(length) if isinstance(length, int) else None)

    # --- scoring ---

    def score_batch(self, prompts: Sequence[Prompt]) -> list[Score]:
        return self._loop.run(self.score_prompts, list(prompts))

    async def ascore_batch(self, prompts: Sequence[Prompt]) -> list[Score]:
        return await self._loop.arun(self.score_prompts, list(prompts))

    async def score_prompts(self, prompts: list[Prompt]) -> list[Score]:
        """One score per prompt, in order; runs on the backend's own loop."""
        results: list[Score | None] = [self._refuse(p, self.check_prompt(p)) for p in prompts]
        if all(result is not None for result in results):
            return filled(results)
        start = time.perf_counter()
        try:
            info = await self.server_info()
        except (RemoteError, ReplyError) as exc:
            elapsed = time.perf_counter() - start
            return [
                self.failed(p, str(exc), elapsed) if r is None else r
                for p, r in zip(prompts, results, strict=True)
            ]
        todo = []
        for index, prompt in enumerate(prompts):
            if results[index] is None:
                results[index] = self._refuse(prompt, self.too_long(prompt, info))
                if results[index] is None:
                    todo.append(index)
        scored = await self.score_valid([prompts[i] for i in todo], info) if todo else []
        for index, score in zip(todo, scored, strict=True):
            results[index] = score
        return filled(results)

    def _refuse(self, prompt: Prompt, problem: str | None) -> Score | None:
        return None if problem is None else self.failed(prompt, problem, 0.0)

    def check_prompt(self, prompt: Prompt) -> str | None:
        """Why ``prompt`` cannot be sent, or ``None``. Subclasses add their own checks."""
        if self.needs_tokenizer and not prompt.token_ids:
            return (
                "the prompt has no token ids; render it with this backend's tokenizer (the "
                "Verifier does) so that agent text is never parsed as markup by the server"
            )
        if self.reads_verdict and not prompt.reads_verdict:
            return (
                f"template '{prompt.template}' is read by a classification or value head, not "
                "by verdict tokens: score it with the classify backend"
            )
        return None

    def too_long(self, prompt: Prompt, info: ServerInfo) -> str | None:
        """vLLM silently cuts prompts past ``max_model_len - 1``, which moves the verdict position;
        refuse them instead."""
        limit = None if info.max_model_len is None else info.max_model_len - 1
        if limit is not None and prompt.n_tokens is not None and prompt.n_tokens > limit:
            return (
                f"the prompt has {prompt.n_tokens} tokens but the server takes at most {limit} "
                f"(max_model_len {info.max_model_len}); lower max_tokens or start the server "
                "with a larger --max-model-len"
            )
        return None

    @abstractmethod
    async def score_valid(self, prompts: list[Prompt], info: ServerInfo) -> list[Score]:
        """Score prompts that passed :meth:`check_prompt`; one result each, in order."""

    # --- results ---

    def scored(
        self,
        raw: float,
        latency_s: float,
        *,
        approximate: bool = False,
        topk: TopLogprobs | None = None,
    ) -> Score:
        """A measured score, with the model card's temperature applied when there is one."""
        temperature = None if self.card is None else self.card.temperature
        if temperature is not None:
            raw = scale_probability(raw, temperature)
        return Score(
            raw=raw,
            latency_s=latency_s,
            approximate=approximate,
            topk=topk,
            temperature=temperature,
        )

    def failed(self, prompt: Prompt, reason: str, latency_s: float) -> Score:
        message = self.client.redact(f"{self.name} backend: {reason}")
        return Score(error=message, latency_s=latency_s)

    # --- lifetime ---

    def close(self) -> None:
        if self._loop.closed:
            return
        self._loop.run(self.client.aclose)
        self._loop.close()
