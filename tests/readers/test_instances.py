"""``--instances FILE``: problem statements for SWE-bench predictions, which carry none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.errors import TrajectoryFormatError
from swerm_plugin.readers.instances import read_problem_statements
from swerm_plugin.testing import run_cli

STATEMENTS = {
    "acme__calc-1": "add() returns a - b; it should return the sum.",
    "acme__calc-2": "mul() ignores its second argument; PECULIAR-MARKER-7741.",
}
DIFF = "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-x\n+{}\n"


def rows() -> list[dict[str, Any]]:
    return [
        {"instance_id": iid, "problem_statement": text, "repo": "acme/calc"}
        for iid, text in STATEMENTS.items()
    ]


def write_dataset(folder: Path, kind: str) -> Path:
    if kind == "jsonl":
        path = folder / "lite.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows()))
    elif kind == "list":
        path = folder / "lite.json"
        path.write_text(json.dumps(rows()))
    elif kind == "by-id":
        path = folder / "lite.json"
        path.write_text(json.dumps({r["instance_id"]: r for r in rows()}))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = folder / "test-00000-of-00001.parquet"
        pq.write_table(pa.Table.from_pylist(rows()), path)
    return path


def write_predictions(folder: Path) -> Path:
    path = folder / "preds.jsonl"
    lines = [
        {"instance_id": iid, "model_name_or_path": "agent", "model_patch": DIFF.format(i)}
        for i, iid in enumerate(STATEMENTS)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.mark.parametrize("kind", ["jsonl", "list", "by-id", "parquet"])
def test_every_dataset_shape_gives_the_same_statements(tmp_path: Path, kind: str) -> None:
    assert read_problem_statements(write_dataset(tmp_path, kind)) == STATEMENTS


def test_a_record_without_a_problem_statement_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rows()[0]) + "\n" + json.dumps({"instance_id": "a"}) + "\n")
    with pytest.raises(TrajectoryFormatError, match="problem_statement") as info:
        read_problem_statements(bad)
    assert "line 2" in str(info.value)


def test_parquet_without_the_columns_is_refused(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "x.parquet"
    pq.write_table(pa.Table.from_pylist([{"instance_id": "a", "text": "b"}]), path)
    with pytest.raises(TrajectoryFormatError, match="cannot read Parquet"):
        read_problem_statements(path)


def test_an_empty_dataset_is_refused_on_the_command_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    result = run_cli("score", write_predictions(tmp_path), "--instances", empty)
    assert result.exit_code == 1
    assert (
        result.stderr.startswith("swerm: error: ") and "no instances in this file" in result.stderr
    )


def test_score_fills_the_statements_into_the_prompt(tmp_path: Path, tiny_model_dir: Path) -> None:
    preds = write_predictions(tmp_path)
    args = ("score", preds, "--model", tiny_model_dir, "--explain")
    without = run_cli(*args)
    assert without.exit_code == 0 and "PECULIAR-MARKER-7741" not in without.stdout
    assert "2 of 2 trajectories have no problem statement" in without.stderr
    assert without.stderr.count("--instances FILE") == 1  # once, with the fix
    given = run_cli(*args, "--instances", write_dataset(tmp_path, "parquet"))
    assert given.exit_code == 0 and "PECULIAR-MARKER-7741" in given.stdout
    assert "no problem statement" not in given.stderr


def test_scores_made_with_instances_are_found_by_eval_and_rerank_with_them(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """The statement is part of what the verifier reads (the content hash): a scores file from
    `score --instances` matches the candidates of `eval`/`rerank` given the same dataset."""
    preds, dataset = write_predictions(tmp_path), write_dataset(tmp_path, "jsonl")
    scores = tmp_path / "scores.jsonl"
    scored = run_cli(
        "score", preds, "--model", tiny_model_dir, "--instances", dataset, "-o", scores
    )
    assert scored.exit_code == 0, scored.stderr
    labels = tmp_path / "resolved.json"
    labels.write_text(json.dumps({"acme__calc-1": True, "acme__calc-2": False}))
    common = (preds, "--labels", labels, "--scores", scores, "--json", "--subsets", "20")
    report = json.loads(run_cli("eval", *common, "--instances", dataset).stdout)
    assert report["unscored_candidates"] == 0
    assert report["calibration"]["n"] == 2
    missed = run_cli("eval", *common)  # without the dataset the hashes differ: said, not hidden
    assert missed.exit_code == 3 and "unscored" in missed.stderr
    out = tmp_path / "reranked.jsonl"
    reranked = run_cli(
        "rerank", preds, "--scores", scores, "--instances", dataset, "-o", out, "--json"
    )
    assert reranked.exit_code == 0, reranked.stderr
    summary = json.loads(reranked.stdout)
    assert summary["summary"]["scorer"] == "scores file" and summary["problems"] == []
