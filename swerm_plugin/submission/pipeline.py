"""From runs to a submission folder: read, rerank (or take an earlier rerank's decisions),
evaluate when labels are given, and write.

The choice of what to submit is ``swerm rerank``'s own (:func:`rerank_group` over
:func:`load_candidates`), or read back from its outputs without rescoring
(:func:`read_outputs`), so ``all_preds.jsonl`` is what ``swerm rerank`` writes. Labels never
take part in the choice: they only feed the ``swerm eval`` figures of the README.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from swerm_plugin.errors import CandidatesError
from swerm_plugin.submission.builder import SubmissionRequest, SubmissionResult, build_submission
from swerm_plugin.submission.record import SubmissionFacts, selector_description

if TYPE_CHECKING:
    from swerm_plugin.config import SwermConfig
    from swerm_plugin.decisions.rerank import TaskDecision
    from swerm_plugin.decisions.runs import Progress, Run
    from swerm_plugin.evaluation.evaluate import EvalReport
    from swerm_plugin.plugins.manager import Hooks


@dataclasses.dataclass(frozen=True)
class RerankOutput:
    """An earlier ``swerm rerank``'s predictions file and its decisions log."""

    predictions: Path
    decisions: Path | None = None

    @property
    def log(self) -> Path:
        default = self.predictions.with_name(self.predictions.name + ".decisions.jsonl")
        return self.decisions or default


def _from_rerank(
    paths: Sequence[Path], labels: Sequence[Path], rerank: RerankOutput
) -> tuple[list[Run], list[TaskDecision], str]:
    from swerm_plugin.decisions.labels import apply_labels
    from swerm_plugin.decisions.rerank import read_outputs
    from swerm_plugin.decisions.runs import group_by_task, load_runs

    if not rerank.log.is_file():
        raise CandidatesError(
            f"{rerank.log}: no decisions log beside {rerank.predictions}",
            hint="give the log `swerm rerank` wrote with --decisions",
        )
    runs = load_runs(paths)
    if labels:
        apply_labels(runs, labels)
    tasks, model_name = read_outputs(
        group_by_task(runs), predictions=rerank.predictions, decisions=rerank.log
    )
    return runs, tasks, model_name


def _short(path: Path) -> str:
    """A labels file as the README names it: its folder and name, no machine-specific prefix."""
    return Path(path.resolve().parent.name, path.name).as_posix()


def _evaluate(
    tasks: Sequence[TaskDecision], hooks: Hooks, scorer: str, seed: int = 0
) -> EvalReport:
    from swerm_plugin.evaluation.evaluate import evaluate_candidates

    try:
        return evaluate_candidates(
            [t.group for t in tasks],
            [t.scores for t in tasks],
            hooks,
            seed=seed,
            scorer_name=scorer,
        )
    except ValueError as exc:
        raise CandidatesError(f"the labels cannot be evaluated: {exc}") from None


def submit_runs(
    paths: Sequence[Path],
    request: SubmissionRequest,
    config: SwermConfig,
    *,
    score_files: Sequence[Path] = (),
    rerank: RerankOutput | None = None,
    progress: Callable[[str, int], AbstractContextManager[Progress]] | None = None,
) -> SubmissionResult:
    """Choose one attempt per task across ``paths`` and write the submission ``request`` names.

    With ``rerank``, the choice is read from that earlier rerank's outputs (the same runs, in
    the same order); otherwise it is made here exactly as ``swerm rerank`` makes it, with the
    scores of ``score_files``, the configured reward model, or patch consensus.
    """
    from swerm_plugin.decisions.rerank import rerank_group
    from swerm_plugin.decisions.runs import load_candidates
    from swerm_plugin.plugins.manager import get_hooks

    hooks = get_hooks(config)
    if rerank is not None:
        runs, tasks, model_name = _from_rerank(paths, request.labels, rerank)
        if request.model_name and request.model_name != model_name:
            raise CandidatesError(
                f"--model-name {request.model_name!r} differs from the rerank's {model_name!r}; "
                "all_preds.jsonl keeps the rerank's predictions as they are"
            )
        request = dataclasses.replace(request, model_name=model_name)
        scorer, selector = (
            f"the decisions log {rerank.log.name}",
            selector_description(None, decisions_log=rerank.log.name),
        )
    else:
        loaded = load_candidates(
            paths, config, labels=request.labels, score_files=score_files, progress=progress
        )
        runs, scorer, selector = loaded.runs, loaded.scorer, selector_description(hooks)
        tasks = [
            rerank_group(g, s, hooks) for g, s in zip(loaded.groups, loaded.scores, strict=True)
        ]
        request = dataclasses.replace(request, model_name=request.model_name or request.name)
    report = _evaluate(tasks, hooks, scorer) if request.labels else None
    facts = SubmissionFacts(
        name=request.name,
        split=request.split,
        folder=request.folder.name,
        model_name=request.model_name or "",
        n_runs=len(runs),
        scorer=scorer,
        selector=selector,
        labels=[_short(path) for path in request.labels],
    )
    return build_submission(tasks, runs, request, facts=facts, report=report)
