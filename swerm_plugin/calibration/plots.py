"""The reliability diagram, and the matplotlib set-up every swerm figure shares.

matplotlib is imported only inside these functions, with the non-interactive Agg backend (the
``plots`` extra installs it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swerm_plugin.calibration.metrics import ReliabilityCurve
from swerm_plugin.errors import PlotsUnavailable


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or :class:`PlotsUnavailable`."""
    try:
        import matplotlib
    except ImportError:
        raise PlotsUnavailable("plots need matplotlib: pip install 'swerm-plugin[plots]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path) -> None:
    """Write ``fig`` as a PNG, atomically."""
    from swerm_plugin.jsonl import atomic_open

    with atomic_open(path) as fh:
        fig.savefig(fh, format="png", dpi=120, bbox_inches="tight")


def plot_reliability(curves: Mapping[str, ReliabilityCurve], path: str | Path) -> Path:
    """A reliability diagram: per bin, the resolve rate against the mean probability, one line
    per named curve (e.g. before / after calibration), with bin counts underneath."""
    plt = pyplot()
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
    save_png(fig, target)
    plt.close(fig)
    return target
