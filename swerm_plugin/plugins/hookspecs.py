"""Every hook swerm calls, grouped by when it runs.

Plugins implement these with ``@swerm_plugin.hookimpl``; an implementation may take any subset
of a hook's arguments. Pipeline hooks are *firstresult*: the first non-``None`` result wins, and
each has a built-in default registered ``trylast``, so a plugin overrides a stage simply by
returning a value, and declines by returning ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from swerm_plugin.backends.base import GroupScorer, RewardBackend
    from swerm_plugin.calibration.calibrators import Calibrator
    from swerm_plugin.config import SwermConfig
    from swerm_plugin.model import CandidateGroup, Decision, Score, Trajectory
    from swerm_plugin.presets.preset import VerifierPreset
    from swerm_plugin.prompts.prompt import Prompt
    from swerm_plugin.prompts.templates import PromptTemplate
    from swerm_plugin.readers.base import TrajectoryAdapter

PROJECT = "swerm"
hookspec = pluggy.HookspecMarker(PROJECT)
#: Public marker for implementations; re-exported as ``swerm_plugin.hookimpl``.
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- setup: called when the host needs them; swerm_configure is historic (late plugins see it) ---


@hookspec(historic=True)
def swerm_configure(config: SwermConfig) -> None:
    """Called once with the effective configuration, before any trajectory is handled.

    :param config: the loaded :class:`~swerm_plugin.config.SwermConfig`; treat it as read-only.
    Return value is ignored.
    """


@hookspec
def swerm_register_backends(
    register: Callable[[type[RewardBackend] | type[GroupScorer]], None],
) -> None:
    """Register reward backends and group scorers by calling ``register(cls)`` once per class.

    :param register: takes a :class:`~swerm_plugin.backends.base.RewardBackend` subclass (scores
        one prompt at a time) or a :class:`~swerm_plugin.backends.base.GroupScorer` subclass
        (scores the candidates of a task together, e.g. ``consensus``); its ``name`` class
        attribute is what ``backend = "..."`` in the config selects. A name registered earlier
        wins (third-party plugins register before the built-ins).
    Return value is ignored.
    """


@hookspec
def swerm_register_adapters(register: Callable[[TrajectoryAdapter], None]) -> None:
    """Register trajectory readers by calling ``register(reader_instance)``.

    :param register: takes a :class:`~swerm_plugin.readers.base.TrajectoryAdapter` (for the
        fast path of JSON formats, a :class:`~swerm_plugin.readers.base.JsonReader`); format
        detection tries readers in registration order (third-party plugins first).
    Return value is ignored.
    """


@hookspec
def swerm_register_templates(register: Callable[[PromptTemplate], None]) -> None:
    """Register prompt templates by calling ``register(template_instance)``.

    :param register: takes a :class:`~swerm_plugin.prompts.templates.PromptTemplate`; its
        ``name`` is what ``template = "..."`` (``swerm score --template``) selects. A name
        registered earlier wins.
    Return value is ignored.
    """


@hookspec
def swerm_register_presets(register: Callable[[VerifierPreset], None]) -> None:
    """Register verifier presets by calling ``register(preset)``.

    :param register: takes a :class:`~swerm_plugin.presets.preset.VerifierPreset`; its ``name``
        is what ``verifier = "..."`` (``swerm score --verifier``) selects. A name registered
        earlier wins (third-party plugins register before the built-ins).
    Return value is ignored.
    """


@hookspec
def swerm_register_calibrators(register: Callable[[type[Calibrator]], None]) -> None:
    """Register calibration methods by calling ``register(CalibratorClass)``.

    :param register: takes a :class:`~swerm_plugin.calibration.calibrators.Calibrator` subclass;
        its ``method`` is what ``swerm calibrate --method`` selects and what calibrator files
        name. A method registered earlier wins.
    Return value is ignored.
    """


@hookspec
def swerm_register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``swerm`` command line with ``cli.add_command(...)``.

    :param cli: the top-level click group.
    Return value is ignored.
    """


# --- pipeline: one call per trajectory (or task); firstresult, built-in defaults run last ---


@hookspec(firstresult=True)
def swerm_render_prompt(
    trajectory: Trajectory,
    template: str | PromptTemplate,
    tokenizer: Any,
    budget: int | None,
    config: SwermConfig,
    markup: Sequence[str] | None,
) -> Prompt | None:
    """Render one trajectory into the prompt the verifier scores.

    Called once per trajectory before scoring, possibly from several worker threads at once
    (rendering is tokenizer-bound), so an implementation must be thread-safe. Stops at the
    first non-``None`` result.

    :param trajectory: the trajectory to render (untrusted text: never let it become markup).
    :param template: the template name, e.g. ``"swe-rm"``; or the template object of a backend
        that lays out its own prompts (the ``judge`` backend: instructions and exemplars).
    :param tokenizer: the backend's tokenizer, or ``None`` for text-only backends.
    :param budget: the maximum prompt length in tokens, or ``None`` for no limit.
    :param config: the effective configuration.
    :param markup: for a text prompt (``tokenizer`` is ``None``), the served model's special and
        added tokens when they are known, to neutralise in agent text; ``None`` when unknown.
    :return: a :class:`~swerm_plugin.prompts.prompt.Prompt`, or ``None`` for no opinion.
    """


@hookspec(firstresult=True)
def swerm_calibrate(trajectory: Trajectory, score: Score, config: SwermConfig) -> float | None:
    """Map a raw score to a calibrated probability.

    Called once per successfully scored trajectory. Stops at the first non-``None`` result.

    :param trajectory: the scored trajectory.
    :param score: its :class:`~swerm_plugin.model.Score` with ``raw`` set.
    :param config: the effective configuration (``config.calibrator`` names a fitted file).
    :return: the calibrated probability in [0, 1], or ``None`` for no opinion.
    """


@hookspec(firstresult=True)
def swerm_decide(
    trajectory: Trajectory, score: Score, attempt: int, config: SwermConfig
) -> Decision | None:
    """Decide what to do with one scored attempt: accept, reject, or retry.

    Called once per scored trajectory inside agent runs and by ``swerm rerank``. Stops at the
    first non-``None`` result.

    :param trajectory: the attempt.
    :param score: its score (``error`` set when scoring failed; honour ``config.on_error``).
    :param attempt: the 1-based attempt number for this task.
    :param config: the effective configuration (``config.policy``).
    :return: a :class:`~swerm_plugin.model.Decision`, or ``None`` for no opinion.
    """


@hookspec(firstresult=True)
def swerm_select(
    group: CandidateGroup, scores: list[Score | None], config: SwermConfig
) -> list[int] | None:
    """Rank the candidates of one task, best first.

    Called once per task when choosing among several attempts. Stops at the first non-``None``
    result.

    :param group: the task's :class:`~swerm_plugin.model.CandidateGroup`.
    :param scores: one score (or ``None`` when unscored) per candidate, in the same order.
    :param config: the effective configuration.
    :return: a permutation of ``range(len(group.candidates))``, or ``None`` for no opinion.
    """


# --- notifications: every implementation is called; return values are ignored ---


@hookspec
def swerm_trajectory_finished(trajectory: Trajectory) -> None:
    """Called when an agent run (or a reader) hands over a finished trajectory, before scoring.

    :param trajectory: the finished trajectory.
    """


@hookspec
def swerm_trajectory_scored(trajectory: Trajectory, score: Score) -> None:
    """Called after a trajectory was scored and calibrated (also when scoring failed).

    :param trajectory: the trajectory.
    :param score: its final score.
    """


@hookspec
def swerm_decision_made(trajectory: Trajectory, score: Score, decision: Decision) -> None:
    """Called after ``swerm_decide`` produced a decision.

    :param trajectory: the trajectory decided on.
    :param score: its score.
    :param decision: the decision taken.
    """
