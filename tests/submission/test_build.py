"""``swerm submission`` on real-format runs: every instance present, ``all_preds.jsonl`` equal to
``swerm rerank``'s output, trajectories byte-identical to the inputs, an honest checklist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from swerm_plugin.submission.layout import CHECKLIST, NOT_PASS_AT_1, PASS_AT_1_ITEM
from swerm_plugin.testing import run_cli

from ..readers.conftest import sweagent_v1
from .conftest import IIDS, NAME, PREFERRED, Workspace, patch_for, write_harness_logs

FORMATS = ("mini", "sweagent", "openhands")


def _original_bytes(run: Path, fmt: str, iid: str) -> bytes:
    """What the run holds for one instance, as the framework wrote it."""
    if fmt == "openhands":
        lines = (run / "output.jsonl").read_bytes().splitlines(keepends=True)
        return next(line for line in lines if json.loads(line)["instance_id"] == iid)
    suffix = ".traj.json" if fmt == "mini" else ".traj"
    return (run / iid / f"{iid}{suffix}").read_bytes()


def _suffix(fmt: str) -> str:
    return {"mini": ".traj.json", "sweagent": ".traj", "openhands": ".jsonl"}[fmt]


@pytest.mark.parametrize("fmt", FORMATS)
def test_folder_from_two_runs(workspace: Workspace, fmt: str) -> None:
    runs = workspace.add_runs(fmt)
    reranked, preds = workspace.rerank()
    assert reranked.exit_code == 0, reranked.output
    result = workspace.submit()
    assert result.exit_code == 0, result.output
    folder = workspace.folder
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "all_preds.jsonl",
        "metadata.yaml",
        "trajs",
    ]
    assert (folder / "all_preds.jsonl").read_bytes() == preds.read_bytes()
    predicted = [json.loads(line) for line in preds.read_text().splitlines()]
    assert [p["instance_id"] for p in predicted] == list(IIDS)
    for iid in IIDS:
        chosen_run = next(r for r in runs if r.name == PREFERRED[iid])
        other_run = next(r for r in runs if r.name != PREFERRED[iid])
        trajs = folder / "trajs" / iid
        chosen = trajs / f"{iid}{_suffix(fmt)}"
        assert chosen.read_bytes() == _original_bytes(chosen_run, fmt, iid)
        (other,) = [p for p in trajs.rglob(f"{iid}{_suffix(fmt)}") if p.parent != trajs]
        assert other.parent.name.startswith(f"rank1.{other_run.name}")
        assert other.read_bytes() == _original_bytes(other_run, fmt, iid)
        decision = json.loads((trajs / "decision.json").read_text())
        assert decision["chosen_file"] == chosen.name
        assert decision["n_attempts"] == 2
        assert decision["labels_used_for_selection"] is False
        assert [c["rank"] for c in decision["candidates"]] == [0, 1]
        assert decision["candidates"][0]["raw"] == 0.9
        assert decision["candidates"][0]["run_id"].endswith(PREFERRED[iid])
        assert "ranked first of 2 attempts" in decision["why_chosen"]
        assert "P(resolved) = 0.900" in decision["why_chosen"]
        assert all("source_path" not in c for c in decision["candidates"])
        assert decision["candidates"][1]["file"] == other.relative_to(trajs).as_posix()


@pytest.mark.parametrize("fmt", FORMATS)
def test_several_attempts_are_not_pass_at_1(workspace: Workspace, fmt: str) -> None:
    workspace.add_runs(fmt)
    assert workspace.submit().exit_code == 0
    readme = (workspace.folder / "README.md").read_text()
    assert f"- [ ] {PASS_AT_1_ITEM}" in readme
    assert f"- [x] {PASS_AT_1_ITEM}" not in readme
    assert f"This is {NOT_PASS_AT_1}" in readme
    for item in CHECKLIST[1:]:
        assert f"- [ ] {item}" in readme
    metadata = yaml.safe_load((workspace.folder / "metadata.yaml").read_text())
    assert metadata["tags"]["system"]["attempts"] == "2+"
    assert metadata["tags"]["checked"] is False
    assert "test-verifier" in metadata["tags"]["model"]
    assert "test-verifier through the test backend" in readme


def test_one_run_is_pass_at_1(workspace: Workspace) -> None:
    workspace.add_runs("mini", names=("run1",))
    result = workspace.submit()
    assert result.exit_code == 0, result.output
    readme = (workspace.folder / "README.md").read_text()
    assert f"- [x] {PASS_AT_1_ITEM}" in readme
    assert "This is a pass@1 submission" in readme
    assert NOT_PASS_AT_1 not in readme
    metadata = yaml.safe_load((workspace.folder / "metadata.yaml").read_text())
    assert metadata["tags"]["system"]["attempts"] == "1"
    assert metadata["tags"]["model"] == ["anthropic/claude-sonnet-4", "test-verifier"]
    assert "mini-swe-agent/1.1, version 2.4.6" in readme


def test_rerank_output_is_used_as_it_is(workspace: Workspace) -> None:
    workspace.add_runs("sweagent")
    _, preds = workspace.rerank()
    result = workspace.submit("--rerank", preds, scores=False)
    assert result.exit_code == 0, result.output
    assert (workspace.folder / "all_preds.jsonl").read_bytes() == preds.read_bytes()
    decision = json.loads((workspace.folder / "trajs" / IIDS[0] / "decision.json").read_text())
    assert decision["candidates"][0]["raw"] == 0.9
    assert decision["selector"] == {"from_decisions_log": "preds.jsonl.decisions.jsonl"}


def test_rerank_output_of_other_runs_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    workspace.add_runs("mini")
    _, preds = workspace.rerank()
    workspace.runs = workspace.runs[::-1]  # run ids no longer line up with the log
    (workspace.runs[0] / IIDS[0] / f"{IIDS[0]}.traj.json").write_text(
        (workspace.runs[1] / IIDS[0] / f"{IIDS[0]}.traj.json").read_text().replace("Edit", "Ed")
    )
    result = workspace.submit("--rerank", preds, scores=False)
    assert result.exit_code == 1
    assert "the decisions log names a candidate these runs do not hold" in result.stderr
    assert not workspace.folder.exists()


def test_predictions_only_runs_are_partial(workspace: Workspace) -> None:
    workspace.add_runs("predictions")
    result = workspace.submit()
    assert result.exit_code == 3, result.output
    assert "trajs/ is incomplete" in result.stderr
    for iid in IIDS:
        assert f"{iid}: no reasoning trace for 2 of 2 attempts" in result.stderr
        record = json.loads((workspace.folder / "trajs" / iid / f"{iid}.jsonl").read_text())
        assert record["model_patch"] == patch_for(PREFERRED[iid], iid)
    assert "no_reasoning_trace" in run_cli("submission", "--check", workspace.folder).stdout


def test_logs_are_copied_and_checked(workspace: Workspace) -> None:
    workspace.add_runs("mini")
    _, preds = workspace.rerank()
    logs = write_harness_logs(workspace.root / "harness", preds, skip=[IIDS[2]])
    result = workspace.submit("--logs", logs, "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert report["skipped"] == [
        {"instance_id": IIDS[2], "reason": f"logs: no log folder under {logs}"}
    ]
    copied = workspace.folder / "logs" / IIDS[0]
    assert sorted(p.name for p in copied.iterdir()) == [
        "eval.sh",
        "patch.diff",
        "report.json",
        "run_instance.log",
        "test_output.txt",
    ]
    assert (copied / "patch.diff").read_text() == patch_for(PREFERRED[IIDS[0]], IIDS[0])


def test_logs_of_another_prediction_are_not_copied(workspace: Workspace) -> None:
    workspace.add_runs("mini")
    _, preds = workspace.rerank()
    logs = write_harness_logs(workspace.root / "harness", preds)
    (logs / NAME / IIDS[1] / "patch.diff").write_text(patch_for("elsewhere", IIDS[1]))
    result = workspace.submit("--logs", logs)
    assert result.exit_code == 3
    assert f"{IIDS[1]}: logs: its log under {logs} evaluated another patch" in result.stderr
    assert not (workspace.folder / "logs" / IIDS[1]).exists()


def test_labels_give_the_eval_figures_and_change_nothing_else(workspace: Workspace) -> None:
    from .conftest import write_resolved

    runs = workspace.add_runs("mini")
    _, preds = workspace.rerank()
    labels = [
        write_resolved(workspace.root / "run1.json", [IIDS[1], IIDS[2]]),  # run1 wins only t2
        write_resolved(workspace.root / "run2.json", [IIDS[0]]),
    ]
    result = workspace.submit("--labels", labels[0], "--labels", labels[1])
    assert result.exit_code == 0, result.output
    assert (workspace.folder / "all_preds.jsonl").read_bytes() == preds.read_bytes()
    readme = (workspace.folder / "README.md").read_text()
    # chosen: t1 run2 (resolved), t2 run1 (resolved), t3 run2 (not): 2 of 3
    assert "| this submission (2 resolved) | 66.67 |" in readme
    assert "| oracle (pass@2) | 100.00 |" in readme
    assert "labels from a SWE-bench harness run" in readme
    assert "The labels were used only to compute them" in readme
    assert len(runs) == 2


def test_swebench_loader_accepts_all_preds(workspace: Workspace) -> None:
    utils = pytest.importorskip("swebench.harness.utils", reason="install the swebench extra")
    workspace.add_runs("openhands")
    assert workspace.submit().exit_code == 0
    path = workspace.folder / "all_preds.jsonl"
    loaded = utils.get_predictions_from_file(str(path), "SWE-bench/SWE-bench_Verified", "test")
    assert [p["instance_id"] for p in loaded] == list(IIDS)
    assert {p["model_name_or_path"] for p in loaded} == {NAME}
    assert all(
        p["model_patch"] == patch_for(PREFERRED[p["instance_id"]], p["instance_id"]) for p in loaded
    )


def test_retry_agent_file_holds_every_attempt(workspace: Workspace) -> None:
    """SWE-agent's retry agent: one ``.traj`` with every attempt of one instance."""
    from .conftest import _dump, write_scores

    iid = IIDS[0]
    attempts = []
    for run in ("first", "second"):
        document = sweagent_v1(iid)
        document["info"]["submission"] = patch_for(run, iid)
        attempts.append(document)
    path = _dump(
        workspace.root / "retry" / iid / f"{iid}.traj",
        {"attempts": attempts, "info": {"best_attempt_idx": 1}},
    )
    workspace.runs = [workspace.root / "retry"]
    workspace.scores = write_scores(workspace.root / "scores.jsonl", workspace.runs, {})
    result = workspace.submit()
    assert result.exit_code == 0, result.output
    trajs = workspace.folder / "trajs" / iid
    assert (trajs / f"{iid}.traj").read_bytes() == path.read_bytes()
    assert sorted(p.name for p in trajs.iterdir()) == [f"{iid}.traj", "decision.json"]
    decision = json.loads((trajs / "decision.json").read_text())
    assert decision["n_attempts"] == 2
    second = decision["candidates"][1]
    assert second["file"] == f"{iid}.traj"
    assert (
        second["extraction"]
        == f"attempt {second['attempt']} inside {iid}.traj (the same source file)"
    )
    assert NOT_PASS_AT_1 in (workspace.folder / "README.md").read_text()
    assert run_cli("submission", "--check", workspace.folder, "--json").exit_code == 1  # to-dos


def test_predictions_json_records_are_reserialized(workspace: Workspace) -> None:
    records = {
        iid: {"instance_id": iid, "model_name_or_path": "m", "model_patch": patch_for("r", iid)}
        for iid in IIDS
    }
    path = workspace.root / "r" / "preds.json"
    path.parent.mkdir()
    path.write_text(json.dumps(records))
    workspace.runs = [path.parent]
    result = workspace.submit(scores=False)
    assert result.exit_code == 3
    copy = workspace.folder / "trajs" / IIDS[1] / f"{IIDS[1]}.json"
    assert json.loads(copy.read_text()) == records[IIDS[1]]
    decision = json.loads((copy.parent / "decision.json").read_text())
    assert decision["candidates"][0]["extraction"] == (
        f"record '{IIDS[1]}' of preds.json, re-serialized as JSON"
    )
    assert decision["candidates"][0]["reasoning_trace"] is False


def test_usage_errors(workspace: Workspace) -> None:
    workspace.add_runs("mini")
    no_name = run_cli("submission", *workspace.runs, "--split", "verified", "-o", workspace.root)
    assert no_name.exit_code == 2
    assert "missing --name" in no_name.stderr
    bad_date = workspace.submit("--date", "2025-01-31")
    assert bad_date.exit_code == 1
    assert "--date '2025-01-31' is not a date written YYYYMMDD" in bad_date.stderr
    rerank_and_scores = workspace.submit("--rerank", workspace.scores)
    assert rerank_and_scores.exit_code == 2
    assert "--rerank takes the rerank's decisions as they are" in rerank_and_scores.stderr
    inside = run_cli(
        "submission", *workspace.runs, "--split", "verified", "--name", "n", "-o", workspace.runs[0]
    )
    assert inside.exit_code == 1
    assert "overlaps the input" in inside.stderr
    assert workspace.submit().exit_code == 0
    again = workspace.submit()
    assert again.exit_code == 1
    assert "already exists and is not empty; swerm will not overwrite it" in again.stderr
    assert "hint: remove it, or choose another --name or --date" in again.stderr


def test_sdk_conversation_folders_are_copied_whole(workspace: Workspace) -> None:
    """OpenHands SDK persisted conversations: ``<run>/<iid>/events/event-<n>-<id>.json``."""
    from ..readers.conftest import sdk_events

    run = workspace.root / "sdk-run"
    for iid in IIDS:
        for n, event in enumerate(sdk_events()):
            path = run / iid / "events" / f"event-{n:05d}-{event['id']}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(event))
    workspace.runs = [run]
    result = workspace.submit(scores=False)
    assert result.exit_code == 0, result.output
    for iid in IIDS:
        copy = workspace.folder / "trajs" / iid / iid / "events"
        originals = sorted((run / iid / "events").iterdir())
        assert [p.name for p in sorted(copy.iterdir())] == [p.name for p in originals]
        assert all((copy / p.name).read_bytes() == p.read_bytes() for p in originals)
        decision = json.loads((workspace.folder / "trajs" / iid / "decision.json").read_text())
        assert decision["candidates"][0]["extraction"] == f"the whole folder {iid}, byte for byte"
    # the conversations hold no patch (the SDK leaves git diff to the caller): check says so
    (empty,) = [
        p
        for p in json.loads(run_cli("submission", "--check", workspace.folder, "--json").stdout)[
            "problems"
        ]
        if p["rule"] == "empty_patch"
    ]
    assert empty["instances"] == sorted(IIDS)
