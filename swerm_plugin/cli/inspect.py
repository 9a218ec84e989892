"""``swerm inspect``: show what the readers make of trajectory files, before scoring anything."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from swerm_plugin.cli.options import (
    EXISTING,
    Problems,
    json_option,
    paths_argument,
    print_json,
    strict_option,
)
from swerm_plugin.cli.tables import Column, print_table
from swerm_plugin.model import Trajectory
from swerm_plugin.patches import patch_lines


def summary(trajectory: Trajectory) -> dict[str, Any]:
    """The ``--json`` object for one trajectory (``content_hash`` joins it with scores files)."""
    return {
        "instance_id": trajectory.instance_id,
        "run_id": trajectory.run_id,
        "attempt": trajectory.attempt,
        "format": trajectory.metadata.get("reader"),
        "source": trajectory.source,
        "content_hash": trajectory.content_hash(),
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


def read_for_inspection(
    paths: tuple[Path, ...], labels: tuple[Path, ...], run_id: str | None, problems: Problems
) -> list[Trajectory]:
    """Every trajectory under ``paths``; with ``labels``, each path is a run and gets its labels
    by the same rules as ``swerm eval``."""
    if labels:
        from swerm_plugin.decisions.labels import apply_labels
        from swerm_plugin.decisions.runs import load_runs

        runs = load_runs(paths, on_error=problems.skipped_input)
        apply_labels(runs, labels, on_problem=problems.add)
        return [t for run in runs for t in run.trajectories]
    from swerm_plugin.readers import load

    return [t for path in paths for t in load(path, run_id=run_id, on_error=problems.skipped_input)]


@click.command("inspect")
@paths_argument
@json_option
@click.option(
    "--labels",
    "label_files",
    multiple=True,
    type=EXISTING,
    help="Harness results, as for `swerm eval`: once per PATH (each a run) in order, or once "
    "in a file or folder that names the runs.",
)
@click.option("--run-id", default=None, help="Set this run id on every trajectory read.")
@click.option(
    "--summary", "as_summary", is_flag=True, help="Counts per run, format and exit status only."
)
@strict_option
def inspect_command(
    paths: tuple[Path, ...],
    as_json: bool,
    label_files: tuple[Path, ...],
    run_id: str | None,
    as_summary: bool,
    strict: bool,
) -> int:
    """Read trajectory files or run folders and list what was found.

    Formats are detected from the content: OpenHands (V0 and SDK), SWE-agent, mini-swe-agent
    and SWE-bench predictions.
    """
    from swerm_plugin.cli.options import err_console

    problems = Problems(strict=strict)
    with err_console.status("reading trajectories..."):
        found = read_for_inspection(paths, label_files, run_id, problems)
    counts = summary_counts(found)
    if as_json:
        print_json(
            {
                "trajectories": [] if as_summary else [summary(t) for t in found],
                "summary": counts,
                "problems": problems.to_json(),
            }
        )
    elif not found:
        pass  # the error below says why; an empty table says nothing more
    elif as_summary:
        _print_summary(counts)
    else:
        _print_table(found)
    return problems.exit_code(done=len(found), what="read")


def summary_counts(found: Iterable[Trajectory]) -> list[dict[str, Any]]:
    """How many trajectories per (run, format, exit status), for big folders."""
    counts = Counter(
        (t.run_id or "", str(t.metadata.get("reader", t.source)), t.exit_status) for t in found
    )
    return [
        {"run_id": run, "format": fmt, "exit_status": status, "trajectories": n}
        for (run, fmt, status), n in sorted(counts.items())
    ]


def _print_summary(counts: list[dict[str, Any]]) -> None:
    columns = [
        Column("run"),
        Column("format"),
        Column("exit status"),
        Column("trajectories", "number"),
    ]
    rows = [[c["run_id"], c["format"], c["exit_status"], c["trajectories"]] for c in counts]
    print_table(f"{sum(c['trajectories'] for c in counts)} trajectories", columns, rows)


_LABEL = {True: "resolved", False: "unresolved", None: "-"}


def _print_table(found: list[Trajectory]) -> None:
    columns = [
        Column("instance"),
        Column("run"),
        Column("try", "number"),
        Column("format"),
        Column("steps", "number"),
        Column("lines", "number"),
        Column("exit"),
        Column("label"),
    ]
    rows = [
        [
            t.instance_id,
            t.run_id,
            t.attempt,
            t.source,
            len(t.steps),
            patch_lines(t.patch),
            t.exit_status,
            _LABEL[t.label],
        ]
        for t in found
    ]
    print_table(f"{len(found)} trajectories", columns, rows)
