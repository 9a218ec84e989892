"""Tokenizing the conversation layout: the agent's messages through the model's chat template.

The template is rendered once per conversation shape (roles, tool calls, tool definitions) with
a placeholder in every slot; the placeholders are then filled with the slot texts and tokenized
with every special token read as plain text (:mod:`.tokens`). So the structure comes from the
chat template alone and the messages can never add to it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from swerm_plugin.errors import PromptRenderError
from swerm_plugin.prompts.document import ChatLayout, Document
from swerm_plugin.prompts.sanitize import Neutralised, neutralise, pattern_of
from swerm_plugin.prompts.tokens import (
    ChatSkeleton,
    TokenizedChat,
    TokenizerKit,
    slot_text,
    slots_in,
)

_CACHE_SIZE = 64
_lock = threading.Lock()
_skeletons: dict[tuple[int, str], tuple[TokenizerKit, ChatSkeleton]] = {}
#: End-of-message tokens of the chat families, looked for where a value head reads its score.
END_TOKENS = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "</s>")


def conversation_skeleton(kit: TokenizerKit, layout: ChatLayout) -> ChatSkeleton:
    """The chat template rendered for ``layout``'s shape with placeholders (cached)."""
    messages = [_placeholder_message(turn.role, turn.content, turn.calls) for turn in layout.turns]
    tools = [dict(tool) for tool in layout.tools]
    key_text = json.dumps([messages, tools, layout.generation_prompt], sort_keys=True)
    key = (id(kit), key_text)
    with _lock:
        hit = _skeletons.get(key)
        if hit is not None and hit[0] is kit:
            return hit[1]
    if not getattr(kit.tokenizer, "chat_template", None):
        raise PromptRenderError(
            "this template renders the agent's conversation with the model's chat template, and "
            "the tokenizer has none; use the served model's tokenizer (remote.tokenizer)"
        )
    try:
        rendered = str(
            kit.tokenizer.apply_chat_template(
                messages,
                tools=tools or None,
                tokenize=False,
                add_generation_prompt=layout.generation_prompt,
            )
        )
    except Exception as exc:  # any template error is a rendering error of this prompt
        raise PromptRenderError(f"the chat template cannot render the conversation: {exc}") from exc
    _check_slots(rendered, layout)
    skeleton = ChatSkeleton(kit.parse(rendered))
    with _lock:
        _skeletons[key] = (kit, skeleton)
        while len(_skeletons) > _CACHE_SIZE:
            del _skeletons[next(iter(_skeletons))]
    return skeleton


def _placeholder_message(role: str, content: int, calls: Sequence[Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": role, "content": slot_text(content)}
    if calls:
        message["tool_calls"] = [
            {
                "id": f"call_{number}",
                "type": "function",
                "function": {"name": slot_text(call.name), "arguments": slot_text(call.arguments)},
            }
            for number, call in enumerate(calls)
        ]
    return message


def _check_slots(rendered: str, layout: ChatLayout) -> None:
    found = slots_in(rendered)
    contents = [turn.content for turn in layout.turns]
    repeated = sorted({slot for slot in found if found.count(slot) > 1})
    missing = [slot for slot in contents if slot not in found]
    if repeated or missing:
        raise PromptRenderError(
            "the chat template repeated or dropped a message of the conversation "
            f"(slots repeated {repeated}, missing {missing}); swerm cannot tell where the "
            "agent's text is"
        )


def tokenize_conversation(kit: TokenizerKit, document: Document) -> TokenizedChat:
    """``document`` (conversation layout) as token ids; ``marks[0]`` is the end of the shared
    prefix. With ``end_at_last_turn`` the prompt stops at the end token of the last message."""
    layout = document.chat
    if layout is None:
        raise ValueError("tokenize_conversation needs a document with a chat layout")
    kept = layout.kept({segment.slot for segment in document.segments})
    contents = document.slot_texts(layout.n_slots())
    marks = [_prefix_mark(document)]
    if layout.end_at_last_turn:
        last = kept.turns[-1].content
        marks.append((last, len(contents[last])))
    chat = kit.tokenize_chat(conversation_skeleton(kit, kept), contents, marks)
    if not layout.end_at_last_turn:
        return chat
    after = chat.marks[1]
    end_ids = {kit.added[token] for token in END_TOKENS if token in kit.added}
    eos = getattr(kit.tokenizer, "eos_token_id", None)
    if isinstance(eos, int):
        end_ids.add(eos)
    for position in chat.control_positions:
        if position >= after and chat.ids[position] in end_ids:
            return chat.cut_after(position)
    raise PromptRenderError("the chat template ends the last message with no end token")


def _prefix_mark(document: Document) -> tuple[int, int]:
    """(slot, character offset) of the end of the shared prefix."""
    if document.prefix_end == 0:
        return document.segments[0].slot if document.segments else 0, 0
    slot = document.segments[document.prefix_end - 1].slot
    offset = sum(len(s.text) for s in document.segments[: document.prefix_end] if s.slot == slot)
    return slot, offset


def safe_tools(
    tools: Sequence[Mapping[str, Any]], kit: TokenizerKit
) -> tuple[tuple[Mapping[str, Any], ...], list[Neutralised]]:
    """Tool definitions with the model's special and added tokens neutralised in their text:
    the chat template renders them as its own text, so such a token there would become a real
    control token."""
    pattern = pattern_of(tuple(kit.added))
    if pattern is None:
        return tuple(tools), []
    found: list[str] = []

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            text, hits = neutralise(value, pattern)
            found.extend(hits)
            return text
        if isinstance(value, Mapping):
            return {key: clean(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [clean(item) for item in value]
        return value

    cleaned = tuple(clean(tool) for tool in tools)
    if not found:
        return tuple(tools), []
    examples = tuple(dict.fromkeys(found))[:3]
    return cleaned, [Neutralised("tools", len(found), None, examples)]
