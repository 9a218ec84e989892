"""The exact input formats of the published YES/NO verifiers, from their own projects' code.

* ``swe-gym`` — the SWE-Gym verifier (``SWE-Gym/OpenHands-32B-Verifier``, arXiv 2412.21139,
  appendix B.6 "OpenHands ORM Prompt"): the judge system prompt, then the agent's conversation
  serialised by ``format_trajectory`` (SWE-Gym's ``aggregate_stats_pass_at_n.ipynb``, copied
  verbatim into OpenHands as ``openhands/utils/trajectory.py``): the agent's system prompt, then
  ``*** Turn N - ROLE ***`` blocks between 100-dash rules, tool calls as
  ``<function=NAME>`` / ``<parameter=P>V</parameter>``. No final-patch section.
* ``r2e-gym`` — the R2E-Gym / DeepSWE execution-free verifier (``R2E-Gym``'s
  ``prepare_ef_verifier_input.py``, ``traj2verifier_data``): ``[SYSTEM]`` (the judge prompt
  again), a fixed ``[USER]`` instance prompt around the issue, ``[STEP]``/``[ASSISTANT]``/
  ``[USER]`` blocks per action (actions as R2E's ``<function=...>`` XML), then
  ``=== FINAL PATCH ===`` with the patch.

Both were trained to answer ``<judgement>YES</judgement>`` or ``<judgement>NO</judgement>``: the
prompt ends with the assistant turn pre-filled with ``<judgement>`` and the verdict is the next
token, ``YES`` or ``NO`` (Qwen2.5 tokenizes ``<judgement>YES`` as ``<``, ``jud``, ``gement``,
``>``, ``YES``; R2E-Gym reads exactly that token, index 4 of the completion). SWE-Gym's own
SGLang scorer compared the choices ``" YES"``/``" NO"`` instead; the training target has no
space, so that is what these templates read (docs/presets.md says more).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from swerm_plugin.model import Step, Trajectory
from swerm_plugin.prompts.chat import ChatMessage, ToolCall, chat_transcript, step_tool_call
from swerm_plugin.prompts.document import Document, Segment, SegmentKind
from swerm_plugin.prompts.templates import PromptTemplate, split_problem

#: The judge system prompt of both verifiers (R2E-Gym's ``traj2verifier_data`` spells it out on
#: one line per paragraph; the SWE-Gym paper prints the same text wrapped).
JUDGE_SYSTEM = (
    "You are an expert judge evaluating AI assistant interactions. Your task is to determine if "
    "the assistant successfully resolved the user's request.\n\n"
    "Key evaluation criteria:\n"
    "1. Did the assistant complete the main task requested by the user?\n"
    "2. Did the assistant handle all edge cases and requirements specified?\n"
    "3. Were there any errors or issues in the final solution?\n"
    "4. Did the assistant verify the solution works as intended?\n\n"
    'Respond only with "<judgement>YES</judgement>" or "<judgement>NO</judgement>".'
)
REQUEST = "Please evaluate the following interaction between an AI assistant and a user:\n\n"
QUESTION = (
    "Based on the above interaction, did the assistant successfully resolve the user's initial "
    "request? Respond with YES or NO."
)
RULE = "-" * 100 + "\n"
_LOG_MARKERS = r"=== ?(?:END )?(?:INTERACTION(?: LOG)?|FINAL PATCH) ?==="


class _JudgeTemplate(PromptTemplate):
    verdict_tokens = ("YES", "NO")
    prefill = "<judgement>"


class SweGymTemplate(_JudgeTemplate):
    """SWE-Gym's verifier input, exactly (see the module docstring)."""

    name = "swe-gym"
    # v3: the verifier's own format (v2 was swerm's approximation: numbered turns, a patch
    # section, and the verdict read as " YES"/" NO").
    version = "3"
    summary = "SWE-Gym verifier: format_trajectory turns; prefill <judgement>; YES/NO"
    markers = (
        _LOG_MARKERS,
        r"\*\*\* Turn \d+ - [A-Z ]+ \*\*\*",
        r"\*\*\* System Message that describes the assistant's behavior \*\*\*",
        r"### Tool Call \d+",
        r"</?(?:function|parameter)\b",
    )

    def document(self, trajectory: Trajectory) -> Document:
        messages = list(chat_transcript(trajectory).messages)
        segments = [Segment("fixed", REQUEST + "=== INTERACTION LOG ===\n")]
        if messages and messages[0].role == "system":
            segments.append(
                Segment("fixed", "*** System Message that describes the assistant's behavior ***\n")
            )
            segments += [Segment("problem", messages.pop(0).content), Segment("fixed", "\n")]
        prefix_end = len(segments)
        for index, message in enumerate(_merge_users(messages)):
            segments += _turn(index, message)
            if index == 0 and message.step is None:
                prefix_end = len(segments)
        segments.append(Segment("fixed", f"{RULE}\n=== END INTERACTION ===\n\n{QUESTION}"))
        return Document(JUDGE_SYSTEM, segments, prefix_end)


def _merge_users(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """Consecutive user messages as one, joined by newlines (``merge_user_messages``)."""
    out: list[ChatMessage] = []
    for message in messages:
        if message.role == "user" and out and out[-1].role == "user":
            joined = out[-1].content + "\n" + message.content
            out[-1] = ChatMessage("user", joined, step=out[-1].step)
        else:
            out.append(message)
    return out


def _turn(index: int, message: ChatMessage) -> list[Segment]:
    at = message.step
    role = "TOOL EXECUTION RESULT" if message.role == "tool" else message.role.upper()
    kind: SegmentKind = "observation"
    if message.role == "assistant":
        kind = "thought"
    elif message.role == "user" and at is None:
        kind = "problem"
    out = [
        Segment("fixed", f"{RULE}*** Turn {index // 2 + 1} - {role} ***\n", at),
        Segment(kind, message.content, at),
        Segment("fixed", "\n", at),
    ]
    for number, call in enumerate(message.tool_calls if message.role == "assistant" else ()):
        out.append(Segment("fixed", f"### Tool Call {number}\n<function=", at))
        out += [Segment("action", call.name, at), Segment("fixed", ">\n", at)]
        out += _parameters(call, at)
        out.append(Segment("fixed", "</function>\n", at))
    return out


def _parameters(call: ToolCall, at: int | None) -> list[Segment]:
    """``<parameter=P>V</parameter>`` lines (``convert_tool_call_to_string``): a multi-line
    string value gets a newline on each side; other values are written as Python prints them.
    Arguments that are not a JSON object (the original raises) are shown as one parameter."""
    parsed = call.parsed()
    items = list(parsed.items()) if parsed is not None else [("arguments", call.arguments)]
    out = []
    for name, value in items:
        text = f"\n{value}\n" if isinstance(value, str) and "\n" in value else f"{value}"
        out += [Segment("fixed", "<parameter=", at), Segment("action", str(name), at)]
        out += [Segment("fixed", ">", at), Segment("action", text, at)]
        out.append(Segment("fixed", "</parameter>\n", at))
    return out


R2E_INSTANCE = (
    "You are a software engineer working on a repository. A user has submitted an issue, and you "
    "need to resolve it.\n\nRepository Issue:\n"
)
R2E_INSTANCE_END = "\n\nPlease analyze the issue and implement a solution."
#: Tool names of other frameworks mapped to R2E-Gym's (as R2E-Gym maps SWE-smith's actions in
#: ``Action.from_swesmith_action``): shell tools take ``cmd``, submitting is ``finish``.
_R2E_SHELL = frozenset({"bash", "execute_bash", "terminal", "execute_command", "run_command"})
_R2E_RENAMED = {"str_replace_editor": "file_editor", "submit": "finish"}


@dataclass
class _R2eStep:
    at: int
    thought: str = ""
    action: str = ""
    observation: str = ""


class R2eGymTemplate(_JudgeTemplate):
    """R2E-Gym's execution-free verifier input, exactly (see the module docstring)."""

    name = "r2e-gym"
    # v3: the verifier's own format (v2 was swerm's approximation).
    version = "3"
    summary = "R2E-Gym verifier: [STEP]/[ASSISTANT]/[USER] blocks, final [PATCH]; YES/NO"
    markers: ClassVar[tuple[str, ...]] = (
        _LOG_MARKERS,
        r"\[/?(?:SYSTEM|USER|STEP|ASSISTANT|PATCH)\]",
    )

    def document(self, trajectory: Trajectory) -> Document:
        problem, _ = split_problem(trajectory)
        segments = [
            Segment(
                "fixed",
                f"{REQUEST}=== INTERACTION LOG ===\n\n[SYSTEM]\n{JUDGE_SYSTEM}\n[/SYSTEM]\n\n"
                f"[USER]\n{R2E_INSTANCE}",
            ),
            Segment("problem", problem),
            Segment("fixed", R2E_INSTANCE_END + "\n[/USER]"),
        ]
        prefix_end = len(segments)
        for number, step in enumerate(r2e_steps(trajectory)):
            at = step.at
            segments.append(Segment("fixed", f"\n\n[STEP]\n{number}\n[/STEP]\n\n[ASSISTANT]", at))
            # R2E-Gym condenses the text between "[ASSISTANT]" and "<function": the thought
            # with its newlines, so condensing it here gives the same text as there.
            if step.thought:
                segments.append(Segment("thought", f"\n{step.thought}\n\n", at))
            else:
                segments.append(Segment("fixed", "\n", at))
            segments.append(Segment("action", step.action, at))
            segments.append(Segment("fixed", "\n[/ASSISTANT]\n\n[USER]\n", at))
            segments.append(Segment("observation", step.observation, at))
            segments.append(Segment("fixed", "\n[/USER]", at))
        segments.append(
            Segment("fixed", "\n\n=== END INTERACTION ===\n\n=== FINAL PATCH ===\n\n[PATCH]\n")
        )
        segments.append(Segment("patch", trajectory.patch))
        segments.append(Segment("fixed", f"\n[/PATCH]\n\n=== END FINAL PATCH ===\n\n{QUESTION}"))
        return Document(JUDGE_SYSTEM, segments, prefix_end)


def r2e_steps(trajectory: Trajectory) -> list[_R2eStep]:
    """One R2E step per action: thought, the action as R2E's XML, and what it printed. An
    observation with no action before it (a separate tool or user turn) answers the previous
    action, or stands as a step without one."""
    _, turns = split_problem(trajectory)
    steps: list[_R2eStep] = []
    for turn in turns:
        if turn.role == "assistant":
            action = r2e_action(trajectory.steps[turn.index], turn.action)
            steps.append(_R2eStep(turn.index, turn.thought, action, turn.observation))
        elif steps and not steps[-1].observation:
            steps[-1].observation = turn.observation
        else:
            steps.append(_R2eStep(turn.index, observation=turn.observation))
    return steps


def r2e_action(step: Step, action: str) -> str:
    """An action as R2E-Gym's ``Action.to_xml_string``: ``<function=NAME>``, one indented
    ``<parameter=K>V</parameter>`` line per argument, ``</function>``."""
    if action.lstrip().startswith("<function="):
        return action  # already in R2E's own format
    call = step_tool_call(step)
    if call is None:
        return action
    arguments = call.parsed()
    if arguments is None:
        return f"<function={call.name}>\n  {call.arguments}\n</function>"
    name = call.name
    if name in _R2E_SHELL and "command" in arguments:
        name, arguments = "execute_bash", {"cmd": arguments["command"]}
    elif name in ("submit", "finish"):
        name, arguments = "finish", {"command": "submit"}
    name = _R2E_RENAMED.get(name, name)
    lines = "".join(f"  <parameter={key}>{value}</parameter>\n" for key, value in arguments.items())
    return f"<function={name}>\n{lines}</function>"
