"""Tokenization that keeps untrusted text from ever becoming markup.

The model's chat template is rendered once per tokenizer with placeholder contents. The result is
split into the template's own special tokens (``<|im_start|>``, ...) and text runs; message
contents are substituted into the runs, and every run is tokenized with *all* added tokens treated
as plain text. So ``<|im_end|>`` or ``<YES>`` written by an agent becomes ordinary text tokens,
while the template's structure keeps its real special-token ids.

Because added tokens are split out before pre-tokenization anyway, the ids equal what
``tokenizer(text)`` gives for the same text whenever the messages contain no special-token
strings: counts are exact and the model sees its usual tokenization.

Public entry points: :func:`render_token_ids` (messages → ids, for clients that send token ids to
a server) and :func:`encode_untrusted` (one text → ids).
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from swerm_plugin.errors import PromptRenderError

SLOT_OPEN, SLOT_CLOSE = "\ue000swerm-slot-", "\ue001"
_SLOT_RE = re.compile(re.escape(SLOT_OPEN) + r"(\d+)" + re.escape(SLOT_CLOSE))
_CHATML_TOKENS = ("<|im_start|>", "<|im_end|>")


def backend_tokenizer(tokenizer: Any) -> Any:
    """The ``tokenizers.Tokenizer`` behind ``tokenizer`` (a transformers fast tokenizer or a
    ``tokenizers.Tokenizer`` itself)."""
    from tokenizers import Tokenizer

    if isinstance(tokenizer, Tokenizer):
        return tokenizer
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if isinstance(backend, Tokenizer):
        return backend
    raise PromptRenderError(
        f"{type(tokenizer).__name__} is not a fast (Rust) tokenizer; swerm needs one to tokenize "
        "agent text safely: load it with AutoTokenizer.from_pretrained(..., use_fast=True)"
    )


@dataclass(frozen=True)
class _Slot:
    index: int


# A text run is template text and message slots tokenized together; an int is a structural
# token id from the chat template itself.
_Run = tuple[str | _Slot, ...]
_Unit = int | _Run


@dataclass(frozen=True)
class ChatSkeleton:
    """A chat template rendered once with placeholders: the structure every prompt shares."""

    units: tuple[_Unit, ...]


@dataclass(frozen=True)
class TokenizedChat:
    """``ids`` and ``text`` of a rendered chat; ``marks[i]`` is the number of tokens before the
    i-th requested (slot, char offset) position and ``mark_chars[i]`` the same position in
    ``text``."""

    ids: list[int]
    text: str
    marks: list[int]
    mark_chars: list[int]
    #: Character spans in ``text`` of the template's own special tokens.
    control_spans: list[tuple[int, int]] = field(default_factory=list)
    #: The position in ``ids`` of each of those tokens, in the same order.
    control_positions: list[int] = field(default_factory=list)

    def cut_after(self, position: int) -> TokenizedChat:
        """The chat up to and including the control token at ``ids[position]``."""
        index = self.control_positions.index(position)
        end_char = self.control_spans[index][1]
        return TokenizedChat(
            self.ids[: position + 1],
            self.text[:end_char],
            [min(m, position + 1) for m in self.marks],
            [min(c, end_char) for c in self.mark_chars],
            self.control_spans[: index + 1],
            self.control_positions[: index + 1],
        )


class TokenizerKit:
    """What rendering needs from one tokenizer, computed once: a safe encoder, the added-token
    table and the rendered chat skeletons.

    Get one with :func:`tokenizer_kit` (cached per tokenizer object; tokens added to the
    tokenizer after that are not seen).
    """

    def __init__(self, tokenizer: Any) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = tokenizer
        backend = backend_tokenizer(tokenizer)
        self.added: dict[str, int] = {
            token.content: token_id
            for token_id, token in backend.get_added_tokens_decoder().items()
        }
        self.added_by_id = {token_id: content for content, token_id in self.added.items()}
        # Whitespace-only added tokens are formatting, not markup; everything else is protected.
        self.protected_ids = frozenset(
            token_id for content, token_id in self.added.items() if content.strip()
        )
        data = json.loads(backend.to_str())
        for entry in data.get("added_tokens", []):
            if entry["content"].strip():
                entry["special"] = True
        data["truncation"] = None
        data["padding"] = None
        self._safe = Tokenizer.from_str(json.dumps(data))
        self._safe.encode_special_tokens = True
        by_length = sorted(self.added, key=len, reverse=True)
        self._added_re = re.compile("|".join(map(re.escape, by_length))) if by_length else None
        self._skeletons: dict[str, ChatSkeleton] = {}
        self._lock = threading.Lock()

    # --- encoding ---

    def encode(self, texts: Sequence[str]) -> list[Any]:
        """``tokenizers.Encoding`` of each text with every protected token split as plain text."""
        return self._safe.encode_batch(list(texts), add_special_tokens=False)

    def encode_ids(self, text: str) -> list[int]:
        return self._safe.encode(text, add_special_tokens=False).ids

    def token_id(self, token: str) -> int:
        """The id of a one-token string: an added token, or text that encodes to one token."""
        if token in self.added:
            return self.added[token]
        ids = self.encode_ids(token)
        if len(ids) != 1:
            raise PromptRenderError(
                f"verdict {token!r} is {len(ids)} tokens for this tokenizer, not one; set "
                "verdict_tokens to two strings that are single tokens of the model "
                '(e.g. ["<YES>", "<NO>"] or [" YES", " NO"])'
            )
        return ids[0]

    # --- chat skeletons ---

    def skeleton(self, prefill: str = "") -> ChatSkeleton:
        """The skeleton for a system message, a user message and ``prefill`` (cached)."""
        with self._lock:
            if prefill not in self._skeletons:
                self._skeletons[prefill] = self._build_skeleton(prefill)
            return self._skeletons[prefill]

    def _build_skeleton(self, prefill: str) -> ChatSkeleton:
        system, user = _slot(0), _slot(1)
        attempts = [
            [{"role": "system", "content": system}, {"role": "user", "content": user}],
            # Templates that reject a system role (Gemma, some Mistral) get it inside the user turn.
            [{"role": "user", "content": f"{system}\n\n{user}"}],
        ]
        errors = []
        for messages in attempts:
            try:
                rendered = self._apply_chat_template(messages)
            except Exception as exc:  # any template error: try the next layout
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            found = [int(m.group(1)) for m in _SLOT_RE.finditer(rendered)]
            if sorted(found) != [0, 1]:
                errors.append("the chat template dropped or repeated a message")
                continue
            return ChatSkeleton(self.parse(rendered + prefill))
        raise PromptRenderError(
            "the tokenizer's chat template cannot render a system + user conversation: "
            + "; ".join(errors)
        )

    def _apply_chat_template(self, messages: list[dict[str, str]]) -> str:
        template = getattr(self.tokenizer, "chat_template", None)
        if template:
            rendered = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
            return str(rendered)
        if all(token in self.added for token in _CHATML_TOKENS):
            return "".join(
                f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages
            ) + ("<|im_start|>assistant\n")
        raise PromptRenderError(
            "the tokenizer has no chat_template and no ChatML tokens; give it a chat template "
            "(tokenizer.chat_template = ...) or use a model that ships one"
        )

    def parse(self, rendered: str) -> tuple[_Unit, ...]:
        """A chat template's output with slot placeholders, split into the template's own
        special tokens and text runs with slots."""
        units: list[_Unit] = []
        run: list[str | _Slot] = []
        for piece, is_slot in _split_slots(rendered):
            if is_slot:
                run.append(_Slot(int(piece)))
                continue
            for text, token_id in self._split_added(piece):
                if token_id is None:
                    run.append(text)
                else:
                    if run:
                        units.append(tuple(run))
                        run = []
                    units.append(token_id)
        if run:
            units.append(tuple(run))
        return tuple(units)

    def _split_added(self, text: str) -> list[tuple[str, int | None]]:
        if self._added_re is None:
            return [(text, None)] if text else []
        out: list[tuple[str, int | None]] = []
        start = 0
        for match in self._added_re.finditer(text):
            if match.start() > start:
                out.append((text[start : match.start()], None))
            out.append((match.group(0), self.added[match.group(0)]))
            start = match.end()
        if start < len(text):
            out.append((text[start:], None))
        return out

    # --- filling a skeleton ---

    def tokenize_chat(
        self,
        skeleton: ChatSkeleton,
        contents: Sequence[str],
        marks: Sequence[tuple[int, int]] = (),
    ) -> TokenizedChat:
        """Fill ``skeleton`` with ``contents`` (one per slot) and tokenize safely.

        ``marks`` are (slot, char offset in that slot's content) positions to locate in tokens.
        """
        runs: list[str] = []
        slot_at: dict[int, tuple[int, int, int]] = {}  # slot -> (run, char in run, char in text)
        text_parts: list[str] = []
        controls: list[tuple[int, int]] = []
        text_len = 0
        for unit in skeleton.units:
            if isinstance(unit, int):
                token = self.added_by_id[unit]
                text_parts.append(token)
                controls.append((text_len, text_len + len(token)))
                text_len += len(token)
                continue
            pieces: list[str] = []
            run_len = 0
            for part in unit:
                piece = part if isinstance(part, str) else contents[part.index]
                if isinstance(part, _Slot):
                    slot_at[part.index] = (len(runs), run_len, text_len + run_len)
                pieces.append(piece)
                run_len += len(piece)
            run_text = "".join(pieces)
            runs.append(run_text)
            text_parts.append(run_text)
            text_len += run_len
        encodings = self.encode(runs)
        ids: list[int] = []
        run_start: list[int] = []
        control_positions: list[int] = []
        for unit in skeleton.units:
            if isinstance(unit, int):
                control_positions.append(len(ids))
                ids.append(unit)
                continue
            run_ids = encodings[len(run_start)].ids  # the runs come in skeleton order
            if not self.protected_ids.isdisjoint(run_ids):
                raise PromptRenderError(
                    "the tokenizer produced a special token from plain text; swerm refuses to "
                    "score a prompt whose markup could have come from the trajectory"
                )
            run_start.append(len(ids))
            ids.extend(run_ids)
        token_marks, char_marks = [], []
        for slot, offset in marks:
            run, in_run, in_text = slot_at[slot]
            token_marks.append(run_start[run] + _tokens_before(encodings[run], in_run + offset))
            char_marks.append(in_text + offset)
        text = "".join(text_parts)
        return TokenizedChat(ids, text, token_marks, char_marks, controls, control_positions)


def slot_text(index: int) -> str:
    """The placeholder standing for slot ``index`` while a chat template is rendered."""
    return _slot(index)


def _slot(index: int) -> str:
    return f"{SLOT_OPEN}{index}{SLOT_CLOSE}"


def slots_in(text: str) -> list[int]:
    """The slot placeholders in ``text``, in order."""
    return [int(m.group(1)) for m in _SLOT_RE.finditer(text)]


def _split_slots(text: str) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    start = 0
    for match in _SLOT_RE.finditer(text):
        if match.start() > start:
            out.append((text[start : match.start()], False))
        out.append((match.group(1), True))
        start = match.end()
    if start < len(text):
        out.append((text[start:], False))
    return out


def _tokens_before(encoding: Any, char: int) -> int:
    """How many tokens of ``encoding`` end at or before character ``char``."""
    if char <= 0:
        return 0
    index = encoding.char_to_token(char)
    if index is not None:
        return int(index)
    # ``char`` is past the end (or on a character no token covers): count by offsets.
    return sum(1 for _, end in encoding.offsets if end <= char)


_KITS: OrderedDict[int, tuple[Any, TokenizerKit]] = OrderedDict()
_KITS_LOCK = threading.Lock()
_KITS_MAX = 8


def tokenizer_kit(tokenizer: Any) -> TokenizerKit:
    """The (cached) :class:`TokenizerKit` of ``tokenizer``.

    Keyed by identity; the cache holds the tokenizer itself so an id is never reused while cached.
    """
    key = id(tokenizer)
    with _KITS_LOCK:
        hit = _KITS.get(key)
        if hit is not None and hit[0] is tokenizer:
            _KITS.move_to_end(key)
            return hit[1]
    kit = TokenizerKit(tokenizer)
    with _KITS_LOCK:
        _KITS[key] = (tokenizer, kit)
        while len(_KITS) > _KITS_MAX:
            _KITS.popitem(last=False)
    return kit


def encode_untrusted(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text`` with every special/added-token string tokenized as plain text."""
    return tokenizer_kit(tokenizer).encode_ids(text)


def render_token_ids(
    tokenizer: Any, messages: Sequence[Mapping[str, str]], *, prefill: str = ""
) -> list[int]:
    """Token ids of a system + user conversation through the model's chat template, ending with
    the generation prompt and ``prefill``; message contents can never produce special tokens.

    This is exactly how swerm builds ``Prompt.token_ids``, for clients that send ids to a server
    (vLLM parses special tokens in text prompts, so text would let an agent forge markup).
    """
    roles = [m["role"] for m in messages]
    if roles != ["system", "user"]:
        raise PromptRenderError(f"render_token_ids takes [system, user] messages, got {roles}")
    kit = tokenizer_kit(tokenizer)
    chat = kit.tokenize_chat(kit.skeleton(prefill), [m["content"] for m in messages])
    return chat.ids
