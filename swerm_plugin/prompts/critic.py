"""The OpenHands critics' input: the agent's own conversation, rendered by the chat template.

* ``openhands-critic`` — ``OpenHands/openhands-critic-4b-v1.0``, a Qwen3 sequence classifier.
  Exactly what the OpenHands SDK's critic client sends (``openhands-sdk`` 1.58.2,
  ``openhands/sdk/critic/impl/api/``): the conversation as OpenAI messages, reduced by
  ``CriticClient.normalize_messages`` to ``role`` and ``content`` (text parts joined by
  newlines; tool calls, tool-call ids and tool names dropped), rendered with the tool
  definitions and no generation prompt. The score is the ``success`` output of the head.
* ``openhands-critic-value`` — ``all-hands/openhands-critic-32b-exp-20250417``, a Qwen2.5 token
  classifier trained (xingyaoww/verl, ``MultiTurnRMDataset``) on chat-templated conversations
  with the value read at the ``<|im_end|>`` closing the last assistant turn. Its exact message
  layout is not published: this template keeps the tool calls (rendered by the chat template)
  and ends the prompt at that token, so the value is the last token's.

Message contents are slots of the chat template: agent text is tokenized as plain text, never
as the model's control tokens (the SDK sends the rendered text, which lets an agent's
``<|im_end|>`` become a real one).
"""

from __future__ import annotations

from swerm_plugin.errors import PromptRenderError
from swerm_plugin.model import Trajectory
from swerm_plugin.prompts.chat import ChatMessage, chat_transcript
from swerm_plugin.prompts.document import (
    ChatCall,
    ChatLayout,
    ChatTurn,
    Document,
    Segment,
    SegmentKind,
)
from swerm_plugin.prompts.templates import PromptTemplate


def _kind(message: ChatMessage) -> SegmentKind:
    if message.role == "assistant":
        return "thought"
    if message.step is None:
        return "problem"  # the agent's system prompt and the task: shared by every candidate
    return "observation"


def conversation_document(
    messages: list[ChatMessage],
    tools: tuple[dict, ...] | tuple = (),
    *,
    calls: bool = False,
    end_at_last_turn: bool = False,
) -> Document:
    """``messages`` as the conversation layout: one content slot per message (and, with
    ``calls``, a name and an arguments slot per tool call)."""
    segments: list[Segment] = []
    turns: list[ChatTurn] = []
    prefix_end = 0
    for message in messages:
        slot = len(segments)
        segments.append(Segment(_kind(message), message.content, message.step, slot))
        chat_calls = []
        for call in message.tool_calls if calls else ():
            name, arguments = len(segments), len(segments) + 1
            segments.append(Segment("action", call.name, message.step, name))
            segments.append(Segment("action", call.arguments, message.step, arguments))
            chat_calls.append(ChatCall(name, arguments))
        turns.append(ChatTurn(message.role, slot, tuple(chat_calls)))
        if message.step is None:
            prefix_end = len(segments)
    layout = ChatLayout(tuple(turns), tuple(tools), False, end_at_last_turn)
    return Document("", segments, prefix_end, layout)


class OpenHandsCriticTemplate(PromptTemplate):
    """The OpenHands critic 4B's input, as the SDK's critic client builds it."""

    name = "openhands-critic"
    version = "1"
    summary = "OpenHands critic: the conversation (role+content) with tool definitions"
    reads_verdict = False

    def document(self, trajectory: Trajectory) -> Document:
        transcript = chat_transcript(trajectory)
        return conversation_document(list(transcript.messages), tuple(transcript.tools))


class OpenHandsValueTemplate(PromptTemplate):
    """The OpenHands critic 32B's input: the conversation up to the last assistant turn, with
    its tool calls; the value head is read at that turn's end token."""

    name = "openhands-critic-value"
    version = "1"
    summary = "OpenHands value critic: the conversation up to the last assistant turn's end"
    reads_verdict = False

    def document(self, trajectory: Trajectory) -> Document:
        messages = list(chat_transcript(trajectory).messages)
        last = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=None)
        if last is None:
            raise PromptRenderError(
                f"{trajectory.instance_id}: the trajectory has no assistant turn, so there is no "
                "action for the value critic to judge"
            )
        return conversation_document(messages[: last + 1], calls=True, end_at_last_turn=True)
