"""Trajectory → :class:`Prompt`: template, chat markup, safe tokenization and the token budget.

The built-in ``swerm_render_prompt`` hook (:mod:`swerm_plugin.builtins.render`) calls
:func:`render_prompt`; a plugin returning its own prompt takes over.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from swerm_plugin.errors import PromptTooLong
from swerm_plugin.model import Trajectory
from swerm_plugin.prompts.budget import CharSpans, Truncator
from swerm_plugin.prompts.conversation import safe_tools, tokenize_conversation
from swerm_plugin.prompts.document import ChatLayout, Document
from swerm_plugin.prompts.prompt import Cut, Prompt
from swerm_plugin.prompts.sanitize import Neutralised, markup_pattern, neutralise
from swerm_plugin.prompts.templates import PromptTemplate, get_template
from swerm_plugin.prompts.tokens import TokenizedChat, TokenizerKit, tokenizer_kit

#: Planning rounds before giving up; each re-plans with the overshoot of the last one subtracted.
_FIT_ROUNDS = 6
#: Without a tokenizer, lengths are estimated as this many characters per token (conservative).
_CHARS_PER_TOKEN = 3
#: A prompt with more characters than this many per budget token is cut by characters first...
CHARACTER_CUT_FROM = 32
#: ...down to this many characters per budget token (few tokens cover more on average).
CHARS_PER_TOKEN_BOUND = 8
_AGENT_KINDS = frozenset({"problem", "thought", "action", "observation", "patch"})


def render_prompt(
    trajectory: Trajectory,
    template: str | PromptTemplate = "swe-rm",
    tokenizer: Any = None,
    budget: int | None = None,
    *,
    verdict_tokens: Sequence[str] | None = None,
    prefill: str | None = None,
    markup_strings: Sequence[str] | None = None,
) -> Prompt:
    """Render ``trajectory`` for a verifier.

    With a ``tokenizer`` the prompt goes through the model's chat template, ``token_ids`` are
    exact and at most ``budget`` long. Without one (text-only backends) only ``messages`` and
    ``text`` are filled, lengths are estimated, and special-token look-alikes in agent text are
    neutralised. In every prompt, agent text that looks like the template's own section markers
    is neutralised too (``Prompt.neutralised`` records each change).

    :param verdict_tokens: (YES, NO) strings overriding the template's.
    :param prefill: assistant-turn prefix overriding the template's.
    :param markup_strings: the served model's special and added tokens, neutralised in agent
        text of a text prompt (with the control markup of every major model family).
    :raises PromptTooLong: when even the shortest allowed form exceeds ``budget``.
    """
    chosen = template if isinstance(template, PromptTemplate) else get_template(template)
    if budget is not None and budget <= 0:
        raise ValueError(f"token budget must be positive, got {budget}")
    verdicts = _verdicts(verdict_tokens, chosen)
    prefill = chosen.prefill if prefill is None else prefill
    document, neutralised = protect(chosen.document(trajectory), chosen.marker_pattern())
    common: dict[str, Any] = {
        "content_hash": trajectory.content_hash(),
        "template": chosen.name,
        "template_version": chosen.version,
        "verdict_tokens": verdicts,
        "reads_verdict": chosen.reads_verdict,
        "budget": budget,
    }
    if tokenizer is None:
        document, markup = protect(document, markup_pattern(markup_strings))
        common["neutralised"] = neutralised + markup
        return _render_text_only(document, chosen, budget, prefill, common)
    common["neutralised"] = neutralised
    return _render_tokens(document, chosen, tokenizer, budget, prefill, verdicts, common)


def _render_tokens(
    document: Document,
    chosen: PromptTemplate,
    tokenizer: Any,
    budget: int | None,
    prefill: str,
    verdicts: tuple[str, str],
    common: dict[str, Any],
) -> Prompt:
    """The token-id prompt: chat template, safe tokenization, the budget's cuts."""
    kit = tokenizer_kit(tokenizer)
    verdict_ids = (
        (kit.token_id(verdicts[0]), kit.token_id(verdicts[1])) if chosen.reads_verdict else None
    )
    if document.chat is not None and document.chat.tools:
        tools, changed = safe_tools(document.chat.tools, kit)
        chat_layout = ChatLayout(
            document.chat.turns,
            tools,
            document.chat.generation_prompt,
            document.chat.end_at_last_turn,
        )
        document = Document(document.system, document.segments, document.prefix_end, chat_layout)
        common["neutralised"] = [*common["neutralised"], *changed]
    form = _Form(kit, prefill)
    document, cuts = _cut_characters(document, chosen, budget)
    chat = form.tokenize(document)
    if budget is not None and len(chat.ids) > budget:
        chat, document, fit_cuts = _fit(kit, form, document, chosen, budget, len(chat.ids))
        cuts = _merge_cuts(cuts, fit_cuts)
    return Prompt(
        messages=_messages(document, prefill),
        text=chat.text,
        token_ids=chat.ids,
        verdict_token_ids=verdict_ids,
        prefix_len=chat.marks[0],
        prefix_chars=chat.mark_chars[0],
        truncated=bool(cuts),
        cuts=cuts,
        control_spans=chat.control_spans,
        **common,
    )


class _Form:
    """Tokenizes documents of either layout with one tokenizer."""

    def __init__(self, kit: TokenizerKit, prefill: str) -> None:
        self.kit = kit
        self.prefill = prefill

    def tokenize(self, document: Document) -> TokenizedChat:
        if document.chat is not None:
            return tokenize_conversation(self.kit, document)
        texts = [segment.text for segment in document.segments]
        prefix = sum(len(t) for t in texts[: document.prefix_end])
        return self.kit.tokenize_chat(
            self.kit.skeleton(self.prefill), [document.system, "".join(texts)], marks=[(1, prefix)]
        )


def _verdicts(override: Sequence[str] | None, template: PromptTemplate) -> tuple[str, str]:
    if override is None:
        return template.verdict_tokens
    if len(override) != 2 or not all(override):
        raise ValueError(f"verdict_tokens must be two non-empty strings, got {list(override)!r}")
    return (override[0], override[1])


def _cut_characters(
    document: Document, template: PromptTemplate, budget: int | None
) -> tuple[Document, list[Cut]]:
    """A huge trajectory is first cut by characters, so tokenizing it costs memory in proportion
    to the budget, not to the input (a 200 MB trajectory would exhaust memory in the tokenizer).

    Tokens rarely cover more than a few characters each, so a document with more than
    ``CHARACTER_CUT_FROM`` characters per budget token could never fit: it is planned on
    fixed-width character spans (``CHARS_PER_TOKEN_BOUND`` characters each, one per assumed
    token) with the same cutting rules, and the exact token-level cuts then finish the job on
    what is left.
    """
    width = CHARS_PER_TOKEN_BOUND
    total = len(document.system) + sum(len(s.text) for s in document.segments)
    if budget is None or total <= CHARACTER_CUT_FROM * budget:
        return document, []
    truncator = Truncator(
        document,
        template,
        [CharSpans(len(s.text), width) for s in document.segments],
        overhead=-(-len(document.system) // width),
        count=lambda texts: [-(-len(t) // width) for t in texts],
        chars_per_unit=width,
    )
    plan = truncator.plan(budget)
    return plan.document(document.system), plan.cuts


def _merge_cuts(coarse: list[Cut], fine: list[Cut]) -> list[Cut]:
    """The character pre-cut's cuts and the token pass's: a coarse cut inside steps the token pass
    dropped afterwards is gone from the text (its steps marker was merged into the new one)."""
    dropped = {
        step
        for cut in fine
        if cut.kind == "steps" and cut.step is not None
        for step in range(cut.step, cut.step + cut.removed)
    }
    return [c for c in coarse if c.step is None or c.step not in dropped] + fine


def _fit(
    kit: TokenizerKit,
    form: _Form,
    document: Document,
    template: PromptTemplate,
    budget: int,
    total: int,
) -> tuple[TokenizedChat, Document, list[Cut]]:
    """Cut ``document`` until its exact token count is within ``budget``."""
    offsets = [encoding.offsets for encoding in kit.encode([s.text for s in document.segments])]
    truncator = Truncator(
        document,
        template,
        offsets,
        overhead=total - sum(len(o) for o in offsets),
        count=lambda texts: [len(e.ids) for e in kit.encode(texts)],
    )
    target = budget
    for _ in range(_FIT_ROUNDS):
        plan = truncator.plan(target)
        cut = plan.document(document.system)
        chat = form.tokenize(cut)
        if len(chat.ids) <= budget:
            return chat, cut, plan.cuts
        # Tokens merge differently across cut points than the per-segment counts assumed.
        target -= len(chat.ids) - budget
    raise PromptTooLong(f"could not fit the prompt into {budget} tokens in {_FIT_ROUNDS} rounds")


def _render_text_only(
    document: Document,
    template: PromptTemplate,
    budget: int | None,
    prefill: str,
    common: dict[str, Any],
) -> Prompt:
    texts = [s.text for s in document.segments]
    cuts: list[Cut] = []
    total = _estimate(document.system) + sum(_estimate(t) for t in texts)
    if budget is not None and total > budget:
        truncator = Truncator(
            document,
            template,
            [CharSpans(len(t), _CHARS_PER_TOKEN) for t in texts],
            overhead=_estimate(document.system),
            count=lambda items: [_estimate(t) for t in items],
        )
        plan = truncator.plan(budget)
        document, cuts = plan.document(document.system), plan.cuts
    messages = _messages(document, prefill)
    return Prompt(
        messages=messages,
        text="".join(f"{m['role']}:\n{m['content']}\n\n" for m in messages).rstrip("\n"),
        truncated=bool(cuts),
        cuts=cuts,
        **common,
    )


def protect(document: Document, pattern: re.Pattern[str] | None) -> tuple[Document, list[Any]]:
    """``document`` with every match of ``pattern`` in agent text neutralised, and the record of
    each segment changed."""
    if pattern is None:
        return document, []
    changed: list[Neutralised] = []
    segments = []
    for segment in document.segments:
        if segment.kind in _AGENT_KINDS:
            text, found = neutralise(segment.text, pattern)
            if found:
                examples = tuple(dict.fromkeys(found))[:3]
                changed.append(Neutralised(segment.kind, len(found), segment.step, examples))
                segment = dataclasses.replace(segment, text=text)
        segments.append(segment)
    if not changed:
        return document, []
    return document.with_segments(segments, document.prefix_end), changed


def _estimate(text: str) -> int:
    return -(-len(text) // _CHARS_PER_TOKEN)


def _messages(document: Document, prefill: str) -> list[dict[str, Any]]:
    """The messages the model reads, as chat messages (the conversation layout's are the
    agent's own, with tool calls where the template shows them)."""
    if document.chat is None:
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": document.system},
            {"role": "user", "content": document.user},
        ]
        if prefill:
            messages.append({"role": "assistant", "content": prefill})
        return messages
    layout = document.chat.kept({segment.slot for segment in document.segments})
    texts = document.slot_texts(document.chat.n_slots())
    out = []
    for turn in layout.turns:
        message: dict[str, Any] = {"role": turn.role, "content": texts[turn.content]}
        if turn.calls:
            message["tool_calls"] = [
                {
                    "type": "function",
                    "function": {"name": texts[c.name], "arguments": texts[c.arguments]},
                }
                for c in turn.calls
            ]
        out.append(message)
    return out
