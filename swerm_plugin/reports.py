"""``swerm report``: the eval report as figures and a Markdown summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from swerm_plugin.calibration.metrics import ReliabilityCurve
from swerm_plugin.io import atomic_write_json, atomic_write_text

METRICS = ("auroc", "ece", "ece_equal_mass", "brier", "log_loss", "accuracy")


def format_cell(value: Any) -> str:
    """A metric as table text: "–" when absent, "n/a" for NaN, floats to three places."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.3f}"
    return str(value)


def summary_markdown(report: dict[str, Any]) -> str:
    """A Markdown page with the best@k table, the baselines and the calibration metrics."""
    lines = [
        "# swerm evaluation",
        "",
        f"{report['n_tasks']} tasks, {report['n_candidates']} candidate patches "
        f"(up to {report['max_candidates']} per task), scored by {report['scorer']}.",
        "",
        "| k | best@k % | 95% of subsets | pass@k % |",
        "|---:|---:|---:|---:|",
    ]
    for k, value in report["best_at_k"].items():
        low, high = report["best_at_k_ci"][k]
        lines.append(f"| {k} | {value:.2f} | {low:.2f}–{high:.2f} | {report['pass_at_k'][k]:.2f} |")
    lines += [
        "",
        "| random | consensus | naive consensus | oracle |",
        "|---:|---:|---:|---:|",
        f"| {report['random']:.2f} | {report['consensus']:.2f} | "
        f"{report['consensus_naive']:.2f} | {report['oracle']:.2f} |",
        "",
    ]
    calibration = report["calibration"]
    if "before" in calibration:
        after = calibration.get("after", {})
        method = calibration.get("after_method", calibration.get("after_skipped", "none"))
        lines += [
            f"Calibration over {calibration['n']} scored candidates (after: {method}).",
            "",
            "| metric | before | after |",
            "|---|---:|---:|",
        ]
        for metric in METRICS:
            before_value = format_cell(calibration["before"][metric])
            lines.append(f"| {metric} | {before_value} | {format_cell(after.get(metric))} |")
        lines.append("")
    return "\n".join(lines)


def write_report(report: dict[str, Any], folder: str | Path) -> list[Path]:
    """Write ``eval.json``, ``summary.md``, ``best_at_k.png`` and (when there are scores)
    ``reliability.png`` into ``folder``; returns the paths written."""
    from swerm_plugin.calibration.plots import plot_best_at_k, plot_reliability

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = [
        plot_best_at_k(
            report["best_at_k"],
            out / "best_at_k.png",
            ci=report["best_at_k_ci"],
            pass_at_k=report["pass_at_k"],
            random=report["random"],
            consensus=report["consensus"],
        )
    ]
    reliability = report["calibration"].get("reliability")
    if reliability:
        curves = {name: ReliabilityCurve.from_dict(data) for name, data in reliability.items()}
        written.append(plot_reliability(curves, out / "reliability.png"))
    atomic_write_text(out / "summary.md", summary_markdown(report))
    atomic_write_json(out / "eval.json", report)
    return [*written, out / "summary.md", out / "eval.json"]
