"""The rendered input a backend scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: How ``--explain`` shows the chat template's real control tokens.
CONTROL_OPEN, CONTROL_CLOSE = "\u27ea", "\u27eb"
CutKind = Literal["thought", "observation", "steps", "problem_statement", "patch"]


@dataclass(frozen=True)
class Cut:
    """One place where the token budget removed content; a visible marker stands there.

    ``removed`` counts ``unit``: tokens for text cuts, characters for the first, character-level
    pass over a huge trajectory, whole steps for ``kind == "steps"``; ``step`` is the 0-based index
    of the (first) step concerned, ``None`` for the problem statement and patch.
    """

    kind: CutKind
    removed: int
    marker: str
    step: int | None = None
    unit: Literal["tokens", "characters", "steps"] = "tokens"


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
    messages: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""
    token_ids: list[int] | None = None
    verdict_tokens: tuple[str, str] = ("<YES>", "<NO>")
    truncated: bool = False
    verdict_token_ids: tuple[int, int] | None = None
    #: False for prompts of a classification or value head's template (no verdict position).
    reads_verdict: bool = True
    prefix_len: int | None = None
    prefix_chars: int | None = None
    budget: int | None = None
    cuts: list[Cut] = field(default_factory=list)
    #: Agent text changed so it cannot pose as the template's structure or the model's markup
    #: (:class:`~swerm_plugin.prompts.sanitize.Neutralised` records).
    neutralised: list[Any] = field(default_factory=list)
    #: Character spans of ``text`` that are real control tokens of the chat template (the same
    #: text inside agent content is plain text to the model).
    control_spans: list[tuple[int, int]] = field(default_factory=list)

    @property
    def sanitized(self) -> bool:
        """Whether agent text was altered to neutralise markup or structure."""
        return bool(self.neutralised)

    @property
    def n_tokens(self) -> int | None:
        return None if self.token_ids is None else len(self.token_ids)

    def explain(self) -> str:
        """A header (template, token count, budget, cuts) followed by the rendered prompt text:
        what ``swerm score --explain`` prints."""
        tokens = "?" if self.n_tokens is None else str(self.n_tokens)
        budget = "none" if self.budget is None else str(self.budget)
        verdict = f"verdict {self.verdict_tokens[0]!r}/{self.verdict_tokens[1]!r}"
        if not self.reads_verdict:
            verdict = "read by the model's classification or value head"
        lines = [
            f"template {self.template} v{self.template_version} | {tokens} tokens "
            f"(budget {budget}) | prefix {self.prefix_len} tokens | {verdict}",
        ]
        if self.cuts:
            lines.append("cuts: " + "; ".join(f"{c.kind}: {c.marker}" for c in self.cuts))
        else:
            lines.append("cuts: none")
        for change in self.neutralised:
            lines.append(f"altered: {change.kind}: {change.marker}")
        if self.control_spans:
            lines.append(
                f"real control tokens of the chat template are shown {CONTROL_OPEN}like"
                f"{CONTROL_CLOSE}; the same text anywhere else is plain text to the model"
            )
        return "\n".join(lines) + "\n\n" + self._marked_text()

    def _marked_text(self) -> str:
        out, at = [], 0
        for start, end in self.control_spans:
            out += [self.text[at:start], CONTROL_OPEN, self.text[start:end], CONTROL_CLOSE]
            at = end
        return "".join(out) + self.text[at:]
