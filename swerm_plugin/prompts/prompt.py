"""The rendered input a backend scores."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Prompt:
    """One trajectory rendered by a template, ready for a backend.

    ``token_ids`` are the exact ids to score (trajectory text tokenized with special-token
    parsing off); ``text`` is the same prompt as a string for backends that only take text.
    ``verdict_tokens`` are the (YES, NO) label strings whose next-token probabilities give P(YES).
    """

    content_hash: str
    template: str
    template_version: str
    messages: list[dict[str, str]] = field(default_factory=list)
    text: str = ""
    token_ids: list[int] | None = None
    verdict_tokens: tuple[str, str] = ("<YES>", "<NO>")
    truncated: bool = False

    @property
    def n_tokens(self) -> int | None:
        return None if self.token_ids is None else len(self.token_ids)
