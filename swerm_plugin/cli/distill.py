"""``swerm distill``: a small calibrated verifier from a large one's top-K scores (FIRST).

Exit codes: 0 the model folder is written and every trajectory was used; 3 written, but some
trajectories were left out (each named on stderr and in ``--json``); 1 nothing written. A run
that stops (crash, kill, Ctrl-C) continues from its last checkpoint when run again with the
same arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from swerm_plugin.cli.options import (
    EXISTING,
    Problems,
    config_from,
    json_option,
    labels_option,
    print_json,
    printable,
    progress_bar,
    runs_argument,
    say,
    stdout_console,
    strict_option,
)

_FRACTION = click.FloatRange(0.0, 1.0, min_open=True, max_open=True)


def _training_options(func: Any) -> Any:
    options = [
        click.option("--lora", is_flag=True, help="Train LoRA adapters (peft), merged at the end."),
        click.option("--lora-rank", type=click.IntRange(min=1), default=8, show_default=True,
                     help="Rank of the LoRA adapters."),
        click.option("--epochs", type=click.IntRange(min=1), default=2, show_default=True,
                     help="Passes over the training split."),
        click.option("--lr", type=click.FloatRange(min=0.0, min_open=True),
                     help="Learning rate (default 1e-5; 1e-4 with --lora)."),
        click.option("--batch-tokens", type=click.IntRange(min=1), default=16384,
                     show_default=True, help="Padded prompt tokens per training step."),
        click.option("--label-weight", type=click.FloatRange(min=0.0), default=0.0,
                     show_default=True,
                     help="Add this times the label cross-entropy to the distillation loss."),
        click.option("--rest-bucket/--no-rest-bucket", default=True, show_default=True,
                     help="Transfer the mass outside the teacher's top-K as a (K+1)-th outcome."),
        click.option("--checkpoint-every", type=click.IntRange(min=1), default=50,
                     show_default=True, help="Steps between checkpoints (for resuming)."),
        click.option("--gradient-checkpointing", is_flag=True,
                     help="Recompute activations in the backward pass (less memory)."),
        click.option("--device", help="cuda, cuda:1, cpu (default: the config's device)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def _data_options(func: Any) -> Any:
    options = [
        click.option("--teacher-scores", required=True, type=EXISTING,
                     help="The teacher's `swerm score --topk K -o` file."),
        click.option("--student", required=True,
                     help="Causal LM to train (folder or hub id); it must use the teacher's "
                          "tokenizer."),
        click.option("-o", "--output", required=True,
                     type=click.Path(file_okay=False, path_type=Path),
                     help="New folder for the student (or this run's unfinished one: resumes)."),
        labels_option(required=False),
        click.option("--max-tokens", type=click.IntRange(min=1),
                     help="The prompt budget `swerm score` used (needed if it cut prompts)."),
        click.option("--val-fraction", type=_FRACTION, default=0.15, show_default=True,
                     help="Share of tasks whose trajectories fit the student's temperature."),
        click.option("--test-fraction", type=_FRACTION, default=0.15, show_default=True,
                     help="Share of tasks held out for the report."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Seed of the split and of the data order."),
        click.option("--baseline/--no-baseline", default=True, show_default=True,
                     help="Also train a student on the labels alone (same budget) to compare."),
        click.option("--teacher-tokenizer",
                     help="The teacher's tokenizer folder, compared with the student's (default: "
                          "the teacher's model, when it is a local folder)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


@click.command("distill")
@runs_argument
@_data_options
@_training_options
@strict_option
@json_option
def distill_command(runs: tuple[Path, ...], strict: bool, as_json: bool, **given: Any) -> int:
    """Distil the teacher whose top-K scores are in --teacher-scores into --student (FIRST)."""
    from swerm_plugin.distill import DistillOptions, SplitPlan, TrainOptions, distill

    config = config_from(device=given["device"])
    problems = Problems(strict=strict)
    options = DistillOptions(
        teacher_scores=given["teacher_scores"],
        runs=runs,
        student=given["student"],
        output=given["output"],
        labels=given["labels"],
        max_tokens=given["max_tokens"],
        split=SplitPlan(given["val_fraction"], given["test_fraction"], given["seed"]),
        train=TrainOptions(
            epochs=given["epochs"],
            lr=given["lr"],
            batch_tokens=given["batch_tokens"],
            label_weight=given["label_weight"],
            rest_bucket=given["rest_bucket"],
            lora_rank=given["lora_rank"] if given["lora"] else None,
            seed=given["seed"],
            checkpoint_every=given["checkpoint_every"],
            gradient_checkpointing=given["gradient_checkpointing"],
            device=config.device,
        ),
        baseline=given["baseline"],
        teacher_tokenizer=given["teacher_tokenizer"],
    )
    result = distill(
        options,
        config,
        progress=progress_bar,
        on_error=problems.skipped_input,
        on_problem=problems.add,
        on_skip=lambda t, why: problems.add(
            "skipped",
            f"{t.instance_id} ({t.source_path}): {why}",
            instance_id=t.instance_id,
            content_hash=t.content_hash(),
        ),
    )
    say(f"wrote {result.output} (temperature {result.card['temperature']:.3f})")
    if as_json:
        print_json(
            {
                "output": str(result.output),
                "resumed": result.resumed,
                "card": result.card,
                "problems": problems.to_json(),
            }
        )
    else:
        stdout_console().print(_table(result.card["metrics"]))
    return problems.exit_code(done=1)


def _table(metrics: dict[str, Any]) -> Any:
    from rich.table import Table

    from swerm_plugin.distill.report import summary_rows

    table = Table(title=f"held-out split: {metrics['n']} trajectories, {metrics['n_tasks']} tasks")
    columns = ("verifier", "auroc", "ece", "brier", "best_at_max_k", "spearman", "mean_abs_diff")
    for name in columns:
        table.add_column(name.replace("_", " "), justify="left" if name == "verifier" else "right")
    for row in summary_rows(metrics):
        table.add_row(*(_cell(row[name]) for name in columns))
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return printable(str(value))
