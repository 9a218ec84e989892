"""``swerm submission --check``: a complete folder passes; each rule violation is caught with its
own message and what to fix."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from swerm_plugin.submission.layout import PASS_AT_1_ITEM
from swerm_plugin.testing import run_cli

from .conftest import IIDS, PREFERRED, Workspace, complete, patch_for, write_harness_logs


@pytest.fixture
def ready(workspace: Workspace) -> Path:
    """A folder built from two mini-swe-agent runs, with logs, every placeholder filled in."""
    workspace.add_runs("mini")
    _, preds = workspace.rerank()
    logs = write_harness_logs(workspace.root / "harness", preds)
    result = workspace.submit("--logs", logs)
    assert result.exit_code == 0, result.output
    complete(workspace.folder)
    return workspace.folder


def check(folder: Path) -> dict[str, Any]:
    result = run_cli("submission", "--check", folder, "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == (0 if report["ok"] else 1), result.output
    return report


def problems(folder: Path, rule: str) -> list[dict[str, Any]]:
    return [p for p in check(folder)["problems"] if p["rule"] == rule]


def test_a_complete_folder_passes(ready: Path) -> None:
    result = run_cli("submission", "--check", ready)
    assert result.exit_code == 0, result.output
    assert f"ok: {ready} is ready to submit" in result.stdout
    # the only remark: 3 of the split's 500 instances
    assert [p["rule"] for p in check(ready)["problems"]] == ["split_coverage"]


def test_a_fresh_folder_lists_what_a_person_must_do(workspace: Workspace) -> None:
    workspace.add_runs("mini")
    workspace.submit()
    result = run_cli("submission", "--check", workspace.folder)
    assert result.exit_code == 1
    assert "[placeholder] metadata.yaml still has placeholders at info.report" in result.stdout
    assert "[missing_file] logs is missing" in result.stdout


def _edit_preds(folder: Path, iid: str, patch: str) -> None:
    path = folder / "all_preds.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        if record["instance_id"] == iid:
            record["model_patch"] = patch
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _edit_metadata(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / "metadata.yaml"
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document))


def test_missing_instance_trajectory(ready: Path) -> None:
    shutil.rmtree(ready / "trajs" / IIDS[1])
    (found,) = problems(ready, "missing_trajectory")
    assert found["instances"] == [IIDS[1]]
    assert "no trajectory of the submitted attempt" in found["message"]
    assert "one reasoning trace per instance" in found["message"]


def test_missing_other_attempt(ready: Path) -> None:
    for folder in (ready / "trajs" / IIDS[0]).glob("rank1.*"):
        shutil.rmtree(folder)
    (found,) = problems(ready, "missing_trajectory")
    assert "decision.json files name attempt files that are missing" in found["message"]


def test_orphan_trajectory(ready: Path) -> None:
    shutil.copytree(ready / "trajs" / IIDS[0], ready / "trajs" / "calc__calc-9")
    (found,) = problems(ready, "orphan_trajectory")
    assert found["instances"] == ["calc__calc-9"]


def test_empty_patch(ready: Path) -> None:
    _edit_preds(ready, IIDS[2], "")
    (found,) = problems(ready, "empty_patch")
    assert found["instances"] == [IIDS[2]]
    assert "empty model_patch" in found["message"]


def test_trajectory_that_does_not_match_the_prediction(ready: Path) -> None:
    _edit_preds(ready, IIDS[0], patch_for("elsewhere", IIDS[0]))
    (found,) = problems(ready, "trajectory_mismatch")
    assert found["instances"] == [IIDS[0]]
    assert "do not submit the patch that all_preds.jsonl predicts" in found["message"]
    (logs,) = problems(ready, "logs_mismatch")
    assert logs["instances"] == [IIDS[0]]


def test_trajectory_changed_after_the_decision(ready: Path) -> None:
    path = ready / "trajs" / IIDS[0] / f"{IIDS[0]}.traj.json"
    document = json.loads(path.read_text())
    document["messages"][2]["content"] = "THOUGHT: something else\n\n```bash\nls\n```"
    path.write_text(json.dumps(document))
    (found,) = problems(ready, "trajectory_changed")
    assert found["instances"] == [IIDS[0]]
    assert "differ from the one swerm scored and chose" in found["message"]


def test_pass_at_1_box_ticked_for_best_of_n(ready: Path) -> None:
    readme = ready / "README.md"
    readme.write_text(
        readme.read_text().replace(f"- [ ] {PASS_AT_1_ITEM}", f"- [x] {PASS_AT_1_ITEM}")
    )
    found = problems(ready, "checklist_contradiction")
    assert [p["message"] for p in found] == [
        "README.md ticks 'Is a pass@1 submission' but some instances have several attempts"
    ]
    assert found[0]["instances"] == sorted(IIDS)


def test_readme_without_the_words(ready: Path) -> None:
    readme = ready / "README.md"
    readme.write_text(readme.read_text().replace("not a pass@1 submission", "best-of-2"))
    (found,) = problems(ready, "checklist_contradiction")
    assert "does not say 'not a pass@1 submission'" in found["message"]


def test_metadata_attempts_contradict_the_data(ready: Path) -> None:
    _edit_metadata(ready, lambda d: d["tags"]["system"].update(attempts="1"))
    (found,) = problems(ready, "checklist_contradiction")
    assert "tags.system.attempts: 1 but some instances have several attempts" in found["message"]
    assert found["fix"] == 'set tags.system.attempts to "2+"'


def test_checklist_item_missing(ready: Path) -> None:
    readme = ready / "README.md"
    readme.write_text(readme.read_text().replace("- [ ] Does not use the `hints`", "- [ ] Hints"))
    (found,) = problems(ready, "checklist_missing")
    assert found["message"] == (
        "README.md lacks the checklist item 'Does not use the `hints` field in SWE-bench'"
    )


def test_placeholders_left(ready: Path) -> None:
    _edit_metadata(ready, lambda d: d["info"].update(site="TODO(swerm): a site"))
    (found,) = problems(ready, "placeholder")
    assert found["message"] == "metadata.yaml still has placeholders at info.site"


def test_checked_as_text(ready: Path) -> None:
    _edit_metadata(ready, lambda d: d["tags"].update(checked="false (see README.md)"))
    (found,) = problems(ready, "metadata")
    assert "tags.checked is not the boolean false" in found["message"]


def test_metadata_without_info_name(ready: Path) -> None:
    _edit_metadata(ready, lambda d: d.pop("info"))
    (found,) = problems(ready, "metadata")
    assert "get_leaderboard.py skips such a submission silently" in found["message"]


def test_extra_top_level_entry(ready: Path) -> None:
    (ready / "notes.txt").write_text("mine")
    (found,) = problems(ready, "extra_entry")
    assert (
        "analysis/get_results.py deletes every other top-level entry: notes.txt"
        in (found["message"])
    )


def test_missing_and_incomplete_logs(ready: Path) -> None:
    shutil.rmtree(ready / "logs" / IIDS[0])
    (ready / "logs" / IIDS[1] / "test_output.txt").unlink()
    found = problems(ready, "missing_logs")
    assert [(p["message"], p["instances"]) for p in found] == [
        ("some instances have no logs/<instance_id>/", [IIDS[0]]),
        (
            "some logs/<instance_id>/ lack patch.diff or test_output.txt, which get_results reads",
            [IIDS[1]],
        ),
    ]


def test_duplicate_and_unreadable_predictions(ready: Path) -> None:
    path = ready / "all_preds.jsonl"
    first = path.read_text().splitlines()[0]
    path.write_text(path.read_text() + first + "\n{not json\n")
    (duplicate,) = problems(ready, "duplicate_instance")
    assert duplicate["instances"] == [IIDS[0]]
    (bad,) = problems(ready, "predictions")
    assert bad["message"] == "all_preds.jsonl, line 5 is not JSON"


def test_folder_outside_a_split(ready: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "my_submission"
    shutil.copytree(ready, moved)
    found = problems(moved, "location")
    assert [p["message"] for p in found] == [
        "the folder is not inside evaluation/<split>/ (its parent is 'elsewhere'; splits: lite, "
        "verified, test, multimodal, multilingual, bash-only), and analysis/get_results.py takes "
        "the split from there",
        "the folder is named 'my_submission', not <YYYYMMDD>_<name>",
    ]


def test_predictions_only_submission(workspace: Workspace) -> None:
    workspace.add_runs("predictions")
    workspace.submit()
    (found,) = problems(workspace.folder, "no_reasoning_trace")
    assert found["instances"] == sorted(IIDS)
    assert "predictions records, not reasoning traces" in found["message"]


def test_a_plain_submission_with_flat_trajs(ready: Path) -> None:
    """A folder in the layout many past submissions use: ``trajs/<iid>.traj.json``."""
    for iid in IIDS:
        shutil.copyfile(ready / "trajs" / iid / f"{iid}.traj.json", ready / f"{iid}.tmp")
        shutil.rmtree(ready / "trajs" / iid)
        (ready / f"{iid}.tmp").rename(ready / "trajs" / f"{iid}.traj.json")
    report = check(ready)
    assert report["ok"], report
    _edit_preds(ready, IIDS[0], patch_for("elsewhere", IIDS[0]))
    assert [p["instances"] for p in problems(ready, "trajectory_mismatch")] == [[IIDS[0]]]


def test_check_usage_errors(ready: Path, workspace: Workspace) -> None:
    result = run_cli("submission", "--check", ready, "--name", "x")
    assert result.exit_code == 2
    assert "--check takes only the folder" in result.stderr
    assert PREFERRED  # the fixture's preference is what the folder was built from


def test_single_attempts_but_best_of_k_metadata(workspace: Workspace) -> None:
    workspace.add_runs("mini", names=("run1",))
    workspace.submit()
    _edit_metadata(workspace.folder, lambda d: d["tags"]["system"].update(attempts="2+"))
    (found,) = problems(workspace.folder, "checklist_contradiction")
    assert found["message"] == (
        "metadata.yaml says tags.system.attempts: 2+ but every instance has one attempt"
    )
