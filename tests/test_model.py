"""The data model: lossless JSON, stable content hash, scores and groups."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from swerm_plugin.config import SwermConfig
from swerm_plugin.model import EXIT_STATUSES, CandidateGroup, Score, Step, Trajectory

text = st.text(max_size=40)
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text
steps = st.builds(
    Step,
    role=st.sampled_from(["system", "user", "assistant", "tool"]),
    content=text,
    thought=text,
    action=text,
    observation=text,
    metadata=st.dictionaries(st.text(max_size=8), json_scalars, max_size=3),
)
trajectories = st.builds(
    Trajectory,
    instance_id=st.text(min_size=1, max_size=20),
    source=st.sampled_from(["swe-agent/1.x", "mini-swe-agent/1.1", "openhands/sdk"]),
    problem_statement=text,
    steps=st.lists(steps, max_size=5),
    patch=text,
    exit_status=st.sampled_from(EXIT_STATUSES),
    exit_status_raw=st.none() | text,
    attempt=st.integers(1, 10),
    model_name=st.none() | text,
    cost=st.none() | st.floats(0, 1e6, allow_nan=False),
    run_id=st.none() | text,
    source_path=st.none() | text,
    source_record=st.none() | st.integers(0, 10**6) | text,
    label=st.none() | st.booleans(),
    metadata=st.dictionaries(st.text(max_size=8), json_scalars, max_size=3),
)


def sample() -> Trajectory:
    return Trajectory(
        instance_id="astropy__astropy-12907",
        source="swe-agent/1.x",
        problem_statement="Separability matrix is wrong for nested models",
        steps=[
            Step(role="user", content="Fix the issue."),
            Step(role="assistant", thought="Look at the code", action="ls", observation="a.py"),
        ],
        patch="diff --git a/a.py b/a.py\n+fixed\n",
        exit_status="submitted",
    )


@settings(max_examples=150, deadline=None)
@given(trajectories)
def test_json_round_trip_is_lossless(trajectory: Trajectory) -> None:
    restored = Trajectory.model_validate_json(trajectory.model_dump_json())
    assert restored == trajectory
    assert restored.content_hash() == trajectory.content_hash()


def test_hash_ignores_key_order() -> None:
    data = sample().model_dump(mode="json")
    reordered = json.loads(json.dumps(data, sort_keys=True))
    reordered["steps"] = [dict(reversed(list(s.items()))) for s in reordered["steps"]]
    reordered = dict(reversed(list(reordered.items())))
    assert list(reordered) != list(data)
    assert Trajectory.model_validate(reordered).content_hash() == sample().content_hash()


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.steps[1].__setattr__("observation", "a.pz"),
        lambda t: t.steps[1].__setattr__("thought", "Look at the code!"),
        lambda t: t.steps[0].__setattr__("content", "Fix the issue!"),
        lambda t: t.__setattr__("patch", t.patch + " "),
        lambda t: t.__setattr__(
            "problem_statement", "separability matrix is wrong for nested models"
        ),
        lambda t: t.__setattr__("instance_id", "astropy__astropy-12908"),
    ],
)
def test_hash_changes_with_content(change) -> None:  # type: ignore[no-untyped-def]
    changed = sample()
    change(changed)
    assert changed.content_hash() != sample().content_hash()


def test_hash_ignores_bookkeeping() -> None:
    changed = sample()
    changed.cost = 1.5
    changed.label = True
    changed.source_path = "/elsewhere"
    changed.metadata["note"] = "x"
    assert changed.content_hash() == sample().content_hash()


def test_hash_is_stable_across_processes() -> None:
    code = (
        "import sys; from swerm_plugin.model import Trajectory; "
        "print(Trajectory.model_validate_json(sys.stdin.read()).content_hash())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=sample().model_dump_json(),
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345"},
    )
    assert out.stdout.strip() == sample().content_hash()


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValidationError, match="patchh"):
        Trajectory(instance_id="x", source="s", patchh="oops")  # type: ignore[call-arg]


def test_bad_exit_status_is_rejected() -> None:
    with pytest.raises(ValidationError, match="exit_status"):
        Trajectory(instance_id="x", source="s", exit_status="done")  # type: ignore[arg-type]


def test_score_probability_prefers_calibrated() -> None:
    assert Score(raw=0.3).probability == 0.3
    assert Score(raw=0.3, calibrated=0.6).probability == 0.6
    assert not Score(error="timeout").ok
    with pytest.raises(ValidationError):
        Score(raw=1.5)


def test_select_checks_lengths(swerm_pm) -> None:  # type: ignore[no-untyped-def]
    from swerm_plugin.errors import PluginError
    from swerm_plugin.plugins.manager import get_hooks

    group = CandidateGroup(instance_id="i", candidates=[sample(), sample()])
    hooks = get_hooks(SwermConfig())
    with pytest.raises(PluginError, match="2 candidates but 1 scores"):
        hooks.select(group, [Score(raw=0.5)])
    assert hooks.select(group, [Score(raw=0.2), Score(raw=0.8)]) == [1, 0]


def test_model_imports_nothing_of_swerm() -> None:
    import ast

    import swerm_plugin.model as model

    tree = ast.parse(Path(model.__file__).read_text())
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    assert not [name for name in imported if name.startswith("swerm_plugin")]
