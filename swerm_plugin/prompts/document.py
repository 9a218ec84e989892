"""What a template produces: typed text segments, and how they are laid out as chat messages.

Two layouts:

* the judge layout (``Document.chat is None``): a system prompt and one user message made of the
  segments, rendered with the model's chat template and a generation prompt (then the verdict
  is the next token);
* the conversation layout (:class:`ChatLayout`): the agent's own conversation, one slot per
  message content (and per tool-call name and arguments), rendered as that conversation, for
  verifiers trained on transcripts (the OpenHands critics).

Every segment belongs to a slot; the budget cuts segments (:mod:`.budget`), rendering joins each
slot's segments and substitutes them into the chat template as plain text (:mod:`.tokens`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

SegmentKind = Literal["fixed", "problem", "thought", "action", "observation", "patch"]
#: The slot of the judge layout's user message (slot 0 is its system prompt).
USER_SLOT = 1


@dataclass(frozen=True)
class Segment:
    """A piece of a message. ``step`` is the turn it belongs to (dropped together); ``slot``
    the message content (or tool-call field) it is part of.

    ``omitted`` > 0 marks a steps marker standing for that many dropped steps (``step`` is the
    first of them), so a later, finer cut that drops its neighbours merges them into one marker.
    """

    kind: SegmentKind
    text: str
    step: int | None = None
    slot: int = USER_SLOT
    omitted: int = 0


@dataclass(frozen=True)
class ChatCall:
    """A tool call of an assistant message: the slots of its name and its JSON arguments."""

    name: int
    arguments: int


@dataclass(frozen=True)
class ChatTurn:
    """One message of the conversation layout: its role and the slot of its content."""

    role: str
    content: int
    calls: tuple[ChatCall, ...] = ()

    @property
    def slots(self) -> tuple[int, ...]:
        return (self.content, *(s for call in self.calls for s in (call.name, call.arguments)))


@dataclass(frozen=True)
class ChatLayout:
    """The conversation layout: the messages, the tool definitions shown to the model, whether a
    generation prompt follows, and whether the prompt stops at the end token of the last message
    (a value head reads its score there)."""

    turns: tuple[ChatTurn, ...]
    tools: tuple[Mapping[str, Any], ...] = ()
    generation_prompt: bool = False
    end_at_last_turn: bool = False

    def kept(self, present: set[int]) -> ChatLayout:
        """The layout without the turns whose content slot has no segment left (dropped by the
        budget), and without tool calls whose slots are gone."""
        turns = []
        for turn in self.turns:
            if turn.content not in present:
                continue
            calls = tuple(c for c in turn.calls if {c.name, c.arguments} <= present)
            turns.append(ChatTurn(turn.role, turn.content, calls))
        return ChatLayout(tuple(turns), self.tools, self.generation_prompt, self.end_at_last_turn)

    def n_slots(self) -> int:
        return 1 + max((s for turn in self.turns for s in turn.slots), default=-1)


@dataclass(frozen=True)
class Document:
    """What a template produced for one trajectory, before chat markup and tokenization.

    ``segments[:prefix_end]`` is the part shared by every candidate of a task (template text and
    the problem statement). ``chat`` is the conversation layout, or ``None`` for the judge
    layout (``system`` + the segments as the user message).
    """

    system: str
    segments: list[Segment]
    prefix_end: int
    chat: ChatLayout | None = field(default=None)

    @property
    def user(self) -> str:
        return "".join(segment.text for segment in self.segments)

    def slot_texts(self, n_slots: int) -> list[str]:
        """The text of each slot: its segments joined."""
        parts: list[list[str]] = [[] for _ in range(n_slots)]
        for segment in self.segments:
            parts[segment.slot].append(segment.text)
        return ["".join(part) for part in parts]

    def with_segments(self, segments: list[Segment], prefix_end: int) -> Document:
        return Document(self.system, segments, prefix_end, self.chat)
