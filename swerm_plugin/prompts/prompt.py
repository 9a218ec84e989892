"""The rendered input a backend scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

CutKind = Literal["thought", "observation", "steps", "problem_statement", "patch"]


@dataclass(frozen=True)
class Cut:
    """One place where the token budget removed content; a visible marker stands there.

    ``removed`` counts tokens for text cuts and whole steps for ``kind == "steps"``; ``step`` is
    the 0-based index of the (first) step concerned, ``None`` for the problem statement and patch.
    """

    kind: CutKind
    removed: int
    marker: str
    step: int | None = None


@dataclass
class Prompt:
    """One trajectory rendered by a template, ready for a backend.

    ``token_ids`` are the exact ids to score (trajectory text tokenized with special-token
    parsing off); ``text`` is the same prompt as a string for backends that only take text.
    ``verdict_tokens`` are the (YES, NO) label strings whose next-token probabilities give P(YES).

    ``prefix_len`` is the number of leading ``token_ids`` that hold the template's fixed part and
    the problem statement: the candidates of one task share it, so a server can cache it
    (``token_ids[:prefix_len]`` as the query, the rest as the item). ``prefix_chars`` is the same
    boundary in ``text``. ``cuts`` lists what the token budget removed; ``sanitized`` is set when
    special-token strings in agent text were neutralised because no tokenizer was available.
    """

    content_hash: str
    template: str
    template_version: str
    messages: list[dict[str, str]] = field(default_factory=list)
    text: str = ""
    token_ids: list[int] | None = None
    verdict_tokens: tuple[str, str] = ("<YES>", "<NO>")
    truncated: bool = False
    verdict_token_ids: tuple[int, int] | None = None
    prefix_len: int | None = None
    prefix_chars: int | None = None
    budget: int | None = None
    cuts: list[Cut] = field(default_factory=list)
    sanitized: bool = False

    @property
    def n_tokens(self) -> int | None:
        return None if self.token_ids is None else len(self.token_ids)

    def explain(self) -> str:
        """A header (template, token count, budget, cuts) followed by the rendered prompt text:
        what ``swerm score --explain`` prints."""
        tokens = "?" if self.n_tokens is None else str(self.n_tokens)
        budget = "none" if self.budget is None else str(self.budget)
        lines = [
            f"template {self.template} v{self.template_version} | {tokens} tokens "
            f"(budget {budget}) | prefix {self.prefix_len} tokens | verdict "
            f"{self.verdict_tokens[0]!r}/{self.verdict_tokens[1]!r}",
        ]
        if self.cuts:
            lines.append("cuts: " + "; ".join(f"{c.kind}: {c.marker}" for c in self.cuts))
        else:
            lines.append("cuts: none")
        return "\n".join(lines) + "\n\n" + self.text
