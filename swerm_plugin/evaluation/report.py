"""``swerm report``: an :class:`~swerm_plugin.evaluation.evaluate.EvalReport` as figures (a
reliability diagram, a best@k curve) and a Markdown summary; the same tables as ``swerm eval``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swerm_plugin.calibration.metrics import ReliabilityCurve
from swerm_plugin.evaluation.evaluate import EvalReport
from swerm_plugin.jsonl import atomic_write_json, atomic_write_text

METRICS = ("auroc", "ece", "ece_equal_mass", "brier", "log_loss", "accuracy")


def format_cell(value: Any) -> str:
    """A metric as table text: "–" when absent, "n/a" for NaN, floats to three places."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.3f}"
    return str(value)


@dataclass(frozen=True)
class TextTable:
    """A table as text cells, rendered by the terminal (rich) or as Markdown alike."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""  # a sentence under the table (why a column is empty)
    labelled_rows: bool = True  # the first column names the row; the others are numbers


def report_tables(report: EvalReport) -> list[TextTable]:
    """The best@k table, the baselines and (with model scores) the calibration metrics."""
    estimated = set(report.best_at_k_estimated)
    best = TextTable(
        f"best-of-N over {report.n_tasks} tasks (scorer: {report.scorer})",
        ("k", "best@k %", "95% of subsets", "pass@k (oracle) %"),
        tuple(
            (
                str(k),
                f"~{value:.2f}" if k in estimated else f"{value:.2f}",
                "{:.2f}–{:.2f}".format(*report.best_at_k_ci[k]),
                f"{report.pass_at_k[k]:.2f}",
            )
            for k, value in sorted(report.best_at_k.items())
        ),
        note=(
            f"~ Monte-Carlo estimate: the mean over {report.n_subsets} random subsets per k; "
            "the other best@k figures are exact averages over every subset."
            if estimated
            else ""
        ),
    )
    selector = report.selector.get("name", "consensus")
    baselines = TextTable(
        "baselines (% resolved)",
        ("random", f"consensus ({selector})", "naive majority", "oracle"),
        (
            tuple(
                f"{value:.2f}"
                for value in (
                    report.random,
                    report.consensus,
                    report.consensus_naive,
                    report.oracle,
                )
            ),
        ),
        labelled_rows=False,
    )
    tables = [best, baselines]
    calibration = report.calibration
    if "before" in calibration:
        after = calibration.get("after", {})
        method = calibration.get("after_method")
        skipped = calibration.get("after_skipped", "")
        tables.append(
            TextTable(
                f"calibration over {calibration['n']} scored candidates",
                ("metric", "before", f"after ({method})" if method else "after"),
                tuple(
                    (m, format_cell(calibration["before"][m]), format_cell(after.get(m)))
                    for m in METRICS
                ),
                note=f"after: not computed, {skipped}" if skipped else "",
            )
        )
    return tables


def markdown_table(table: TextTable) -> list[str]:
    numeric = ["---" if i == 0 else "---:" for i in range(len(table.columns))]
    return [
        f"**{table.title}**",
        "",
        "| " + " | ".join(table.columns) + " |",
        "|" + "|".join(numeric) + "|",
        *("| " + " | ".join(row) + " |" for row in table.rows),
        "",
        *([table.note, ""] if table.note else []),
    ]


def summary_markdown(report: EvalReport) -> str:
    """A Markdown page with the same tables as ``swerm eval``."""
    lines = [
        "# swerm evaluation",
        "",
        f"{report.n_tasks} tasks, {report.n_candidates} candidate patches "
        f"(up to {report.max_candidates} per task), scored by {report.scorer}.",
        "",
    ]
    for table in report_tables(report):
        lines += markdown_table(table)
    return "\n".join(lines)


def plot_best_at_k(
    best_at_k: Mapping[int, float],
    path: str | Path,
    *,
    ci: Mapping[int, Sequence[float]] | None = None,
    pass_at_k: Mapping[int, float] | None = None,
    random: float | None = None,
    consensus: float | None = None,
    scorer: str = "verifier",
) -> Path:
    """best@k against k (percent), with its interval band, pass@k and the baselines; ``k`` are
    ints, so the axis is in numeric order."""
    from swerm_plugin.calibration.plots import pyplot, save_png

    plt = pyplot()
    ks = sorted(best_at_k)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ks, [best_at_k[k] for k in ks], marker="o", label=f"best@k ({scorer})")
    if ci:
        ax.fill_between(
            ks, [ci[k][0] for k in ks], [ci[k][1] for k in ks], alpha=0.2, label="95% of subsets"
        )
    if pass_at_k:
        ax.plot(ks, [pass_at_k[k] for k in ks], linestyle=":", marker=".", label="pass@k (oracle)")
    if random is not None:
        ax.axhline(random, color="grey", linestyle="--", label="random pick")
    if consensus is not None:
        ax.axhline(consensus, color="tab:green", linestyle="-.", label="no-model pick (all k)")
    ax.set_xlabel("k (candidates per task)")
    ax.set_ylabel("% resolved")
    ax.set_xticks(ks)
    ax.set_title("Best-of-k selection")
    # beside the axes, never on them: no point or band is hidden behind the legend
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small")
    target = Path(path)
    save_png(fig, target)
    plt.close(fig)
    return target


def curve_label(report: EvalReport) -> str:
    """Who picked along the best@k curve: the selector without a model, or model scores."""
    if report.best_at_k_estimated:
        return f"no-model selector: {report.scorer}"
    return f"model scores: {report.scorer}"


def write_report(report: EvalReport, folder: str | Path) -> list[Path]:
    """Write ``eval.json``, ``summary.md``, ``best_at_k.png`` and (when there are scores)
    ``reliability.png`` into ``folder``; returns the paths written."""
    from swerm_plugin.calibration.plots import plot_reliability

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = [
        plot_best_at_k(
            report.best_at_k,
            out / "best_at_k.png",
            ci=report.best_at_k_ci,
            pass_at_k=report.pass_at_k,
            random=report.random,
            consensus=report.consensus,
            scorer=curve_label(report),
        )
    ]
    reliability = report.calibration.get("reliability")
    if reliability:
        curves = {name: ReliabilityCurve.from_dict(data) for name, data in reliability.items()}
        written.append(plot_reliability(curves, out / "reliability.png"))
    atomic_write_text(out / "summary.md", summary_markdown(report))
    atomic_write_json(out / "eval.json", report.to_json())
    return [*written, out / "summary.md", out / "eval.json"]
