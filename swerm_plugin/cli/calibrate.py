"""``swerm calibrate``: fit a calibrator on labelled, scored runs (and a guaranteed threshold)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from swerm_plugin.errors import CalibrationError
from swerm_plugin.model import Score

if TYPE_CHECKING:
    from swerm_plugin.calibration import Calibrator
    from swerm_plugin.decisions.runs import Candidates


class CalibrationMethod(click.ParamType):
    """``auto`` or any method registered through ``swerm_register_calibrators``."""

    name = "method"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from swerm_plugin.calibration import registered_calibrators

        known = ["auto", *registered_calibrators()]
        if value not in known:
            self.fail(f"{value!r} is not one of {', '.join(known)}", param, ctx)
        return str(value)


@click.command("calibrate")
@runs_argument
@labels_option(required=True)
@scoring_options
@instances_option
@click.option(
    "--method",
    type=CalibrationMethod(),
    default="auto",
    show_default=True,
    help="auto (chosen by cross-validated log-loss), temperature, platt, isotonic, or a "
    "plugin's method.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Calibrator file to write (JSON); set `calibrator` in the config to use it.",
)
@click.option(
    "--target-precision",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Also find the accept threshold whose precision is at least this, with confidence "
    "1 - delta.",
)
@click.option(
    "--delta",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Allowed failure probability of the precision guarantee.",
)
@strict_option
@json_option
@click.option(
    "--fit-consensus-weight",
    is_flag=True,
    help="Also fit policy.consensus_weight, the selector's share in the hybrid ranking "
    "(model probability + selector), on the same labelled runs; needs model scores.",
)
def calibrate_command(
    runs: tuple[Path, ...],
    labels: tuple[Path, ...],
    score_files: tuple[Path, ...],
    model: str | None,
    backend: str | None,
    instances: dict[str, str] | None,
    method: str,
    output: Path,
    target_precision: float | None,
    delta: float,
    strict: bool,
    as_json: bool,
    fit_consensus_weight: bool,
) -> int:
    """Fit a calibrator on labelled, scored RUNS (and optionally a guaranteed threshold)."""
    from swerm_plugin.calibration import (
        expected_calibration_error,
        make_calibrator,
    )
    from swerm_plugin.evaluation.evaluate import scored_arrays

    config = config_from(model=model, backend=backend)
    problems = Problems(strict=strict)
    loaded = problems.load(
        runs, config, labels=labels, score_files=score_files, instances=instances
    )
    raw, resolved, unscored = scored_arrays(loaded.groups, loaded.scores)
    if fit_consensus_weight and loaded.scorer == loaded.selector.name:
        raise click.UsageError(
            "--fit-consensus-weight needs model scores: pass --scores FILE or --model"
        )
    source = f"{len(runs)} runs ({', '.join(r.run_id for r in loaded.runs)}), {loaded.scorer}"
    calibrator = make_calibrator(method).fit(
        raw, resolved, source=source, score_kind=_score_kind(loaded.scores)
    )
    calibrator.save(output)
    calibrated = calibrator.transform(raw)
    result: dict[str, Any] = {
        "method": getattr(calibrator, "method_", calibrator.method),
        "n": int(raw.size),
        "unscored": unscored,
        "ece_before": expected_calibration_error(raw, resolved),
        "ece_after": expected_calibration_error(calibrated, resolved),
        "output": str(output),
    }
    say(
        f"{result['method']} calibrator fitted on {raw.size} candidates ({unscored} unscored "
        f"skipped): ECE {result['ece_before']:.3f} → {result['ece_after']:.3f} (on the fitting "
        f"data) → {output}"
    )
    if target_precision is not None:
        result["threshold"] = _guaranteed_threshold(calibrated, resolved, target_precision, delta)
    if fit_consensus_weight:
        say_hybrid_weight(loaded, calibrator)
    if as_json:
        print_json({**result, "problems": problems.to_json()})
    return problems.exit_code()


def _guaranteed_threshold(
    calibrated: Any, resolved: Any, target: float, delta: float
) -> dict[str, Any]:
    from swerm_plugin.calibration import precision_threshold

    found = precision_threshold(calibrated, resolved, target=target, delta=delta)
    say(
        f"threshold {found.threshold:.2f}: precision ≥ {target:.0%} with confidence "
        f"{1 - delta:.0%} (lower bound {found.lower_bound:.1%}, observed {found.precision:.1%}, "
        f"accepts {found.coverage:.1%} of candidates); set policy.threshold = "
        f"{found.threshold:.2f}"
    )
    return found.as_dict()


def _score_kind(scores: list[list[Score | None]]) -> str:
    """The one kind of score the calibrator is fitted on (a mix cannot be calibrated together)."""
    kinds = {s.kind for row in scores for s in row if s is not None and s.ok}
    if len(kinds) > 1:
        raise CalibrationError(
            f"the candidates' scores are of several kinds ({', '.join(sorted(kinds))}); "
            "calibrate model scores and vote shares separately"
        )
    return kinds.pop() if kinds else "p_yes"


def say_hybrid_weight(loaded: Candidates, calibrator: Calibrator) -> None:
    """Fit the hybrid weight on the calibrated probabilities and print the config line."""
    from swerm_plugin.selection.hybrid import fit_hybrid_weight, hybrid_tasks

    fit = fit_hybrid_weight(
        hybrid_tasks(loaded.groups, loaded.scores, calibrate=calibrator.transform)
    )
    say(
        f"hybrid weight {fit.weight:.2f}: picks resolve {fit.accuracy[fit.weight]:.1%} of "
        f"{fit.n_tasks} tasks ({fit.n_informative} with both resolved and unresolved "
        f"candidates); model alone {fit.accuracy[0.0]:.1%}, selector alone "
        f'{fit.accuracy[1.0]:.1%}; set policy.consensus = "hybrid" and '
        f"policy.consensus_weight = {fit.weight:.2f}"
    )
