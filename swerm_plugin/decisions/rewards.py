"""Verifier scores as RL rewards: the SWE-RM hybrid reward, or the score alone.

Hybrid (SWE-RM, arXiv 2512.21919): ``1 + s`` when the patch resolved the task (tests passed),
``-0.5 + s`` when the run did not finish, ``0 + s`` otherwise, with ``s`` the verifier's
(calibrated) probability. The same rewards are offered as a JSONL export (``swerm reward``), as a
TRL reward function and as a verl ``compute_score``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from swerm_plugin.errors import RewardError
from swerm_plugin.model import CandidateGroup, Score, Step, Trajectory

RewardMode = Literal["hybrid", "score"]
REWARD_MODES: tuple[RewardMode, ...] = ("hybrid", "score")
RESOLVED_BONUS = 1.0
UNFINISHED_PENALTY = -0.5

#: Scores a batch of trajectories (e.g. ``Verifier(config).score``).
Scorer = Callable[[Sequence[Trajectory]], Sequence[Score]]


def is_finished(trajectory: Trajectory) -> bool:
    """Whether the agent ended the run itself (submitted or finished) rather than hitting an
    error or a limit. When the framework did not say, having a patch counts as finished."""
    if trajectory.exit_status in ("submitted", "finished"):
        return True
    if trajectory.exit_status in ("error", "limit"):
        return False
    return trajectory.has_patch


def hybrid_reward(score: float, *, resolved: bool, finished: bool) -> float:
    """The SWE-RM hybrid reward for verifier probability ``score``."""
    if resolved:
        return RESOLVED_BONUS + score
    if not finished:
        return UNFINISHED_PENALTY + score
    return score


def reward_for(trajectory: Trajectory, score: Score, *, mode: RewardMode = "hybrid") -> float:
    """The reward for one scored trajectory; hybrid mode needs ``trajectory.label``."""
    if mode not in REWARD_MODES:
        raise RewardError(f"unknown reward mode '{mode}'; use one of {', '.join(REWARD_MODES)}")
    s = score.probability
    if s is None:
        raise RewardError(
            f"{trajectory.instance_id} (attempt {trajectory.attempt}): no verifier score "
            f"({score.error or 'unscored'}); rescore it or drop it from the batch"
        )
    if mode == "score":
        return s
    if trajectory.label is None:
        raise RewardError(
            f"{trajectory.instance_id} (attempt {trajectory.attempt}): the hybrid reward needs "
            "the resolved label; attach test results (--labels) or use mode 'score'"
        )
    return hybrid_reward(s, resolved=trajectory.label, finished=is_finished(trajectory))


def reward_records(
    groups: Sequence[CandidateGroup],
    scores: Sequence[Sequence[Score | None]],
    *,
    mode: RewardMode,
) -> list[dict[str, Any]]:
    """The ``swerm reward`` export for every candidate; an unscored one is an error."""
    records = []
    for group, group_scores in zip(groups, scores, strict=True):
        for trajectory, score in zip(group.candidates, group_scores, strict=True):
            if score is None:
                raise RewardError(
                    f"{trajectory.instance_id} ({trajectory.run_id}): no score; add it to "
                    "--scores or configure a model"
                )
            records.append(reward_record(trajectory, score, mode=mode))
    return records


def reward_record(trajectory: Trajectory, score: Score, *, mode: RewardMode) -> dict[str, Any]:
    """One line of the ``swerm reward`` export."""
    return {
        "instance_id": trajectory.instance_id,
        "run_id": trajectory.run_id,
        "attempt": trajectory.attempt,
        "content_hash": trajectory.content_hash(),
        "reward": reward_for(trajectory, score, mode=mode),
        "mode": mode,
        "score": score.probability,
        "raw": score.raw,
        "resolved": trajectory.label,
        "finished": is_finished(trajectory),
    }


# --- framework adapters -------------------------------------------------------------------


def _text(completion: Any) -> str:
    """A TRL completion as text: a plain string, or the contents of a list of messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence):
        return "\n".join(str(m.get("content", "")) for m in completion if isinstance(m, Mapping))
    raise RewardError(f"completion of type {type(completion).__name__}; expected str or messages")


def _label(value: Any) -> bool | None:
    """A resolved label from a dataset column: bool, 0/1, "true"/"false", or None."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "resolved"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "unresolved"}:
        return False
    raise RewardError(f"cannot read {value!r} as a resolved label; use true/false or 1/0")


def trajectory_from_rollout(
    text: str, *, prompt: str = "", fields: Mapping[str, Any] | None = None
) -> Trajectory:
    """A :class:`Trajectory` for one RL rollout.

    ``fields`` are the dataset columns / extra info: ``instance_id``, ``problem_statement``,
    ``patch`` (the diff the rollout left in its environment), ``exit_status``, ``resolved``.
    The rollout text becomes the trajectory's single assistant step.
    """
    info = dict(fields or {})
    exit_status = info.get("exit_status", "unknown")
    if exit_status not in ("submitted", "finished", "error", "limit", "unknown"):
        exit_status = "unknown"
    return Trajectory(
        instance_id=str(info.get("instance_id", "rollout")),
        source="rl-rollout",
        problem_statement=str(info.get("problem_statement", prompt)),
        steps=[Step(role="assistant", content=text)],
        patch=str(info.get("patch") or ""),
        exit_status=exit_status,
        label=_label(info.get("resolved")),
    )


def rollout_fields(extra_info: Mapping[str, Any] | None, ground_truth: Any) -> dict[str, Any]:
    """verl's ``extra_info`` and ``ground_truth`` as :func:`trajectory_from_rollout` fields:
    ``ground_truth`` is the resolved label, or a mapping of fields (it wins over extra_info)."""
    fields = dict(extra_info or {})
    if isinstance(ground_truth, Mapping):
        fields.update(ground_truth)
    elif ground_truth is not None:
        fields["resolved"] = ground_truth
    return fields


def _default_scorer() -> Scorer:
    from swerm_plugin.config import load_config
    from swerm_plugin.verifier import Verifier

    verifier = Verifier(load_config())

    def score(trajectories: Sequence[Trajectory]) -> Sequence[Score]:
        return list(verifier.score(list(trajectories)))

    return score


def trl_reward_function(
    scorer: Scorer | None = None, *, mode: RewardMode = "hybrid"
) -> Callable[..., list[float]]:
    """A reward function for TRL trainers (``GRPOTrainer(reward_funcs=[...])``).

    TRL calls it as ``fn(prompts=..., completions=..., **dataset_columns)`` and expects one
    float per completion. Columns named ``instance_id``, ``problem_statement``, ``patch``,
    ``exit_status`` and ``resolved`` (lists, one value per completion) are used when present.
    Without ``scorer`` the verifier from the usual configuration is built on first call.
    """
    holder: list[Scorer] = [scorer] if scorer is not None else []

    def swerm_reward(
        completions: Sequence[Any], prompts: Sequence[Any] | None = None, **columns: Any
    ) -> list[float]:
        if not holder:
            holder.append(_default_scorer())
        trajectories = []
        for i, completion in enumerate(completions):
            fields = {k: v[i] for k, v in columns.items() if isinstance(v, Sequence | list)}
            prompt = _text(prompts[i]) if prompts is not None else ""
            trajectories.append(
                trajectory_from_rollout(_text(completion), prompt=prompt, fields=fields)
            )
        scores = holder[0](trajectories)
        return [reward_for(t, s, mode=mode) for t, s in zip(trajectories, scores, strict=True)]

    swerm_reward.__name__ = f"swerm_{mode}_reward"  # TRL logs rewards under the function name
    return swerm_reward


def verl_compute_score(
    scorer: Scorer | None = None, *, mode: RewardMode = "hybrid"
) -> Callable[..., float]:
    """A function with verl's ``compute_score(data_source, solution_str, ground_truth,
    extra_info=None)`` signature, scoring with ``scorer``.

    ``ground_truth`` is the resolved label (bool, 0/1, "true"/"false"), a mapping of fields, or
    ``None``; ``extra_info`` may carry the fields :func:`trajectory_from_rollout` reads.
    """
    holder: list[Scorer] = [scorer] if scorer is not None else []

    def compute_score(
        data_source: str,
        solution_str: str,
        ground_truth: Any,
        extra_info: Mapping[str, Any] | None = None,
    ) -> float:
        if not holder:
            holder.append(_default_scorer())
        trajectory = trajectory_from_rollout(
            solution_str, fields=rollout_fields(extra_info, ground_truth)
        )
        (score,) = holder[0]([trajectory])
        return reward_for(trajectory, score, mode=mode)

    return compute_score


_configured: dict[RewardMode, Callable[..., float]] = {}


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    mode: RewardMode = "hybrid",
) -> float:
    """verl entry point: set ``custom_reward_function.path`` to this module's file and ``name``
    to ``compute_score`` (``reward_kwargs: {mode: score}`` for the score alone). The verifier
    comes from the usual swerm configuration and is built on the first call."""
    if mode not in _configured:
        _configured[mode] = verl_compute_score(mode=mode)
    return _configured[mode](data_source, solution_str, ground_truth, extra_info)
