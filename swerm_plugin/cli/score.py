"""``swerm score``: score trajectory files with a reward model, resumably.

One JSON line per trajectory (:func:`swerm_plugin.scores.score_record`). With ``-o`` lines are
appended as each chunk finishes, and trajectories whose ``content_hash`` is already in the file
are skipped, so an interrupted run continues where it stopped. Exit codes: 0 every trajectory
has a score; 3 some failed (named on stderr and in ``--json``); 1 none could be scored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from swerm_plugin.cli.options import (
    Problems,
    config_from,
    json_option,
    model_options,
    paths_argument,
    print_json,
    printable,
    progress_bar,
    say,
    stdout_console,
    strict_option,
)

if TYPE_CHECKING:
    from swerm_plugin.model import Trajectory
    from swerm_plugin.scores import ScoreRun
    from swerm_plugin.verifier import Verifier


def load_trajectories(paths: Sequence[Path], problems: Problems) -> list[Trajectory]:
    """Every trajectory in ``paths`` (files or folders); unreadable ones go to ``problems``."""
    from swerm_plugin.readers import load

    found = [t for path in paths for t in load(path, on_error=problems.skipped_input)]
    missing_issue = sum(1 for t in found if not t.problem_statement.strip())
    if missing_issue:
        say(
            f"swerm: warning: {missing_issue} of {len(found)} trajectories have no problem "
            "statement (SWE-bench predictions carry none), so the verifier judges the patch "
            "without the issue; give the dataset with --instances to fill them in"
        )
    return found


def _explain(verifier: Verifier, trajectories: Sequence[Trajectory]) -> None:
    from rich.rule import Rule

    console = stdout_console()
    for trajectory in trajectories:
        title = f"{trajectory.instance_id} (attempt {trajectory.attempt})"
        console.print(Rule(printable(title)), markup=False)
        click.echo(printable(verifier.render(trajectory).explain()))


def _summary_table(rows: Sequence[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(title="swerm scores")
    table.add_column("instance", overflow="fold")
    table.add_column("run", overflow="fold")
    for name in ("try", "P(YES)", "calibrated", "tokens"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("cut", justify="center", no_wrap=True)
    table.add_column("error", overflow="fold")
    for row in rows:
        table.add_row(
            printable(row["instance_id"]),
            printable(row["run_id"] or ""),
            str(row["attempt"]),
            "" if row["raw"] is None else f"{row['raw']:.4f}",
            "" if row["calibrated"] is None else f"{row['calibrated']:.4f}",
            "" if row["n_tokens"] is None else str(row["n_tokens"]),
            "yes" if row["truncated"] else "",
            printable(row["error"] or ""),
        )
    return table


def _report(run: ScoreRun, problems: Problems, output: Path | None) -> None:
    for trajectory, reason in run.failures:
        problems.add(
            "failed",
            f"{trajectory.instance_id} ({trajectory.source_path}): {reason}",
            instance_id=trajectory.instance_id,
            source_path=trajectory.source_path,
            content_hash=trajectory.content_hash(),
        )
    summary = f"scored {run.scored}, failed {run.failed}"
    if output is not None:
        summary += f", {run.already_done} already in {output}"
    if run.failed_before:
        summary += f", {run.failed_before} failed in an earlier run (--retry-errors scores them)"
    if run.duplicates:
        summary += f", {run.duplicates} duplicates skipped"
    say(summary)


@click.command("score")
@paths_argument
@model_options
@click.option(
    "--template", help="Prompt template: swe-rm (default), swe-gym, r2e-gym, or a plugin's."
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    help="Prompt token budget; default: the model's context minus a small margin.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append JSON lines here; trajectories already in the file are skipped (resumable).",
)
@click.option(
    "--retry-errors",
    is_flag=True,
    help="Score again the trajectories whose earlier attempt in --output failed.",
)
@click.option(
    "--explain",
    is_flag=True,
    help="Print each rendered prompt, with truncation markers and token count; score nothing.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Trajectories scored per round (results are written after each round).",
)
@click.option(
    "--topk",
    type=click.IntRange(min=1),
    help="Also record the K likeliest next tokens' log-probs (for swerm distill; 5 is good).",
)
@strict_option
@json_option
def score_command(
    paths: tuple[Path, ...],
    backend: str | None,
    model: str | None,
    template: str | None,
    max_tokens: int | None,
    output: Path | None,
    retry_errors: bool,
    explain: bool,
    chunk_size: int,
    topk: int | None,
    strict: bool,
    as_json: bool,
) -> int:
    """Score trajectory files (any supported framework format) with a reward model."""
    from swerm_plugin.plugins.manager import get_hooks
    from swerm_plugin.scores import ScoresOutput, score_into
    from swerm_plugin.verifier import Verifier, topk_unsupported

    config = config_from(
        backend=backend, model=model, template=template, max_tokens=max_tokens, topk=topk
    )
    get_hooks(config).check_template(config.template)  # before loading any model
    if problem := topk_unsupported(config):
        raise click.UsageError(problem)
    problems = Problems(strict=strict)
    if output is not None:
        ScoresOutput(output, inputs=paths).check()  # refuse a foreign file before any work
    trajectories = load_trajectories(paths, problems)
    records: list[dict[str, Any]] = []
    with Verifier(config) as verifier:
        if explain:
            _explain(verifier, trajectories)
            return problems.exit_code(done=len(trajectories), what="read")
        resume: dict[str, Any] = {"retry_errors": retry_errors, "topk": config.topk}
        sink = ScoresOutput(output, inputs=paths, **resume) if output else None

        def write(record: dict[str, Any]) -> None:
            records.append(record)
            if sink is not None:
                sink.write(record)
            elif not as_json:
                click.echo(_dumps(record))

        with (
            sink if sink is not None else contextlib.nullcontext(),
            progress_bar("scoring", len(trajectories)) as advance,
        ):
            run = score_into(
                verifier, trajectories, write, output=sink, chunk_size=chunk_size, advance=advance
            )
    _report(run, problems, output)
    if as_json:
        print_json(
            {"summary": _summary(run, output), "records": records, "problems": problems.to_json()}
        )
    elif output is not None:
        stdout_console().print(_summary_table(records))
    return problems.exit_code(done=run.usable, what="scored")


def _summary(run: ScoreRun, output: Path | None) -> dict[str, Any]:
    return {
        "scored": run.scored,
        "failed": run.failed,
        "already_done": run.already_done,
        "failed_before": run.failed_before,
        "duplicates": run.duplicates,
        "output": None if output is None else str(output),
    }


def _dumps(record: dict[str, Any]) -> str:
    from swerm_plugin.jsonl import dumps

    return dumps(record).decode()
