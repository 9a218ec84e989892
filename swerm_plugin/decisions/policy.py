"""The default decision policy: accept, reject (abstain) or retry one scored attempt.

(:mod:`swerm_plugin.builtins.policy` makes :func:`decide` the default ``swerm_decide``.)

- accept: a non-empty patch whose probability is at or above ``policy.threshold``;
- retry: otherwise, while attempts remain and the cost budget can pay for another attempt
  (estimated as what the last one cost); in ``refine`` mode the agent gets a feedback message;
- reject: otherwise. What a rejection does to the submission is ``policy.on_reject``:
  ``empty_patch`` abstains (the task gets an empty patch), ``flag`` keeps the patch and marks it.

A failed score follows ``config.on_error``.
"""

from __future__ import annotations

from dataclasses import dataclass

from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import VerifierError
from swerm_plugin.model import Decision, Score, ScoreKind, Trajectory


def retry_feedback(
    score: float | None, threshold: float, has_patch: bool, *, attempts_left: int | None = None
) -> str:
    """The message sent back to the agent when it gets another attempt."""
    if not has_patch:
        text = (
            "Your attempt ended without any change to the repository. Reproduce the issue, "
            "edit the source files to fix it, verify the fix, then submit again."
        )
    else:
        shown = f"{score:.0%}" if score is not None else "a low"
        text = (
            f"An automated reviewer estimates only a {shown} chance that your patch resolves "
            f"the issue (it needs {threshold:.0%}). Re-read the issue, check the edge cases it "
            "mentions, run or write a test that reproduces it, and fix what is missing before "
            "submitting again."
        )
    if attempts_left is not None:
        text += f" Attempts left after this one: {attempts_left}."
    return text


@dataclass(frozen=True)
class RetryPlan:
    """Whether another attempt is allowed, and why (not)."""

    retry: bool
    reason: str


def plan_retry(
    *,
    attempt: int,
    max_attempts: int,
    spent: float | None,
    budget: float | None,
    last_cost: float | None,
) -> RetryPlan:
    """Decide whether attempt ``attempt + 1`` may start.

    :param spent: cost of all attempts so far (``None`` when the framework does not report it).
    :param budget: the cost budget for the task (``None``: unlimited).
    :param last_cost: cost of the attempt just finished, the estimate for the next one.
    """
    if attempt >= max_attempts:
        return RetryPlan(False, f"attempt {attempt} of {max_attempts}, no attempts left")
    if budget is not None and spent is not None:
        if spent >= budget:
            return RetryPlan(False, f"cost budget {budget:g} spent ({spent:g})")
        expected = last_cost or 0.0
        if spent + expected > budget:
            return RetryPlan(
                False,
                f"another attempt (about {expected:g}) would exceed the cost budget "
                f"({spent:g} of {budget:g} spent)",
            )
    return RetryPlan(True, f"attempt {attempt} of {max_attempts}")


def charge_verifier(trajectory: Trajectory, score: Score, charged_before: float) -> Trajectory:
    """``trajectory`` with the verifier's cost (an API judge's calls) in its ``total_cost``:
    the verifier's cost is part of the run's, so the cost budget counts it.

    :param charged_before: what the verifier cost on the task's earlier attempts.
    """
    own = score.cost_usd or 0.0
    if not own and not charged_before:
        return trajectory
    spent = _spent(trajectory) or 0.0
    total = spent + charged_before + own
    return trajectory.model_copy(update={"metadata": {**trajectory.metadata, "total_cost": total}})


def _spent(trajectory: Trajectory) -> float | None:
    total = trajectory.metadata.get("total_cost", trajectory.cost)
    return None if total is None else float(total)


def submission_patch(trajectory: Trajectory, decision: Decision, config: SwermConfig) -> str:
    """The patch to submit for ``trajectory`` after ``decision``: empty when a rejection
    abstains (``policy.on_reject = "empty_patch"``), else the agent's patch unchanged."""
    if decision.action == "reject" and config.policy.on_reject == "empty_patch":
        return ""
    return trajectory.patch


def decide(trajectory: Trajectory, score: Score, attempt: int, config: SwermConfig) -> Decision:
    """The default policy's decision for one scored attempt (see the module docs).

    A probability threshold applies to probabilities only: a vote share (consensus, the no-model
    selector) ranks candidates but is not P(resolved), so a candidate scored that way is
    accepted as the pick unless a calibrator has turned its share into a probability.
    """
    if not score.ok and trajectory.has_patch:  # an empty patch needs no verdict to be refused
        return _on_error(trajectory, score, config)
    threshold = config.policy.threshold
    p = score.probability
    kind = score.kind if score.ok else None
    if trajectory.has_patch and score.ok and not score.is_probability:
        return Decision(
            action="accept",
            reason=f"{score.kind} {p:.3f} picks the candidate; a probability threshold does not "
            "apply to vote shares (calibrate them with `swerm calibrate` to use one)",
            score=p,
            score_kind=kind,
        )
    if p is not None and p >= threshold and trajectory.has_patch:
        return Decision(
            action="accept",
            reason=f"p={p:.3f} >= {threshold}",
            threshold=threshold,
            score=p,
            score_kind=kind,
        )
    return _not_good_enough(trajectory, p, kind, attempt, config)


def _on_error(trajectory: Trajectory, score: Score, config: SwermConfig) -> Decision:
    if config.on_error == "raise":
        raise VerifierError(f"{trajectory.instance_id}: scoring failed: {score.error}")
    return Decision(
        action=config.on_error,
        reason=f"verifier error, on_error={config.on_error}: {score.error}",
        threshold=config.policy.threshold,
    )


def _not_good_enough(
    trajectory: Trajectory,
    p: float | None,
    kind: ScoreKind | None,
    attempt: int,
    config: SwermConfig,
) -> Decision:
    """Retry while attempts and budget allow, else reject (abstain or flag)."""
    policy = config.policy
    threshold = policy.threshold
    why = "empty patch" if not trajectory.has_patch else f"p={p:.3f} < {threshold}"
    plan = plan_retry(
        attempt=attempt,
        max_attempts=policy.max_attempts,
        spent=_spent(trajectory),
        budget=policy.cost_budget,
        last_cost=trajectory.cost,
    )
    common = {"threshold": threshold, "score": p, "score_kind": kind}
    if plan.retry:
        feedback = None
        if policy.retry_mode == "refine":
            feedback = retry_feedback(
                p, threshold, trajectory.has_patch, attempts_left=policy.max_attempts - attempt - 1
            )
        reason = f"{why}; {plan.reason}, {policy.retry_mode}"
        return Decision(action="retry", reason=reason, feedback=feedback, **common)
    outcome = "abstain with an empty patch" if policy.on_reject == "empty_patch" else "flagged"
    return Decision(action="reject", reason=f"{why}; {plan.reason}; {outcome}", **common)
