"""Figures for ``swerm report``: a reliability diagram and a best@k curve.

matplotlib is imported only here, inside the functions, with the non-interactive Agg backend
(the ``plots`` extra installs it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from swerm_plugin.calibration.metrics import ReliabilityCurve


class PlotsUnavailable(RuntimeError):
    """matplotlib is not installed."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise PlotsUnavailable("plots need matplotlib: pip install 'swerm-plugin[plots]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    from swerm_plugin.io import atomic_open

    with atomic_open(path) as fh:
        fig.savefig(fh, format="png", dpi=120, bbox_inches="tight")


def plot_reliability(curves: Mapping[str, ReliabilityCurve], path: str | Path) -> Path:
    """A reliability diagram: per bin, the resolve rate against the mean probability, one line
    per named curve (e.g. before / after calibration), with bin counts underneath."""
    plt = _pyplot()
    fig, (ax, counts_ax) = plt.subplots(
        2, 1, figsize=(5.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    width = 1.0 / max(len(curve.count) for curve in curves.values())
    for offset, (name, curve) in enumerate(curves.items()):
        filled = curve.count > 0
        ax.plot(
            curve.mean_predicted[filled],
            curve.fraction_positive[filled],
            marker="o",
            label=f"{name} (ECE {curve.ece:.3f})",
        )
        centers = (curve.lower + curve.upper) / 2
        shift = (offset - (len(curves) - 1) / 2) * width / len(curves)
        counts_ax.bar(centers + shift, curve.count, width=width / len(curves), label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("fraction resolved")
    ax.set_title("Reliability of P(resolved)")
    ax.legend(loc="upper left")
    counts_ax.set_xlabel("predicted probability")
    counts_ax.set_ylabel("candidates")
    target = Path(path)
    _save(fig, target)
    plt.close(fig)
    return target


def plot_best_at_k(
    best_at_k: Mapping[int, float],
    path: str | Path,
    *,
    ci: Mapping[int, Sequence[float]] | None = None,
    pass_at_k: Mapping[int, float] | None = None,
    random: float | None = None,
    consensus: float | None = None,
) -> Path:
    """best@k against k (percent), with its interval band, pass@k and the baselines."""
    plt = _pyplot()
    ks = sorted(best_at_k)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ks, [best_at_k[k] for k in ks], marker="o", label="best@k (verifier pick)")
    if ci:
        ax.fill_between(
            ks, [ci[k][0] for k in ks], [ci[k][1] for k in ks], alpha=0.2, label="95% of subsets"
        )
    if pass_at_k:
        ax.plot(ks, [pass_at_k[k] for k in ks], linestyle=":", marker=".", label="pass@k (oracle)")
    if random is not None:
        ax.axhline(random, color="grey", linestyle="--", label="random pick")
    if consensus is not None:
        ax.axhline(consensus, color="tab:green", linestyle="-.", label="consensus (all k)")
    ax.set_xlabel("k (candidates per task)")
    ax.set_ylabel("% resolved")
    ax.set_xticks(ks)
    ax.set_title("Best-of-k selection")
    ax.legend(loc="lower right")
    target = Path(path)
    _save(fig, target)
    plt.close(fig)
    return target
