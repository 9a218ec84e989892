"""``swerm judge pool`` and ``swerm judge select``: the LLM judge's worked examples, chosen by
Automate-CoT (augment and prune into a pool; select k exemplars on a labelled dev set).

Exit codes: 0 done; 3 done with items skipped or failed (each named on stderr and in
``--json``); 1 nothing usable (no exemplar survived pruning); 2 usage error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from swerm_plugin.cli.options import (
    EXISTING,
    Problems,
    config_from,
    json_option,
    labels_option,
    print_json,
    progress_bar,
    runs_argument,
    say,
    strict_option,
)

if TYPE_CHECKING:
    from swerm_plugin.config import SwermConfig
    from swerm_plugin.judge.calls import Usage
    from swerm_plugin.judge.exemplars import ExemplarsFile, Pool
    from swerm_plugin.model import Trajectory


@click.group("judge")
def judge_group() -> None:
    """The LLM judge: build its pool of worked examples, choose the exemplars it shows."""


def labelled(runs: Sequence[Path], labels: Sequence[Path], problems: Problems) -> list[Trajectory]:
    """Every trajectory of ``runs`` with a harness label (the rest are named in ``problems``)."""
    from swerm_plugin.decisions.labels import apply_labels
    from swerm_plugin.decisions.runs import load_runs

    loaded = load_runs(runs, on_error=problems.skipped_input)
    apply_labels(loaded, labels, on_problem=problems.add)
    return [t for run in loaded for t in run.trajectories if t.label is not None]


def usage_line(usage: Usage) -> str:
    cost = "no price known" if usage.cost_usd is None else f"${usage.cost_usd:.4f}"
    tokens = "?" if usage.total_tokens is None else f"{usage.total_tokens:,}"
    return f"{usage.calls} calls, {tokens} tokens, {cost}"


def _judge_config(model: str | None) -> SwermConfig:
    return config_from(judge={"model": model} if model else None)


@judge_group.command("pool")
@runs_argument
@labels_option(required=True)
@click.option("--model", help="Judge model, a litellm name (default: judge.model, else model).")
@click.option(
    "--chains",
    type=click.IntRange(1, 32),
    default=3,
    show_default=True,
    help="Rationale chains the model writes per labelled trajectory (at judge.temperature).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Pool file to write (JSON); a pool made with the same model and settings is resumed.",
)
@strict_option
@json_option
def pool_command(
    runs: tuple[Path, ...],
    labels: tuple[Path, ...],
    model: str | None,
    chains: int,
    output: Path,
    strict: bool,
    as_json: bool,
) -> int:
    """Augment and prune: rationale chains for the labelled trajectories of RUNS, kept where
    their verdict agrees with the label."""
    from swerm_plugin.judge.augment import build_pool, start_pool
    from swerm_plugin.judge.backend import JudgeBackend
    from swerm_plugin.judge.calls import Usage
    from swerm_plugin.judge.exemplars import read_pool, write_document
    from swerm_plugin.verifier import Verifier

    config = _judge_config(model)
    problems = Problems(strict=strict)
    existing = read_pool(output) if output.exists() else None  # never overwrites a foreign file
    trajectories = labelled(runs, labels, problems)

    def failed(trajectory: Trajectory, reason: str) -> None:
        where = {"instance_id": trajectory.instance_id, "source_path": trajectory.source_path}
        problems.add("failed", f"{trajectory.instance_id}: {reason}", **where)

    with contextlib.closing(JudgeBackend(config)) as backend:
        pool = start_pool(backend, chains, existing, str(output))
        budget = Verifier(config, backend=backend).budget
        with progress_bar("augmenting", len(trajectories)) as advance:
            pool = build_pool(
                backend,
                trajectories,
                pool,
                chains=chains,
                budget=budget,
                save=lambda done: write_document(output, done),
                on_error=failed,
                advance=advance,
            )
    stats = pool.stats
    say(
        f"pool {output}: {len(pool.exemplars)} exemplars from {stats.trajectories} trajectories "
        f"({stats.chains} chains: {stats.contradicted} contradicted the label, "
        f"{stats.unparsable} had no verdict, {stats.duplicates} repeated, {stats.failed} "
        f"failed); {usage_line(Usage(**pool.usage))}"
    )
    if as_json:
        print_json(_pool_json(pool, output, problems))
    if not pool.exemplars:
        problems.add("failed", "no rationale chain agreed with its label: the pool is empty")
    return problems.exit_code(done=len(pool.exemplars), what="kept in the pool")


def _pool_json(pool: Pool, output: Path, problems: Problems) -> dict[str, Any]:
    return {
        "output": str(output),
        "model": pool.model,
        "exemplars": len(pool.exemplars),
        "stats": pool.stats.model_dump(),
        "usage": pool.usage,
        "problems": problems.to_json(),
    }


@judge_group.command("select")
@runs_argument
@labels_option(required=True)
@click.option(
    "--pool", "pool_path", required=True, type=EXISTING, help="Pool file of `swerm judge pool`."
)
@click.option("--model", help="Judge model, a litellm name (default: judge.model, else model).")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Exemplars file to write (JSON); set judge.exemplars to it.",
)
@click.option("--k", type=click.IntRange(1), default=4, show_default=True, help="Exemplars shown.")
@click.option(
    "--samples",
    type=click.IntRange(2),
    default=10,
    show_default=True,
    help="Prompts sampled per step (the baseline is their mean loss).",
)
@click.option(
    "--lr", type=click.FloatRange(0, min_open=True), default=1e-3, show_default=True,
    help="Adam's learning rate on the slots' probabilities.",
)  # fmt: skip
@click.option(
    "--batch", type=click.IntRange(1), default=8, show_default=True,
    help="Dev trajectories each sampled prompt is judged on per step.",
)  # fmt: skip
@click.option(
    "--loss",
    type=click.Choice(["log_loss", "brier", "error_rate"]),
    default="log_loss",
    show_default=True,
    help="What a prompt is scored by on the dev batch.",
)
@click.option(
    "--max-steps", type=click.IntRange(1), default=100, show_default=True, help="Steps at most."
)
@click.option("--budget-calls", type=click.IntRange(1), help="Stop before passing this many calls.")
@click.option(
    "--budget-tokens", type=click.IntRange(1), help="Stop before passing this many tokens."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampling.")
@click.option(
    "--final-eval/--no-final-eval",
    default=True,
    show_default=True,
    help="Judge the whole dev set with the chosen exemplars at the end.",
)
@strict_option
@json_option
def select_command(
    runs: tuple[Path, ...],
    labels: tuple[Path, ...],
    pool_path: Path,
    model: str | None,
    output: Path,
    strict: bool,
    as_json: bool,
    **search: Any,
) -> int:
    """Select: choose the exemplars of the pool that judge the labelled dev RUNS best
    (variance-reduced policy gradient over the exemplar slots)."""
    from swerm_plugin.judge.backend import JudgeBackend
    from swerm_plugin.judge.exemplars import SelectCheckpoint, read_exemplars, write_document
    from swerm_plugin.judge.tune import SelectOptions, search_key, select_exemplars
    from swerm_plugin.verifier import Verifier

    options = SelectOptions(**search)
    if output.exists():
        read_exemplars(output)  # refuses to overwrite anything but an exemplars file
    pool, ref = _read_pool(pool_path)
    problems = Problems(strict=strict)
    dev = _dev_set(labelled(runs, labels, problems), pool, problems)
    config = _judge_config(model)
    with contextlib.closing(JudgeBackend(config)) as backend:
        budget = Verifier(config, backend=backend).budget
        saved = SelectCheckpoint(output, search_key(backend, ref, dev, options))
        resume = saved.load()
        if resume is not None:
            say(f"resuming the search saved in {saved.path} after {len(resume['steps'])} steps")
        with progress_bar("selecting", options.max_steps) as advance:
            advance(len(resume["steps"]) if resume else 0)

            def checkpoint(state: dict[str, Any]) -> None:
                saved.save(state)
                advance(1)

            document = select_exemplars(
                backend, pool, ref, dev, options, budget=budget, resume=resume,
                checkpoint=checkpoint,
            )  # fmt: skip
    write_document(output, document)
    saved.clear()
    _say_selection(document, output)
    if as_json:
        print_json(_selection_json(document, output, problems))
    return problems.exit_code()


def _read_pool(path: Path) -> tuple[Pool, Any]:
    from swerm_plugin.judge.exemplars import PoolRef, file_sha256, read_pool

    pool = read_pool(path)
    ref = PoolRef(
        path=str(path), sha256=file_sha256(path), exemplar_ids=[e.id for e in pool.exemplars]
    )
    return pool, ref


def _dev_set(trajectories: list[Trajectory], pool: Pool, problems: Problems) -> list[Trajectory]:
    """The dev trajectories whose task gave no exemplar (an exemplar of the same task would
    hand the judge the answer)."""
    pooled = {exemplar.instance_id for exemplar in pool.exemplars}
    dev = []
    for trajectory in trajectories:
        if trajectory.instance_id in pooled:
            problems.add(
                "skipped",
                f"{trajectory.instance_id} ({trajectory.run_id}): its task is in the pool; dev "
                "tasks must differ from the pool's",
                instance_id=trajectory.instance_id,
                run_id=trajectory.run_id,
            )
        else:
            dev.append(trajectory)
    return dev


def _say_selection(document: ExemplarsFile, output: Path) -> None:
    from swerm_plugin.judge.calls import Usage

    ids = ", ".join(e.id for e in document.chosen)
    say(
        f"chose {len(document.chosen)} exemplars ({ids}) in {len(document.steps)} steps "
        f'(stopped: {document.stop_reason}) → {output}; set judge.exemplars = "{output}"'
    )
    if document.steps:
        first, last = document.steps[0], document.steps[-1]
        say(f"mean sampled loss: step 0 {first['mean_loss']:.4f} → last {last['mean_loss']:.4f}")
    if document.final is not None:
        final = document.final
        say(
            f"dev set with the chosen exemplars: loss {final['loss']:.4f}, accuracy "
            f"{final['accuracy']:.1%} over {final['n']} ({final['failed']} not judged)"
        )
    say(f"used {usage_line(Usage(**document.usage))}")


def _selection_json(document: ExemplarsFile, output: Path, problems: Problems) -> dict[str, Any]:
    return {
        "output": str(output),
        "model": document.model,
        "chosen": [e.id for e in document.chosen],
        "stop_reason": document.stop_reason,
        "steps": document.steps,
        "final": document.final,
        "usage": document.usage,
        "problems": problems.to_json(),
    }
