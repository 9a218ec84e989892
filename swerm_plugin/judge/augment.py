"""Automate-CoT's first two stages: augment, then prune.

**Augment**: for every labelled trajectory the judge model writes ``chains`` rationale chains,
each ending in a verdict, with the zero-shot rationale prompt at ``judge.temperature`` (> 0, so
the chains differ). **Prune**: a chain is kept only when its verdict agrees with the harness's
label; chains without a verdict line and repeats are dropped too. What is kept becomes the
pool's exemplars: the trajectory condensed (each part within its budget, agent text
neutralised) with the chain's rationale.

The pool file is rewritten after every round of trajectories, and a trajectory already in it
(``done``) is not asked again, so an interrupted run resumes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from swerm_plugin.errors import JudgeError, RemoteError, SwermError
from swerm_plugin.judge.calls import Usage
from swerm_plugin.judge.exemplars import Exemplar, Pool, PoolStats
from swerm_plugin.judge.template import clip, condense, judge_template, safe_text
from swerm_plugin.judge.verdicts import UnparsableReply, parse_verdict
from swerm_plugin.model import Trajectory
from swerm_plugin.prompts.render import render_prompt

if TYPE_CHECKING:
    from swerm_plugin.judge.backend import JudgeBackend


@dataclass
class ChainOutcome:
    """What became of one trajectory's chains."""

    exemplars: list[Exemplar] = field(default_factory=list)
    stats: PoolStats = field(default_factory=PoolStats)
    usage: Usage = field(default_factory=Usage)
    errors: list[str] = field(default_factory=list)


def pool_settings(backend: JudgeBackend, chains: int) -> dict[str, Any]:
    """What a pool's exemplars depend on; a resumed pool must have been made with the same."""
    settings = backend.settings
    return {
        "chains": chains,
        "temperature": settings.temperature,
        "max_rationale_tokens": settings.max_rationale_tokens,
        "verdicts": list(settings.verdicts),
        "exemplar_problem_tokens": settings.exemplar_problem_tokens,
        "exemplar_trajectory_tokens": settings.exemplar_trajectory_tokens,
        "exemplar_patch_tokens": settings.exemplar_patch_tokens,
        "template_version": backend.template.version.split("+")[0],
    }


def start_pool(backend: JudgeBackend, chains: int, existing: Pool | None, where: str) -> Pool:
    """A new pool, or ``existing`` to resume when it was made the same way."""
    settings = pool_settings(backend, chains)
    if existing is None:
        return Pool(model=backend.model_name, settings=settings)
    if existing.model != backend.model_name or existing.settings != settings:
        raise JudgeError(
            f"{where} was made with model {existing.model} and settings {existing.settings}, "
            f"not {backend.model_name} and {settings}; swerm resumes a pool only as it began",
            hint="give -o a new file name, or the model and settings the pool was made with",
        )
    return existing


async def augment_one(
    backend: JudgeBackend, trajectory: Trajectory, chains: int, budget: int | None
) -> ChainOutcome:
    """Write ``chains`` rationale chains for one labelled trajectory and prune them."""
    outcome = ChainOutcome(stats=PoolStats(trajectories=1))
    settings = backend.settings.model_copy(update={"mode": "rationale"})
    try:
        prompt = render_prompt(trajectory, judge_template([], settings), None, budget)
    except SwermError as exc:
        outcome.errors.append(f"rendering failed: {exc}")
        return outcome
    request = backend.calls.request(
        prompt.messages,
        max_tokens=settings.max_rationale_tokens,
        temperature=settings.temperature,
        logprobs=False,
    )
    replies = await asyncio.gather(
        *(backend.calls.complete(request, what="rationale chain") for _ in range(chains)),
        return_exceptions=True,
    )
    parts = condense(trajectory, settings)
    seen: set[str] = set()
    for number, reply in enumerate(replies):
        outcome.stats.chains += 1
        if isinstance(reply, BaseException):
            if not isinstance(reply, RemoteError | ValueError):
                raise reply
            outcome.stats.failed += 1
            outcome.errors.append(f"chain {number}: {reply}")
            continue
        outcome.usage.add(reply.usage)
        exemplar = _pruned(trajectory, reply.text, number, parts, outcome.stats, backend)
        if exemplar is None:
            continue
        if exemplar.id in seen:
            outcome.stats.duplicates += 1
            continue
        seen.add(exemplar.id)
        outcome.exemplars.append(exemplar)
        outcome.stats.kept += 1
    outcome.exemplars.sort(key=lambda e: e.id)  # a pool's order never depends on reply timing
    return outcome


def _pruned(
    trajectory: Trajectory,
    text: str,
    chain: int,
    parts: dict[str, str],
    stats: PoolStats,
    backend: JudgeBackend,
) -> Exemplar | None:
    """The exemplar a chain makes, or ``None`` (counted) when pruning drops it."""
    settings = backend.settings
    try:
        parsed = parse_verdict(text, settings.verdicts)
    except UnparsableReply:
        stats.unparsable += 1
        return None
    if parsed.is_yes != trajectory.label:
        stats.contradicted += 1
        return None
    rationale = clip(
        safe_text(text[: parsed.line_start].strip()), settings.max_rationale_tokens, keep_tail=False
    )
    return Exemplar(
        instance_id=trajectory.instance_id,
        source_hash=trajectory.content_hash(),
        label=bool(trajectory.label),
        verdict=parsed.is_yes,
        chain=chain,
        rationale=rationale or "(no rationale)",
        **parts,
    )


def build_pool(
    backend: JudgeBackend,
    trajectories: Sequence[Trajectory],
    pool: Pool,
    *,
    chains: int,
    budget: int | None,
    save: Callable[[Pool], None],
    on_error: Callable[[Trajectory, str], None],
    advance: Callable[[int], None] | None = None,
) -> Pool:
    """Augment and prune every labelled trajectory not yet in ``pool``; ``save`` is called after
    each round (``remote.concurrency`` trajectories at a time)."""
    if chains < 1:
        raise ValueError(f"chains must be at least 1, got {chains}")
    done = set(pool.done)
    todo = [t for t in trajectories if t.label is not None and t.content_hash() not in done]
    width = max(1, backend.config.remote.concurrency // chains)
    usage = Usage(**pool.usage) if pool.usage else Usage()
    for start in range(0, len(todo), width):
        batch = todo[start : start + width]
        outcomes = backend.run(_augment_all, backend, batch, chains, budget)
        for trajectory, outcome in zip(batch, outcomes, strict=True):
            known = {e.id for e in pool.exemplars}
            pool.exemplars.extend(e for e in outcome.exemplars if e.id not in known)
            pool.stats = _added(pool.stats, outcome.stats)
            usage.add(outcome.usage)
            for error in outcome.errors:
                on_error(trajectory, error)
            if outcome.stats.failed < outcome.stats.chains:  # else asked again on a rerun
                pool.done.append(trajectory.content_hash())
        pool.usage = usage.as_dict()
        save(pool)
        if advance is not None:
            advance(len(batch))
    return pool


async def _augment_all(
    backend: JudgeBackend, batch: list[Trajectory], chains: int, budget: int | None
) -> list[ChainOutcome]:
    return list(await asyncio.gather(*(augment_one(backend, t, chains, budget) for t in batch)))


def _added(a: PoolStats, b: PoolStats) -> PoolStats:
    return PoolStats(
        **{name: getattr(a, name) + getattr(b, name) for name in PoolStats.model_fields}
    )
