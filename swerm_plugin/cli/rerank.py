"""``swerm rerank``: the best candidate per task across N runs, as harness-ready predictions."""

from __future__ import annotations

from pathlib import Path

import click

from swerm_plugin.cli.options import (
    Problems,
    config_from,
    instances_option,
    json_option,
    policy_options,
    policy_overrides,
    print_json,
    runs_argument,
    say,
    scoring_options,
    strict_option,
)


@click.command("rerank")
@runs_argument
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Predictions file to write (.jsonl or .json), one per task.",
)
@click.option(
    "--decisions",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Decisions log (JSON Lines); default: <output>.decisions.jsonl.",
)
@scoring_options
@instances_option
@policy_options
@click.option(
    "--model-name",
    default="swerm-rerank",
    show_default=True,
    help="model_name_or_path written into the predictions.",
)
@strict_option
@json_option
def rerank_command(
    runs: tuple[Path, ...],
    output: Path,
    decisions: Path | None,
    score_files: tuple[Path, ...],
    model: str | None,
    backend: str | None,
    instances: dict[str, str] | None,
    threshold: float | None,
    on_reject: str | None,
    consensus: str | None,
    model_name: str,
    strict: bool,
    as_json: bool,
) -> int:
    """Pick the best candidate per task across RUNS and write harness-ready predictions.

    Model scores are cached next to the decisions log as they are computed, so an interrupted
    rerank resumes without rescoring; the outputs themselves are written atomically at the end.
    """
    from swerm_plugin.decisions.rerank import rerank_group, write_outputs
    from swerm_plugin.plugins.manager import get_hooks

    policy = policy_overrides(threshold, on_reject, consensus)
    config = config_from(model=model, backend=backend, policy=policy)
    problems = Problems(strict=strict)
    decisions = decisions or output.with_name(output.name + ".decisions.jsonl")
    cache = decisions.with_name(decisions.name + ".scores.jsonl")
    loaded = problems.load(runs, config, score_files=score_files, cache=cache, instances=instances)
    hooks = get_hooks(config)
    tasks = [rerank_group(g, s, hooks) for g, s in zip(loaded.groups, loaded.scores, strict=True)]
    write_outputs(tasks, predictions=output, decisions=decisions, model_name=model_name)
    summary = {
        "tasks": len(tasks),
        "runs": len(loaded.runs),
        "scorer": loaded.scorer,
        "accepted": sum(t.decision.action == "accept" for t in tasks),
        "rejected": sum(t.decision.action == "reject" for t in tasks),
        "empty_patches_submitted": sum(not t.patch.strip() for t in tasks),
        "predictions": str(output),
        "decisions": str(decisions),
    }
    say(
        f"{len(tasks)} tasks from {len(loaded.runs)} runs scored by {loaded.scorer}: "
        f"{summary['accepted']} accepted, {summary['rejected']} rejected "
        f"({summary['empty_patches_submitted']} empty patches submitted) → {output}, "
        f"log {decisions}"
    )
    if as_json:
        print_json({"summary": summary, "problems": problems.to_json()})
    scored = sum(t.decision.score is not None for t in tasks)
    return problems.exit_code(done=scored, what="scored")
