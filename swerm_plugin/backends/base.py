"""The contract every reward backend implements."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from swerm_plugin.config import SwermConfig
from swerm_plugin.prompts.prompt import Prompt
from swerm_plugin.trajectory import Score


class BackendUnavailable(RuntimeError):
    """The backend cannot run here (missing extra, no server); the message says what to do."""


class RewardBackend(ABC):
    """Scores batches of prompts. Subclasses register through ``swerm_register_backends``.

    ``score_batch`` returns one :class:`Score` per prompt, in order; a prompt that could not be
    scored gets a ``Score`` with ``error`` set rather than being dropped.
    """

    name: ClassVar[str]
    #: The model's tokenizer, used to render prompts as exact token ids; None for text-only
    #: backends (they get ``Prompt.messages`` / ``Prompt.text``).
    tokenizer: Any = None
    #: The model's context length in tokens, when known; the default prompt budget derives from it.
    context_length: int | None = None

    def __init__(self, config: SwermConfig) -> None:
        self.config = config

    @abstractmethod
    def score_batch(self, prompts: Sequence[Prompt]) -> list[Score]:
        """Score ``prompts``; the result has the same length and order."""

    async def ascore_batch(self, prompts: Sequence[Prompt]) -> list[Score]:
        """Async variant; the default runs :meth:`score_batch` in a worker thread."""
        return await asyncio.to_thread(self.score_batch, prompts)

    def close(self) -> None:  # noqa: B027 - optional for subclasses without resources
        """Release models, connections or servers held by the backend."""
