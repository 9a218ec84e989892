"""A SWE-bench dataset's problem statements, for runs that carry none (predictions files).

Accepted: JSON Lines, a JSON list, a JSON object keyed by instance id, or Parquet (the format
the SWE-bench datasets ship in), each record with ``instance_id`` and ``problem_statement``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from swerm_plugin.errors import TrajectoryFormatError
from swerm_plugin.model import Trajectory
from swerm_plugin.readers.fields import Obj, Where
from swerm_plugin.readers.probe import probe

EXPECTED = (
    "a SWE-bench dataset (JSON Lines, JSON or Parquet) of records with instance_id and "
    "problem_statement"
)


def read_problem_statements(path: str | Path) -> dict[str, str]:
    """``{instance_id: problem_statement}`` from a dataset file."""
    source = Path(path)
    if source.suffix == ".parquet":
        return dict(_parquet_rows(source))
    probed = probe(source)
    statements: dict[str, str] = {}
    for line, value in probed.records():
        items: Iterable[tuple[Any, Where]]
        if isinstance(value, list):
            items = ((item, Where(source, record=i)) for i, item in enumerate(value))
        elif isinstance(value, dict) and "instance_id" not in value:
            items = ((item, Where(source, record=key)) for key, item in value.items())
        else:
            items = [(value, Where(source, line=line if probed.is_lines else None))]
        for item, where in items:
            record = Obj.of(item, where)
            statements[record.req_str("instance_id")] = record.req_str("problem_statement")
    if not statements:
        raise TrajectoryFormatError(source, "no instances in this file", expected=EXPECTED)
    return statements


def _parquet_rows(path: Path) -> Iterator[tuple[str, str]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise TrajectoryFormatError(
            path,
            "reading Parquet needs pyarrow: pip install 'swerm-plugin[swebench]'",
            expected="JSON Lines or JSON instead",
        ) from None
    try:
        table = pq.read_table(path, columns=["instance_id", "problem_statement"])
    except Exception as exc:  # pyarrow raises its own error types for bad files and columns
        raise TrajectoryFormatError(path, f"cannot read Parquet: {exc}", expected=EXPECTED) from exc
    ids = table.column("instance_id").to_pylist()
    texts = table.column("problem_statement").to_pylist()
    for number, (iid, text) in enumerate(zip(ids, texts, strict=True)):
        if not isinstance(iid, str) or not isinstance(text, str):
            raise TrajectoryFormatError(
                path, "instance_id and problem_statement must be strings", record=number
            )
        yield iid, text


def fill_problem_statements(
    trajectories: Iterable[Trajectory], statements: Mapping[str, str]
) -> int:
    """Give each trajectory without a problem statement its dataset's; returns how many."""
    filled = 0
    for trajectory in trajectories:
        text = statements.get(trajectory.instance_id)
        if text and not trajectory.problem_statement.strip():
            trajectory.problem_statement = text
            filled += 1
    return filled


def missing_statements_warning(trajectories: Iterable[Trajectory]) -> str | None:
    """The one warning for trajectories with a patch but no problem statement, with the fix;
    ``None`` when every one has its statement."""
    with_patch = [t for t in trajectories if t.has_patch]
    missing = sum(1 for t in with_patch if not t.problem_statement.strip())
    if not missing:
        return None
    return (
        f"{missing} of {len(with_patch)} trajectories have no problem statement (SWE-bench "
        "predictions carry none), so the verifier judges the patch without the issue; give the "
        "dataset with --instances FILE (JSON Lines, JSON or Parquet) to fill them in"
    )
