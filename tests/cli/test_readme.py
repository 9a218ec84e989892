"""The README's command table and exit codes match the real command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from swerm_plugin.cli.app import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from swerm_plugin.testing import run_cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
ROWS = re.findall(r"^\| `(swerm [^`]*)`", README, flags=re.M)


def command_words(cell: str) -> list[str]:
    words = []
    for word in cell.split()[1:]:
        if not re.fullmatch(r"[a-z][a-z-]*", word):
            break
        words.append(word)
    return words


def test_the_table_lists_commands() -> None:
    assert len(ROWS) >= 15


@pytest.mark.parametrize("cell", ROWS)
def test_every_command_and_option_in_the_table_exists(cell: str) -> None:
    words = command_words(cell)
    result = run_cli(*words, "--help")
    assert result.exit_code == 0, f"{cell}: {result.stderr}"
    for option in re.findall(r"--[a-z][a-z-]*", cell):
        assert option in result.stdout, f"README names {option} for `swerm {' '.join(words)}`"


def test_the_exit_codes_documented_are_the_ones_used() -> None:
    documented = dict(re.findall(r"`(\d)` ([a-z]+)", README.split("**Exit codes**", 1)[1][:600]))
    assert documented == {
        str(EXIT_OK): "everything",
        str(EXIT_FAILED): "failed",
        str(EXIT_USAGE): "usage",
        str(EXIT_PARTIAL): "partial",
    }
