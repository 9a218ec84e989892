"""``README.md``: the approach, the leaderboard's checklist answered from the data, and the
``swerm eval`` figures when labels were given.

Only the pass@1 item can be answered from the data: several attempts at an instance make a
submission not pass@1, whatever picked among them, and the README says so in those words. The
other three items are about the whole system (the agent too), which swerm cannot see: they stay
unchecked with a ``TODO(swerm)`` line for a person to answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from swerm_plugin.submission.layout import (
    CHECKLIST,
    LOGS,
    NOT_PASS_AT_1,
    PASS_AT_1_ITEM,
    SPLIT_SIZES,
    TODO,
)
from swerm_plugin.submission.metadata import attempts_tag

if TYPE_CHECKING:
    from swerm_plugin.evaluation.evaluate import EvalReport
    from swerm_plugin.submission.record import SubmissionFacts

_BOX = re.compile(r"^\s*[-*]\s*\[([ xX])\]\s*(.+?)\s*$", re.MULTILINE)


def checklist_boxes(text: str) -> dict[str, bool]:
    """The checklist items a README has, each with whether its box is ticked."""
    found: dict[str, bool] = {}
    for match in _BOX.finditer(text):
        item = match.group(2)
        if item in CHECKLIST:
            found[item] = match.group(1).lower() == "x"
    return found


def _attempts_text(attempts: Sequence[int]) -> str:
    low, high = min(attempts, default=0), max(attempts, default=0)
    if low == high:
        return f"{high} attempt{'s' if high != 1 else ''} at every instance"
    mean = sum(attempts) / len(attempts)
    return f"{low} to {high} attempts per instance (mean {mean:.2f})"


def _approach(facts: SubmissionFacts) -> list[str]:
    agent = "; ".join(facts.frameworks) or "unknown (the runs were given as predictions only)"
    models = ", ".join(facts.agent_models) or f"{TODO}: the agent's model(s)"
    verifier = "; ".join(facts.verifiers) or "none recorded (no candidate has a usable score)"
    selector = facts.selector
    if "plugins" in selector:
        ranked = (
            f"the `swerm_select` hook ({', '.join(selector['plugins'])}), patch consensus "
            f"`{selector['consensus']}`; then `swerm_decide` with threshold "
            f"{selector['threshold']} and on_reject `{selector['on_reject']}`"
        )
    else:
        ranked = f"as recorded in the decisions log of an earlier `swerm rerank` ({selector})"
    done = {"accept": "accepted", "reject": "rejected", "retry": "sent back"}
    actions = ", ".join(f"{n} {done.get(a, a)}" for a, n in sorted(facts.actions.items()))
    lines = [
        f"- **Agent**: {agent}; model(s): {models}.",
        f"- **Attempts**: {facts.n_runs} run(s), {_attempts_text(facts.attempts)}, "
        f"{facts.n_instances} instances.",
        f"- **Verifier** (execution-free, no test is run): {verifier}; scores by {facts.scorer}.",
        f"- **Selection**: {ranked}.",
        f"- **Decisions**: {actions}; {facts.abstained} empty patch(es) submitted (abstentions).",
        "- **Trajectories**: `trajs/<instance_id>/` holds the submitted attempt as "
        "`<instance_id>.<ext>` in its framework's own format, every other attempt under "
        "`rank<r>.<run>.attempt<k>/`, and `decision.json`: swerm's record of every attempt's "
        "score, the calibrator, the selector and why the submitted attempt was chosen.",
    ]
    if facts.untraced:
        lines.append(
            f"- **Incomplete trajectories**: {len(facts.untraced)} instance(s) have attempts "
            "given as predictions only, with no reasoning trace (e.g. "
            f"{', '.join(facts.untraced[:3])})."
        )
    return lines


def _logs_line(facts: SubmissionFacts) -> str:
    if facts.logs:
        return (
            f"- **Logs**: `{LOGS}/<instance_id>/` from a SWE-bench harness run of all_preds.jsonl."
        )
    return (
        f"- **Logs**: {TODO}: not included; evaluate all_preds.jsonl with the SWE-bench harness "
        f"and put its per-instance log folders in `{LOGS}/<instance_id>/`."
    )


def _checklist(facts: SubmissionFacts) -> list[str]:
    lines = [f"- [{'x' if facts.pass_at_1 else ' '}] {PASS_AT_1_ITEM}"]
    lines += [f"- [ ] {item}" for item in CHECKLIST[1:]]
    lines.append("")
    if facts.pass_at_1:
        lines.append(
            "This is a pass@1 submission: every instance was attempted once, and swerm only "
            f'scored that attempt (`tags.system.attempts: "{attempts_tag(facts)}"`).'
        )
    else:
        lines.append(
            f"**This is {NOT_PASS_AT_1}.** Each instance was attempted up to "
            f"{facts.max_attempts} times, and swerm's verifier chose which attempt to submit "
            "without running any test, `PASS_TO_PASS` or `FAIL_TO_PASS`: Best@k in the "
            f'checklist\'s terms, so `tags.system.attempts` is `"{attempts_tag(facts)}"` in '
            "metadata.yaml. Every attempt is in `trajs/`."
        )
    lines += [
        "",
        f"{TODO}: answer the other three items for the whole system, agent included, and tick "
        "the boxes that are true. swerm's part used no test, no `hints` field and no web access; "
        "harness labels, if any, were used only for the figures below.",
    ]
    return lines


def _figures(report: EvalReport, facts: SubmissionFacts) -> list[str]:
    rows = [("random pick (best@1)", report.random)]
    rows += [(f"best@{k}", value) for k, value in sorted(report.best_at_k.items()) if k > 1]
    rows += [(f"oracle (pass@{report.max_candidates})", report.oracle)]
    rows += [("patch consensus", report.consensus)]
    lines = ["| selection | % resolved |", "|---|---:|"]
    lines += [f"| {label} | {value:.2f} |" for label, value in rows]
    if facts.resolved is not None:
        share = 100.0 * facts.resolved / max(report.n_tasks, 1)
        lines.append(f"| this submission ({facts.resolved} resolved) | {share:.2f} |")
    size = SPLIT_SIZES.get(facts.split)
    lines += [
        "",
        "Caveat: these figures use resolved labels from a SWE-bench harness run of every attempt "
        f"({', '.join(facts.labels)}). The labels were used only to compute them: the selection "
        "saw the verifier's scores, never a label or a test result. Percentages are over the "
        f"{report.n_tasks} instances with a candidate"
        + (f"; the leaderboard divides by all {size} instances of the split." if size else "."),
    ]
    return lines


def render_readme(facts: SubmissionFacts, report: EvalReport | None = None) -> str:
    """The README's Markdown."""
    from swerm_plugin import __version__

    parts = [
        f"# {facts.name}",
        "",
        f"> Written by swerm {__version__}. Do what each to-do line below asks and delete its "
        "marker, then run `swerm submission --check <this folder>`.",
        "",
        f"{TODO}: describe the system in a paragraph and link its technical report (checklist.md "
        "requires one; also `info.report` in metadata.yaml).",
        "",
        f"{TODO}: the names of the people who produced this submission, and the first author's "
        "website or LinkedIn profile.",
        "",
        "## Results",
        "",
        f"{TODO}: paste the output of `python -m analysis.get_results "
        f"evaluation/{facts.split}/{facts.folder}` here.",
        "",
        "## Approach",
        "",
        *_approach(facts),
        _logs_line(facts),
        "",
        "## Checklist",
        "",
        *_checklist(facts),
    ]
    if report is not None:
        parts += ["", "## Selection figures (`swerm eval`)", "", *_figures(report, facts)]
    return "\n".join(parts) + "\n"
