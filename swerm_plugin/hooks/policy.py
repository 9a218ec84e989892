"""Default ``swerm_decide``: accept at or above the threshold, else retry while attempts and
budget remain, else reject. A failed score follows ``config.on_error``."""

from __future__ import annotations

from swerm_plugin.config import SwermConfig
from swerm_plugin.hookspecs import hookimpl
from swerm_plugin.trajectory import Decision, Score, Trajectory


class VerifierError(RuntimeError):
    """Scoring failed and ``on_error = "raise"`` asked for the failure to propagate."""


def retry_feedback(score: float | None, threshold: float, has_patch: bool) -> str:
    """The message sent back to the agent when it gets another attempt."""
    if not has_patch:
        return (
            "Your attempt ended without any change to the repository. Reproduce the issue, "
            "edit the source files to fix it, verify the fix, then submit again."
        )
    return (
        f"An automated reviewer estimates only a {score:.0%} chance that your patch resolves the "
        f"issue (it needs {threshold:.0%}). Re-read the issue, check the edge cases it mentions, "
        "run or write a test that reproduces it, and fix what is missing before submitting again."
    )


def _within_budget(trajectory: Trajectory, config: SwermConfig) -> bool:
    budget = config.policy.cost_budget
    spent = trajectory.metadata.get("total_cost", trajectory.cost)
    return budget is None or spent is None or float(spent) < budget


@hookimpl(trylast=True)
def swerm_decide(
    trajectory: Trajectory, score: Score, attempt: int, config: SwermConfig
) -> Decision:
    threshold = config.policy.threshold
    if not score.ok:
        if config.on_error == "raise":
            raise VerifierError(f"{trajectory.instance_id}: scoring failed: {score.error}")
        return Decision(
            action=config.on_error,
            reason=f"verifier error, on_error={config.on_error}: {score.error}",
            threshold=threshold,
        )
    p = score.probability
    if p is not None and p >= threshold and trajectory.has_patch:
        return Decision(
            action="accept", reason=f"p={p:.3f} >= {threshold}", threshold=threshold, score=p
        )
    why = "empty patch" if not trajectory.has_patch else f"p={p:.3f} < {threshold}"
    if attempt < config.policy.max_attempts and _within_budget(trajectory, config):
        return Decision(
            action="retry",
            reason=f"{why}; attempt {attempt} of {config.policy.max_attempts}",
            threshold=threshold,
            score=p,
            feedback=retry_feedback(p, threshold, trajectory.has_patch),
        )
    return Decision(
        action="reject", reason=f"{why}; no attempts or budget left", threshold=threshold, score=p
    )
