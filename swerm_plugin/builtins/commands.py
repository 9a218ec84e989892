"""Adds the built-in commands to the ``swerm`` command line (``swerm_register_commands``)."""

from __future__ import annotations

import click

from swerm_plugin.cli.calibrate import calibrate_command
from swerm_plugin.cli.convert import convert_group
from swerm_plugin.cli.distill import distill_command
from swerm_plugin.cli.evaluate import eval_command, report_command
from swerm_plugin.cli.frameworks import mini_group, sweagent_group
from swerm_plugin.cli.info import config_group, plugins_command
from swerm_plugin.cli.inspect import inspect_command
from swerm_plugin.cli.judge import judge_group
from swerm_plugin.cli.presets import presets_command
from swerm_plugin.cli.remote import remote_group
from swerm_plugin.cli.rerank import rerank_command
from swerm_plugin.cli.reward import reward_command
from swerm_plugin.cli.score import score_command
from swerm_plugin.cli.serve import serve_command
from swerm_plugin.cli.submission import submission_command
from swerm_plugin.plugins.hookspecs import hookimpl

BUILTIN_COMMANDS: tuple[click.Command, ...] = (
    inspect_command,
    score_command,
    rerank_command,
    submission_command,
    eval_command,
    report_command,
    calibrate_command,
    distill_command,
    reward_command,
    serve_command,
    judge_group,
    remote_group,
    mini_group,
    sweagent_group,
    presets_command,
    convert_group,
    plugins_command,
    config_group,
)


@hookimpl
def swerm_register_commands(cli: click.Group) -> None:
    for command in BUILTIN_COMMANDS:
        cli.add_command(command)
