"""``swerm eval`` and ``swerm report``: best@k, baselines and calibration of scored runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from swerm_plugin.cli.options import (
    EXISTING,
    Problems,
    config_from,
    instances_option,
    json_option,
    labels_option,
    print_json,
    printable,
    runs_argument,
    scoring_options,
    stdout_console,
    strict_option,
)

if TYPE_CHECKING:
    from swerm_plugin.evaluation.evaluate import EvalReport

F = TypeVar("F", bound=Callable[..., Any])


def evaluate_runs(
    problems: Problems,
    runs: tuple[Path, ...],
    labels: tuple[Path, ...],
    score_files: tuple[Path, ...],
    model: str | None,
    backend: str | None,
    instances: dict[str, str] | None,
    calibrator: Path | None,
    subsets: int,
    seed: int,
    total_tasks: int | None,
) -> EvalReport:
    """The eval report for the command's options."""
    from swerm_plugin.calibration import load_calibrator
    from swerm_plugin.evaluation.evaluate import evaluate_candidates
    from swerm_plugin.plugins.manager import get_hooks

    config = config_from(model=model, backend=backend)
    loaded = problems.load(
        runs, config, labels=labels, score_files=score_files, instances=instances
    )
    fitted = load_calibrator(calibrator) if calibrator is not None else None
    try:
        return evaluate_candidates(
            loaded.groups,
            loaded.scores,
            get_hooks(config),
            n_subsets=subsets,
            seed=seed,
            total_tasks=total_tasks,
            calibrator=fitted,
            scorer_name=loaded.scorer,
            selector=loaded.selector,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def eval_options(func: F) -> F:
    func = click.option(
        "--total-tasks",
        type=click.IntRange(min=1),
        help="Benchmark size: tasks no run has a candidate for count as unresolved.",
    )(func)
    func = click.option(
        "--seed", type=int, default=0, show_default=True, help="Seed of the random subsets."
    )(func)
    func = click.option(
        "--subsets",
        type=click.IntRange(min=1),
        default=1000,
        show_default=True,
        help="Random k-subsets per k for the intervals.",
    )(func)
    func = click.option(
        "--calibrator",
        type=EXISTING,
        help="Fitted calibrator for the 'after' figures (default: cross-fitted auto).",
    )(func)
    func = instances_option(func)
    func = scoring_options(func)
    func = labels_option(required=True)(func)
    return runs_argument(func)


def print_report(report: EvalReport) -> None:
    from swerm_plugin.cli.tables import Column, print_table
    from swerm_plugin.evaluation.report import report_tables

    for table in report_tables(report):
        columns = [
            Column(h, "text" if i == 0 and table.labelled_rows else "number")
            for i, h in enumerate(table.columns)
        ]
        print_table(table.title, columns, table.rows)
        if table.note:
            stdout_console().print(printable(table.note), markup=False)


@click.command("eval")
@eval_options
@strict_option
@json_option
def eval_command(as_json: bool, strict: bool, **options: Any) -> int:
    """Best@k (k = 1..N), pass@k, random pick, consensus, and calibration of RUNS' scores."""
    problems = Problems(strict=strict)
    report = evaluate_runs(problems, **options)
    if as_json:
        print_json({**report.to_json(), "problems": problems.to_json()})
    else:
        print_report(report)
    return problems.exit_code()


@click.command("report")
@eval_options
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for reliability.png, best_at_k.png, summary.md and eval.json.",
)
@strict_option
def report_command(output: Path, strict: bool, **options: Any) -> int:
    """Write a reliability diagram, a best@k plot and a Markdown summary for RUNS."""
    from swerm_plugin.evaluation.report import write_report

    problems = Problems(strict=strict)
    for path in write_report(evaluate_runs(problems, **options), output):
        click.echo(str(path))
    return problems.exit_code()
