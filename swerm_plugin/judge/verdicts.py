"""Reading the judge's verdict, and P(YES), from a reply.

The verdict is the last ``VERDICT: <word>`` line of the *reply*: nothing in the prompt (agent
text included) can move it. Three ways to a probability:

* **log-probs**: at the verdict word's position, P(YES) over the two verdict words from the
  top log-probs (every spelling of a word, with or without a leading space or another case,
  counts towards it); a verdict missing from the top-k makes it a bound (``approximate``);
* **sampling**: without log-probs, the share of YES among ``n`` sampled verdicts
  (``approximate``, ``n_samples`` recorded);
* **verdict only**: the first generated token is the verdict position.

A reply without a verdict is a :class:`UnparsableReply`: an error for that trajectory, never a
default number.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from swerm_plugin.backends.remote.openai import verdict_probability

#: The label the verdict line starts with, in prompts and replies.
VERDICT_LABEL = "VERDICT:"
#: What may surround a verdict word: spaces and Markdown emphasis.
_DECORATION = " \t\n*_`"


class UnparsableReply(ValueError):
    """The reply holds no verdict (or not where it must be)."""


@dataclass(frozen=True)
class TokenLogprobs:
    """One generated token: its text and its top alternatives ``{text: logprob}``."""

    token: str
    top: Mapping[str, float]


@functools.lru_cache(maxsize=16)
def _verdict_line(yes: str, no: str) -> re.Pattern[str]:
    # Markdown decoration around the label and the word is tolerated (**VERDICT:** YES).
    words = f"{re.escape(yes)}|{re.escape(no)}"
    return re.compile(
        rf"(?im)^[\s*_#>`-]*VERDICT[\s*_`]*:[\s*_`]*(?P<word>{words})(?![\w>])",
    )


@dataclass(frozen=True)
class ParsedVerdict:
    """The last verdict line of a reply: the verdict, where its word starts, where its line
    starts (what comes before is the rationale)."""

    is_yes: bool
    offset: int
    line_start: int


def parse_verdict(text: str, verdicts: tuple[str, str]) -> ParsedVerdict:
    """The last verdict line in ``text``.

    :raises UnparsableReply: no verdict line.
    """
    matches = list(_verdict_line(*verdicts).finditer(text))
    if not matches:
        shown = " ".join(text.split())
        shown = shown if len(shown) <= 160 else f"{shown[:80]} ... {shown[-60:]}"
        raise UnparsableReply(
            f"the reply has no '{VERDICT_LABEL} {verdicts[0]}|{verdicts[1]}' line: {shown!r}"
        )
    last = matches[-1]
    is_yes = last.group("word").lower() == verdicts[0].lower()
    return ParsedVerdict(is_yes, last.start("word"), last.start())


def first_word_verdict(text: str, verdicts: tuple[str, str]) -> bool:
    """Verdict-only mode: the reply's first word is the verdict (``VERDICT:`` may come first
    when the model repeats the prefill).

    :raises UnparsableReply: the first word is neither verdict.
    """
    words = text.replace(VERDICT_LABEL, " ").split()
    first = words[0].strip("*_`.,:;!\"'") if words else ""
    if first.lower() == verdicts[0].lower():
        return True
    if first.lower() == verdicts[1].lower():
        return False
    raise UnparsableReply(
        f"the reply does not start with {verdicts[0]} or {verdicts[1]}: {text!r:.80}"
    )


def spelled(token: str, word: str) -> bool:
    """Whether ``token`` is ``word`` (any case, surrounding spaces or markup aside)."""
    return token.strip(_DECORATION).lower() == word.lower()


def p_yes_at(top: Mapping[str, float], verdicts: tuple[str, str]) -> tuple[float, bool]:
    """``(P(YES), approximate)`` from one position's top log-probs.

    Every spelling of a verdict word adds to its probability; the rest is as
    :func:`~swerm_plugin.backends.remote.openai.verdict_probability` (a bound when a verdict
    is missing from the top-k).

    :raises UnparsableReply: neither verdict is among the top log-probs.
    """
    merged: dict[str, float] = {}
    for token, logprob in top.items():
        key = (
            "yes" if spelled(token, verdicts[0]) else "no" if spelled(token, verdicts[1]) else None
        )
        name = f"\0{key}" if key else token
        merged[name] = _logaddexp(merged.get(name, -math.inf), logprob)
    if "\0yes" not in merged and "\0no" not in merged:
        raise UnparsableReply(
            f"neither {verdicts[0]} nor {verdicts[1]} is among the top log-probs at the verdict "
            f"position ({', '.join(repr(t) for t in list(top)[:5])})"
        )
    return verdict_probability(merged, ["\0yes"], ["\0no"])


def _logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    high = max(a, b)
    return high + math.log(math.exp(a - high) + math.exp(b - high))


def verdict_position(tokens: Sequence[TokenLogprobs], offset: int) -> int | None:
    """Index of the token that holds the character at ``offset`` of the tokens' joined text."""
    at = 0
    for index, entry in enumerate(tokens):
        end = at + len(entry.token)
        if at <= offset < end:
            return index
        at = end
    return None


def p_yes_from_logprobs(
    tokens: Sequence[TokenLogprobs], verdicts: tuple[str, str], *, verdict_only: bool
) -> tuple[float, bool]:
    """``(P(YES), approximate)`` read at the verdict position of a reply's log-probs: the first
    token in verdict-only mode, else the verdict word of the last verdict line.

    :raises UnparsableReply: no verdict, or the verdict word is not one token of its own.
    """
    if not tokens:
        raise UnparsableReply("the reply has no generated tokens")
    if verdict_only:
        first = next((entry for entry in tokens if entry.token.strip(_DECORATION)), tokens[0])
        return p_yes_at(first.top, verdicts)
    text = "".join(entry.token for entry in tokens)
    index = verdict_position(tokens, parse_verdict(text, verdicts).offset)
    if index is None or not any(spelled(tokens[index].token, word) for word in verdicts):
        shown = tokens[index].token if index is not None else "(none)"
        raise UnparsableReply(
            f"the verdict word is not a token of its own (the token there is {shown!r}), so "
            "its log-probs cannot be read"
        )
    return p_yes_at(tokens[index].top, verdicts)


def share_of_yes(answers: Sequence[bool]) -> float:
    """P(YES) estimated from sampled verdicts: the share of YES."""
    if not answers:
        raise UnparsableReply("no verdict was sampled")
    return sum(answers) / len(answers)
