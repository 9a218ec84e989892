"""N runs of the same tasks → one :class:`CandidateGroup` per task, with labels and scores.

Shared by ``swerm rerank``, ``eval``, ``calibrate``, ``reward`` and ``report``. A run is anything
:func:`swerm_plugin.adapters.load` reads: a framework's output folder or file, or a plain
SWE-bench predictions file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from swerm_plugin.config import SwermConfig
from swerm_plugin.trajectory import CandidateGroup, Score, Trajectory

Progress = Callable[[int], None]


class CandidatesError(ValueError):
    """Runs, labels or scores do not fit together; the message says which file and why."""


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
    from swerm_plugin.adapters import load

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


# --- labels ----------------------------------------------------------------------------------


def apply_labels(runs: Sequence[Run], label_paths: Sequence[Path]) -> None:
    """Set every trajectory's ``label`` from harness results.

    Either one labels file per run, in the runs' order (any report
    :func:`swerm_plugin.swebench.read_resolved` reads), or one file for all runs that names the
    run of each label: JSON ``{run_id: [resolved ids] | {instance_id: bool}}``, or JSON Lines
    ``{"run_id", "instance_id", "resolved"}``. A task a run attempted but its labels do not
    mention counts as unresolved (the harness lists only what it resolved).
    """
    from swerm_plugin.swebench import attach_labels, read_resolved

    if len(label_paths) == len(runs):
        for run, path in zip(runs, label_paths, strict=True):
            submitted = [t.instance_id for t in run.trajectories]
            labels = read_resolved(path, submitted=submitted)
            run.trajectories = attach_labels(run.trajectories, labels)
        return
    if len(label_paths) == 1:
        by_run = read_run_labels(label_paths[0], [run.run_id for run in runs])
        for run in runs:
            run.trajectories = attach_labels(run.trajectories, by_run[run.run_id], missing=False)
        return
    raise CandidatesError(
        f"{len(label_paths)} --labels files for {len(runs)} runs: give one per run, in the "
        "same order as the runs, or one file that names the run of each label"
    )


def read_run_labels(path: Path, run_ids: Sequence[str]) -> dict[str, dict[str, bool]]:
    """Labels for several runs from one file that names the run of each label."""
    expected = (
        'JSON {"<run_id>": [resolved ids] or {"<instance_id>": true|false}} or JSON Lines '
        '{"run_id", "instance_id", "resolved"}'
    )
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise CandidatesError(f"{path}: cannot read labels ({exc.strerror})") from None
    by_run: dict[str, dict[str, bool]] = {}
    try:
        document = orjson.loads(text)
        records: Iterable[Any] | None = None
    except orjson.JSONDecodeError:
        document = None
        records = _json_lines(path, text)
    if records is not None:
        for number, record in enumerate(records, start=1):
            run = record.get("run_id") or record.get("model_name_or_path")
            iid, resolved = record.get("instance_id"), record.get("resolved")
            if (
                not isinstance(run, str)
                or not isinstance(iid, str)
                or not isinstance(resolved, bool)
            ):
                raise CandidatesError(f"{path}, line {number}: expected {expected}")
            by_run.setdefault(run, {})[iid] = resolved
    elif isinstance(document, dict):
        for run, value in document.items():
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                by_run[run] = dict.fromkeys(value, True)
            elif isinstance(value, dict) and all(isinstance(v, bool) for v in value.values()):
                by_run[run] = dict(value)
            else:
                raise CandidatesError(f"{path}, run {run!r}: expected {expected}")
    else:
        raise CandidatesError(f"{path}: expected {expected}")
    missing = [run for run in run_ids if run not in by_run]
    if missing:
        raise CandidatesError(
            f"{path} names runs {sorted(by_run)} but not {missing}; with several runs give one "
            "--labels file per run (in the runs' order) or a file that names every run"
        )
    return by_run


def _json_lines(path: Path, text: bytes) -> list[Any]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise CandidatesError(f"{path}, line {number}: not JSON ({exc})") from None
        if not isinstance(record, dict):
            raise CandidatesError(f"{path}, line {number}: expected a JSON object")
        records.append(record)
    return records


# --- tasks -----------------------------------------------------------------------------------


def group_by_task(runs: Sequence[Run]) -> list[CandidateGroup]:
    """One group per instance id (sorted), candidates in run order then file order."""
    groups: dict[str, list[Trajectory]] = {}
    for run in runs:
        for trajectory in run.trajectories:
            groups.setdefault(trajectory.instance_id, []).append(trajectory)
    return [CandidateGroup(instance_id=iid, candidates=groups[iid]) for iid in sorted(groups)]


# --- scores ----------------------------------------------------------------------------------

_SCORE_FIELDS = frozenset(Score.model_fields)


def read_scores(path: Path) -> dict[str, Score]:
    """Scores by ``content_hash`` from ``swerm score -o`` output or a decisions log (the last
    line for a hash wins)."""
    scores: dict[str, Score] = {}
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise CandidatesError(f"{path}: cannot read scores ({exc.strerror})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            if number == len(lines):
                break  # a last line cut off by an interrupted write
            raise CandidatesError(f"{path}, line {number}: not JSON") from None
        digest = record.get("content_hash") if isinstance(record, dict) else None
        if not isinstance(digest, str):
            raise CandidatesError(
                f"{path}, line {number}: no 'content_hash'; expected `swerm score -o` output "
                "or a swerm decisions log"
            )
        fields = {k: v for k, v in record.items() if k in _SCORE_FIELDS}
        try:
            scores[digest] = Score.model_validate(fields)
        except ValueError as exc:
            raise CandidatesError(f"{path}, line {number}: invalid score: {exc}") from None
    return scores


def has_reward_model(config: SwermConfig) -> bool:
    """Whether the configuration names a reward model to score with (else: consensus)."""
    return bool(config.model) or config.backend not in ("auto", "consensus")


def score_groups(
    groups: Sequence[CandidateGroup],
    config: SwermConfig,
    *,
    known: Mapping[str, Score] | None = None,
    scorer: Callable[[list[Trajectory]], list[Score]] | None = None,
    on_scored: Callable[[Trajectory, Score], None] | None = None,
    progress: Progress | None = None,
) -> list[list[Score | None]]:
    """One score per candidate of every group.

    Scores come from ``known`` (by content hash) first; the rest from ``scorer`` (a reward
    model, e.g. ``Verifier.score``) when given. With neither, every candidate gets its patch
    consensus vote share; with ``known`` only, the candidates it lacks stay ``None`` (unscored)
    rather than mixing vote shares into model probabilities. ``on_scored`` sees every newly
    model-scored candidate (to cache it for resuming).
    """
    from swerm_plugin.consensus import score_group

    known = known or {}
    out: list[list[Score | None]] = []
    for group in groups:
        hashes = [t.content_hash() for t in group.candidates]
        scores: list[Score | None] = [known.get(h) for h in hashes]
        todo = [i for i, s in enumerate(scores) if s is None]
        if todo and scorer is not None:
            fresh = scorer([group.candidates[i] for i in todo])
            for i, score in zip(todo, fresh, strict=True):
                scores[i] = score
                if on_scored is not None:
                    on_scored(group.candidates[i], score)
        elif todo and not known:
            consensus = score_group(group, similarity=config.policy.consensus_similarity)
            for i in todo:
                scores[i] = consensus[i]
        out.append(scores)
        if progress is not None:
            progress(1)
    return out
