"""How the scoring actors of a Ray job are sized, checked against the cluster before it starts.

Ray Data's actors hold their resources for the whole job: an actor pool that takes every CPU
leaves none for the read and render tasks, and the job waits forever (docs/scale.md).
So actors ask for a fraction of a CPU (0.5; 0.25 for a remote backend, whose actors only send
requests), and at least one CPU is left for reading and rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import ConfigError, ScaleError
from swerm_plugin.plugins.manager import get_hooks


@dataclass(frozen=True)
class ActorPlan:
    """How the scoring actors are sized."""

    actors: int
    gpus: float
    cpus: float
    threads: int | None


def _is_remote(config: SwermConfig) -> bool:
    from swerm_plugin.backends.remote.base import RemoteBackend

    backend = get_hooks(config).backends().get(config.backend)
    return isinstance(backend, type) and issubclass(backend, RemoteBackend)


def plan_actors(
    ray: Any,
    config: SwermConfig,
    actors: int,
    gpus: float,
    cpus: float | None,
    threads: int | None,
) -> ActorPlan:
    """Size the actor pool and check that the cluster can hold it beside the read and render
    tasks (an actor pool that takes every CPU leaves none to read with, and waits forever)."""
    remote = _is_remote(config)
    if gpus and remote:
        raise ConfigError(
            f"gpus_per_actor is for a local model; the {config.backend} backend's actors only "
            "send requests to its servers: give the GPUs to the vLLM replicas instead"
        )
    cpus = cpus if cpus is not None else 0.25 if remote else 0.5
    have = ray.cluster_resources()
    total_cpus, total_gpus = float(have.get("CPU", 0)), float(have.get("GPU", 0))
    if actors * gpus > total_gpus:
        raise ScaleError(
            f"{actors} actors x {gpus:g} GPUs need {actors * gpus:g} GPUs; the Ray cluster has "
            f"{total_gpus:g}",
            hint="use fewer actors or GPUs per actor, or add GPU nodes to the cluster",
        )
    if actors * cpus + 1 > total_cpus:
        raise ScaleError(
            f"{actors} actors x {cpus:g} CPUs leave less than one of the cluster's "
            f"{total_cpus:g} CPUs for reading and rendering; the job would wait forever",
            hint="use fewer actors (or fewer CPUs per actor in the Python API)",
        )
    if threads is None and not remote and not gpus:
        threads = max(1, int(total_cpus) // actors)
    return ActorPlan(actors, gpus, cpus, threads)
