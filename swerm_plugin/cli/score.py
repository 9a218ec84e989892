"""``swerm score``: score trajectory files with a reward model, resumably.

One JSON line per trajectory (:func:`swerm_plugin.scores.score_record`). With ``-o`` lines are
appended as each chunk finishes, and trajectories whose ``content_hash`` is already in the file
are skipped, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from swerm_plugin.cli.options import (
    config_from,
    model_options,
    paths_argument,
    progress_bar,
    render_options,
    say,
    stdout_console,
)

if TYPE_CHECKING:
    from swerm_plugin.model import Score, Trajectory
    from swerm_plugin.verifier import Verifier


def load_trajectories(paths: Sequence[Path]) -> list[Trajectory]:
    """Every trajectory in ``paths`` (files or folders), read by the registered readers."""
    from swerm_plugin.readers import load

    return [t for path in paths for t in load(path)]


def _unique_new(trajectories: Iterable[Trajectory], done: set[str]) -> list[Trajectory]:
    todo = []
    for trajectory in trajectories:
        key = trajectory.content_hash()
        if key not in done:
            done.add(key)
            todo.append(trajectory)
    return todo


def _explain(verifier: Verifier, trajectories: Sequence[Trajectory]) -> None:
    from rich.rule import Rule

    console = stdout_console()
    for trajectory in trajectories:
        console.print(Rule(f"{trajectory.instance_id} (attempt {trajectory.attempt})"))
        click.echo(verifier.render(trajectory).explain())


def _summary_table(rows: Sequence[tuple[Trajectory, Score]]) -> Any:
    from rich.table import Table

    table = Table(title="swerm scores")
    table.add_column("instance", no_wrap=True)
    table.add_column("run", no_wrap=True)
    for name in ("try", "P(YES)", "calibrated", "tokens"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("cut", justify="center", no_wrap=True)
    table.add_column("error")
    for trajectory, score in rows:
        table.add_row(
            trajectory.instance_id,
            trajectory.run_id or "",
            str(trajectory.attempt),
            "" if score.raw is None else f"{score.raw:.4f}",
            "" if score.calibrated is None else f"{score.calibrated:.4f}",
            "" if score.n_tokens is None else str(score.n_tokens),
            "yes" if score.truncated else "",
            score.error or "",
        )
    return table


@click.command("score")
@paths_argument
@model_options
@render_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append JSON lines here; trajectories already in the file are skipped (resumable).",
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
def score_command(
    paths: tuple[Path, ...],
    backend: str | None,
    model: str | None,
    template: str | None,
    max_tokens: int | None,
    output: Path | None,
    explain: bool,
    chunk_size: int,
) -> None:
    """Score trajectory files (any supported framework format) with a reward model."""
    from swerm_plugin.plugins.manager import get_hooks
    from swerm_plugin.scores import ScoresOutput, score_record
    from swerm_plugin.verifier import Verifier

    config = config_from(backend=backend, model=model, template=template, max_tokens=max_tokens)
    get_hooks(config).check_template(config.template)  # before loading any model
    trajectories = load_trajectories(paths)
    with Verifier(config) as verifier:
        if explain:
            _explain(verifier, trajectories)
            return
        sink = ScoresOutput(output, inputs=paths) if output is not None else None
        with sink if sink is not None else contextlib.nullcontext():
            done = set(sink.done) if sink is not None else set()
            already = len(done)
            todo = _unique_new(trajectories, done)
            rows: list[tuple[Trajectory, Score]] = []
            with progress_bar("scoring", len(todo)) as advance:
                for trajectory, score in verifier.score_iter(todo, chunk_size=chunk_size):
                    record = score_record(trajectory, score)
                    if sink is not None:
                        sink.write(record)
                    else:
                        click.echo(_dumps(record))
                    rows.append((trajectory, score))
                    advance(1)
    failed = sum(1 for _, score in rows if not score.ok)
    summary = f"scored {len(rows) - failed}, failed {failed}"
    skipped = len(trajectories) - len(todo)
    if output is not None:
        stdout_console().print(_summary_table(rows))
        summary += f", skipped {skipped} ({already} already in {output})"
    elif skipped:
        summary += f", skipped {skipped} duplicates"
    say(summary)


def _dumps(record: dict[str, Any]) -> str:
    from swerm_plugin.jsonl import dumps

    return dumps(record).decode()
