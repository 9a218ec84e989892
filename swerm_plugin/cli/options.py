"""What the commands share: options defined once, the consoles, JSON output, progress bars.

Output rules: results go to stdout (a table, or JSON with ``--json``); warnings, progress and
errors go to stderr, so ``swerm X --json | jq`` always sees pure JSON.
"""

from __future__ import annotations

import atexit
import contextlib
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import orjson
from rich.console import Console

from swerm_plugin.config import SwermConfig, load_config
from swerm_plugin.errors import SwermError

if TYPE_CHECKING:
    from swerm_plugin.decisions.runs import Candidates

F = TypeVar("F", bound=Callable[..., Any])

#: stderr: progress, warnings, summaries. Results go to stdout.
err_console = Console(stderr=True)


class InputPath(click.ParamType):
    """An input: an existing regular file or folder, or ``-`` for standard input.

    FIFOs, devices and sockets are refused at once: reading them would hang, or read nothing,
    where a user expects a file (``swerm inspect <(cat f)``); pipe into ``-`` instead.
    """

    name = "path"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        if isinstance(value, Path):
            value = str(value)
        if value == "-":
            return stdin_file()
        path = Path(value)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            self.fail(f"{value!r} does not exist", param, ctx)
        except OSError as exc:
            self.fail(f"{value!r} cannot be read: {exc.strerror}", param, ctx)
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            kind = "a FIFO (pipe)" if stat.S_ISFIFO(mode) else "not a regular file or folder"
            self.fail(
                f"{value!r} is {kind}; swerm reads regular files and folders "
                "(to read a pipe, give '-' and send it to standard input)",
                param,
                ctx,
            )
        return path


_stdin_copy: Path | None = None


def stdin_file() -> Path:
    """Standard input, saved once to a temporary file (formats are detected from content)."""
    global _stdin_copy
    if _stdin_copy is None:
        folder = Path(tempfile.mkdtemp(prefix="swerm-stdin-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _stdin_copy = folder / "stdin"
        with _stdin_copy.open("wb") as fh:
            shutil.copyfileobj(sys.stdin.buffer, fh)
    return _stdin_copy


EXISTING = InputPath()


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
    """The effective config with command-line overrides (``None`` means not given), its
    verifier preset applied."""
    from swerm_plugin.presets import resolve_verifier

    return resolve_verifier(load_config(**overrides))


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


def _read_instances(
    ctx: click.Context, param: click.Parameter, value: Path | None
) -> dict[str, str] | None:
    from swerm_plugin.readers.instances import read_problem_statements

    return None if value is None else read_problem_statements(value)


def instances_option(func: F) -> F:
    """``--instances FILE``: problem statements for runs that carry none (predictions)."""
    return click.option(
        "--instances",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        callback=_read_instances,
        help="SWE-bench dataset (JSON Lines, JSON or Parquet; instance_id, problem_statement) "
        "that fills in the problem statements predictions files lack.",
    )(func)


# --- problems: what was skipped or failed, reported on stderr and in --json ---------------------


class Problems:
    """Items a command skipped or could not do: each is named on stderr and in ``--json``, and
    the exit code is 3 (partial) when there are any. With ``strict`` the first one is an error.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.items: list[dict[str, Any]] = []

    def add(self, kind: str, message: str, **where: Any) -> None:
        """Record one problem (``kind``: skipped, failed, unscored, unlabelled, ...)."""
        if self.strict:
            raise ProblemError(message, hint="without --strict, swerm skips it and exits 3")
        self.items.append({"kind": kind, "message": message, **where})
        say(f"swerm: {kind}: {printable(message)}")

    def skipped_input(self, error: Exception) -> None:
        """The ``on_error`` callback of the readers: a file or record that cannot be read."""
        fields = {k: getattr(error, k, None) for k in ("path", "line", "record", "field")}
        self.add("skipped", str(error), **{k: v for k, v in fields.items() if v is not None})

    def load(
        self,
        runs: Sequence[Path],
        config: SwermConfig,
        *,
        labels: Sequence[Path] = (),
        score_files: Sequence[Path] = (),
        cache: Path | None = None,
        instances: Mapping[str, str] | None = None,
    ) -> Candidates:
        """:func:`~swerm_plugin.decisions.runs.load_candidates` with a progress bar, every
        unreadable file or record, uncovered label and unscored candidate reported here."""
        from swerm_plugin.decisions.runs import load_candidates

        loaded = load_candidates(
            runs,
            config,
            labels=labels,
            score_files=score_files,
            cache=cache,
            progress=progress_bar,
            on_error=self.skipped_input,
            on_problem=self.add,
            instances=instances,
            on_warning=lambda text: say(f"swerm: warning: {printable(text)}"),
        )
        self.unscored(loaded)
        return loaded

    def unscored(self, candidates: Candidates) -> None:
        """Name every candidate that has a patch but no score."""
        for trajectory in candidates.unscored():
            self.add(
                "unscored",
                f"{trajectory.instance_id} ({trajectory.run_id}) has no score: it is not in the "
                "--scores files and no model scored it",
                instance_id=trajectory.instance_id,
                run_id=trajectory.run_id,
                content_hash=trajectory.content_hash(),
            )

    def exit_code(self, *, done: int = 1, what: str = "done") -> int:
        """0 when nothing went wrong; 3 (partial) with problems; 1 when nothing was done (said
        on stderr as an error: ``nothing was <what>``)."""
        if not self.items:
            return 0
        if done:
            return 3
        click.echo(f"swerm: error: nothing was {what}: every item was skipped or failed", err=True)
        return 1

    def to_json(self) -> list[dict[str, Any]]:
        return list(self.items)


class ProblemError(SwermError):
    """``--strict`` turned a skipped or failed item into an error."""


def strict_option(func: F) -> F:
    return click.option(
        "--strict",
        is_flag=True,
        help="Fail on the first file, record or item that would be skipped (default: skip it, "
        "name it, exit 3).",
    )(func)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with terminal control characters shown as escapes (``\\x1b``), so ids and agent
    text cannot clear the screen, set the window title or write to the clipboard."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def policy_options(func: F) -> F:
    """``--threshold``, ``--on-reject`` and ``--consensus``: how the rerank decides on each
    task's best candidate."""
    func = click.option(
        "--consensus",
        type=click.Choice(["off", "tiebreak", "hybrid"]),
        help="Use patch agreement to break score ties, or mix it into the score.",
    )(func)
    func = click.option(
        "--on-reject",
        type=click.Choice(["empty_patch", "flag"]),
        help="Below the threshold: abstain with an empty patch, or keep the patch and flag it.",
    )(func)
    return click.option("--threshold", type=click.FloatRange(0, 1), help="Accept threshold on p.")(
        func
    )


def policy_overrides(
    threshold: float | None, on_reject: str | None, consensus: str | None
) -> dict[str, Any]:
    """The ``policy`` config overrides the given policy options make."""
    given = {"threshold": threshold, "on_reject": on_reject, "consensus": consensus}
    return {key: value for key, value in given.items() if value is not None}


def render_options(func: F) -> F:
    """``--template`` and ``--max-tokens``: how trajectories become prompts."""
    func = click.option(
        "--max-tokens",
        type=click.IntRange(min=1),
        help="Prompt token budget; default: the model's context minus a small margin.",
    )(func)
    return click.option(
        "--template",
        help="Prompt template: swe-rm (default), swe-gym, r2e-gym, openhands-critic, "
        "openhands-critic-value, or a plugin's.",
    )(func)
