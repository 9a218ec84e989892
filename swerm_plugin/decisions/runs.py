"""N runs of the same tasks → one :class:`CandidateGroup` per task, with labels and scores.

Shared by ``swerm rerank``, ``eval``, ``calibrate``, ``reward`` and ``report``
(:func:`load_candidates`). A run is anything :func:`swerm_plugin.readers.load` reads: a
framework's output folder or file, or a plain SWE-bench predictions file.
"""

from __future__ import annotations

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


def load_runs(paths: Sequence[Path]) -> list[Run]:
    """Read every run. Each trajectory's ``run_id`` is the run's own (made unique by suffixing
    ``#2``, ``#3``… when two runs would otherwise share one), so runs never mix."""
    from swerm_plugin.readers import load

    runs: list[Run] = []
    seen: dict[str, int] = {}
    for index, path in enumerate(paths):
        trajectories = list(load(path))
        if not trajectories:
            raise CandidatesError(f"{path}: no trajectories or predictions in this run")
        names = sorted({t.run_id for t in trajectories if t.run_id})
        base = names[0] if len(names) == 1 else path.stem or str(path)
        seen[base] = seen.get(base, 0) + 1
        run_id = base if seen[base] == 1 else f"{base}#{seen[base]}"
        for trajectory in trajectories:
            trajectory.run_id = run_id
        runs.append(Run(index=index, path=path, run_id=run_id, trajectories=trajectories))
    return runs


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
    (to cache it for resuming).
    """
    known = known or {}
    if scorer is not None or known:
        voter = None
    elif voter is None:
        voter = group_scorer(config)
        voter.prepare(groups)
    out: list[list[Score | None]] = []
    for group in groups:
        scores: list[Score | None] = [known.get(t.content_hash()) for t in group.candidates]
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
                scores[i] = votes[i]
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


def load_candidates(
    run_paths: Sequence[Path],
    config: SwermConfig,
    *,
    labels: Sequence[Path] = (),
    score_files: Sequence[Path] = (),
    cache: Path | None = None,
    progress: Callable[[str, int], AbstractContextManager[Progress]] | None = None,
) -> Candidates:
    """Read the runs, attach labels, and score every candidate.

    Scores come from ``score_files`` (and ``cache``) by content hash, then from the configured
    reward model (newly scored candidates are appended to ``cache`` as they come, so an
    interrupted run resumes), else from the group scorer (``selector`` unless ``backend`` names
    another).
    """
    from swerm_plugin.decisions.labels import apply_labels
    from swerm_plugin.scores import read_scores

    runs = load_runs(run_paths)
    if labels:
        apply_labels(runs, labels)
    groups = group_by_task(runs)
    known: dict[str, Score] = {}
    for path in (*score_files, *([cache] if cache is not None and cache.exists() else [])):
        known.update(read_scores(path))
    selector = group_scorer(config)
    selector.prepare(groups)
    if not has_reward_model(config):
        scores = score_groups(groups, config, known=known, voter=selector)
        scorer = "scores file" if known else selector.name
        return Candidates(runs, groups, scores, scorer, config, selector)
    from swerm_plugin.verifier import Verifier

    bar = progress("scoring", len(groups)) if progress is not None else nullcontext(None)
    with Verifier(config) as verifier, bar as advance:
        scores = score_groups(
            groups,
            config,
            known=known,
            scorer=verifier.score,
            on_scored=_cache_writer(cache) if cache is not None else None,
            progress=advance,
        )
    return Candidates(runs, groups, scores, config.model or config.backend, config, selector)


def _cache_writer(path: Path) -> Callable[[Trajectory, Score], None]:
    from swerm_plugin.jsonl import append_jsonl
    from swerm_plugin.scores import score_record

    def write(trajectory: Trajectory, score: Score) -> None:
        if score.ok:  # failures are retried on the next run, not cached
            append_jsonl(path, score_record(trajectory, score))

    return write
