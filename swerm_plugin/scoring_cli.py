"""``swerm score``: score trajectory files with a reward model, resumably.

One JSON line per trajectory (``instance_id``, ``source``, ``content_hash``, ``attempt``,
``source_path`` and every :class:`~swerm_plugin.trajectory.Score` field). With ``-o`` lines are
appended as each chunk finishes, and trajectories whose ``content_hash`` is already in the file
are skipped, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from swerm_plugin.hookspecs import hookimpl

if TYPE_CHECKING:
    from swerm_plugin.prompts.prompt import Prompt
    from swerm_plugin.trajectory import Score, Trajectory
    from swerm_plugin.verifier import Verifier


def score_record(trajectory: Trajectory, score: Score) -> dict[str, Any]:
    """The JSON line written for one scored trajectory."""
    return {
        "instance_id": trajectory.instance_id,
        "source": trajectory.source,
        "content_hash": trajectory.content_hash(),
        "attempt": trajectory.attempt,
        "source_path": trajectory.source_path,
        **score.model_dump(mode="json"),
    }


def scored_hashes(path: Path) -> set[str]:
    """``content_hash`` values already in an output file.

    A last line cut off by an interrupted write is removed (the file is swerm's own output), so
    appending continues on a clean line; any other unreadable line is an error.
    """
    if not path.exists():
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with path.open("r+b") as fh:
            fh.truncate(cut)
        data = data[:cut]
    hashes = set()
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise click.ClickException(
                f"{path}, line {number}: not JSON ({exc}); is this a swerm score output file?"
            ) from None
        if not isinstance(record, dict) or not isinstance(record.get("content_hash"), str):
            raise click.ClickException(
                f"{path}, line {number}: no 'content_hash'; is this a swerm score output file?"
            )
        hashes.add(record["content_hash"])
    return hashes


def load_trajectories(paths: Sequence[Path]) -> list[Trajectory]:
    """Every trajectory in ``paths`` (files or folders), read by the registered adapters."""
    from swerm_plugin import adapters

    load = getattr(adapters, "load", None)
    if load is not None:
        return [t for path in paths for t in load(path)]
    return list(_read_with_registered_adapters(paths))


def _read_with_registered_adapters(paths: Sequence[Path]) -> Iterator[Trajectory]:
    from swerm_plugin.adapters.base import TrajectoryFormatError
    from swerm_plugin.plugins import get_hooks

    readers = get_hooks().adapters()
    files = [f for p in paths for f in (sorted(p.rglob("*")) if p.is_dir() else [p])]
    for file in files:
        if not file.is_file():
            continue
        with file.open("rb") as fh:
            head = fh.read(4096)
        reader = next((r for r in readers if r.sniff(file, head)), None)
        if reader is None:
            raise TrajectoryFormatError(
                file, "no reader recognises this file", expected="a trajectory file"
            )
        yield from reader.read(file)


def _unique_new(trajectories: Iterable[Trajectory], done: set[str]) -> list[Trajectory]:
    todo = []
    for trajectory in trajectories:
        key = trajectory.content_hash()
        if key not in done:
            done.add(key)
            todo.append(trajectory)
    return todo


def explain_prompt(prompt: Prompt) -> str:
    """A header (template, token count, budget, cuts) followed by the rendered prompt text."""
    tokens = "?" if prompt.n_tokens is None else str(prompt.n_tokens)
    budget = "none" if prompt.budget is None else str(prompt.budget)
    lines = [
        f"template {prompt.template} v{prompt.template_version} | {tokens} tokens "
        f"(budget {budget}) | prefix {prompt.prefix_len} tokens | verdict "
        f"{prompt.verdict_tokens[0]!r}/{prompt.verdict_tokens[1]!r}",
    ]
    if prompt.cuts:
        lines.append("cuts: " + "; ".join(f"{c.kind}: {c.marker}" for c in prompt.cuts))
    else:
        lines.append("cuts: none")
    return "\n".join(lines) + "\n\n" + prompt.text


def _explain(verifier: Verifier, trajectories: Sequence[Trajectory]) -> None:
    from rich.console import Console
    from rich.rule import Rule

    console = Console()
    for trajectory in trajectories:
        console.print(Rule(f"{trajectory.instance_id} (attempt {trajectory.attempt})"))
        click.echo(explain_prompt(verifier.render(trajectory)))


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
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--backend", help="Backend name; default from config (auto: transformers w/ model).")
@click.option("--model", help="Model folder or hub id.")
@click.option("--template", help="Prompt template: swe-rm (default), swe-gym or r2e-gym.")
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
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from swerm_plugin.config import load_config
    from swerm_plugin.io import append_jsonl
    from swerm_plugin.prompts.templates import get_template
    from swerm_plugin.verifier import Verifier

    config = load_config(backend=backend, model=model, template=template, max_tokens=max_tokens)
    get_template(config.template)  # fail on a bad name before loading anything
    trajectories = load_trajectories(paths)
    err = Console(stderr=True)
    with Verifier(config) as verifier:
        if explain:
            _explain(verifier, trajectories)
            return
        done = scored_hashes(output) if output is not None else set()
        already = len(done)
        todo = _unique_new(trajectories, done)
        rows: list[tuple[Trajectory, Score]] = []
        columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeRemainingColumn(), console=err) as progress:
            task = progress.add_task("scoring", total=len(todo))
            for trajectory, score in verifier.score_iter(todo, chunk_size=chunk_size):
                record = score_record(trajectory, score)
                if output is not None:
                    append_jsonl(output, record)
                else:
                    click.echo(orjson.dumps(record).decode())
                rows.append((trajectory, score))
                progress.advance(task)
    failed = sum(1 for _, score in rows if not score.ok)
    summary = f"scored {len(rows) - failed}, failed {failed}"
    skipped = len(trajectories) - len(todo)
    if output is not None:
        Console().print(_summary_table(rows))
        summary += f", skipped {skipped} ({already} already in {output})"
    elif skipped:
        summary += f", skipped {skipped} duplicates"
    err.print(summary, markup=False, highlight=False, soft_wrap=True)


@hookimpl
def swerm_register_commands(cli: click.Group) -> None:
    cli.add_command(score_command)
