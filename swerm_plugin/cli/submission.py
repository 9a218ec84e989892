"""``swerm submission``: a SWE-bench leaderboard folder from N runs, or ``--check`` of one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from swerm_plugin.cli.options import (
    EXISTING,
    config_from,
    json_option,
    labels_option,
    policy_options,
    policy_overrides,
    print_json,
    progress_bar,
    say,
    scoring_options,
)
from swerm_plugin.submission.layout import SPLITS

if TYPE_CHECKING:
    from swerm_plugin.submission.builder import SubmissionResult

EXIT_OK, EXIT_FAILED, EXIT_PARTIAL = 0, 1, 3
_BUILD_ONLY = ("split", "name", "date", "output", "labels", "logs", "rerank", "decisions")


def _check(folder: Path, as_json: bool) -> int:
    from swerm_plugin.submission.check import check_submission

    report = check_submission(folder)
    if as_json:
        print_json(report.to_json())
    else:
        for problem in report.problems:
            click.echo(f"{problem.severity}: [{problem.rule}] {problem.describe()}")
        errors = len(report.errors)
        click.echo(f"{errors} problem(s) to fix" if errors else f"ok: {folder} is ready to submit")
    return EXIT_FAILED if report.errors else EXIT_OK


def _summarize(result: SubmissionResult) -> None:
    facts = result.facts
    kind = "pass@1" if facts.pass_at_1 else f"not pass@1 (best of up to {facts.max_attempts})"
    say(f"wrote {result.folder}: {facts.n_instances} instances, {kind}")
    for warning in result.warnings:
        say(f"warning: {warning}")
    for item in result.skipped:
        say(f"  {item['instance_id']}: {item['reason']}")
    todo = result.check.errors if result.check else []
    if todo:
        say(f"to do before submitting ({len(todo)}; swerm submission --check lists them again):")
        for problem in todo:
            say(f"  - {problem.describe()}")


@click.command("submission")
@click.argument("runs", nargs=-1, type=EXISTING)
@click.option(
    "--split", type=click.Choice(SPLITS), help="Leaderboard split (folder under evaluation/)."
)
@click.option("--name", help="Submission name: the folder is <date>_<name>.")
@click.option("--date", help="Submission date YYYYMMDD (default: today).")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Root folder (e.g. a clone of SWE-bench/experiments): writes "
    "<root>/evaluation/<split>/<date>_<name>/.",
)
@labels_option(required=False)
@click.option(
    "--logs",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The SWE-bench harness's log folder of an evaluation of these predictions.",
)
@click.option(
    "--rerank",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Predictions written by `swerm rerank` over the same RUNS: use its decisions as is.",
)
@click.option(
    "--decisions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --rerank: its decisions log (default: <predictions>.decisions.jsonl).",
)
@scoring_options
@policy_options
@click.option(
    "--model-name", help="model_name_or_path in all_preds.jsonl (default: the rerank's, or NAME)."
)
@click.option(
    "--check",
    "check_folder",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Check an existing submission folder instead; exit 1 when something must be fixed.",
)
@json_option
def submission_command(
    runs: tuple[Path, ...], check_folder: Path | None, as_json: bool, **options: Any
) -> int:
    """Write a SWE-bench leaderboard submission folder from RUNS (one attempt chosen per task as
    `swerm rerank` chooses it), or check one with --check DIR.

    Exit 3 when the folder was written but is incomplete (runs given as predictions only, logs
    missing for some instances); each such instance is named.
    """
    if check_folder is not None:
        given = [f"--{k}" for k in _BUILD_ONLY if options.get(k)]
        if runs or given:
            raise click.UsageError(f"--check takes only the folder, not {runs or given}")
        return _check(check_folder, as_json)
    result = _build(runs, **options)
    if as_json:
        print_json(result.to_json())
    _summarize(result)
    return EXIT_PARTIAL if result.partial else EXIT_OK


def _build(
    runs: tuple[Path, ...],
    split: str | None,
    name: str | None,
    date: str | None,
    output: Path | None,
    labels: tuple[Path, ...],
    logs: Path | None,
    rerank: Path | None,
    decisions: Path | None,
    score_files: tuple[Path, ...],
    model: str | None,
    backend: str | None,
    threshold: float | None,
    on_reject: str | None,
    consensus: str | None,
    model_name: str | None,
) -> SubmissionResult:
    from swerm_plugin.submission.builder import SubmissionRequest
    from swerm_plugin.submission.pipeline import RerankOutput, submit_runs

    needed = {"RUN...": runs, "--split": split, "--name": name, "-o": output}
    missing = [flag for flag, value in needed.items() if not value]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)} (or check a folder with --check)")
    if decisions is not None and rerank is None:
        raise click.UsageError("--decisions goes with --rerank")
    choosing: dict[str, object] = {"--scores": score_files, "--model": model, "--backend": backend}
    choosing |= {"--threshold": threshold, "--on-reject": on_reject, "--consensus": consensus}
    clash = [flag for flag, value in choosing.items() if value not in (None, ())]
    if rerank is not None and clash:
        raise click.UsageError(f"--rerank takes the rerank's decisions as they are; drop {clash}")
    assert split is not None and name is not None and output is not None
    request = SubmissionRequest(
        root=output,
        split=split,
        name=name,
        date=date,
        model_name=model_name,
        logs=logs,
        labels=labels,
    )
    policy = policy_overrides(threshold, on_reject, consensus)
    return submit_runs(
        runs,
        request,
        config_from(model=model, backend=backend, policy=policy),
        score_files=score_files,
        rerank=RerankOutput(rerank, decisions) if rerank is not None else None,
        progress=progress_bar,
    )
