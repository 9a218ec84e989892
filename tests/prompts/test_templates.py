"""Templates: golden renderings, the registry, and how a trajectory's steps are shown."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.model import Step, Trajectory
from swerm_plugin.prompts import (
    PromptTemplate,
    UnknownTemplateError,
    get_template,
    render_prompt,
    template_names,
)
from swerm_plugin.prompts.templates import EMPTY_PATCH, SweRmTemplate, split_problem

GOLDEN = Path(__file__).parent / "golden"
# Set GOLDEN_UPDATE=1 to rewrite the files after a deliberate template change (and bump the
# template's version); review the diff before committing.
UPDATE = os.environ.get("GOLDEN_UPDATE") == "1"


def golden_trajectory() -> Trajectory:
    """Small but complete: agent system prompt, task wrapper, thoughts, a tool turn, a patch."""
    problem = "Parser.first() raises IndexError on an empty list.\nExpected: None."
    return Trajectory(
        instance_id="acme__parser-7",
        source="test/1",
        problem_statement=problem,
        steps=[
            Step(role="system", content="You are a coding agent. Use bash."),
            Step(role="user", content=f"Please solve this issue: {problem}\n\nWork in /repo."),
            Step(
                role="assistant",
                thought="Reproduce it first.",
                action="python -c 'from parser import first; first([])'",
                observation="IndexError: list index out of range",
            ),
            Step(
                role="assistant", thought="", action="sed -i 's/x\\[0\\]/x[0] if x else None/' p.py"
            ),
            Step(role="tool", content="(no output)"),
            Step(role="assistant", content="The fix is in; submitting.", action="submit"),
        ],
        patch="--- a/p.py\n+++ b/p.py\n-    return x[0]\n+    return x[0] if x else None\n",
    )


ALL_TEMPLATES = ["swe-rm", "swe-gym", "r2e-gym", "openhands-critic", "openhands-critic-value"]


@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_golden_rendering(name: str, tiny_tokenizer: Any) -> None:
    prompt = render_prompt(golden_trajectory(), name, tiny_tokenizer)
    path = GOLDEN / f"{name}.txt"
    if UPDATE:
        path.write_text(prompt.text, encoding="utf-8")
    assert prompt.text == path.read_text(encoding="utf-8")
    assert prompt.template == name
    assert prompt.template_version == get_template(name).version


def test_builtin_templates_are_registered_with_name_and_version() -> None:
    assert set(ALL_TEMPLATES) <= set(template_names())
    for name in ALL_TEMPLATES:
        template = get_template(name)
        assert template.name == name
        assert template.version.strip()


def test_verdicts_follow_each_protocol() -> None:
    assert get_template("swe-rm").verdict_tokens == ("<YES>", "<NO>")
    assert get_template("swe-rm").prefill == ""
    # Both judges were trained on "<judgement>YES</judgement>": after the prefill the verdict
    # token is "YES" with no space before it (docs/presets.md).
    for name in ("swe-gym", "r2e-gym"):
        assert get_template(name).verdict_tokens == ("YES", "NO")
        assert get_template(name).prefill == "<judgement>"
    for name in ("openhands-critic", "openhands-critic-value"):
        assert not get_template(name).reads_verdict


def test_unknown_template_names_the_known_ones() -> None:
    with pytest.raises(UnknownTemplateError, match="unknown prompt template 'swe-rn'.*swe-rm"):
        get_template("swe-rn")


def test_a_plugin_template_renders_by_name(tiny_tokenizer: Any) -> None:
    from swerm_plugin import hookimpl
    from swerm_plugin.plugins.manager import get_plugin_manager

    class Terse(SweRmTemplate):
        name = "terse-test"
        version = "7"

    class TersePlugin:
        @hookimpl
        def swerm_register_templates(self, register: Any) -> None:
            register(Terse())

    get_plugin_manager().register(TersePlugin(), name="terse-plugin")
    prompt = render_prompt(golden_trajectory(), "terse-test", tiny_tokenizer)
    assert (prompt.template, prompt.template_version) == ("terse-test", "7")
    assert isinstance(get_template("swe-rm"), PromptTemplate)


def test_split_problem_drops_agent_system_prompt_and_task_wrapper() -> None:
    problem, turns = split_problem(golden_trajectory())
    assert problem.startswith("Parser.first() raises IndexError")
    assert [turn.index for turn in turns] == [2, 3, 4, 5]
    assert [turn.role for turn in turns] == ["assistant", "assistant", "tool", "assistant"]
    # A tool message is shown as an observation; plain assistant content as the thought.
    assert turns[2].observation == "(no output)"
    assert turns[3].thought == "The fix is in; submitting."


def test_first_user_message_is_the_problem_when_none_is_given() -> None:
    trajectory = Trajectory(
        instance_id="a",
        source="t",
        steps=[
            Step(role="user", content="Make foo() faster."),
            Step(role="assistant", action="ls"),
        ],
    )
    problem, turns = split_problem(trajectory)
    assert problem == "Make foo() faster."
    assert [turn.index for turn in turns] == [1]


def test_a_later_user_message_stays_a_turn() -> None:
    trajectory = Trajectory(
        instance_id="a",
        source="t",
        problem_statement="Fix bar.",
        steps=[
            Step(role="user", content="Fix bar."),
            Step(role="assistant", action="ls"),
            Step(role="user", content="Please also add a test."),
        ],
    )
    _, turns = split_problem(trajectory)
    assert [(turn.role, turn.observation) for turn in turns][-1] == (
        "user",
        "Please also add a test.",
    )


def test_an_action_repeated_as_content_is_not_shown_twice() -> None:
    trajectory = Trajectory(
        instance_id="a",
        source="t",
        problem_statement="p",
        steps=[Step(role="assistant", content="ls -la", action="ls -la")],
    )
    _, turns = split_problem(trajectory)
    assert (turns[0].thought, turns[0].action) == ("", "ls -la")


def test_an_empty_patch_is_said_explicitly() -> None:
    empty = golden_trajectory().model_copy(update={"patch": " "})
    assert EMPTY_PATCH in get_template("swe-rm").document(empty).user
    # The exact formats show the patch as their verifiers saw it: R2E-Gym an empty block,
    # SWE-Gym no patch section at all.
    assert "[PATCH]\n \n[/PATCH]" in get_template("r2e-gym").document(empty).user
    assert "+++ b/p.py" not in get_template("swe-gym").document(golden_trajectory()).user


@pytest.mark.parametrize("name", ["swe-rm", "swe-gym", "r2e-gym"])
def test_prefix_is_the_template_head_and_problem_statement(name: str) -> None:
    document = get_template(name).document(golden_trajectory())
    prefix = "".join(s.text for s in document.segments[: document.prefix_end])
    assert "Parser.first() raises IndexError on an empty list." in prefix
    assert "Reproduce it first." not in prefix
    assert all(s.step is None for s in document.segments[: document.prefix_end])
