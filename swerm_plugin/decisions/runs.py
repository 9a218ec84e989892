"""N runs of the same tasks → one :class:`CandidateGroup` per task, with labels and scores.

Shared by ``swerm rerank``, ``eval``, ``calibrate``, ``reward`` and ``report``
(:func:`load_candidates`). A run is anything :func:`swerm_plugin.readers.load` reads: a
framework's output folder or file, or a plain SWE-bench predictions file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import CandidatesError
from swerm_plugin.model import CandidateGroup, Score, Trajectory

if TYPE_CHECKING:
    from swerm_plugin.backends.base import GroupScorer
    from swerm_plugin.decisions.labels import OnProblem
    from swerm_plugin.readers.loader import OnError
    from swerm_plugin.scores import ScoresOutput

log = logging.getLogger("swerm.decisions")

#: Advances a progress bar by a number of tasks.
Progress = Callable[[int], None]
#: The scorer used when no model is configured.
DEFAULT_GROUP_SCORER = "selector"


@dataclass
class Run:
    """One run's trajectories; ``index`` is its position on the command line."""

    index: int
    path: Path
    run_id: str
    trajectories: list[Trajectory] = field(default_factory=list)


def load_runs(paths: Sequence[Path], *, on_error: OnError | None = None) -> list[Run]:
    """Read every run. Each trajectory's ``run_id`` is the run's own (made unique by suffixing
    ``#2``, ``#3``… when two runs would otherwise share one), so runs never mix.

    A path that holds several runs (its trajectories name several run folders and repeat
    instance ids, e.g. ``all_runs/<run>/<iid>/<iid>.traj``) becomes one run per folder, in
    name order: read as one run, its candidates would share one run's labels.
    """
    from swerm_plugin.readers import load

    runs: list[Run] = []
    seen: dict[str, int] = {}
    for path in paths:
        trajectories = list(load(path, on_error=on_error))
        if not trajectories:
            raise CandidatesError(f"{path}: no trajectories or predictions in this run")
        for base, members in _split_runs(path, trajectories):
            seen[base] = seen.get(base, 0) + 1
            run_id = base if seen[base] == 1 else f"{base}#{seen[base]}"
            for trajectory in members:
                trajectory.run_id = run_id
            runs.append(Run(index=len(runs), path=path, run_id=run_id, trajectories=members))
    return runs


def _split_runs(path: Path, trajectories: list[Trajectory]) -> list[tuple[str, list[Trajectory]]]:
    by_run: dict[str, list[Trajectory]] = {}
    for trajectory in trajectories:
        by_run.setdefault(trajectory.run_id or "", []).append(trajectory)
    ids = [t.instance_id for t in trajectories]
    several = len(by_run) > 1 and len(set(ids)) < len(ids)
    if not several:
        names = sorted(name for name in by_run if name)
        return [(names[0] if len(names) == 1 else path.stem or str(path), trajectories)]
    log.warning(
        "%s holds %d runs (%s); each is read as a run of its own", path, len(by_run),
        ", ".join(sorted(by_run)),
    )  # fmt: skip
    return [(name or path.stem, by_run[name]) for name in sorted(by_run)]


# --- tasks -----------------------------------------------------------------------------------


def group_by_task(runs: Sequence[Run]) -> list[CandidateGroup]:
    """One group per instance id (sorted), candidates in run order then file order."""
    groups: dict[str, list[Trajectory]] = {}
    for run in runs:
        for trajectory in run.trajectories:
            groups.setdefault(trajectory.instance_id, []).append(trajectory)
    return [CandidateGroup(instance_id=iid, candidates=groups[iid]) for iid in sorted(groups)]


# --- scores ----------------------------------------------------------------------------------


def has_reward_model(config: SwermConfig) -> bool:
    """Whether the configuration names a reward model to score with (else a group scorer)."""
    if config.model:
        return True
    if config.backend == "auto":
        return False
    from swerm_plugin.backends.base import RewardBackend
    from swerm_plugin.plugins.manager import get_hooks

    cls = get_hooks(config).backends().get(config.backend)
    return cls is None or issubclass(cls, RewardBackend)  # unknown: let the Verifier say so


def group_scorer(config: SwermConfig) -> GroupScorer:
    """The scorer used without a model: ``backend`` when it names a group scorer, else the
    default (``selector``)."""
    from swerm_plugin.backends.base import GroupScorer
    from swerm_plugin.plugins.manager import get_hooks

    available = get_hooks(config).backends()
    chosen = available.get(config.backend)
    if chosen is not None and issubclass(chosen, GroupScorer):
        return chosen(config)
    cls = available.get(DEFAULT_GROUP_SCORER)
    if cls is None or not issubclass(cls, GroupScorer):
        raise CandidatesError(
            f"no group scorer named '{DEFAULT_GROUP_SCORER}' is registered "
            f"(found: {', '.join(sorted(available))})"
        )
    return cls(config)


def score_groups(
    groups: Sequence[CandidateGroup],
    config: SwermConfig,
    *,
    known: Mapping[str, Score] | None = None,
    scorer: Callable[[list[Trajectory]], list[Score]] | None = None,
    voter: GroupScorer | None = None,
    on_scored: Callable[[Trajectory, Score], None] | None = None,
    progress: Progress | None = None,
) -> list[list[Score | None]]:
    """One score per candidate of every group.

    Scores come from ``known`` (by content hash) first; the rest from ``scorer`` (a reward
    model, e.g. ``Verifier.score``) when given. With neither, every candidate gets the group
    scorer's score (``voter``, prepared with ``groups``; by default :func:`group_scorer`'s);
    with ``known`` only, the candidates it lacks stay ``None`` (unscored) rather than mixing
    vote shares into model probabilities. ``on_scored`` sees every newly model-scored candidate
    (to cache it for resuming). Scores read from ``known`` are re-calibrated with the
    configured calibrator (the file's ``calibrated`` value is not trusted as is).
    """
    from swerm_plugin.plugins.manager import get_hooks
    from swerm_plugin.verifier import calibrate_score

    hooks = get_hooks(config)
    known = known or {}
    if scorer is not None or known:
        voter = None
    elif voter is None:
        voter = group_scorer(config)
        voter.prepare(groups)
    out: list[list[Score | None]] = []
    for group in groups:
        scores: list[Score | None] = []
        for trajectory in group.candidates:
            found = known.get(trajectory.content_hash())
            scores.append(None if found is None else calibrate_score(hooks, trajectory, found))
        todo = [i for i, s in enumerate(scores) if s is None]
        if todo and scorer is not None:
            fresh = scorer([group.candidates[i] for i in todo])
            for i, score in zip(todo, fresh, strict=True):
                scores[i] = score
                if on_scored is not None:
                    on_scored(group.candidates[i], score)
        elif todo and voter is not None:
            votes = voter.score_group(group)
            for i in todo:
                scores[i] = calibrate_score(hooks, group.candidates[i], votes[i])
        out.append(scores)
        if progress is not None:
            progress(1)
    return out


@dataclass
class Candidates:
    """Runs read, grouped by task and scored: what every decision command works on."""

    runs: list[Run]
    groups: list[CandidateGroup]
    scores: list[list[Score | None]]
    scorer: str
    config: SwermConfig
    #: The scorer without a model, prepared with every task: what ``swerm eval`` reports as
    #: its ``consensus`` figure, whatever scored the candidates.
    selector: GroupScorer

    def unscored(self) -> list[Trajectory]:
        """Candidates with a patch but no usable score (not in the scores files, or failed)."""
        return [
            trajectory
            for group, scores in zip(self.groups, self.scores, strict=True)
            for trajectory, score in zip(group.candidates, scores, strict=True)
            if trajectory.has_patch and (score is None or not score.ok)
        ]


def load_candidates(
    run_paths: Sequence[Path],
    config: SwermConfig,
    *,
    labels: Sequence[Path] = (),
    score_files: Sequence[Path] = (),
    cache: Path | None = None,
    progress: Callable[[str, int], AbstractContextManager[Progress]] | None = None,
    on_error: OnError | None = None,
    on_problem: OnProblem | None = None,
    instances: Mapping[str, str] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> Candidates:
    """Read the runs, attach labels, and score every candidate.

    Scores come from ``score_files`` (and ``cache``) by content hash, then from the configured
    reward model (newly scored candidates are appended to ``cache`` as they come, so an
    interrupted run resumes), else from the group scorer (``selector`` unless ``backend`` names
    another). ``on_error`` receives every file or record that could not be read (without it,
    the first one raises); ``on_problem`` what the labels leave out.
    """
    from swerm_plugin.decisions.labels import apply_labels
    from swerm_plugin.scores import ScoresOutput, read_scores

    runs = load_runs(run_paths, on_error=on_error)
    _fill_statements(runs, config, instances, on_warning)
    if labels:
        apply_labels(runs, labels, on_problem=on_problem)
    groups = group_by_task(runs)
    known: dict[str, Score] = {}
    for path in score_files:
        known.update(read_scores(path))
    selector = group_scorer(config)
    selector.prepare(groups)
    if not has_reward_model(config):
        scores = score_groups(groups, config, known=known, voter=selector)
        scorer = "scores file" if known else selector.name
        return Candidates(runs, groups, scores, scorer, config, selector)
    from swerm_plugin.verifier import Verifier

    sink = ScoresOutput(cache, inputs=run_paths) if cache is not None else None
    bar = progress("scoring", len(groups)) if progress is not None else nullcontext(None)
    with sink or nullcontext(), Verifier(config) as verifier, bar as advance:
        if cache is not None and cache.exists():
            known.update(read_scores(cache))
        scores = score_groups(
            groups,
            config,
            known=known,
            scorer=verifier.score,
            on_scored=_cache_writer(sink) if sink is not None else None,
            progress=advance,
        )
    return Candidates(runs, groups, scores, config.model or config.backend, config, selector)


def _fill_statements(
    runs: Sequence[Run],
    config: SwermConfig,
    instances: Mapping[str, str] | None,
    on_warning: Callable[[str], None] | None,
) -> None:
    """Problem statements from the dataset for runs that carry none (predictions files); a
    warning when a model would judge patches without their issue."""
    from swerm_plugin.readers.instances import (
        fill_problem_statements,
        missing_statements_warning,
    )

    trajectories = [t for run in runs for t in run.trajectories]
    if instances:
        fill_problem_statements(trajectories, instances)
    warning = missing_statements_warning(trajectories) if has_reward_model(config) else None
    if warning and on_warning is not None:
        on_warning(warning)


def _cache_writer(sink: ScoresOutput) -> Callable[[Trajectory, Score], None]:
    from swerm_plugin.scores import score_record

    def write(trajectory: Trajectory, score: Score) -> None:
        if score.ok:  # failures are retried on the next run, not cached
            sink.write(score_record(trajectory, score))

    return write
