"""The distillation report: on the held-out split, how well each verifier ranks and is
calibrated (AUROC, ECE, Brier, best@k), and how closely each student agrees with the teacher.

Verifiers compared: the teacher (its P(YES) after the transfer temperature), the FIRST student
and the student trained on labels alone with the same budget (each after its own validation
temperature, and before it), and the untrained student (agreement only: what distillation
added).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from swerm_plugin.distill.data import Example


def _clean(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def label_metrics(p: np.ndarray, labels: np.ndarray) -> dict[str, float | None]:
    """AUROC, ECE (15 equal-width bins), Brier and log-loss of ``p`` against 0/1 ``labels``."""
    from swerm_plugin.calibration.metrics import (
        auroc,
        brier_score,
        expected_calibration_error,
        log_loss,
    )

    return {
        "auroc": _clean(auroc(p, labels)),
        "ece": expected_calibration_error(p, labels),
        "brier": brier_score(p, labels),
        "log_loss": log_loss(p, labels),
    }


def agreement(p: np.ndarray, teacher: np.ndarray) -> dict[str, float | None]:
    """Spearman rank correlation and mean absolute difference with the teacher's P(YES)."""
    from scipy.stats import spearmanr

    if p.size < 2 or np.ptp(p) == 0 or np.ptp(teacher) == 0:
        rho = float("nan")
    else:
        rho = float(spearmanr(p, teacher).statistic)
    return {"spearman": _clean(rho), "mean_abs_diff": float(np.mean(np.abs(p - teacher)))}


def best_at_k(examples: Sequence[Example], p: np.ndarray) -> dict[str, float] | None:
    """best@k (percent resolved when picking the top-scored of k random candidates, exact
    average over k-subsets) for k = 1..N over the labelled tasks, or ``None`` when no task has
    two labelled candidates."""
    from swerm_plugin.evaluation.best_of_n import RankedTasks
    from swerm_plugin.evaluation.best_of_n import best_at_k as exact_best_at_k

    by_task: dict[str, list[tuple[float, bool]]] = {}
    for example, value in zip(examples, p, strict=True):
        if example.label is not None:
            by_task.setdefault(example.trajectory.instance_id, []).append(
                (float(value), bool(example.label))
            )
    if not by_task or max(len(c) for c in by_task.values()) < 2:
        return None
    ranked = [
        [label for _, label in sorted(candidates, key=lambda c: -c[0])]
        for candidates in by_task.values()
    ]
    tasks = RankedTasks.from_lists(ranked)
    return {
        str(k): round(100.0 * exact_best_at_k(tasks, k), 2)
        for k in range(1, tasks.max_candidates + 1)
    }


def verifier_report(
    examples: Sequence[Example], p: np.ndarray, teacher: np.ndarray | None
) -> dict[str, Any]:
    """Every figure of one verifier on the held-out ``examples``."""
    labelled = np.array([e.label is not None for e in examples])
    out: dict[str, Any] = {"n": int(p.size), "n_labelled": int(labelled.sum())}
    if labelled.any():
        labels = np.array([bool(e.label) for e in examples])[labelled]
        out.update(label_metrics(p[labelled], labels))
        out["best_at_k"] = best_at_k(examples, p)
    if teacher is not None:
        out["agreement"] = agreement(p, teacher)
    return out


#: Paired bootstrap resamples behind ``temperature_effect``; fixed seed: the card is reproducible.
BOOTSTRAP_RESAMPLES = 1000


def temperature_effect(after: np.ndarray, before: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """What the temperature did to the ECE on these labelled items, with a 90 % paired
    bootstrap interval: on a few hundred items the ECE moves by several points from sampling
    alone, so a change whose interval holds 0 is no change the split can tell."""
    from swerm_plugin.calibration.metrics import bootstrap_change, expected_calibration_error

    change = bootstrap_change(
        expected_calibration_error,
        after,
        before,
        labels,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence=0.9,
    )
    return {
        "ece_change": change.estimate,
        "interval_90": [change.low, change.high],
        "resamples": BOOTSTRAP_RESAMPLES,
    }


def held_out_report(
    examples: Sequence[Example],
    teacher: np.ndarray,
    students: Mapping[str, np.ndarray],
    before_temperature: Mapping[str, np.ndarray],
) -> dict[str, Any]:
    """The ``metrics`` of the model card: one entry per verifier (see the module docs)."""
    report: dict[str, Any] = {
        "split": "test",
        "n": len(examples),
        "n_tasks": len({e.trajectory.instance_id for e in examples}),
        "teacher": verifier_report(examples, teacher, None),
    }
    for name, p in students.items():
        report[name] = verifier_report(examples, p, teacher)
        if name in before_temperature:
            before = verifier_report(examples, before_temperature[name], teacher)
            report[name]["before_temperature"] = {
                key: before[key]
                for key in ("ece", "brier", "log_loss", "agreement")
                if key in before
            }
            labelled = np.array([e.label is not None for e in examples])
            if labelled.any():
                labels = np.array([bool(e.label) for e in examples])[labelled]
                report[name]["temperature_effect"] = temperature_effect(
                    p[labelled], before_temperature[name][labelled], labels
                )
    return report


def summary_rows(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per verifier for a table: name and its headline figures."""
    rows = []
    for name in ("teacher", "first", "labels_only", "untrained"):
        entry = metrics.get(name)
        if not isinstance(entry, dict):
            continue
        agree = entry.get("agreement") or {}
        best = entry.get("best_at_k") or {}
        rows.append(
            {
                "verifier": name,
                "auroc": entry.get("auroc"),
                "ece": entry.get("ece"),
                "brier": entry.get("brier"),
                "best_at_max_k": best.get(max(best, key=int)) if best else None,
                "spearman": agree.get("spearman"),
                "mean_abs_diff": agree.get("mean_abs_diff"),
            }
        )
    return rows
