"""Versioned prompt templates: how a trajectory is laid out for a verifier.

A template turns a :class:`~swerm_plugin.model.Trajectory` into a :class:`Document`: a system
prompt and the user message as a list of typed :class:`Segment` s. The types tell the token budget
what it may shorten (thoughts, observations, whole steps, the problem statement's tail, the patch
as a last resort) and what it must keep. Chat markup is not the template's business: the model's
own chat template adds it when the document is rendered (:mod:`swerm_plugin.prompts.render`).

Templates are registered through the ``swerm_register_templates`` hook (the built-in ones by
:mod:`swerm_plugin.builtins.templates`). Changing what a template renders means bumping its
``version``; the version goes into every
:class:`~swerm_plugin.model.Score`, so scores from different prompt texts are never mixed up.
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from swerm_plugin.model import Role, Trajectory
from swerm_plugin.prompts.document import Document, Segment, SegmentKind

__all__ = [
    "CONDENSED_THOUGHT",
    "EMPTY_PATCH",
    "Document",
    "PromptTemplate",
    "Segment",
    "SegmentKind",
    "SweRmTemplate",
    "get_template",
    "patch_text",
    "split_problem",
    "template_names",
]

#: R2E-Gym's marker for a thought removed to save context; all built-in templates use it.
CONDENSED_THOUGHT = "<Thought condensed for saving context>"
EMPTY_PATCH = "(empty: the agent left the repository unchanged)"


@dataclass(frozen=True)
class Turn:
    """One step of the trajectory as the templates show it; ``index`` is its position in
    ``trajectory.steps``."""

    index: int
    role: Role
    thought: str
    action: str
    observation: str


def split_problem(trajectory: Trajectory) -> tuple[str, list[Turn]]:
    """The problem statement and the turns to show.

    The agent's own system prompt is dropped (it says nothing about this attempt). The first
    user message is dropped when it merely wraps the problem statement, and becomes the problem
    statement when the trajectory has none.
    """
    problem = trajectory.problem_statement
    turns: list[Turn] = []
    seen_user = False
    for index, step in enumerate(trajectory.steps):
        if step.role == "system":
            continue
        if step.role == "user" and not seen_user:
            seen_user = True
            wrapped = problem.strip() and problem.strip() in step.content
            if wrapped or not problem.strip():
                problem = problem if wrapped else step.content
                continue
        if step.role == "assistant":
            thought = step.thought or step.content
            if thought.strip() == step.action.strip():
                thought = ""
            turns.append(Turn(index, step.role, thought, step.action, step.observation))
        else:
            turns.append(Turn(index, step.role, "", "", step.observation or step.content))
    return problem, turns


class PromptTemplate(ABC):
    """A named, versioned layout. Subclasses implement :meth:`document`.

    ``verdict_tokens`` are the (YES, NO) strings read at the next position; ``prefill`` is text
    the assistant turn starts with before that position. A template for a classifier or value
    head (``reads_verdict = False``) has no verdict position: its prompts carry no verdict ids.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    summary: ClassVar[str]
    verdict_tokens: ClassVar[tuple[str, str]] = ("<YES>", "<NO>")
    prefill: ClassVar[str] = ""
    reads_verdict: ClassVar[bool] = True
    thought_marker: ClassVar[str] = CONDENSED_THOUGHT
    #: Regexes of the template's own section markers; agent text cannot produce them.
    markers: ClassVar[tuple[str, ...]] = ()

    def marker_pattern(self) -> re.Pattern[str] | None:
        """One regex for :attr:`markers` (and the truncation markers), or None."""
        cut_markers = (
            r"\[\.\.\. (?:about )?\d+ (?:tokens?|steps?|characters?) omitted \.\.\.\]",
            re.escape(self.thought_marker),
        )
        return _compiled((*self.markers, *cut_markers))

    @abstractmethod
    def document(self, trajectory: Trajectory) -> Document:
        """Lay out ``trajectory`` as a system prompt and user-message segments."""

    def tokens_marker(self, removed: int) -> str:
        """Stands where ``removed`` tokens were cut out of one text."""
        return f"[... {removed} tokens omitted ...]"

    def steps_marker(self, removed: int) -> str:
        """Stands where ``removed`` whole steps were dropped (a segment of its own)."""
        noun = "step" if removed == 1 else "steps"
        return f"[... {removed} {noun} omitted ...]\n\n"


@functools.lru_cache(maxsize=32)
def _compiled(parts: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{p})" for p in parts), re.MULTILINE) if parts else None


def patch_text(trajectory: Trajectory) -> str:
    """The patch exactly as the agent left it (byte for byte), or a note that it is empty."""
    return trajectory.patch if trajectory.patch.strip() else EMPTY_PATCH


class SweRmTemplate(PromptTemplate):
    """The default: issue, trajectory and final patch in tagged sections; the verdict is the next
    token, one of the special tokens ``<YES>`` / ``<NO>`` (SWE-RM's protocol)."""

    name = "swe-rm"
    version = "2"
    markers = (r"</?(?:issue|trajectory|patch|thought|action|observation)>", r"</?step\b[^>\n]*>")
    summary = "issue, steps and final patch in tagged sections; next token <YES>/<NO>"
    system = (
        "You are a meticulous reviewer of software-engineering work. You will read a GitHub issue, "
        "the record of an autonomous coding agent working on it (its reasoning, the commands it "
        "ran and what they printed) and the final patch it produced. Judge, without running "
        "anything, whether applying the final patch resolves the issue so that the repository's "
        "tests for it pass. Reply with a single verdict token: YES if it does, NO if it does not."
    )

    def document(self, trajectory: Trajectory) -> Document:
        problem, turns = split_problem(trajectory)
        segments = [
            Segment("fixed", "<issue>\n"),
            Segment("problem", problem.strip()),
            Segment("fixed", "\n</issue>\n\n"),
        ]
        prefix_end = len(segments)
        segments.append(Segment("fixed", "<trajectory>\n"))
        for number, turn in enumerate(turns, start=1):
            segments.extend(self._step(number, turn))
        segments.append(Segment("fixed", "</trajectory>\n\n<patch>\n"))
        segments.append(Segment("patch", patch_text(trajectory)))
        segments.append(Segment("fixed", "\n</patch>\n\nDoes the final patch resolve the issue?"))
        return Document(self.system, segments, prefix_end)

    @staticmethod
    def _step(number: int, turn: Turn) -> list[Segment]:
        at = turn.index
        out = [Segment("fixed", f'<step n="{number}" role="{turn.role}">\n', at)]
        for tag, kind, text in (
            ("thought", "thought", turn.thought),
            ("action", "action", turn.action),
            ("observation", "observation", turn.observation),
        ):
            if text.strip():
                out.append(Segment("fixed", f"<{tag}>\n", at))
                out.append(Segment(kind, text.strip(), at))  # type: ignore[arg-type]
                out.append(Segment("fixed", f"\n</{tag}>\n", at))
        out.append(Segment("fixed", "</step>\n", at))
        return out


def get_template(name: str) -> PromptTemplate:
    """The template registered as ``name`` (through ``swerm_register_templates``)."""
    from swerm_plugin.plugins.manager import get_hooks

    return get_hooks().template(name)


def template_names() -> list[str]:
    """Every registered template name, sorted."""
    from swerm_plugin.plugins.manager import get_hooks

    return sorted(get_hooks().templates())
