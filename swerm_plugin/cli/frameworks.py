"""``swerm mini ...`` and ``swerm sweagent ...``: the frameworks' own batch runners, swerm inside.

Every argument after the subcommand goes to the framework untouched (its own ``--help``
included); the framework is imported only when a command runs, so ``swerm --help`` stays fast.
"""

from __future__ import annotations

import click

_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


@click.group("mini")
def mini_group() -> None:
    """mini-swe-agent runs with swerm verifying each submission."""


@mini_group.command("swebench", context_settings=_PASS_THROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def mini_swebench(args: tuple[str, ...]) -> None:
    """`mini-extra swebench ARGS...` with SwermAgent swapped in for its agent class.

    The decisions log is written beside preds.json. Needs the flag: SWERM_CONFIG=swerm.toml
    (or SWERM=1 with a swerm.toml or [tool.swerm] here); without it the run is unchanged.
    """
    from swerm_plugin.integrations.mini import run_swebench_batch

    run_swebench_batch(args)


@click.group("sweagent")
def sweagent_group() -> None:
    """SWE-agent runs with swerm verifying each finished instance."""


@sweagent_group.command("run-batch", context_settings=_PASS_THROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def sweagent_run_batch(args: tuple[str, ...]) -> None:
    """`sweagent run-batch ARGS...` with SwermRunHook added to the run.

    A rejected instance's .pred is rewritten (original kept as .pred.orig) before preds.json
    is merged. Needs SWE-agent (not on PyPI) and the flag, as for `swerm mini swebench`.
    """
    from swerm_plugin.integrations.sweagent import run_batch

    run_batch(args)
