"""``swerm mini ...`` and ``swerm sweagent ...``: the frameworks' own batch runners, swerm inside.

Every argument after the subcommand goes to the framework untouched (its own ``--help``
included); the framework is imported only when a command runs, so ``swerm --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from swerm_plugin.cli.options import EXISTING, say
from swerm_plugin.config import load_config

INSTALL = (
    "SWE-agent 1.1.0 is not on PyPI: clone github.com/SWE-agent/SWE-agent at v1.1.0 and "
    "pip install -e it (see docs/integrations.md)"
)


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


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
    """`sweagent run-batch ARGS...` with swerm judging each instance (SWE-agent 1.1.0).

    With a retry config from `swerm sweagent retry-config`, swerm is the reviewer of
    SWE-agent's retry loop: a low score starts another attempt. When swerm's choice is not the
    submitted patch, the .pred is rewritten (original kept as .pred.orig) before preds.json is
    merged. Needs SWE-agent (not on PyPI) and the flag (SWERM_CONFIG=swerm.toml or SWERM=1),
    or a swerm retry config; without them the run is unchanged.
    """
    if {"--help", "-h"} & set(args) and not _installed("sweagent"):
        click.echo(click.get_current_context().get_help())
        click.echo(f"\nSWE-agent's own options are listed here once it is installed: {INSTALL}")
        return
    from swerm_plugin.integrations.sweagent import run_batch

    run_batch(args)


@sweagent_group.command("retry-config")
@click.argument("agent_configs", nargs=-1, required=True, type=EXISTING)
@click.option("--model", help="Model name for every attempt (agent.model.name).")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write here; default: stdout."
)
def sweagent_retry_config(
    agent_configs: tuple[Path, ...], model: str | None, output: Path | None
) -> None:
    """A SWE-agent config running AGENT_CONFIGS as a retry agent that swerm reviews.

    Each AGENT_CONFIG is a SWE-agent config file with an `agent:` block (e.g.
    config/default.yaml); attempt k runs the (k mod n)-th. The retry loop's limits come from
    swerm's policy (max_attempts, cost_budget). Run it with
    `swerm sweagent run-batch --config OUTPUT ...`.
    """
    from swerm_plugin.integrations.sweagent_config import retry_config_yaml
    from swerm_plugin.jsonl import atomic_write_text

    text = retry_config_yaml(agent_configs, load_config(), model=model)
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(output, text)
        say(f"wrote {output}")
