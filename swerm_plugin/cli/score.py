"""``swerm score``: score trajectory files with a reward model, resumably.

One JSON line per trajectory (:func:`swerm_plugin.scores.score_record`). With ``-o`` lines are
appended as each chunk finishes, and trajectories whose ``content_hash`` is already in the file
are skipped, so an interrupted run continues where it stopped. Exit codes: 0 every trajectory
has a score; 3 some failed (named on stderr and in ``--json``); 1 none could be scored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from swerm_plugin.cli.options import (
    Problems,
    config_from,
    instances_option,
    json_option,
    model_options,
    paths_argument,
    print_json,
    printable,
    progress_bar,
    render_options,
    say,
    stdout_console,
    strict_option,
)
from swerm_plugin.cli.tables import Column, print_table

if TYPE_CHECKING:
    from swerm_plugin.config import SwermConfig
    from swerm_plugin.model import Trajectory
    from swerm_plugin.scores import ScoreRun
    from swerm_plugin.verifier import Verifier

F = TypeVar("F", bound=Callable[..., Any])
#: Failed trajectories of a Ray job named on stderr; every one is an error record in the output.
FAILURES_NAMED = 50


def load_trajectories(
    paths: Sequence[Path], problems: Problems, instances: Mapping[str, str] | None = None
) -> list[Trajectory]:
    """Every trajectory in ``paths`` (files or folders), problem statements filled from
    ``instances``; unreadable ones go to ``problems``."""
    from swerm_plugin.readers import load
    from swerm_plugin.readers.instances import (
        fill_problem_statements,
        missing_statements_warning,
    )

    found = [t for path in paths for t in load(path, on_error=problems.skipped_input)]
    if instances:
        fill_problem_statements(found, instances)
    warning = missing_statements_warning(found)
    if warning:
        say(f"swerm: warning: {printable(warning)}")
    return found


def _explain(verifier: Verifier, trajectories: Sequence[Trajectory]) -> None:
    from rich.rule import Rule

    console = stdout_console()
    for trajectory in trajectories:
        title = f"{trajectory.instance_id} (attempt {trajectory.attempt})"
        console.print(Rule(printable(title)), markup=False)
        click.echo(printable(verifier.render(trajectory).explain()))


def _print_summary_table(rows: Sequence[dict[str, Any]]) -> None:
    columns = [
        Column("instance"),
        Column("run"),
        Column("try", "number"),
        Column("P(YES)", "number"),
        Column("calibrated", "number"),
        Column("tokens", "number"),
        Column("cut"),
        Column("error"),
    ]
    cells = [
        [
            row["instance_id"],
            row["run_id"],
            row["attempt"],
            "" if row["raw"] is None else f"{row['raw']:.4f}",
            "" if row["calibrated"] is None else f"{row['calibrated']:.4f}",
            row["n_tokens"],
            "yes" if row["truncated"] else "",
            row["error"],
        ]
        for row in rows
    ]
    print_table("swerm scores", columns, cells)


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
    if run.billed:
        cost = "no price known" if run.cost_usd is None else f"${run.cost_usd:.4f}"
        summary += f"; the verifier's calls for {run.billed} cost {cost}"
    say(summary)


def engine_options(func: F) -> F:
    """``--engine`` and the Ray job's options (docs/scale.md)."""
    for option in reversed(
        [
            click.option(
                "--engine",
                type=click.Choice(["local", "ray"]),
                default="local",
                show_default=True,
                help="local: this process; ray: a Ray Data job on a Ray cluster (docs/scale.md).",
            ),
            click.option(
                "--address", help="--engine ray: the cluster to join; default: a local one."
            ),
            click.option(
                "--actors",
                type=click.IntRange(min=1),
                default=1,
                show_default=True,
                help="--engine ray: scoring actors, one verifier each.",
            ),
            click.option(
                "--gpus-per-actor",
                type=click.FloatRange(min=0),
                default=0,
                show_default=True,
                help="--engine ray: GPUs per scoring actor, for a local model.",
            ),
        ]
    ):
        func = option(func)
    return func


@click.command("score")
@paths_argument
@model_options
@instances_option
@click.option(
    "--verifier",
    help="Verifier preset (swerm presets): sets template, backend, head and context for a "
    "published verifier; explicit options and config keys still win.",
)
@render_options
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
@engine_options
def score_command(
    paths: tuple[Path, ...],
    backend: str | None,
    model: str | None,
    instances: dict[str, str] | None,
    verifier: str | None,
    template: str | None,
    max_tokens: int | None,
    output: Path | None,
    retry_errors: bool,
    explain: bool,
    chunk_size: int,
    topk: int | None,
    strict: bool,
    as_json: bool,
    **engine: Any,
) -> int:
    """Score trajectory files (any supported framework format) with a reward model."""
    from swerm_plugin.scores import ScoresOutput, score_into
    from swerm_plugin.verifier import Verifier

    config = config_from(
        backend=backend,
        model=model,
        verifier=verifier,
        template=template,
        max_tokens=max_tokens,
        topk=topk,
    )
    _refuse_early(config)
    problems = Problems(strict=strict)
    if _wants_ray(engine, local_only=as_json or retry_errors or bool(instances or topk)):
        return _score_on_ray(paths, config, output, explain, chunk_size, problems, **engine)
    if output is not None:
        ScoresOutput(output, inputs=paths).check()  # refuse a foreign file before any work
    trajectories = load_trajectories(paths, problems, instances)
    records: list[dict[str, Any]] = []
    with Verifier(config) as scorer:
        if explain:
            _explain(scorer, trajectories)
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
                scorer, trajectories, write, output=sink, chunk_size=chunk_size, advance=advance
            )
    return _finish(run, records, problems, output, as_json=as_json)


def _refuse_early(config: SwermConfig) -> None:
    """Refuse what the settings cannot do before any model is loaded."""
    from swerm_plugin.plugins.manager import get_hooks
    from swerm_plugin.verifier import topk_unsupported

    get_hooks(config).check_template(config.template)
    if problem := topk_unsupported(config):
        raise click.UsageError(problem)


def _finish(
    run: ScoreRun,
    records: list[dict[str, Any]],
    problems: Problems,
    output: Path | None,
    *,
    as_json: bool,
) -> int:
    """Report what the run did (summary, failures, the table or ``--json``); the exit code."""
    _report(run, problems, output)
    if as_json:
        print_json(
            {"summary": _summary(run, output), "records": records, "problems": problems.to_json()}
        )
    elif output is not None:
        _print_summary_table(records)
    return problems.exit_code(done=run.usable, what="scored")


def _summary(run: ScoreRun, output: Path | None) -> dict[str, Any]:
    return {
        "scored": run.scored,
        "failed": run.failed,
        "already_done": run.already_done,
        "failed_before": run.failed_before,
        "duplicates": run.duplicates,
        "billed": run.billed,
        "cost_usd": run.cost_usd if run.billed else None,
        "output": None if output is None else str(output),
    }


def _wants_ray(engine: dict[str, Any], *, local_only: bool) -> bool:
    """Whether ``--engine`` and its options ask for a Ray job (usage errors where they clash)."""
    if engine["engine"] == "ray" or engine["address"] or engine["actors"] != 1:
        if local_only:
            raise click.UsageError(
                "--json, --retry-errors, --instances and --topk work with --engine local "
                "only (a Ray job's resume does not check a record's top-K)"
            )
        return True
    if engine["gpus_per_actor"]:
        raise click.UsageError("--address, --actors and --gpus-per-actor need --engine ray")
    return False


def _score_on_ray(
    paths: Sequence[Path],
    config: SwermConfig,
    output: Path | None,
    explain: bool,
    chunk_size: int,
    problems: Problems,
    *,
    engine: str,
    address: str | None,
    actors: int,
    gpus_per_actor: float,
) -> int:
    """``--engine ray``: a Ray Data job (docs/scale.md); records on stdout without ``-o``."""
    from swerm_plugin.scale import score_dataset

    if engine != "ray":
        raise click.UsageError("--address, --actors and --gpus-per-actor need --engine ray")
    if explain:
        raise click.UsageError(
            "--explain prints prompts rendered here; run it without --engine ray"
        )
    result = score_dataset(
        list(paths), config=config, output=output, actors=actors, gpus_per_actor=gpus_per_actor,
        batch_size=chunk_size, address=address, ray_progress=False,
        on_record=None if output is not None else lambda record: click.echo(_dumps(record)),
    )  # fmt: skip
    for failure in result.failures[:FAILURES_NAMED]:
        where = failure.get("source_path") or "?"
        problems.add(
            "failed",
            f"{failure.get('instance_id') or '?'} ({where}): {failure.get('error')}",
            **{k: failure.get(k) for k in ("instance_id", "source_path", "content_hash")},
        )
    if result.failed > FAILURES_NAMED:
        place = f"the error records in {output}" if output else "the records"
        say(f"swerm: ... and {result.failed - FAILURES_NAMED} more failed; see {place}")
    say(result.summary())
    return problems.exit_code(done=result.scored + result.skipped, what="scored")


def _dumps(record: dict[str, Any]) -> str:
    from swerm_plugin.jsonl import dumps

    return dumps(record).decode()
