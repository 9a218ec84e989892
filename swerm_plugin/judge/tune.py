"""Automate-CoT's third stage with the real judge: choose k exemplars of the pool on a labelled
dev set (:class:`~swerm_plugin.judge.policy.ExemplarSearch` is the search; here each sampled
prompt is judged on a dev batch and its loss measured).

Every step samples ``samples`` prompts and judges the same ``batch`` dev trajectories with each
(so the batch's difficulty is shared by the prompts the baseline compares). A prompt's loss is
the mean over the batch of the log-loss of P(YES) against the label (or the Brier score, or the
error rate); a trajectory the judge could not judge with that prompt counts as confidently
wrong: a prompt that makes the model answer out of format is a bad prompt. The search stops
after ``max_steps``, or before a step that would pass the budget of calls or tokens (estimated
as what the last step used). The chosen set is then judged on the whole dev set.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from swerm_plugin.errors import JudgeError, SwermError
from swerm_plugin.judge.backend import JudgeBackend, Judgement
from swerm_plugin.judge.calls import Usage
from swerm_plugin.judge.exemplars import Exemplar, ExemplarsFile, Pool, PoolRef
from swerm_plugin.judge.policy import ExemplarSearch, distinct, rng_state, set_rng_state
from swerm_plugin.judge.template import judge_template
from swerm_plugin.model import Trajectory
from swerm_plugin.prompts.render import render_prompt

LossName = Literal["log_loss", "brier", "error_rate"]
#: Probabilities are clipped to [P_CLIP, 1 - P_CLIP] for the log-loss (a sampled share can be 0).
P_CLIP = 1e-4


def trajectory_loss(p_yes: float | None, label: bool, loss: LossName) -> float:
    """One judged dev trajectory's loss; ``None`` (not judged) is confidently wrong."""
    if p_yes is None:
        p_yes = 0.0 if label else 1.0
    p_true = p_yes if label else 1.0 - p_yes
    if loss == "log_loss":
        return -math.log(min(max(p_true, P_CLIP), 1.0 - P_CLIP))
    if loss == "brier":
        return (1.0 - p_true) ** 2
    return 0.0 if p_true > 0.5 else 1.0


@dataclass
class SelectOptions:
    """The search's settings (recorded in the exemplars file)."""

    k: int = 4
    samples: int = 10
    lr: float = 1e-3
    batch: int = 8
    loss: LossName = "log_loss"
    max_steps: int = 100
    budget_calls: int | None = None
    budget_tokens: int | None = None
    seed: int = 0
    final_eval: bool = True


@dataclass
class Evaluation:
    """One prompt judged on some dev trajectories."""

    loss: float
    accuracy: float
    failed: int
    usage: Usage


class DevJudge:
    """Judges dev trajectories with a given set of pool exemplars."""

    def __init__(self, backend: JudgeBackend, pool: Sequence[Exemplar], budget: int | None):
        self.backend = backend
        self.pool = list(pool)
        self.budget = budget

    def evaluate(
        self, prompts: Sequence[Sequence[int]], batch: Sequence[Trajectory], loss: LossName
    ) -> list[Evaluation]:
        """Each prompt (pool indices) judged on every trajectory of ``batch``."""
        messages = [self._messages(prompt, t) for prompt in prompts for t in batch]
        judgements = self.backend.run(_judge_many, self.backend, messages)
        out = []
        for start in range(0, len(judgements), len(batch)):
            chunk = judgements[start : start + len(batch)]
            losses = [
                trajectory_loss(j.p_yes, bool(t.label), loss)
                for j, t in zip(chunk, batch, strict=True)
            ]
            right = [
                j.p_yes is not None and (j.p_yes >= 0.5) == bool(t.label)
                for j, t in zip(chunk, batch, strict=True)
            ]
            out.append(
                Evaluation(
                    loss=float(np.mean(losses)),
                    accuracy=float(np.mean(right)),
                    failed=sum(j.p_yes is None for j in chunk),
                    usage=Usage.total([j.usage for j in chunk]),
                )
            )
        return out

    def _messages(
        self, prompt: Sequence[int], trajectory: Trajectory
    ) -> list[dict[str, str]] | None:
        exemplars = [self.pool[i] for i in distinct(prompt)]
        template = judge_template(exemplars, self.backend.settings)
        try:
            return render_prompt(trajectory, template, None, self.budget).messages
        except SwermError:  # too long even after every cut: this prompt cannot judge it
            return None


async def _judge_many(
    backend: JudgeBackend, prompts: list[list[dict[str, str]] | None]
) -> list[Judgement]:
    async def one(messages: list[dict[str, str]] | None) -> Judgement:
        if messages is None:
            return Judgement(error="the prompt does not fit the token budget")
        return await backend.judge(messages)

    return list(await asyncio.gather(*(one(m) for m in prompts)))


class DevBatches:
    """Successive dev batches: a shuffled order, reshuffled when used up."""

    def __init__(self, n: int, size: int, seed: int) -> None:
        self.n, self.size = n, min(size, n)
        self.rng = np.random.default_rng(seed)
        self.order: list[int] = []

    def take(self) -> list[int]:
        out: list[int] = []
        while len(out) < self.size:
            if not self.order:
                self.order.extend(int(i) for i in self.rng.permutation(self.n))
            out.append(self.order.pop())
        return out

    def state(self) -> dict[str, Any]:
        return {"order": list(self.order), "rng": rng_state(self.rng)}

    def restore(self, state: dict[str, Any]) -> None:
        self.order = [int(i) for i in state["order"]]
        set_rng_state(self.rng, state["rng"])


@dataclass
class SearchRun:
    """A search in progress: what a checkpoint holds, what a resumed run starts from."""

    search: ExemplarSearch
    batches: DevBatches
    steps: list[dict[str, Any]] = field(default_factory=list)
    spent: Usage = field(default_factory=Usage)
    last: Usage | None = None

    def state(self) -> dict[str, Any]:
        return {
            "search": self.search.state(),
            "batches": self.batches.state(),
            "steps": self.steps,
            "spent": self.spent.as_dict(),
            "last": None if self.last is None else self.last.as_dict(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.search.restore(state["search"])
        self.batches.restore(state["batches"])
        self.steps = list(state["steps"])
        self.spent = Usage(**state["spent"])
        self.last = None if state["last"] is None else Usage(**state["last"])


def _over_budget(options: SelectOptions, spent: Usage, last: Usage) -> str | None:
    """Why the next step may not start (it would pass a budget), or ``None``."""
    if options.budget_calls is not None and spent.calls + last.calls > options.budget_calls:
        return "budget_calls"
    if options.budget_tokens is not None:
        used, step = spent.total_tokens, last.total_tokens
        if used is None or step is None:
            raise JudgeError(
                "the model's replies report no token usage, so a token budget cannot be kept",
                hint="budget by calls (--budget-calls) instead",
            )
        if used + step > options.budget_tokens:
            return "budget_tokens"
    return None


def first_step_calls(backend: JudgeBackend, options: SelectOptions, n_dev: int) -> int:
    per_judgement = backend.settings.n_samples if backend.gives_logprobs is False else 1
    if backend.settings.verdict_from == "sampling":
        per_judgement = backend.settings.n_samples
    return options.samples * min(options.batch, n_dev) * per_judgement


def search_exemplars(
    backend: JudgeBackend,
    pool: Pool,
    dev: Sequence[Trajectory],
    options: SelectOptions,
    *,
    budget: int | None,
    resume: dict[str, Any] | None = None,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[SearchRun, str]:
    """Run the search (from ``resume``, a saved :meth:`SearchRun.state`, when given), handing
    ``checkpoint`` the state after every step; returns the run and why it stopped."""
    run = SearchRun(
        ExemplarSearch(len(pool.exemplars), options.k, samples=options.samples, lr=options.lr,
                       seed=options.seed),
        DevBatches(len(dev), options.batch, options.seed + 1),
    )  # fmt: skip
    if resume is not None:
        run.restore(resume)
    judge = DevJudge(backend, pool.exemplars, budget)
    first = first_step_calls(backend, options, len(dev))
    if options.budget_calls is not None and first > options.budget_calls:
        raise JudgeError(
            f"one step takes about {first} calls (samples x batch), more than the budget of "
            f"{options.budget_calls}",
            hint="raise --budget-calls, or lower --samples or --batch",
        )
    while len(run.steps) < options.max_steps:
        if run.last is not None and (reason := _over_budget(options, run.spent, run.last)):
            return run, reason
        batch = [dev[i] for i in run.batches.take()]
        prompts = run.search.sample()
        evaluations = judge.evaluate(prompts, batch, options.loss)
        losses = [e.loss for e in evaluations]
        run.search.update(prompts, losses)
        run.last = Usage.total([e.usage for e in evaluations])
        run.spent.add(run.last)
        run.steps.append(_step_record(len(run.steps), losses, evaluations, run, pool))
        if checkpoint is not None:
            checkpoint(run.state())
    return run, "max_steps"


def _step_record(
    number: int,
    losses: Sequence[float],
    evaluations: Sequence[Evaluation],
    run: SearchRun,
    pool: Pool,
) -> dict[str, Any]:
    usage = run.last or Usage()
    return {
        "step": number,
        "mean_loss": float(np.mean(losses)),
        "min_loss": float(np.min(losses)),
        "max_loss": float(np.max(losses)),
        "accuracy": float(np.mean([e.accuracy for e in evaluations])),
        "failed": sum(e.failed for e in evaluations),
        **usage.as_dict(),
        "current": [pool.exemplars[i].id for i in run.search.choice()],
    }


def select_exemplars(
    backend: JudgeBackend,
    pool: Pool,
    pool_ref: PoolRef,
    dev: Sequence[Trajectory],
    options: SelectOptions,
    *,
    budget: int | None,
    resume: dict[str, Any] | None = None,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
) -> ExemplarsFile:
    """Choose ``options.k`` exemplars of ``pool`` on the labelled ``dev`` trajectories."""
    if not dev:
        raise JudgeError("no labelled dev trajectory to choose exemplars on")
    if len(pool.exemplars) < options.k:
        raise JudgeError(
            f"the pool has {len(pool.exemplars)} exemplars, fewer than k = {options.k}",
            hint="lower --k, or grow the pool (more labelled trajectories or --chains)",
        )
    run, stop = search_exemplars(
        backend, pool, dev, options, budget=budget, resume=resume, checkpoint=checkpoint
    )
    usage = Usage().add(run.spent)
    chosen = [pool.exemplars[i] for i in run.search.choice()]
    final = None
    if options.final_eval:
        judge = DevJudge(backend, chosen, budget)
        (evaluation,) = judge.evaluate([list(range(len(chosen)))], dev, options.loss)
        usage.add(evaluation.usage)
        final = {
            "loss": evaluation.loss,
            "accuracy": evaluation.accuracy,
            "n": len(dev),
            "failed": evaluation.failed,
            **evaluation.usage.as_dict(),
        }
    return ExemplarsFile(
        model=backend.model_name,
        settings=backend.settings.model_dump(mode="json", exclude={"exemplars"}),
        pool=pool_ref,
        chosen=chosen,
        selection={**asdict(options), "dev": [t.content_hash() for t in dev]},
        steps=run.steps,
        final=final,
        usage=usage.as_dict(),
        probabilities=[[round(float(p), 6) for p in row] for row in run.search.probs],
        stop_reason=stop,
    )


def search_key(
    backend: JudgeBackend, pool: PoolRef, dev: Sequence[Trajectory], options: SelectOptions
) -> dict[str, Any]:
    """What makes two searches the same one, so that the second may resume the first: not the
    stopping rules (steps, budgets), which a resumed run may change."""
    searched = {k: v for k, v in asdict(options).items() if k in _SEARCH_FIELDS}
    return {
        "model": backend.model_name,
        "settings": backend.settings.model_dump(mode="json", exclude={"exemplars"}),
        "pool": pool.sha256,
        "dev": [t.content_hash() for t in dev],
        "search": searched,
    }


_SEARCH_FIELDS = frozenset({"k", "samples", "lr", "batch", "loss", "seed"})
