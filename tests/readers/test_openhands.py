from __future__ import annotations

import json
from pathlib import Path

import pytest

from swerm_plugin.readers import TrajectoryFormatError, detect_format, load

# --- V0 ---------------------------------------------------------------------------------------


def test_v0_record_pairs_actions_with_their_observations(tmp_path: Path, formats) -> None:
    path = formats.write_jsonl(
        tmp_path / "output.jsonl",
        [formats.openhands_v0_record("a__a-1"), formats.openhands_v0_record("b__b-2")],
    )

    first, second = load(path)

    assert (first.instance_id, second.instance_id) == ("a__a-1", "b__b-2")
    assert first.source == "openhands/v0"
    assert first.problem_statement == formats.ISSUE  # instance.problem_statement wins
    assert first.metadata["system_prompt"] == "You are OpenHands agent."
    # recall and agent_state_changed are bookkeeping; the orphan error is a tool step
    assert [s.role for s in first.steps] == ["assistant", "tool", "assistant", "assistant"]
    run, orphan, edit, finish = first.steps
    assert (run.thought, run.action, run.observation) == ("Read the file.", "cat calc.py", "x = 1")
    assert orphan.observation == "Parameter 'command' is missing."
    # the edit is shown as the model's own tool call
    assert edit.action.startswith("str_replace_editor {")
    assert json.loads(edit.action.removeprefix("str_replace_editor "))["new_str"] == "2"
    assert edit.observation == "edited calc.py"
    assert (finish.thought, finish.content) == ("All done.", "x is now 2.")
    assert (first.exit_status, first.exit_status_raw) == ("submitted", "finish")
    assert first.patch == formats.PATCH
    assert first.model_name == "openai/some-model"
    assert first.cost == pytest.approx(0.75)
    # the run id is what the record says: the eval output folder's name
    assert first.run_id == "some-model_maxiter_30_run_1"
    assert (first.source_record, second.source_record) == (1, 2)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("RuntimeError: Agent reached maximum iteration in headless mode.", "limit"),
        ("AgentStuckInLoopError: Agent got stuck in a loop", "error"),
        ("RuntimeError: sandbox crashed", "error"),
    ],
)
def test_v0_record_error_sets_the_exit_status(
    tmp_path: Path, formats, error: str, status: str
) -> None:
    path = formats.write_jsonl(tmp_path / "o.jsonl", [formats.openhands_v0_record(error=error)] * 2)
    traj = next(iter(load(path)))
    assert traj.exit_status == status
    assert traj.exit_status_raw == error
    assert traj.metadata["error"] == error


def test_v0_bare_event_list(tmp_path: Path, formats) -> None:
    path = formats.write_json(tmp_path / "session.json", formats.openhands_v0_events(finish=False))

    [traj] = load(path)

    assert traj.instance_id == "session"
    assert traj.problem_statement == formats.ISSUE  # from <issue_description> in the task
    assert len(traj.steps) == 3
    # no finish: the last agent state decides
    assert (traj.exit_status, traj.exit_status_raw) == ("unknown", "running")
    assert traj.patch == ""


def test_v0_oldest_history_of_pairs(tmp_path: Path, formats) -> None:
    events = formats.openhands_v0_events()
    run, output = events[4], events[5]
    record = formats.openhands_v0_record()
    record["history"] = [[events[1], {"observation": "null", "content": ""}], [run, output]]
    [traj] = load(formats.write_json(tmp_path / "r.json", record))
    assert [(s.action, s.observation) for s in traj.steps] == [("cat calc.py", "x = 1")]


def test_v0_event_without_action_or_observation(tmp_path: Path, formats) -> None:
    record = formats.openhands_v0_record()
    record["history"][4] = {"id": 4, "source": "agent", "message": "?"}
    path = formats.write_jsonl(tmp_path / "output.jsonl", [formats.openhands_v0_record(), record])

    with pytest.raises(TrajectoryFormatError) as info:
        list(load(path))

    assert info.value.line == 2
    assert info.value.field == "history[4].action"
    assert "needs 'action' or 'observation'" in str(info.value)


def test_v0_record_needs_an_instance_id(tmp_path: Path, formats) -> None:
    record = formats.openhands_v0_record()
    record["instance_id"] = ""
    with pytest.raises(TrajectoryFormatError, match="field 'instance_id'"):
        list(load(formats.write_json(tmp_path / "r.json", record)))


# --- SDK --------------------------------------------------------------------------------------


def test_sdk_events_jsonl_is_one_conversation(tmp_path: Path, formats) -> None:
    folder = tmp_path / "conv-42"
    path = formats.write_jsonl(folder / "events.jsonl", formats.sdk_events())

    [traj] = load(path)

    assert traj.source == "openhands/sdk"
    assert traj.instance_id == "conv-42"  # 'events' names the kind of file: the folder names it
    assert traj.problem_statement == formats.ISSUE
    assert traj.metadata["system_prompt"] == "You are OpenHands."
    assert [s.role for s in traj.steps] == ["assistant", "tool", "assistant"]
    read, orphan, finish = traj.steps
    assert (read.thought, read.action, read.observation) == (
        "Read the file.",
        "cat calc.py",
        "x = 1",
    )
    assert orphan.observation == "orphan output"
    assert finish.action == 'finish {"message":"x is now 2."}'
    assert (traj.exit_status, traj.exit_status_raw) == ("submitted", "finish")
    assert traj.model_name == "litellm_proxy/some-model"
    assert traj.cost == pytest.approx(0.75)  # both LLMs' costs


def test_sdk_without_finish_uses_execution_status(tmp_path: Path, formats) -> None:
    path = formats.write_jsonl(
        tmp_path / "e.jsonl", formats.sdk_events(finish=False, status="stuck")
    )
    [traj] = load(path)
    assert (traj.exit_status, traj.exit_status_raw) == ("error", "stuck")


def test_sdk_conversation_errors_and_limits(tmp_path: Path, formats) -> None:
    limit_event = {
        "kind": "ConversationIterationLimitEvent",
        "iteration": 50,
        "max_iterations": 50,
        "detail": "50/50",
    }
    error_event = {
        "kind": "ConversationErrorEvent",
        "code": "LLMError",
        "detail": "rate limited forever",
    }
    limited = [*formats.sdk_events(finish=False), limit_event]
    failed = [*formats.sdk_events(), error_event]
    [limit] = load(formats.write_json(tmp_path / "limit.json", limited))
    [error] = load(formats.write_json(tmp_path / "error.json", failed))
    assert (limit.exit_status, limit.exit_status_raw) == ("limit", "50/50")
    assert (error.exit_status, error.exit_status_raw) == ("error", "LLMError: rate limited forever")


def test_sdk_persisted_conversation_folder(tmp_path: Path, formats) -> None:
    conversation = tmp_path / "conversations" / "abc123"
    events = formats.sdk_events(finish=False)
    # files sort by their number, not their name: 10 comes after 9
    for index, event in enumerate(events):
        name = f"event-{index * 5:05d}-{event['id']}.json"
        formats.write_json(conversation / "events" / name, event)
    formats.write_json(
        conversation / "base_state.json",
        {
            "id": "abc123",
            "agent": {"llm": {"model": "anthropic/claude"}},
            "execution_status": "error",
        },
    )

    assert detect_format(tmp_path / "conversations") == "openhands-sdk"
    [traj] = load(conversation)

    assert traj.instance_id == "abc123"
    assert traj.run_id == "conversations"
    assert [s.role for s in traj.steps] == ["assistant", "tool"]
    assert traj.model_name == "anthropic/claude"
    assert (traj.exit_status, traj.exit_status_raw) == ("error", "error")
    assert traj.source_path == str(conversation)


def test_sdk_event_file_errors_name_the_event_file(tmp_path: Path, formats) -> None:
    folder = tmp_path / "c1" / "events"
    formats.write_json(folder / "event-00000-aa.json", formats.sdk_events()[0])
    (folder / "event-00001-bb.json").write_text('{"kind": "ActionEvent", "thought": 12}')

    with pytest.raises(TrajectoryFormatError) as info:
        list(load(tmp_path / "c1"))

    assert info.value.path == str(folder / "event-00001-bb.json")
    assert info.value.field == "thought"


def test_benchmarks_output_records_and_attempts(tmp_path: Path, formats) -> None:
    run = tmp_path / "run_7"
    formats.write_jsonl(
        run / "output.critic_attempt_1.jsonl", [formats.sdk_record("a__a-1", attempt=None)] * 2
    )
    formats.write_jsonl(
        run / "output.critic_attempt_2.jsonl", [formats.sdk_record("a__a-1", attempt=2)] * 2
    )
    # output.jsonl repeats the chosen attempts: reading the folder must not count them twice
    formats.write_jsonl(run / "output.jsonl", [formats.sdk_record("a__a-1", attempt=2)] * 2)

    trajs = list(load(run))

    assert [t.attempt for t in trajs] == [1, 1, 2, 2]  # attempt 1 from the file name
    assert {t.source for t in trajs} == {"openhands/sdk"}
    assert {t.run_id for t in trajs} == {"run_7"}
    first = trajs[0]
    assert first.patch == formats.PATCH
    assert first.cost == pytest.approx(1.5)  # the record's metrics, not the events' stats
    assert first.model_name == "litellm_proxy/some-model"
    assert len(first.steps) == 3
    assert [t.source_record for t in trajs] == [1, 2, 1, 2]


def test_sdk_event_needs_a_kind(tmp_path: Path, formats) -> None:
    events = formats.sdk_events()
    events[3] = {**events[3], "kind": None}
    path = formats.write_jsonl(tmp_path / "events.jsonl", events)
    with pytest.raises(TrajectoryFormatError) as info:
        list(load(path))
    assert info.value.line == 4
    assert info.value.field == "kind"


def test_sdk_reader_given_a_folder_without_events(tmp_path: Path) -> None:
    from swerm_plugin.readers.openhands_sdk import OpenHandsSdkAdapter

    with pytest.raises(TrajectoryFormatError, match="no event files"):
        list(OpenHandsSdkAdapter().read(tmp_path))
