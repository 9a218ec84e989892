"""``swerm inspect``: show what the readers make of trajectory files, before scoring anything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from swerm_plugin.cli.options import EXISTING, paths_argument, printable, stdout_console
from swerm_plugin.model import Trajectory
from swerm_plugin.patches import patch_lines


def summary(trajectory: Trajectory, fmt: str) -> dict[str, Any]:
    """The ``--json`` object for one trajectory."""
    return {
        "instance_id": trajectory.instance_id,
        "run_id": trajectory.run_id,
        "attempt": trajectory.attempt,
        "format": fmt,
        "source": trajectory.source,
        "n_steps": len(trajectory.steps),
        "patch_lines": patch_lines(trajectory.patch),
        "patch": trajectory.patch,
        "exit_status": trajectory.exit_status,
        "exit_status_raw": trajectory.exit_status_raw,
        "label": trajectory.label,
        "model_name": trajectory.model_name,
        "cost": trajectory.cost,
        "source_path": trajectory.source_path,
        "source_record": trajectory.source_record,
    }


def _read(paths: tuple[Path, ...], run_id: str | None) -> Iterator[tuple[Trajectory, str]]:
    from swerm_plugin.readers.loader import read_sources

    for path in paths:
        for source, trajectory in read_sources(path, run_id=run_id):
            yield trajectory, source.format


def _labelled(
    pairs: Iterator[tuple[Trajectory, str]], labels: dict[str, bool]
) -> Iterator[tuple[Trajectory, str]]:
    from swerm_plugin.readers.swebench import attach_labels

    for trajectory, fmt in pairs:
        if labels:
            trajectory = attach_labels([trajectory], labels)[0]
        yield trajectory, fmt


@click.command("inspect")
@paths_argument
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per trajectory (JSON Lines)."
)
@click.option(
    "--labels",
    "label_files",
    multiple=True,
    type=EXISTING,
    help="A SWE-bench report (or folder of report.json) whose resolved labels to show.",
)
@click.option("--run-id", default=None, help="Set this run id on every trajectory read.")
def inspect_command(
    paths: tuple[Path, ...], as_json: bool, label_files: tuple[Path, ...], run_id: str | None
) -> None:
    """Read trajectory files or run folders and list what was found.

    Formats are detected from the content: OpenHands (V0 and SDK), SWE-agent, mini-swe-agent
    and SWE-bench predictions.
    """
    from swerm_plugin.readers.reports import read_resolved

    labels: dict[str, bool] = {}
    for label_file in label_files:
        labels.update(read_resolved(label_file))
    pairs = _labelled(_read(paths, run_id), labels)
    if as_json:
        import orjson

        for trajectory, fmt in pairs:
            click.echo(orjson.dumps(summary(trajectory, fmt)).decode())
        return
    _print_table(pairs)


def _print_table(pairs: Iterator[tuple[Trajectory, str]]) -> None:
    from rich.table import Table
    from rich.text import Text

    from swerm_plugin.cli.options import err_console

    rows = []
    with err_console.status("reading trajectories...") as status:
        for trajectory, fmt in pairs:
            rows.append((trajectory, fmt))
            status.update(f"reading trajectories... {len(rows)} read")
    table = Table(title=f"{len(rows)} trajectories")
    for column, justify in (
        ("instance", "left"),
        ("run", "left"),
        ("attempt", "right"),
        ("format", "left"),
        ("steps", "right"),
        ("patch lines", "right"),
        ("exit status", "left"),
        ("label", "left"),
    ):
        # fold, never truncate: an id cut short is a wrong id
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    # Cells are built as Text: ids and paths come from the files and must not be read as markup.
    labels = {
        True: Text("resolved", style="green"),
        False: Text("unresolved", style="red"),
        None: Text("-", style="dim"),
    }
    for trajectory, _ in rows:
        table.add_row(
            Text(printable(trajectory.instance_id)),
            Text(printable(trajectory.run_id or "")),
            str(trajectory.attempt),
            Text(printable(trajectory.source)),
            str(len(trajectory.steps)),
            str(patch_lines(trajectory.patch)),
            trajectory.exit_status,
            labels[trajectory.label],
        )
    stdout_console().print(table)
