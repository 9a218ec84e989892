"""``swerm score`` through click's runner, on mini-swe-agent files written by the test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from swerm_plugin.cli import cli
from swerm_plugin.errors import OutputFileError
from swerm_plugin.model import Score
from swerm_plugin.plugins import get_hooks
from swerm_plugin.scores import ScoresOutput

SCORE_FIELDS = set(Score.model_fields)


@pytest.fixture
def runs(tmp_path: Path, mini_file: Callable[..., Path]) -> Path:
    folder = tmp_path / "run"
    for i, fix in enumerate(["a + b", "b + a", "sum((a, b))"]):
        mini_file(folder, f"calc__calc-{i}", fix)
    return folder


def invoke(*args: str) -> Any:
    get_hooks().register_commands(cli)
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_score_writes_one_line_per_trajectory(
    runs: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.jsonl"
    result = invoke("score", str(runs), "--model", str(tiny_model_dir), "-o", str(out))
    assert result.exit_code == 0, result.output
    records = read_lines(out)
    assert sorted(r["instance_id"] for r in records) == [f"calc__calc-{i}" for i in range(3)]
    for record in records:
        assert {"instance_id", "source", "content_hash", "attempt"} | SCORE_FIELDS <= set(record)
        assert record["source"].startswith("mini-swe-agent")
        assert 0.0 < record["raw"] < 1.0 and record["calibrated"] == record["raw"]
        assert record["backend"] == "transformers" and record["template"] == "swe-rm"
        assert record["error"] is None and record["n_tokens"] > 100
    assert len({r["content_hash"] for r in records}) == 3
    assert "swerm scores" in result.output and "calc__calc-2" in result.output


def test_an_interrupted_run_resumes_without_rescoring(
    runs: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.jsonl"
    invoke("score", str(runs / "calc__calc-0"), "--model", str(tiny_model_dir), "-o", str(out))
    first = read_lines(out)
    assert len(first) == 1
    # A crash mid-write leaves half a line behind.
    with out.open("ab") as fh:
        fh.write(b'{"instance_id": "calc__calc-1", "content_ha')
    result = invoke("score", str(runs), "--model", str(tiny_model_dir), "-o", str(out))
    assert result.exit_code == 0, result.output
    records = read_lines(out)
    assert records[0] == first[0]  # kept, not rescored
    assert sorted(r["instance_id"] for r in records[1:]) == ["calc__calc-1", "calc__calc-2"]
    assert "scored 2, failed 0, 1 already in" in result.output
    again = invoke("score", str(runs), "--model", str(tiny_model_dir), "-o", str(out))
    assert read_lines(out) == records and "scored 0" in again.output


def test_without_output_json_lines_go_to_stdout(runs: Path, tiny_model_dir: Path) -> None:
    result = invoke(
        "score", str(runs / "calc__calc-1"), "--model", str(tiny_model_dir), "--template", "swe-gym"
    )
    (record,) = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert record["instance_id"] == "calc__calc-1" and record["template"] == "swe-gym"


def test_explain_prints_the_prompt_with_markers_and_counts(
    tmp_path: Path, tiny_model_dir: Path, mini_file: Callable[..., Path]
) -> None:
    path = mini_file(
        tmp_path, "calc__calc-9", "a + b", observation="\n".join(f"line {i}" for i in range(3000))
    )
    result = invoke(
        "score", str(path), "--model", str(tiny_model_dir), "--explain", "--max-tokens", "900"
    )
    assert result.exit_code == 0, result.output
    assert "template swe-rm v2 |" in result.output and "(budget 900)" in result.output
    tokens = int(result.output.split(" tokens (budget")[0].rsplit("| ", 1)[1])
    assert 0 < tokens <= 900
    assert "cuts: observation: [... " in result.output
    assert "tokens omitted ...]" in result.output
    assert "⟪<|im_start|>⟫assistant\n" in result.output  # real control tokens are marked
    assert "line 0\n" in result.output and "line 2999" in result.output


def test_a_bad_template_name_fails_before_loading(runs: Path, tmp_path: Path) -> None:
    get_hooks().register_commands(cli)
    result = CliRunner().invoke(
        cli, ["score", str(runs), "--model", str(tmp_path / "absent"), "--template", "nope"]
    )
    assert result.exit_code != 0
    assert "unknown prompt template 'nope'" in str(result.exception)


def test_a_foreign_output_file_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "other.jsonl"
    for text in ('{"instance_id": "a"}\n', "not json\n"):
        out.write_text(text)
        with pytest.raises(OutputFileError, match="is not a swerm scores file"):
            ScoresOutput(out).check()
        assert out.read_text() == text  # refused, and left exactly as it was


def test_an_unreadable_file_is_one_clear_error(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from swerm_plugin.cli import main

    bad = tmp_path / "notes.traj.json"
    bad.write_text("{ this is not json")
    status = main(["score", str(bad), "--model", str(tiny_model_dir)])
    assert status == 1  # nothing usable: the only input was skipped
    err = capsys.readouterr().err
    assert err.startswith("swerm: skipped: ") and "notes.traj.json, line 1: invalid JSON" in err
    assert "swerm: error: nothing was scored" in err


def test_a_missing_model_is_one_clear_error(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from swerm_plugin.cli import main

    status = main(["score", str(runs), "--model", str(tmp_path / "no-model")])
    assert status == 1
    assert "no-model does not exist; build one" in capsys.readouterr().err
