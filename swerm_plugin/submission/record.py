"""What swerm knows about a submission: each instance's decision record, and the facts the
README and ``metadata.yaml`` are written from (never from anything a person has to claim)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from swerm_plugin.model import NO_CALIBRATOR, Score
from swerm_plugin.readers.loader import PREDICTIONS_SOURCE

if TYPE_CHECKING:
    from swerm_plugin.decisions.rerank import TaskDecision
    from swerm_plugin.plugins.manager import Hooks
    from swerm_plugin.submission.attempts import AttemptFile


def selector_description(
    hooks: Hooks | None, *, decisions_log: str | None = None
) -> dict[str, Any]:
    """Which plugins ranked the candidates and which policy decided, as the record states it."""
    if hooks is None:
        return {"from_decisions_log": decisions_log}
    policy = hooks.config.policy
    impls = hooks.pm.hook.swerm_select.get_hookimpls()
    return {
        "hook": "swerm_select",
        "plugins": [impl.plugin_name for impl in reversed(impls)],  # in call order
        "consensus": policy.consensus,
        "consensus_weight": policy.consensus_weight if policy.consensus == "hybrid" else None,
        "decide_plugins": [
            i.plugin_name for i in reversed(hooks.pm.hook.swerm_decide.get_hookimpls())
        ],
        "threshold": policy.threshold,
        "on_reject": policy.on_reject,
    }


def score_text(score: Score | None) -> str:
    """A score as a reviewer reads it."""
    if score is None or not score.ok or score.raw is None:
        reason = score.error if score is not None and score.error else "no score"
        return f"no usable score ({reason})"
    if not score.is_probability:
        return f"a patch-consensus vote share of {score.raw:.3f}"
    text = f"P(resolved) = {score.probability:.3f}"
    if score.calibrator not in (None, NO_CALIBRATOR):
        text += f" (raw {score.raw:.3f}, calibrated by {score.calibrator})"
    return text


def why_chosen(task: TaskDecision, selector: str) -> str:
    """One sentence: why this attempt is the one submitted."""
    n = len(task.ranking)
    score = score_text(task.scores[task.ranking[0]])
    if n == 1:
        text = f"the only attempt at this task ({score})"
    else:
        text = f"ranked first of {n} attempts by {selector}, with {score}"
        if score_text(task.scores[task.ranking[1]]) == score:
            text += " (tied with the next on score: the selector's tie-break decided)"
    text += f"; decision: {task.decision.action} ({task.decision.reason})"
    if not task.patch.strip() and task.chosen.has_patch:
        text += "; swerm abstained: the submitted patch is empty"
    return text


def decision_document(
    task: TaskDecision, files: Sequence[AttemptFile], *, scorer: str, selector: dict[str, Any]
) -> dict[str, Any]:
    """``trajs/<iid>/decision.json``: every attempt with its score and file, and the decision."""
    from swerm_plugin import __version__
    from swerm_plugin.decisions.rerank import decision_records

    candidates = []
    for record, placed in zip(decision_records(task), files, strict=True):
        record.pop("source_path", None)  # machine-specific; source_file is relative to the run
        record.update(
            file=placed.file,
            extraction=placed.extraction,
            source_file=placed.source_file,
            reasoning_trace=placed.is_trace,
        )
        candidates.append(record)
    ranked_by = ", ".join(selector.get("plugins", [])) or "the decisions log's ranking"
    return {
        "instance_id": task.group.instance_id,
        "n_attempts": len(files),
        "chosen_file": files[0].file,
        "submitted_patch_empty": not task.patch.strip(),
        "decision": task.decision.model_dump(mode="json"),
        "why_chosen": why_chosen(task, f"swerm_select ({ranked_by})"),
        "scorer": scorer,
        "selector": selector,
        "labels_used_for_selection": False,
        "candidates": candidates,
        "written_by": f"swerm {__version__}",
    }


@dataclass
class SubmissionFacts:
    """Everything the README and metadata.yaml say, taken from the runs and the decisions."""

    name: str
    split: str
    folder: str
    model_name: str
    n_runs: int
    scorer: str
    selector: dict[str, Any]
    attempts: list[int] = field(default_factory=list)
    frameworks: list[str] = field(default_factory=list)
    agent_models: list[str] = field(default_factory=list)
    verifiers: list[str] = field(default_factory=list)
    verifier_models: list[str] = field(default_factory=list)
    actions: dict[str, int] = field(default_factory=dict)
    abstained: int = 0
    untraced: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    resolved: int | None = None
    logs: bool = False

    @property
    def n_instances(self) -> int:
        return len(self.attempts)

    @property
    def max_attempts(self) -> int:
        return max(self.attempts, default=0)

    @property
    def pass_at_1(self) -> bool:
        """Every instance was attempted once: the checklist's pass@1."""
        return self.max_attempts <= 1


def gather_facts(
    tasks: Sequence[TaskDecision],
    files: Sequence[Sequence[AttemptFile]],
    *,
    base: SubmissionFacts,
) -> SubmissionFacts:
    """Fill ``base`` (names, scorer, selector, labels) with what the decisions and runs show."""
    facts = base
    frameworks: set[str] = set()
    models: set[str] = set()
    for task, placed in zip(tasks, files, strict=True):
        facts.attempts.append(len(task.ranking))
        action = task.decision.action
        facts.actions[action] = facts.actions.get(action, 0) + 1
        facts.abstained += not task.patch.strip() and task.chosen.has_patch
        if any(not p.is_trace for p in placed):
            facts.untraced.append(task.group.instance_id)
        for trajectory in task.group.candidates:
            if trajectory.source == PREDICTIONS_SOURCE:
                continue
            version = trajectory.metadata.get("framework_version")
            frameworks.add(trajectory.source + (f", version {version}" if version else ""))
            if trajectory.model_name:
                models.add(trajectory.model_name)
    facts.frameworks, facts.agent_models = sorted(frameworks), sorted(models)
    facts.verifiers, facts.verifier_models = _verifiers(tasks)
    if facts.labels and all(t.chosen.label is not None for t in tasks):
        facts.resolved = sum(bool(t.chosen.label) and t.patch == t.chosen.patch for t in tasks)
    return facts


def _verifiers(tasks: Sequence[TaskDecision]) -> tuple[list[str], list[str]]:
    described: set[str] = set()
    models: set[str] = set()
    for task in tasks:
        for score in task.scores:
            if score is None or not score.ok:
                continue
            if score.kind == "vote_share":
                described.add(
                    f"patch consensus ({score.backend or 'consensus'}): an execution-free vote "
                    "over normalised candidate patches, no model"
                )
                continue
            template = f", template {score.template} {score.template_version}".rstrip()
            calibrator = score.calibrator or NO_CALIBRATOR
            described.add(
                f"{score.model or 'a reward model'} through the {score.backend or '?'} backend"
                f"{template if score.template else ''}, calibrator {calibrator}"
            )
            if score.model:
                models.add(score.model)
    return sorted(described), sorted(models)
