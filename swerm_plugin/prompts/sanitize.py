"""Keeping agent text from looking like the prompt's own structure or a model's control markup.

Trajectory text is untrusted. Where prompts go to the model as token ids, special tokens in agent
text are tokenized as plain text (:mod:`.tokens`), but two things remain for text itself:

* **structure**: a template's section markers (``</trajectory>``, ``<patch>``,
  ``=== END INTERACTION ===``, ``[PATCH]``...) written by an agent would give the model two
  look-alike sections. Every marker in agent text is neutralised and the change recorded.
* **markup in text prompts**: hosted chat APIs take text, so control markup in agent text
  (``<|im_end|>``, ``<start_of_turn>``, ``[INST]``, DeepSeek's ``<｜User｜>``, Qwen3's
  ``<think>`` ...) must be neutralised before it is sent. With the served model's tokenizer at
  hand, every special or added token it has is; without one, the control markup of every major
  model family is.

Neutralising inserts a zero-width space after a marker's first character: a person reading the
prompt sees the same text, a tokenizer no longer sees the marker.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

ZERO_WIDTH_SPACE = "\u200b"

# Control markup of the major chat model families, for text prompts to unknown models.
_FAMILY_MARKUP = (
    r"<\|[^<>|\n]{1,64}\|>",  # ChatML, Llama 3, Phi, GPT-OSS harmony: <|im_start|>, <|eot_id|>
    r"<｜[^<>｜\n]{1,64}｜>",  # DeepSeek's full-width bars: <｜User｜>, <｜begin▁of▁sentence｜>
    r"</?(?:start_of_turn|end_of_turn|bos|eos|pad|unk|mask)>",  # Gemma
    r"</?s>",  # Llama 2 / Mistral sentence markers
    r"\[/?INST\]",
    r"<</?SYS>>",  # Llama 2 system block
    r"\[/?(?:AVAILABLE_TOOLS|TOOL_CALLS|TOOL_RESULTS|SYSTEM_PROMPT|THINK)\]",  # Mistral v3+
    r"</?(?:think|tool_call|tool_response|tools|function_call)>",  # Qwen3, Hermes-style
    r"</?(?:YES|NO|judgement)>",  # verifier verdicts
)
FAMILY_MARKUP = re.compile("|".join(f"(?:{p})" for p in _FAMILY_MARKUP), re.IGNORECASE)


@dataclass(frozen=True)
class Neutralised:
    """Agent text that was changed so it cannot pose as structure or markup."""

    kind: str
    count: int
    step: int | None = None
    examples: tuple[str, ...] = ()

    @property
    def marker(self) -> str:
        shown = ", ".join(repr(e) for e in self.examples)
        return f"{self.count} look-alike(s) of the prompt's markup neutralised ({shown})"


def neutralise(text: str, pattern: re.Pattern[str]) -> tuple[str, list[str]]:
    """``text`` with every match of ``pattern`` broken after its first character, and the
    matches that were broken."""
    found: list[str] = []

    def breaking(match: re.Match[str]) -> str:
        found.append(match.group(0))
        return match.group(0)[0] + ZERO_WIDTH_SPACE + match.group(0)[1:]

    return pattern.sub(breaking, text), found


@functools.lru_cache(maxsize=64)
def pattern_of(strings: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex matching any of ``strings`` literally (longest first); None for none."""
    useful = sorted({s for s in strings if s.strip()}, key=len, reverse=True)
    if not useful:
        return None
    return re.compile("|".join(re.escape(s) for s in useful))


def markup_pattern(known: Iterable[str] | None) -> re.Pattern[str]:
    """What to neutralise in a text prompt: the model's own special and added tokens when they
    are known, plus the markup of every major model family."""
    own = pattern_of(tuple(known)) if known else None
    if own is None:
        return FAMILY_MARKUP
    return re.compile(f"{own.pattern}|{FAMILY_MARKUP.pattern}", re.IGNORECASE)
