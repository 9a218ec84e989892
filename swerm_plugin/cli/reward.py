"""``swerm reward``: an RL reward per trajectory (the SWE-RM hybrid, or the score alone)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from swerm_plugin.cli.options import (
    Problems,
    config_from,
    instances_option,
    json_option,
    labels_option,
    print_json,
    runs_argument,
    say,
    scoring_options,
    strict_option,
)


@click.command("reward")
@runs_argument
@labels_option(required=False)
@scoring_options
@instances_option
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
@strict_option
@json_option
def reward_command(
    runs: tuple[Path, ...],
    labels: tuple[Path, ...],
    score_files: tuple[Path, ...],
    model: str | None,
    backend: str | None,
    instances: dict[str, str] | None,
    mode: str,
    output: Path,
    strict: bool,
    as_json: bool,
) -> int:
    """Export an RL reward per trajectory of RUNS."""
    from swerm_plugin.decisions.rewards import RewardMode, reward_records
    from swerm_plugin.jsonl import atomic_write_jsonl

    if mode == "hybrid" and not labels:
        raise click.UsageError("--mode hybrid needs --labels (test results); or use --mode score")
    config = config_from(model=model, backend=backend)
    problems = Problems(strict=strict)
    loaded = problems.load(
        runs, config, labels=labels, score_files=score_files, instances=instances
    )
    records = reward_records(loaded.groups, loaded.scores, mode=cast(RewardMode, mode))
    atomic_write_jsonl(output, records)
    say(f"{len(records)} rewards ({mode}, scores from {loaded.scorer}) → {output}")
    if as_json:
        print_json({"rewards": records, "output": str(output), "problems": problems.to_json()})
    return problems.exit_code()
