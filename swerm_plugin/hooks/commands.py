"""Built-in commands for decisions over N runs: ``swerm rerank``, ``eval``, ``calibrate``,
``reward`` and ``report``.

Every command reads runs (any format the adapters read, or plain predictions files) and gets
each candidate's score from, in order: ``--scores`` files (``swerm score -o`` output or a
decisions log), the reward model when one is configured (``--model``), or patch consensus.
Heavy imports stay inside the commands so ``swerm --help`` is fast.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from swerm_plugin.hookspecs import hookimpl

if TYPE_CHECKING:
    from swerm_plugin.candidates import Run
    from swerm_plugin.config import SwermConfig
    from swerm_plugin.trajectory import CandidateGroup, Score

_RUNS = click.argument(
    "runs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)
_PATH = click.Path(exists=True, path_type=Path)


def _labels_option(required: bool) -> Callable[[Any], Any]:
    return click.option(
        "--labels",
        "labels",
        multiple=True,
        required=required,
        type=_PATH,
        help="Harness results: once per run in run order (run report, resolved list, folder of "
        "report.json), or once for all runs in a file that names the run.",
    )


def _scoring_options(func: Any) -> Any:
    func = click.option(
        "--scores",
        "score_files",
        multiple=True,
        type=_PATH,
        help="Scores from `swerm score -o` or a decisions log (matched by content hash).",
    )(func)
    func = click.option("--model", help="Reward model to score with (default: config).")(func)
    func = click.option("--backend", help="Backend name (default: config).")(func)
    return func


@dataclass
class Loaded:
    """Runs read, grouped by task and scored."""

    runs: list[Run]
    groups: list[CandidateGroup]
    scores: list[list[Score | None]]
    scorer: str
    config: SwermConfig


@contextlib.contextmanager
def _progress(description: str, total: int) -> Iterator[Callable[[int], None]]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=Console(stderr=True)) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def _load(
    runs_paths: Sequence[Path],
    labels: Sequence[Path],
    score_files: Sequence[Path],
    config: SwermConfig,
    *,
    cache: Path | None = None,
) -> Loaded:
    from swerm_plugin.candidates import (
        CandidatesError,
        apply_labels,
        group_by_task,
        has_reward_model,
        load_runs,
        read_scores,
        score_groups,
    )

    try:
        runs = load_runs(runs_paths)
        if labels:
            apply_labels(runs, labels)
        groups = group_by_task(runs)
        known = {}
        for path in (*score_files, *([cache] if cache is not None and cache.exists() else [])):
            known.update(read_scores(path))
    except CandidatesError as exc:
        raise click.ClickException(str(exc)) from None
    if has_reward_model(config):
        from swerm_plugin.verifier import Verifier

        with Verifier(config) as verifier, _progress("scoring", len(groups)) as advance:
            on_scored = _cache_writer(cache) if cache is not None else None
            scores = score_groups(
                groups,
                config,
                known=known,
                scorer=verifier.score,
                on_scored=on_scored,
                progress=advance,
            )
        scorer = config.model or config.backend
    else:
        scores = score_groups(groups, config, known=known)
        scorer = "scores file" if known else "consensus"
    return Loaded(runs=runs, groups=groups, scores=scores, scorer=scorer, config=config)


def _cache_writer(path: Path) -> Callable[[Any, Any], None]:
    from swerm_plugin.io import append_jsonl

    def write(trajectory: Any, score: Any) -> None:
        if score.ok:  # failures are retried on the next run, not cached
            record = {"content_hash": trajectory.content_hash(), **score.model_dump(mode="json")}
            append_jsonl(path, record)

    return write


def _config(**overrides: Any) -> SwermConfig:
    from swerm_plugin.config import ConfigError, load_config

    try:
        return load_config(**overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


# --- rerank --------------------------------------------------------------------------------


@click.command("rerank")
@_RUNS
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Predictions file to write (.jsonl or .json), one per task.",
)
@click.option(
    "--decisions",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Decisions log (JSON Lines); default: <output>.decisions.jsonl.",
)
@_scoring_options
@click.option("--threshold", type=click.FloatRange(0, 1), help="Accept threshold on p.")
@click.option(
    "--on-reject",
    type=click.Choice(["empty_patch", "flag"]),
    help="Below the threshold: abstain with an empty patch, or keep the patch and flag it.",
)
@click.option(
    "--consensus",
    type=click.Choice(["off", "tiebreak", "hybrid"]),
    help="Use patch agreement to break score ties, or mix it into the score.",
)
@click.option(
    "--model-name",
    default="swerm-rerank",
    show_default=True,
    help="model_name_or_path written into the predictions.",
)
def rerank_command(
    runs: tuple[Path, ...],
    output: Path,
    decisions: Path | None,
    score_files: tuple[Path, ...],
    model: str | None,
    backend: str | None,
    threshold: float | None,
    on_reject: str | None,
    consensus: str | None,
    model_name: str,
) -> None:
    """Pick the best candidate per task across RUNS and write harness-ready predictions.

    Model scores are cached next to the decisions log as they are computed, so an interrupted
    rerank resumes without rescoring; the outputs themselves are written atomically at the end.
    """
    from rich.console import Console

    from swerm_plugin.decisions import rerank_group, write_outputs
    from swerm_plugin.plugins import get_hooks

    policy = {"threshold": threshold, "on_reject": on_reject, "consensus": consensus}
    config = _config(
        model=model, backend=backend, policy={k: v for k, v in policy.items() if v is not None}
    )
    decisions = decisions or output.with_name(output.name + ".decisions.jsonl")
    cache = decisions.with_name(decisions.name + ".scores.jsonl")
    loaded = _load(runs, (), score_files, config, cache=cache)
    hooks = get_hooks(config)
    tasks = [rerank_group(g, s, hooks) for g, s in zip(loaded.groups, loaded.scores, strict=True)]
    write_outputs(tasks, predictions=output, decisions=decisions, model_name=model_name)
    actions = {a: sum(t.decision.action == a for t in tasks) for a in ("accept", "reject")}
    abstained = sum(not t.patch.strip() for t in tasks)
    Console(stderr=True).print(
        f"{len(tasks)} tasks from {len(runs)} runs scored by {loaded.scorer}: "
        f"{actions['accept']} accepted, {actions['reject']} rejected ({abstained} empty "
        f"patches submitted) → {output}, log {decisions}",
        markup=False,
        highlight=False,
    )


# --- eval and report -------------------------------------------------------------------------


def _evaluate(
    runs: Sequence[Path],
    labels: Sequence[Path],
    score_files: Sequence[Path],
    model: str | None,
    backend: str | None,
    calibrator: Path | None,
    subsets: int,
    seed: int,
    total_tasks: int | None,
) -> dict[str, Any]:
    from swerm_plugin.calibration import CalibrationError, load_calibrator
    from swerm_plugin.evaluation import evaluate_candidates
    from swerm_plugin.plugins import get_hooks

    config = _config(model=model, backend=backend)
    loaded = _load(runs, labels, score_files, config)
    try:
        fitted = load_calibrator(calibrator) if calibrator is not None else None
        return evaluate_candidates(
            loaded.groups,
            loaded.scores,
            get_hooks(config),
            n_subsets=subsets,
            seed=seed,
            total_tasks=total_tasks,
            calibrator=fitted,
            scorer_name=loaded.scorer,
        )
    except (CalibrationError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


def _eval_options(func: Any) -> Any:
    func = click.option(
        "--total-tasks",
        type=click.IntRange(min=1),
        help="Benchmark size: tasks no run has a candidate for count as unresolved.",
    )(func)
    func = click.option("--seed", type=int, default=0, show_default=True)(func)
    func = click.option(
        "--subsets",
        type=click.IntRange(min=1),
        default=1000,
        show_default=True,
        help="Random k-subsets per k for the intervals.",
    )(func)
    func = click.option(
        "--calibrator",
        type=_PATH,
        help="Fitted calibrator for the 'after' figures (default: cross-fitted auto).",
    )(func)
    func = _scoring_options(func)
    func = _labels_option(required=True)(func)
    return _RUNS(func)


def _print_eval(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from swerm_plugin.reports import METRICS, format_cell

    console = Console()
    head = Table(title=f"best-of-N over {report['n_tasks']} tasks (scorer: {report['scorer']})")
    head.add_column("k", justify="right")
    head.add_column("best@k %", justify="right")
    head.add_column("95% of subsets", justify="right")
    head.add_column("pass@k (oracle) %", justify="right")
    for k, value in report["best_at_k"].items():
        low, high = report["best_at_k_ci"][k]
        head.add_row(
            str(k), f"{value:.2f}", f"{low:.2f}–{high:.2f}", f"{report['pass_at_k'][k]:.2f}"
        )
    console.print(head)
    base = Table(title="baselines (% resolved)")
    for name in ("random", "consensus", "consensus_naive", "oracle"):
        base.add_column(name, justify="right")
    base.add_row(
        *(f"{report[n]:.2f}" for n in ("random", "consensus", "consensus_naive", "oracle"))
    )
    console.print(base)
    calibration = report["calibration"]
    if "before" in calibration:
        table = Table(title=f"calibration over {calibration['n']} scored candidates")
        table.add_column("metric")
        table.add_column("before", justify="right")
        table.add_column(f"after ({calibration.get('after_method', 'skipped')})", justify="right")
        after = calibration.get("after", {})
        for metric in METRICS:
            table.add_row(
                metric, format_cell(calibration["before"][metric]), format_cell(after.get(metric))
            )
        console.print(table)


@click.command("eval")
@_eval_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def eval_command(as_json: bool, **options: Any) -> None:
    """Best@k (k = 1..N), pass@k, random pick, consensus, and calibration of RUNS' scores."""
    report = _evaluate(**options)
    if as_json:
        from swerm_plugin.cli import print_json

        print_json(report)
    else:
        _print_eval(report)


@click.command("report")
@_eval_options
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for reliability.png, best_at_k.png, summary.md and eval.json.",
)
def report_command(output: Path, **options: Any) -> None:
    """Write a reliability diagram, a best@k plot and a Markdown summary for RUNS."""
    from swerm_plugin.calibration.plots import PlotsUnavailable
    from swerm_plugin.reports import write_report

    report = _evaluate(**options)
    try:
        written = write_report(report, output)
    except PlotsUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    for path in written:
        click.echo(str(path))


# --- calibrate -------------------------------------------------------------------------------


@click.command("calibrate")
@_RUNS
@_labels_option(required=True)
@_scoring_options
@click.option(
    "--method",
    type=click.Choice(["auto", "temperature", "platt", "isotonic"]),
    default="auto",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Calibrator file to write (JSON); set `calibrator` in the config to use it.",
)
@click.option(
    "--target-precision",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Also find the accept threshold whose precision is at least this, with confidence "
    "1 - delta.",
)
@click.option(
    "--delta",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Allowed failure probability of the precision guarantee.",
)
def calibrate_command(
    runs: tuple[Path, ...],
    labels: tuple[Path, ...],
    score_files: tuple[Path, ...],
    model: str | None,
    backend: str | None,
    method: str,
    output: Path,
    target_precision: float | None,
    delta: float,
) -> None:
    """Fit a calibrator on labelled, scored RUNS (and optionally a guaranteed threshold)."""
    from rich.console import Console

    from swerm_plugin.calibration import (
        CalibrationError,
        expected_calibration_error,
        make_calibrator,
        precision_threshold,
    )
    from swerm_plugin.evaluation import scored_arrays

    config = _config(model=model, backend=backend)
    loaded = _load(runs, labels, score_files, config)
    raw, resolved, unscored = scored_arrays(loaded.groups, loaded.scores)
    source = f"{len(runs)} runs ({', '.join(r.run_id for r in loaded.runs)}), {loaded.scorer}"
    console = Console(stderr=True)
    try:
        calibrator = make_calibrator(method).fit(raw, resolved, source=source)
        calibrator.save(output)
        calibrated = calibrator.transform(raw)
        chosen = getattr(calibrator, "method_", calibrator.method)
        console.print(
            f"{chosen} calibrator fitted on {raw.size} candidates ({unscored} unscored skipped): "
            f"ECE {expected_calibration_error(raw, resolved):.3f} → "
            f"{expected_calibration_error(calibrated, resolved):.3f} (on the fitting data) "
            f"→ {output}",
            markup=False,
            highlight=False,
        )
        if target_precision is not None:
            found = precision_threshold(calibrated, resolved, target=target_precision, delta=delta)
            console.print(
                f"threshold {found.threshold:.2f}: precision ≥ {target_precision:.0%} with "
                f"confidence {1 - delta:.0%} (lower bound {found.lower_bound:.1%}, observed "
                f"{found.precision:.1%}, accepts {found.coverage:.1%} of candidates); set "
                f"policy.threshold = {found.threshold:.2f}",
                markup=False,
                highlight=False,
            )
    except CalibrationError as exc:
        raise click.ClickException(str(exc)) from None


# --- reward ----------------------------------------------------------------------------------


@click.command("reward")
@_RUNS
@_labels_option(required=False)
@_scoring_options
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "score"]),
    default="hybrid",
    show_default=True,
    help="hybrid: 1+s resolved, -0.5+s unfinished, s otherwise (needs --labels); score: s.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Rewards file to write (JSON Lines, one per trajectory).",
)
def reward_command(
    runs: tuple[Path, ...],
    labels: tuple[Path, ...],
    score_files: tuple[Path, ...],
    model: str | None,
    backend: str | None,
    mode: str,
    output: Path,
) -> None:
    """Export an RL reward per trajectory of RUNS."""
    from rich.console import Console

    from swerm_plugin.io import atomic_write_jsonl
    from swerm_plugin.rewards import RewardError, RewardMode, reward_record

    if mode == "hybrid" and not labels:
        raise click.UsageError("--mode hybrid needs --labels (test results); or use --mode score")
    config = _config(model=model, backend=backend)
    loaded = _load(runs, labels, score_files, config)
    records = []
    try:
        for group, scores in zip(loaded.groups, loaded.scores, strict=True):
            for trajectory, score in zip(group.candidates, scores, strict=True):
                if score is None:
                    raise RewardError(
                        f"{trajectory.instance_id} ({trajectory.run_id}): no score; add it to "
                        "--scores or configure a model"
                    )
                records.append(reward_record(trajectory, score, mode=cast(RewardMode, mode)))
    except RewardError as exc:
        raise click.ClickException(str(exc)) from None
    atomic_write_jsonl(output, records)
    Console(stderr=True).print(
        f"{len(records)} rewards ({mode}, scores from {loaded.scorer}) → {output}",
        markup=False,
        highlight=False,
    )


@hookimpl
def swerm_register_commands(cli: click.Group) -> None:
    for command in (
        rerank_command,
        eval_command,
        report_command,
        calibrate_command,
        reward_command,
    ):
        cli.add_command(command)
