"""Picking without a model: the selector against random, majority votes and the oracle.

Every labelled run set found is read and evaluated the way ``swerm eval`` does it (the
selector's pick over all candidates, a tie counting as the mean of the tied): the 8 SWE-bench
Lite runs in ``../shared/real/swebench_lite_runs`` and the three SWE-agent trajectory runs in
``../shared/real/sweagent/lite_3runs`` when present (also split by agent: the 5 AutoCodeRover
runs and the 3 SWE-agent runs' predictions), plus two synthetic run sets this script writes
itself in real formats. Each figure is printed with its *ratio of the way from random to the
oracle*: ``(x - random) / (oracle - random)``, 0 for a random pick, 1 for the oracle.

Then, on the real sets:

* each signal's effect: the agreement tiers alone, each prior added alone, and the default with
  each prior taken out;
* held-out figures for the *choice* of the selector: among the 256 lexicographic rules this
  family allows (agreement tiers × any subset of the priors, in order), the rule that is best on
  one agent's runs, scored on the other agent's (leave one run set out), and the rule chosen on
  4 folds of tasks, scored on the fifth (5-fold cross-validation grouped by task);
* a paired bootstrap over tasks of the selector's gain over the previous default (similarity
  votes) and over random;
* the hybrid weight (model probability + selector share): with no reward model scores at hand,
  synthetic model scores of a given AUROC are drawn for the real candidates and the best weight
  is fitted on each draw (``--seeds`` draws per AUROC).

    python benchmarks/selection.py           # about a minute on 2 cores
    python benchmarks/selection.py --quick   # fewer bootstrap resamples and score draws
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from swerm_plugin.backends.consensus import ConsensusScorer, naive_consensus_scores
from swerm_plugin.config import SwermConfig
from swerm_plugin.decisions.runs import load_candidates
from swerm_plugin.evaluation.best_of_n import consensus_pick
from swerm_plugin.evaluation.evaluate import evaluate_candidates
from swerm_plugin.model import CandidateGroup
from swerm_plugin.plugins.manager import get_hooks
from swerm_plugin.selection import DEFAULT_AGREEMENTS, DEFAULT_PRIORS, Selector
from swerm_plugin.selection.hybrid import HybridTask, fit_hybrid_weight, hybrid_shares
from swerm_plugin.selection.selector import Candidate
from swerm_plugin.testing.runs import Attempt, write_predictions_run, write_sweagent_run

REPO = Path(__file__).resolve().parents[1]
# ../shared beside the checkout (or beside the folder holding it, for a git worktree)
SHARED = next(
    (p / "shared" / "real" for p in (REPO.parent, REPO.parent.parent) if (p / "shared").is_dir()),
    REPO.parent / "shared" / "real",
)
PRIOR_FAMILY = ("submitted", "clean", "tested", "short", "small", "no_tests", "no_new_files")


@dataclass
class RunSet:
    """A labelled run set, read once: each task's candidates with a patch, and their labels."""

    name: str
    runs: list[tuple[Path, Path]]
    groups: list[CandidateGroup] = field(default_factory=list)
    candidates: list[list[Candidate]] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)

    def load(self) -> RunSet:
        config = SwermConfig()
        loaded = load_candidates(
            [r for r, _ in self.runs], config, labels=[lab for _, lab in self.runs]
        )
        hooks = get_hooks(config)
        report = evaluate_candidates(
            loaded.groups, loaded.scores, hooks, n_subsets=1, selector=loaded.selector
        )
        old = ConsensusScorer(config)
        previous = evaluate_candidates(
            loaded.groups, loaded.scores, hooks, n_subsets=1, selector=old
        )
        for group in loaded.groups:
            sub = [t for t in group.candidates if t.has_patch]
            if sub:
                self.groups.append(CandidateGroup(instance_id=group.instance_id, candidates=sub))
                self.candidates.append(Selector.candidates(self.groups[-1]))
                self.labels.append(np.array([bool(t.label) for t in sub]))
        self.figures = {
            "random": report.random,
            "naive majority": report.consensus_naive,
            "majority, ties to smaller": 100 * float(np.mean(self.majority_smaller())),
            "similarity votes (swerm 0.1)": previous.consensus,
            "selector": report.consensus,
            "oracle": report.oracle,
        }
        return self

    def majority_smaller(self) -> list[float]:
        """Naive exact-match majority, ties to the smallest patch (then the mean)."""
        hits = []
        for group, labels in zip(self.groups, self.labels, strict=True):
            votes = naive_consensus_scores([t.patch for t in group.candidates])
            size = np.array([len(t.patch) for t in group.candidates])
            best = votes == votes.max()
            best &= size == size[best].min()
            hits.append(float(labels[best].mean()))
        return hits

    def hits(self, selector: Selector) -> np.ndarray:
        """The selector's per-task hit (tie-aware) on this set."""
        selector.prepare_candidates(c for task in self.candidates for c in task)
        return np.array(
            [
                consensus_pick(selector.matrix(cands), labels)
                for cands, labels in zip(self.candidates, self.labels, strict=True)
            ]
        )

    def ratio(self, value: float) -> float:
        random, oracle = self.figures["random"], self.figures["oracle"]
        return (value - random) / (oracle - random)


def real_sets() -> list[RunSet]:
    lite = SHARED / "swebench_lite_runs"
    three = SHARED / "sweagent" / "lite_3runs"
    sets = []
    if lite.is_dir():
        runs = sorted(p for p in lite.iterdir() if (p / "preds.jsonl").is_file())
        pairs = [(p, p / "resolved.json") for p in runs]
        acr = [r for r in pairs if "acr" in r[0].name]
        sweagent = [r for r in pairs if "acr" not in r[0].name]
        sets.append(RunSet("Lite, 8 runs (preds)", pairs))
        sets.append(RunSet("Lite, 5 ACR runs", acr))
        sets.append(RunSet("Lite, 3 SWE-agent (preds)", sweagent))
    if three.is_dir():
        runs = sorted(p for p in three.iterdir() if p.is_dir())
        labelled = [(p, p / "final_report.json") for p in runs]
        sets.append(RunSet("Lite, 3 SWE-agent (traj)", labelled))
    return sets


def _fix(task: int, variant: int, *, tests: bool, scratch: bool, style: int) -> str:
    """A unified diff: the task's fix ``variant`` (0 = the right one) written in one of a few
    cosmetically different ``style``s, optionally with a test change and a scratch script."""
    value = "None" if variant == 0 else f"{variant}"
    spaced = ("", "  # empty input", " ")[style % 3]
    out = (
        f"diff --git a/pkg/mod{task}.py b/pkg/mod{task}.py\n--- a/pkg/mod{task}.py\n"
        f"+++ b/pkg/mod{task}.py\n@@ -{10 + style},2 +{10 + style},3 @@ def f():\n"
        f"     items = load()\n-    return items[0]\n+    if not items:{spaced}\n"
        f"+        return {value}\n"
    )
    if tests:
        out += (
            f"diff --git a/tests/test_mod{task}.py b/tests/test_mod{task}.py\n"
            f"--- a/tests/test_mod{task}.py\n+++ b/tests/test_mod{task}.py\n@@ -1,1 +1,2 @@\n"
            f" import pkg\n+assert pkg.f() is None  # {variant}\n"
        )
    if scratch:
        out += (
            "diff --git a/reproduce_bug.py b/reproduce_bug.py\nnew file mode 100644\n"
            "--- /dev/null\n+++ b/reproduce_bug.py\n@@ -0,0 +1 @@\n+print('bug')\n"
        )
    return out


def synthetic_attempts(n_runs: int, n_tasks: int, seed: int) -> list[dict[str, Attempt]]:
    """Runs of one made-up agent: a right fix is written the same way up to cosmetics; wrong
    fixes are one of a few shared mistakes or a one-off; wrong runs are longer, leave scratch
    files more often and hit limits sometimes."""
    rng = np.random.default_rng(seed)
    runs: list[dict[str, Attempt]] = [{} for _ in range(n_runs)]
    for task in range(n_tasks):
        rate = rng.beta(1.0, 2.0)
        for run in runs:
            ok = bool(rng.random() < rate)
            variant = 0 if ok else int(rng.choice([1, 2, 3 + len(run)], p=[0.35, 0.25, 0.4]))
            patch = _fix(
                task,
                variant,
                tests=rng.random() < 0.4,
                scratch=rng.random() < (0.2 if ok else 0.5),
                style=int(rng.integers(3)),
            )
            steps = int(rng.poisson(12 if ok else 20))
            actions = [f"cat pkg/mod{task}.py"] * steps + ["edit 11:12"]
            if rng.random() < (0.8 if ok else 0.5):
                actions.append("python -m pytest tests")
            limit = not ok and rng.random() < 0.15
            run[f"syn__task-{task}"] = Attempt(
                patch, ok, tuple(actions), "exit_cost" if limit else "submitted"
            )
    return runs


def synthetic_sets(folder: Path) -> list[RunSet]:
    preds = [
        write_predictions_run(folder / f"preds{i}", attempts)
        for i, attempts in enumerate(synthetic_attempts(8, 150, seed=1))
    ]
    trajs = [
        write_sweagent_run(folder / "traj" / f"run{i}", attempts)
        for i, attempts in enumerate(synthetic_attempts(5, 150, seed=2))
    ]
    return [RunSet("synthetic, 8 runs (preds)", preds), RunSet("synthetic, 5 runs (traj)", trajs)]


def print_baselines(sets: Sequence[RunSet]) -> None:
    names = list(sets[0].figures)
    print(f"\n{'run set':30s}" + "".join(f"{n[:22]:>24s}" for n in names))
    for s in sets:
        cells = [f"{v:6.2f} ({s.ratio(v):+.2f})" for v in s.figures.values()]
        print(f"{s.name:30s}" + "".join(f"{c:>24s}" for c in cells))
    print("each figure: % of tasks resolved by the pick (ratio of the way from random to oracle)")


def print_signal_effects(sets: Sequence[RunSet]) -> None:
    votes = Selector(priors=())
    rows: list[tuple[str, Selector]] = [
        ("same change only", Selector(agreements=("same_change",), priors=())),
        ("agreement tiers (change, files)", votes),
    ]
    rows += [(f"  + {p} alone", Selector(priors=(p,))) for p in PRIOR_FAMILY]
    rows.append(("default " + "/".join(DEFAULT_PRIORS), Selector()))
    rows += [
        (f"  default without {p}", Selector(priors=tuple(q for q in DEFAULT_PRIORS if q != p)))
        for p in DEFAULT_PRIORS
    ]
    rows.append(("  default + small", Selector(priors=(*DEFAULT_PRIORS, "small"))))
    print(f"\nsignal effects (% resolved)\n{'':34s}" + "".join(f"{s.name[:22]:>24s}" for s in sets))
    base = [100 * s.hits(votes).mean() for s in sets]
    for label, selector in rows:
        values = [100 * s.hits(selector).mean() for s in sets]
        cells = [f"{v:6.2f} ({v - b:+.2f})" for v, b in zip(values, base, strict=True)]
        print(f"{label:34s}" + "".join(f"{c:>24s}" for c in cells))
    print("(in brackets: the change against the agreement tiers alone)")


def rule_family() -> list[Selector]:
    rules = []
    for agreements in (("same_change",), DEFAULT_AGREEMENTS):
        for n in range(len(PRIOR_FAMILY) + 1):
            for priors in itertools.combinations(PRIOR_FAMILY, n):
                rules.append(Selector(agreements=agreements, priors=priors))
    return rules


def held_out(sets: Sequence[RunSet], folds: int = 5) -> None:
    """Leave one agent's run set out, and 5-fold CV grouped by task, of the rule choice."""
    family = rule_family()
    hits = {s.name: np.array([s.hits(rule) for rule in family]) for s in sets}  # (rules, tasks)
    default = next(
        i
        for i, r in enumerate(family)
        if r.priors == DEFAULT_PRIORS and r.agreements == DEFAULT_AGREEMENTS
    )
    print(f"\nheld-out (a rule family of {len(family)} lexicographic selectors)")
    for held in sets:
        train = [s for s in sets if s is not held]
        score = np.sum([hits[s.name].sum(axis=1) for s in train], axis=0)
        chosen = np.flatnonzero(score == score.max())
        test = 100 * hits[held.name][chosen].mean()
        print(
            f"  leave out {held.name:28s} rule chosen on the rest: {test:6.2f} "
            f"({held.ratio(test):+.2f}); default {100 * hits[held.name][default].mean():6.2f}; "
            f"{len(chosen)} rules tied on the rest"
        )
    tasks = sorted({g.instance_id for s in sets for g in s.groups})
    fold_of = {iid: i % folds for i, iid in enumerate(np.random.default_rng(0).permutation(tasks))}
    out = {s.name: np.zeros(len(s.groups)) for s in sets}
    for fold in range(folds):
        masks = {s.name: np.array([fold_of[g.instance_id] == fold for g in s.groups]) for s in sets}
        score = np.sum([hits[s.name][:, ~masks[s.name]].sum(axis=1) for s in sets], axis=0)
        chosen = np.flatnonzero(score == score.max())
        for s in sets:
            out[s.name][masks[s.name]] = hits[s.name][chosen][:, masks[s.name]].mean(axis=0)
    for s in sets:
        value = 100 * out[s.name].mean()
        print(
            f"  {folds}-fold CV grouped by task, {s.name:26s} {value:6.2f} ({s.ratio(value):+.2f})"
        )


def bootstrap(sets: Sequence[RunSet], resamples: int) -> None:
    rng = np.random.default_rng(0)
    print(f"\npaired bootstrap over tasks ({resamples} resamples): selector gain, 95 % interval")
    for s in sets:
        mine = s.hits(Selector())
        votes = ConsensusScorer(SwermConfig())
        old = np.array(
            [
                consensus_pick(votes.support_matrix(g), labels)
                for g, labels in zip(s.groups, s.labels, strict=True)
            ]
        )
        rand = np.array([lab.mean() for lab in s.labels])
        draws = rng.integers(0, len(mine), size=(resamples, len(mine)))
        for name, other in (("similarity votes", old), ("random", rand)):
            diff = 100 * (mine - other)[draws].mean(axis=1)
            low, high = np.quantile(diff, [0.025, 0.975])
            gain = 100 * (mine - other).mean()
            print(f"  {s.name:30s} vs {name:17s} {gain:+6.2f}  [{low:+.2f}, {high:+.2f}]")


def hybrid_default(sets: Sequence[RunSet], seeds: int) -> None:
    """Best hybrid weight against synthetic model scores of a given AUROC."""
    print(f"\nhybrid weight on synthetic model scores ({seeds} draws per AUROC; % resolved)")
    rng = np.random.default_rng(0)
    shares = {s.name: [hybrid_shares(g) for g in s.groups] for s in sets}
    base = float(np.mean(np.concatenate([lab for s in sets for lab in s.labels])))
    overall: dict[float, list[float]] = {}
    for auroc in (0.65, 0.75, 0.85):
        # Scores z ~ N(shift * label, 1) have this AUROC; p = P(resolved | z) is calibrated.
        shift = np.sqrt(2) * _probit(auroc)
        curves = []
        for _ in range(seeds):
            tasks = []
            for s in sets:
                for labels, share in zip(s.labels, shares[s.name], strict=True):
                    z = rng.normal(size=labels.size) + shift * labels
                    logit = np.log(base / (1 - base)) + shift * z - shift**2 / 2
                    tasks.append(HybridTask(1 / (1 + np.exp(-logit)), share, labels))
            curves.append(fit_hybrid_weight(tasks).accuracy)
        mean = {w: 100 * float(np.mean([c[w] for c in curves])) for w in curves[0]}
        for w, value in mean.items():
            overall.setdefault(w, []).append(value)
        best = max(mean, key=lambda w: mean[w])
        print(
            f"  AUROC {auroc:.2f}: model alone {mean[0.0]:.2f}, selector alone {mean[1.0]:.2f}, "
            f"w=0.3 {mean[0.3]:.2f}, best w={best:.2f} {mean[best]:.2f}; "
            + " ".join(f"{w:.1f}:{v:.2f}" for w, v in mean.items() if round(w * 20) % 2 == 0)
        )
    average = {w: float(np.mean(v)) for w, v in overall.items()}
    best = max(average, key=lambda w: average[w])
    print(
        f"  mean over the three: best w={best:.2f} {average[best]:.2f} "
        f"(w=0.3 {average[0.3]:.2f}, model alone {average[0.0]:.2f})"
    )


def _probit(p: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(p))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer resamples and score draws")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        real = [s.load() for s in real_sets()]
        synthetic = [s.load() for s in synthetic_sets(Path(tmp))]
    if not real:
        print(f"no shared runs at {SHARED}: synthetic run sets only")
    print_baselines(real + synthetic)
    if real:
        print_signal_effects(real)
        agents = [s for s in real if "ACR" in s.name or "traj" in s.name]
        held_out(agents)
        bootstrap(real, 200 if args.quick else 2000)
        hybrid_default(agents, 5 if args.quick else 40)


if __name__ == "__main__":
    main()
