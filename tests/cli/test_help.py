"""Every command documents every option: walked from the real command tree, built-ins and all."""

from __future__ import annotations

import click
import pytest

from swerm_plugin.cli import cli
from swerm_plugin.plugins import get_hooks
from swerm_plugin.testing import run_cli


def walk(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    found = [(" ".join(path), command)]
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            found += walk(sub, (*path, name))
    return found


def commands() -> list[tuple[str, click.Command]]:
    get_hooks().register_commands(cli)
    return walk(cli)


def test_every_option_has_help_text() -> None:
    missing = [
        f"swerm {name} {'/'.join(param.opts)}"
        for name, command in commands()
        for param in command.params
        if isinstance(param, click.Option) and not (param.help or "").strip()
    ]
    assert not missing, f"options without help text: {missing}"
    assert len(commands()) >= 15  # the walk really went through the tree


def test_every_command_has_a_summary() -> None:
    assert all((command.help or "").strip() for _, command in commands())


@pytest.mark.parametrize("name", ["eval", "score", "rerank", "calibrate"])
def test_help_shows_defaults(name: str) -> None:
    result = run_cli(name, "--help")
    assert result.exit_code == 0
    assert "[default:" in result.stdout


def test_debug_is_accepted_after_the_subcommand(tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nothing.traj"
    result = run_cli("inspect", missing, "--debug")
    assert result.exit_code == 2  # a usage error, whatever the position of --debug
    assert result.stderr.startswith("swerm: error: ")
    assert result.stderr.splitlines()[-1].startswith("hint: run 'swerm inspect --help'")


def test_usage_errors_are_one_line_and_a_hint() -> None:
    result = run_cli("eval", "--bogus")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("swerm: error: No such option")
    assert lines[1].startswith("hint: ")


def test_launcher_help_needs_no_framework() -> None:
    result = run_cli("sweagent", "run-batch", "--help")
    assert result.exit_code == 0 and "run-batch" in result.stdout
    mini = run_cli("mini", "swebench", "--help")
    assert mini.exit_code == 0
    assert "mini-swe-agent version" not in mini.stdout + mini.stderr
    assert "swerm is off" not in mini.stdout + mini.stderr
