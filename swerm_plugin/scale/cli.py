"""``swerm score --engine ray``: the command's work, returning its exit code.

Without ``-o`` every record is one JSON line on stdout, as with ``swerm score``; with ``-o`` the
records go to the scores file and its shards, and a summary goes to stderr. Each failed
trajectory is named on stderr (the first 50; all of them are error records in the output).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from swerm_plugin.config import SwermConfig
from swerm_plugin.jsonl import dumps
from swerm_plugin.scale.job import ScaleResult, score_dataset

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
#: Failed trajectories named on stderr; the rest are counted.
NAMED_ON_STDERR = 50


def _say(message: str) -> None:
    """A plain line on stderr (paths and ids may hold anything)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _usage(message: str) -> int:
    _say(f"swerm: error: {message}")
    _say("hint: run 'swerm score --help' for the options")
    return EXIT_USAGE


def _print_record(record: dict[str, Any]) -> None:
    sys.stdout.write(dumps(record).decode() + "\n")


def summary(result: ScaleResult) -> str:
    """The one-line summary on stderr."""
    text = f"scored {result.scored}, failed {result.failed}"
    if result.output is not None:
        text += f", skipped {result.skipped} (already in {result.output})"
        text += f"; {result.shards} new shards in {result.shards_dir}"
    if result.duplicates:
        text += f", {result.duplicates} duplicates not scored twice"
    if result.recovered:
        text += f"; {result.recovered} records recovered from shards of an earlier run"
    return text + f" (Ray start {result.ray_start_s:.1f} s, job {result.job_s:.1f} s)"


def _name_failures(result: ScaleResult) -> None:
    for failure in result.failures[:NAMED_ON_STDERR]:
        where = failure.get("source_path") or "?"
        _say(f"failed: {failure.get('instance_id') or '?'} ({where}): {failure.get('error')}")
    more = result.failed - min(len(result.failures), NAMED_ON_STDERR)
    if more > 0:
        place = f"the error records in {result.output}" if result.output else "the records"
        _say(f"... and {more} more failed; see {place}")


def exit_code(result: ScaleResult) -> int:
    """0: everything scored (or already was); 1: every trajectory failed; 3: some failed."""
    if not result.failed:
        return EXIT_OK
    return EXIT_FAILED if not result.scored else EXIT_PARTIAL


def cli_score(
    paths: Sequence[Path],
    *,
    config: SwermConfig,
    output: Path | None,
    explain: bool,
    chunk_size: int,
    engine: str,
    address: str | None,
    actors: int,
    gpus_per_actor: float,
) -> int:
    """Run ``swerm score --engine ray``; returns the exit code."""
    if engine != "ray":
        return _usage("--address, --actors and --gpus-per-actor need --engine ray")
    if explain:
        return _usage("--explain prints prompts rendered here; run it without --engine ray")
    result = score_dataset(
        list(paths),
        config=config,
        output=output,
        actors=actors,
        gpus_per_actor=gpus_per_actor,
        batch_size=chunk_size,
        address=address,
        on_record=None if output is not None else _print_record,
        ray_progress=False,
    )
    _name_failures(result)
    _say(summary(result))
    return exit_code(result)
