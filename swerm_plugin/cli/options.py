"""What the commands share: options defined once, the consoles, JSON output, progress bars.

Output rules: results go to stdout (a table, or JSON with ``--json``); warnings, progress and
errors go to stderr, so ``swerm X --json | jq`` always sees pure JSON.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from rich.console import Console

from swerm_plugin.config import SwermConfig, load_config

F = TypeVar("F", bound=Callable[..., Any])

#: stderr: progress, warnings, summaries. Results go to stdout.
err_console = Console(stderr=True)

EXISTING = click.Path(exists=True, path_type=Path)


def print_json(data: Any) -> None:
    """One JSON document on stdout (pretty, keys in insertion order)."""
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode())


def stdout_console() -> Console:
    return Console()


def say(message: str) -> None:
    """A plain line on stderr (no rich markup: paths and ids may contain brackets)."""
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; yields a function that advances it by ``n``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=err_console) as progress:
        task = progress.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            progress.advance(task, n)

        yield advance


def config_from(**overrides: Any) -> SwermConfig:
    """The effective config with command-line overrides (``None`` means not given)."""
    return load_config(**overrides)


# --- options defined once ------------------------------------------------------------------


def runs_argument(func: F) -> F:
    return click.argument("runs", nargs=-1, required=True, type=EXISTING)(func)


def paths_argument(func: F) -> F:
    return click.argument("paths", nargs=-1, required=True, type=EXISTING)(func)


def json_option(func: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print the result as JSON on stdout."
    )(func)


def labels_option(*, required: bool) -> Callable[[F], F]:
    return click.option(
        "--labels",
        "labels",
        multiple=True,
        required=required,
        type=EXISTING,
        help="Harness results: once per run in run order (run report, resolved list, folder of "
        "report.json), or once for all runs in a file that names the run.",
    )


def model_options(func: F) -> F:
    """``--model`` and ``--backend``."""
    func = click.option("--model", help="Reward model to score with (default: config).")(func)
    return click.option("--backend", help="Backend name (default: config).")(func)


def scoring_options(func: F) -> F:
    """``--scores``, ``--model`` and ``--backend``: where each candidate's score comes from."""
    func = click.option(
        "--scores",
        "score_files",
        multiple=True,
        type=EXISTING,
        help="Scores from `swerm score -o` or a decisions log (matched by content hash).",
    )(func)
    return model_options(func)


def render_options(func: F) -> F:
    """``--template`` and ``--max-tokens``: how trajectories become prompts."""
    func = click.option(
        "--max-tokens",
        type=click.IntRange(min=1),
        help="Prompt token budget; default: the model's context minus a small margin.",
    )(func)
    return click.option(
        "--template", help="Prompt template: swe-rm (default), swe-gym, r2e-gym, or a plugin's."
    )(func)
