from __future__ import annotations

import json
from pathlib import Path

import pytest

from swerm_plugin.readers import TrajectoryFormatError, load
from swerm_plugin.readers.sweagent import SweAgentAdapter, trajectories_from_document


def test_v1_traj_fills_every_field(tmp_path: Path, formats) -> None:
    path = formats.write_json(
        tmp_path / "run1" / "calc__calc-1" / "calc__calc-1.traj", formats.sweagent_v1()
    )

    [traj] = load(path)

    assert traj.instance_id == "calc__calc-1"
    assert traj.source == "swe-agent/1.x"
    assert traj.problem_statement == formats.ISSUE
    assert [s.action for s in traj.steps] == ["cat calc.py", "sed -i 's/1/2/' calc.py", "submit"]
    assert [s.role for s in traj.steps] == ["assistant"] * 3
    assert traj.steps[0].thought == "I should look at calc.py first."
    assert traj.steps[0].observation == "x = 1\n"
    assert traj.steps[0].content.startswith("I should look at calc.py first.\n\n```")
    assert traj.patch == formats.PATCH
    assert (traj.exit_status, traj.exit_status_raw) == ("submitted", "submitted")
    assert traj.model_name == "gpt-4o"
    assert traj.cost == pytest.approx(0.42)
    assert traj.attempt == 1
    # <run>/<iid>/<iid>.traj: the run is the folder above the instance folder
    assert traj.run_id == "run1"
    assert traj.source_path == str(path)
    assert traj.metadata["system_prompt"] == "You are a careful programmer."


def test_v1_replay_config_may_be_a_json_string(tmp_path: Path, formats) -> None:
    path = formats.write_json(
        tmp_path / "x.traj", formats.sweagent_v1("a__b-7", replay_as_string=True)
    )
    [traj] = load(path)
    assert traj.instance_id == "a__b-7"
    assert traj.model_name == "gpt-4o"
    assert traj.source == "swe-agent/1.x"


def test_v0_traj_reads_issue_from_history_and_id_from_file_name(tmp_path: Path, formats) -> None:
    path = formats.write_json(tmp_path / "django__django-1.traj", formats.sweagent_v0())

    [traj] = load(path)

    assert traj.source == "swe-agent/0.x"
    assert traj.instance_id == "django__django-1"
    # The demonstration (is_demo "True") is skipped; the issue sits between ISSUE: and INSTRUCTIONS:
    assert traj.problem_statement == formats.ISSUE
    assert len(traj.steps) == 2
    assert traj.steps[1].action == "submit\n"
    # instance_cost is this instance's; total_cost is the whole run's so far
    assert traj.cost == pytest.approx(1.25)
    # an auto-submission after the cost limit is a limit, with the original kept
    assert (traj.exit_status, traj.exit_status_raw) == ("limit", "submitted (exit_cost)")
    assert traj.model_name is None


def test_retry_agent_file_yields_each_attempt(tmp_path: Path, formats) -> None:
    first = formats.sweagent_v1()
    second = formats.sweagent_v1()
    second["info"]["submission"] = ""
    second["info"]["exit_status"] = "exit_format"
    document = {"attempts": [first, second], **first}
    document["info"] = {**first["info"], "best_attempt_idx": 0}
    path = formats.write_json(tmp_path / "calc__calc-1.traj", document)

    trajs = list(load(path))

    assert [t.attempt for t in trajs] == [1, 2]
    assert [t.metadata["chosen"] for t in trajs] == [True, False]
    assert [t.exit_status for t in trajs] == ["submitted", "error"]
    assert trajs[1].patch == ""
    assert [t.source_record for t in trajs] == ["attempts[0]", "attempts[1]"]


def test_retry_agent_file_of_an_unfinished_run_yields_its_attempts(tmp_path: Path, formats) -> None:
    # While the retry agent runs (or after it crashed) its .traj holds only the attempts so far.
    path = formats.write_json(tmp_path / "calc__calc-1.traj", {"attempts": [formats.sweagent_v1()]})
    [traj] = load(path)
    assert (traj.attempt, traj.source_record, traj.metadata.get("chosen")) == (
        1,
        "attempts[0]",
        None,
    )


def test_in_memory_document_uses_path_for_the_id(formats) -> None:
    document = formats.sweagent_v0()
    [traj] = trajectories_from_document(document, Path("/runs/r/iid__x-3/iid__x-3.traj"))
    assert traj.instance_id == "iid__x-3"
    assert len(traj.steps) == 2


@pytest.mark.parametrize(
    ("mutate", "field", "expected"),
    [
        (lambda d: d.__setitem__("trajectory", {"not": "a list"}), "trajectory", "a list"),
        (lambda d: d["trajectory"][1].__setitem__("action", 3), "trajectory[1].action", "a string"),
        (lambda d: d["trajectory"].__setitem__(0, "step"), "trajectory[0]", "a JSON object"),
        (lambda d: d["info"].__setitem__("model_stats", []), "info.model_stats", "a JSON object"),
        (
            lambda d: d["info"]["model_stats"].__setitem__("instance_cost", "lots"),
            "info.model_stats.instance_cost",
            "a finite number",
        ),
        (lambda d: d.__setitem__("replay_config", "{not json"), "replay_config", "a JSON object"),
    ],
)
def test_wrong_types_name_the_field(tmp_path: Path, formats, mutate, field, expected) -> None:
    document = formats.sweagent_v1()
    mutate(document)
    path = formats.write_json(tmp_path / "bad.traj", document)

    with pytest.raises(TrajectoryFormatError) as info:
        list(load(path))

    assert info.value.field == field
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_reader_refuses_other_formats(tmp_path: Path, formats) -> None:
    path = formats.write_json(tmp_path / "x.traj", formats.mini())
    with pytest.raises(TrajectoryFormatError, match="not a swe-agent file"):
        list(SweAgentAdapter().read(path))


def test_sniff_looks_at_content(tmp_path: Path, formats) -> None:
    adapter = SweAgentAdapter()
    traj = formats.write_json(tmp_path / "a.json", formats.sweagent_v0())
    other = tmp_path / "b.traj"
    other.write_text(json.dumps(formats.mini()))
    assert adapter.sniff(traj, traj.read_bytes()[:100])
    assert not adapter.sniff(other, other.read_bytes()[:100])
