"""The contracts every scorer implements: a reward backend (one prompt at a time) or a group
scorer (the candidates of one task together, e.g. consensus voting)."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from swerm_plugin.backends.card import ModelCard
from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import BackendUnavailable
from swerm_plugin.model import CandidateGroup, Score, ScoreKind
from swerm_plugin.prompts.prompt import Prompt
from swerm_plugin.prompts.templates import PromptTemplate

__all__ = ["BackendUnavailable", "GroupScorer", "RewardBackend"]


class RewardBackend(ABC):
    """Scores batches of prompts. Subclasses register through ``swerm_register_backends``.

    ``score_batch`` returns one :class:`Score` per prompt, in order; a prompt that could not be
    scored gets a ``Score`` with ``error`` set rather than being dropped. A backend fills only
    what it measured (``raw`` or ``error``, ``latency_s``, ``approximate``); the
    :class:`~swerm_plugin.verifier.Verifier` adds what the prompt and the backend's identity
    say (backend, model, template, token count, cuts).
    """

    name: ClassVar[str]
    kind: ClassVar[ScoreKind] = "p_yes"
    #: The model's tokenizer, used to render prompts as exact token ids; None for text-only
    #: backends (they get ``Prompt.messages`` / ``Prompt.text``).
    tokenizer: Any = None
    #: The model's context length in tokens, when known; the default prompt budget derives from
    #: it. A plain attribute: reading it never does I/O (see :meth:`discover_context_length`).
    context_length: int | None = None
    #: The model name written into every score.
    model_name: str = ""
    #: Whether prompts reach the model as text (not token ids): then agent markup could only be
    #: neutralised, not tokenized away, and every score is flagged ``sanitized``.
    sends_text: bool = False
    #: For text prompts: the served model's special and added tokens, when known (neutralised
    #: in agent text; without them, every major model family's markup is).
    text_markup: tuple[str, ...] | None = None
    #: The model folder's ``swerm-card.json`` (from ``swerm distill``), when it has one: its
    #: temperature is applied to every score (``Score.temperature`` says so).
    card: ModelCard | None = None

    def __init__(self, config: SwermConfig) -> None:
        self.config = config

    @classmethod
    def topk_unsupported(cls, config: SwermConfig) -> str | None:
        """Why this backend cannot record the top-K next-token log-probs (``config.topk``), or
        ``None`` when it can. Backends that can say so by overriding this."""
        return (
            f"the {cls.name} backend does not report next-token log-probs, so it cannot record "
            "the top-K (--topk); use the transformers backend or the openai backend "
            "(completions)"
        )

    @abstractmethod
    def score_batch(self, prompts: Sequence[Prompt]) -> list[Score]:
        """Score ``prompts``; the result has the same length and order."""

    async def ascore_batch(self, prompts: Sequence[Prompt]) -> list[Score]:
        """Async variant; the default runs :meth:`score_batch` in a worker thread."""
        return await asyncio.to_thread(self.score_batch, prompts)

    def check(self) -> None:  # noqa: B027 - nothing to check for most backends
        """Make sure the backend can score at all (model loadable, server up and serving the
        model), raising what to fix; launchers call it before the first instance starts."""

    def prompt_template(self) -> PromptTemplate | None:
        """The template of a backend that lays out its own prompts (the judge: its instructions
        and chosen exemplars); ``None``, the default, renders with the configured template."""
        return None

    def discover_context_length(self) -> int | None:
        """Ask the model's host for its context length (remote backends do I/O here, once);
        the default is the attribute as it is."""
        return self.context_length

    def close(self) -> None:  # noqa: B027 - optional for subclasses without resources
        """Release models, connections or servers held by the backend."""


class GroupScorer(ABC):
    """Scores every candidate of one task at once, because a candidate's score depends on the
    others (votes). Registered through ``swerm_register_backends`` like a backend; chosen with
    ``backend = "<name>"``. The default when no model is configured is ``selector``."""

    name: ClassVar[str]
    #: Bumped by the scorer whenever a change can change a pick; ``swerm eval`` reports it.
    version: ClassVar[str] = ""
    kind: ClassVar[ScoreKind] = "vote_share"

    def __init__(self, config: SwermConfig) -> None:
        self.config = config

    def prepare(self, groups: Sequence[CandidateGroup]) -> None:  # noqa: B027 - optional
        """Called once with every task of the runs before any :meth:`score_group`, so a scorer
        can use run-level statistics (e.g. how long a trajectory is for its run)."""

    @abstractmethod
    def score_group(self, group: CandidateGroup) -> list[Score]:
        """One score per candidate of ``group``, in order."""

    def support_matrix(self, group: CandidateGroup) -> np.ndarray:
        """``M[i, j]``: what candidate ``j``'s presence adds to candidate ``i``'s score, so that
        among any subset ``S`` of the candidates, ``i`` scores ``sum(M[i, j] for j in S)`` and
        the best of ``S`` is the highest. ``swerm eval`` uses it to pick inside random subsets.

        The default says a score does not depend on the others: the scores on the diagonal.
        """
        return np.diag(
            [s.raw if s.ok and s.raw is not None else 0.0 for s in self.score_group(group)]
        )

    def close(self) -> None:  # noqa: B027 - nothing to release for most scorers
        """Release what the scorer holds."""
