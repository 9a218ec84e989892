"""Fitting a rendered document into a token budget.

When the prompt is too long, content is shortened in this order, each stage only as far as needed:

1. condense the longest thoughts, one at a time, to a marker (R2E-Gym style);
2. cut the middle out of the longest observations, keeping head and tail around a marker
   (water-filling: every observation above a common cap is cut down to it);
3. drop whole steps, oldest first, keeping the last step (the problem statement, i.e. the first
   user turn, is not a step and stays);
4. cut the tail of the problem statement, keeping its head;
5. drop the last step too;
6. cut the middle of the final patch: the very last resort.

Token counts of every segment are measured once, so planning is linear in the trajectory (plus
sorting); the caller re-tokenizes only the final result, to check the budget exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import overload

from swerm_plugin.errors import PromptTooLong
from swerm_plugin.prompts.document import ChatLayout, Document, Segment
from swerm_plugin.prompts.prompt import Cut
from swerm_plugin.prompts.templates import PromptTemplate

#: Tokens an observation keeps at least when its middle is cut (head + tail).
OBSERVATION_KEEP = 64
#: Tokens of the problem statement's head that are never cut.
PROBLEM_HEAD_KEEP = 256
#: Tokens of the patch kept (head + tail) when even the patch has to be cut.
PATCH_KEEP = 256

Offsets = Sequence[tuple[int, int]]


class CharSpans(Sequence[tuple[int, int]]):
    """Fixed-width character spans standing in for tokens, computed on demand: planning a huge
    text costs no memory per span (a list of spans for 200 MB would be gigabytes)."""

    def __init__(self, length: int, width: int) -> None:
        self.length = length
        self.width = width

    def __len__(self) -> int:
        return -(-self.length // self.width)

    @overload
    def __getitem__(self, index: int) -> tuple[int, int]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[int, int]]: ...

    def __getitem__(self, index: int | slice) -> tuple[int, int] | Sequence[tuple[int, int]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        start = index * self.width
        return start, min(start + self.width, self.length)


#: Counts the tokens of each text (used for markers).
CountTokens = Callable[[Sequence[str]], list[int]]


@dataclass
class _Piece:
    segment: Segment
    offsets: Offsets
    text: str
    estimate: int
    dropped: bool = False
    cut: Cut | None = None

    @property
    def tokens(self) -> int:
        return len(self.offsets)


@dataclass
class Plan:
    """The shortened user-message segments, what was cut, and where the shared prefix ends."""

    segments: list[Segment]
    cuts: list[Cut]
    prefix_end: int
    chat: ChatLayout | None = None

    @property
    def texts(self) -> list[str]:
        return [segment.text for segment in self.segments]

    @property
    def prefix_chars(self) -> int:
        return sum(len(segment.text) for segment in self.segments[: self.prefix_end])

    def document(self, system: str) -> Document:
        return Document(system, self.segments, self.prefix_end, self.chat)


@dataclass
class _State:
    pieces: list[_Piece]
    estimate: int
    dropped_steps: set[int] = field(default_factory=set)
    step_runs: int = 0


class Truncator:
    """Plans cuts for one document; :meth:`plan` can be called again with a lower target.

    :param offsets: per segment, the (start, end) character span of each of its tokens.
    :param overhead: tokens of the prompt outside the segments (chat markup, system prompt,
        merges across segment boundaries): exact total minus the sum of segment counts.
    :param count: counts tokens of marker texts.
    """

    def __init__(
        self,
        document: Document,
        template: PromptTemplate,
        offsets: Sequence[Offsets],
        overhead: int,
        count: CountTokens,
        *,
        chars_per_unit: int | None = None,
    ) -> None:
        self.document = document
        self.template = template
        # Planning on character spans (a huge trajectory before tokenizing): markers then say
        # how many characters went, not tokens.
        self.chars_per_unit = chars_per_unit
        self.offsets = offsets
        self.overhead = overhead
        # Markers are measured once with a large number, so estimates err on the long side.
        thought, text_cut, steps = count(
            [
                template.thought_marker,
                f"\n{self._text_marker(9_999_999)}\n",
                template.steps_marker(99_999),
            ]
        )
        self.thought_marker_tokens = thought
        self.cut_marker_tokens = text_cut
        self.steps_marker_tokens = steps
        # Each step's segment indices, in document order (dict order is insertion order).
        self.step_segments: dict[int, list[int]] = {}
        for index, segment in enumerate(document.segments):
            if segment.step is not None:
                self.step_segments.setdefault(segment.step, []).append(index)
        self.step_order = list(self.step_segments)
        self.step_position = {step: i for i, step in enumerate(self.step_order)}

    def plan(self, target: int) -> Plan:
        """Cut until the estimate is at most ``target`` tokens; raise :class:`PromptTooLong`."""
        pieces = [
            _Piece(segment, offsets, segment.text, len(offsets))
            for segment, offsets in zip(self.document.segments, self.offsets, strict=True)
        ]
        state = _State(pieces, self.overhead + sum(p.estimate for p in pieces))
        stages = (
            self._condense_thoughts,
            self._cut_observations,
            self._drop_middle_steps,
            self._cut_problem,
            self._drop_remaining_steps,
            self._cut_patch,
        )
        for stage in stages:
            if state.estimate <= target:
                break
            stage(state, target)
        if state.estimate > target:
            raise PromptTooLong(
                f"the prompt needs about {state.estimate} tokens even after every cut swerm may "
                f"make (budget {target}); raise max_tokens or use a model with a longer context"
            )
        return self._result(state)

    # --- stages ---

    def _condense_thoughts(self, state: _State, target: int) -> None:
        thoughts = [p for p in state.pieces if p.segment.kind == "thought" and not p.dropped]
        thoughts.sort(key=lambda p: p.tokens, reverse=True)
        for piece in thoughts:
            if state.estimate <= target or piece.tokens <= self.thought_marker_tokens:
                return
            marker = self.template.thought_marker
            cut = self._cut("thought", piece.tokens, marker, piece.segment.step)
            self._replace(state, piece, marker, self.thought_marker_tokens, cut)

    def _cut_observations(self, state: _State, target: int) -> None:
        overhead = self.cut_marker_tokens
        pool = [
            p
            for p in state.pieces
            if p.segment.kind == "observation"
            and not p.dropped
            and p.tokens > OBSERVATION_KEEP + overhead
        ]
        if not pool:
            return
        need = state.estimate - target

        def saving(cap: int) -> int:
            return sum(max(0, p.tokens - cap - overhead) for p in pool)

        low, high = OBSERVATION_KEEP, max(p.tokens for p in pool)
        if saving(low) > need:
            # Largest cap that still saves enough: the longest observations are cut, evenly.
            while low < high:
                middle = (low + high + 1) // 2
                if saving(middle) >= need:
                    low = middle
                else:
                    high = middle - 1
        cap = low
        for piece in pool:
            if piece.tokens > cap + overhead:
                self._cut_middle(state, piece, cap - cap // 2, cap // 2, "observation")

    def _drop_middle_steps(self, state: _State, target: int) -> None:
        for step in self.step_order[:-1]:
            if state.estimate <= target:
                return
            self._drop_step(state, step)

    def _cut_problem(self, state: _State, target: int) -> None:
        for piece in state.pieces:
            if piece.segment.kind == "problem" and state.estimate > target:
                keep = piece.tokens - (state.estimate - target) - self.cut_marker_tokens
                keep = max(PROBLEM_HEAD_KEEP, keep)
                if piece.tokens - keep > self.cut_marker_tokens:
                    self._cut_middle(state, piece, keep, 0, "problem_statement")

    def _drop_remaining_steps(self, state: _State, target: int) -> None:
        for step in self.step_order:
            if state.estimate <= target:
                return
            if step not in state.dropped_steps:
                self._drop_step(state, step)

    def _cut_patch(self, state: _State, target: int) -> None:
        for piece in state.pieces:
            if piece.segment.kind == "patch" and state.estimate > target:
                keep = piece.tokens - (state.estimate - target) - self.cut_marker_tokens
                keep = max(PATCH_KEEP, keep)
                if piece.tokens - keep > self.cut_marker_tokens:
                    self._cut_middle(state, piece, keep - keep // 2, keep // 2, "patch")

    # --- edits ---

    def _replace(self, state: _State, piece: _Piece, text: str, tokens: int, cut: Cut) -> None:
        state.estimate += tokens - piece.estimate
        piece.text, piece.estimate, piece.cut = text, tokens, cut

    def _text_marker(self, removed: int) -> str:
        if self.chars_per_unit is None:
            return self.template.tokens_marker(removed)
        return f"[... about {removed * self.chars_per_unit} characters omitted ...]"

    def _cut(self, kind: str, removed: int, marker: str, step: int | None) -> Cut:
        if self.chars_per_unit is None:
            return Cut(kind, removed, marker, step)  # type: ignore[arg-type]
        chars = removed * self.chars_per_unit
        return Cut(kind, chars, marker, step, unit="characters")  # type: ignore[arg-type]

    def _cut_middle(self, state: _State, piece: _Piece, head: int, tail: int, kind: str) -> None:
        text, offsets = piece.segment.text, piece.offsets
        removed = piece.tokens - head - tail
        head_end = offsets[head - 1][1] if head else 0
        tail_start = max(offsets[piece.tokens - tail][0] if tail else len(text), head_end)
        marker = self._text_marker(removed)
        new_text = text[:head_end] + "\n" + marker + ("\n" + text[tail_start:] if tail else "")
        cut = self._cut(kind, removed, marker, piece.segment.step)
        self._replace(state, piece, new_text, head + tail + self.cut_marker_tokens, cut)

    def _drop_step(self, state: _State, step: int) -> None:
        position = self.step_position[step]
        neighbours = [
            self.step_order[i]
            for i in (position - 1, position + 1)
            if 0 <= i < len(self.step_order)
        ]
        joined = sum(1 for n in neighbours if n in state.dropped_steps)
        runs_before = state.step_runs
        state.step_runs += 1 - joined
        state.dropped_steps.add(step)
        for index in self.step_segments[step]:
            piece = state.pieces[index]
            piece.dropped = True
            state.estimate -= piece.estimate
        state.estimate += (state.step_runs - runs_before) * self.steps_marker_tokens

    # --- result ---

    def _result(self, state: _State) -> Plan:
        segments: list[Segment] = []
        cuts: list[Cut] = []
        prefix_end = 0
        run: list[tuple[int, int]] = []  # (step, how many steps it stands for) of the run
        run_slot: list[int] = []  # the slot (message) where the run began: the marker goes there

        def flush() -> None:
            if run:
                count = sum(weight for _, weight in run)
                marker = self.template.steps_marker(count)
                segments.append(
                    Segment("fixed", marker, run[0][0], slot=run_slot.pop(), omitted=count)
                )
                cuts.append(Cut("steps", count, marker.strip(), run[0][0], unit="steps"))
                run.clear()

        for index, piece in enumerate(state.pieces):
            if index == self.document.prefix_end:
                prefix_end = len(segments)
            if piece.dropped:
                step = piece.segment.step
                if step is not None and (not run or run[-1][0] != step):
                    if not run:
                        run_slot.append(piece.segment.slot)
                    run.append((step, piece.segment.omitted or 1))
                continue
            flush()
            segments.append(
                Segment(piece.segment.kind, piece.text, piece.segment.step, piece.segment.slot)
            )
            if piece.cut is not None:
                cuts.append(piece.cut)
        flush()
        return Plan(segments, cuts, prefix_end, self.document.chat)
