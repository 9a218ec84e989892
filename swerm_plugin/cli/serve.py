"""``swerm serve``: the scoring service (HTTP), for RL trainers and agents in any language.

Thin over :mod:`swerm_plugin.serve`: the options become a
:class:`~swerm_plugin.serve.settings.ServeSettings`, the model options the same config as
``swerm score``; the command runs until SIGTERM or SIGINT and exits 0 after a graceful stop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from swerm_plugin.cli.options import config_from, model_options, render_options, say
from swerm_plugin.serve.settings import MIB, ServeSettings

F = TypeVar("F", bound=Callable[..., Any])
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# (flag, setting, type, help): the batching and limit options, defaults from ServeSettings.
_TUNING: tuple[tuple[str, str, click.ParamType, str], ...] = (
    (
        "--max-batch-tokens",
        "max_batch_tokens",
        click.IntRange(min=1),
        "A backend batch closes at this many estimated prompt tokens (4 characters each).",
    ),
    (
        "--max-batch-size",
        "max_batch_size",
        click.IntRange(min=1),
        "A backend batch closes at this many trajectories.",
    ),
    (
        "--max-wait-ms",
        "max_wait_ms",
        click.FloatRange(min=0, min_open=True),
        "How long the first request of a batch waits for others to join it.",
    ),
    (
        "--batch-concurrency",
        "batch_concurrency",
        click.IntRange(min=1),
        "Batches scored at once: 1 for a local model, more for a remote server.",
    ),
    (
        "--max-queue",
        "max_queue",
        click.IntRange(min=1),
        "Trajectories that may wait for a batch; beyond, 503 with Retry-After.",
    ),
    (
        "--max-trajectories",
        "max_trajectories",
        click.IntRange(min=1),
        "Trajectories in one request at most; beyond, 413.",
    ),
    (
        "--timeout",
        "timeout_s",
        click.FloatRange(min=0, min_open=True),
        "Seconds a request waits for its scores; beyond, 504.",
    ),
    (
        "--reward-mode",
        "reward_mode",
        click.Choice(["score", "hybrid"]),
        "Default RL reward of the reward routes: score s, or SWE-RM's hybrid (needs labels).",
    ),
)


def tuning_options(func: F) -> F:
    for flag, name, kind, text in reversed(_TUNING):
        default = getattr(ServeSettings, name)
        func = click.option(flag, name, type=kind, default=default, show_default=True, help=text)(
            func
        )
    return click.option(
        "--max-body-mb",
        type=click.FloatRange(min=0, min_open=True),
        default=ServeSettings.max_body_bytes / MIB,
        show_default=True,
        help="Largest request body in MiB; beyond, 413.",
    )(func)


@click.command("serve")
@model_options
@render_options
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; anything but 127.0.0.1 opens the model to the network.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on (0: a free one, printed at start).",
)
@click.option(
    "--api-key-env",
    metavar="NAME",
    help="Require the value of this environment variable as a Bearer token (or X-API-Key).",
)
@tuning_options
@click.option("--ray", is_flag=True, help="Serve replicas with Ray Serve (the 'ray' extra).")
@click.option(
    "--replicas", type=click.IntRange(min=1), default=1, show_default=True, help="With --ray."
)
@click.option(
    "--replica-cpus",
    type=click.FloatRange(min=0, min_open=True),
    default=0.5,
    show_default=True,
    help="With --ray: CPUs each replica reserves (fractions share a small machine).",
)
def serve_command(
    backend: str | None,
    model: str | None,
    template: str | None,
    max_tokens: int | None,
    ray: bool,
    replicas: int,
    replica_cpus: float,
    max_body_mb: float,
    **settings: Any,
) -> int:
    """Serve scores, reranking and RL rewards over HTTP (/v1/score, /v1/rerank, /v1/reward,
    /v1/openrlhf/reward, /healthz, /metrics) until stopped with SIGTERM or Ctrl-C."""
    from swerm_plugin.plugins.manager import get_hooks
    from swerm_plugin.serve.server import run_ray, run_uvicorn

    if replicas != 1 and not ray:
        raise click.UsageError("--replicas needs --ray")
    config = config_from(backend=backend, model=model, template=template, max_tokens=max_tokens)
    get_hooks(config).check_template(config.template)  # before loading any model
    serve_settings = ServeSettings(max_body_bytes=int(max_body_mb * MIB), **settings)
    serve_settings.api_key()  # an API key variable that is named but empty fails now
    if serve_settings.host not in LOCAL_HOSTS and serve_settings.api_key_env is None:
        say(
            f"warning: serving on {serve_settings.host} without --api-key-env: anyone who can "
            "reach this port can use the model"
        )
    if ray:
        return run_ray(
            config, serve_settings, replicas=replicas, replica_cpus=replica_cpus, announce=say
        )
    from swerm_plugin.verifier import Verifier

    with Verifier(config) as verifier:  # a backend that cannot be built fails before listening
        return run_uvicorn(config, serve_settings, verifier=verifier, announce=say)
