"""One training phase of a student: a plain loop with accelerate (device placement, bfloat16
autocast on a GPU), AdamW with a linearly decaying learning rate, gradient clipping, a
checkpoint every ``checkpoint_every`` steps, and resumption from the newest one.

The data order is a function of the seed and the epoch only, and the random-generator states
are checkpointed, so a resumed run takes the same steps the uninterrupted one would have.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from swerm_plugin.distill import checkpoint
from swerm_plugin.distill.batches import Batch, last_logits, make_batch, plan
from swerm_plugin.distill.checkpoint import WorkDir
from swerm_plugin.distill.data import Example
from swerm_plugin.distill.loss import first_loss, label_loss, student_logprobs
from swerm_plugin.distill.student import set_weights, trainable_weights

log = logging.getLogger("swerm.distill")
Objective = Literal["first", "labels"]
#: Opens a progress bar of ``total`` steps and yields the function that advances it.
ProgressFactory = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]


@dataclass(frozen=True)
class TrainOptions:
    """How a student is trained (the same for the FIRST student and the labels-only one)."""

    epochs: int = 2
    lr: float | None = None
    batch_tokens: int = 16384
    label_weight: float = 0.0
    rest_bucket: bool = True
    lora_rank: int | None = None
    seed: int = 0
    checkpoint_every: int = 50
    gradient_checkpointing: bool = False
    max_grad_norm: float = 1.0
    device: str = "auto"

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 1e-4 if self.lora_rank else 1e-5


@dataclass
class PhaseStats:
    """What a phase did: optimisation steps, prompt tokens seen, wall time (this process)."""

    steps: int = 0
    tokens: int = 0
    seconds: float = 0.0
    last_epoch_loss: float = float("nan")
    resumed_at: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 3),
            "tokens_per_second": round(self.tokens / self.seconds, 1) if self.seconds else None,
            "last_epoch_loss": self.last_epoch_loss,
            "resumed_at_step": self.resumed_at,
        }


def batch_loss(
    model: Any, batch: Batch, objective: Objective, options: TrainOptions
) -> tuple[Any, Any]:
    """The phase's loss on one batch, and the batch's logits (detached by the caller)."""
    logits = last_logits(model, batch.inputs)
    if objective == "labels":
        return label_loss(logits, batch.verdict_ids, batch.labels), logits
    student = student_logprobs(logits, batch.top_ids, rest=options.rest_bucket)
    loss = first_loss(student, batch.targets)
    if options.label_weight:
        loss = loss + options.label_weight * label_loss(logits, batch.verdict_ids, batch.labels)
    return loss, logits


def epoch_order(n_batches: int, seed: int, epoch: int) -> list[int]:
    """The batch order of one epoch: the same for a given seed and epoch in every process."""
    return [int(i) for i in np.random.default_rng([seed, epoch]).permutation(n_batches)]


class Phase:
    """Trains ``model`` on ``examples`` with one objective, resumable from ``work``."""

    def __init__(
        self,
        name: str,
        objective: Objective,
        examples: Sequence[Example],
        options: TrainOptions,
        work: WorkDir,
        *,
        pad: int,
        k: int,
        teacher_temperature: float,
    ) -> None:
        self.name = name
        self.objective = objective
        self.examples = list(examples)
        self.options = options
        self.work = work
        self.pad = pad
        self.k = k
        self.teacher_temperature = teacher_temperature
        self.batches = plan(self.examples, options.batch_tokens)

    @property
    def total_steps(self) -> int:
        return self.options.epochs * len(self.batches)

    def batch(self, step: int) -> Batch:
        epoch, index = divmod(step, len(self.batches))
        members = self.batches[epoch_order(len(self.batches), self.options.seed, epoch)[index]]
        return make_batch(
            [self.examples[i] for i in members],
            self.pad,
            k=self.k,
            teacher_temperature=self.teacher_temperature,
            rest=self.options.rest_bucket,
        )

    def run(self, model: Any, progress: ProgressFactory | None = None) -> PhaseStats:
        """Train ``model`` to the end, from the newest checkpoint when there is one (the caller
        marks the phase done: :meth:`WorkDir.finish`)."""
        import torch
        from accelerate import Accelerator

        device = self.options.device
        accelerator = Accelerator(
            cpu=device == "cpu",
            mixed_precision="bf16" if device.startswith("cuda") else "no",
        )
        params = list(trainable_weights(model).values())
        optimizer = torch.optim.AdamW(params, lr=self.options.learning_rate, weight_decay=0.0)
        total = self.total_steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0 - s / total)
        stats = PhaseStats()
        step = self._resume(model, optimizer, scheduler, stats)
        model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
        bar = progress(self.name, total) if progress is not None else nullcontext(None)
        epoch_losses: list[float] = []
        with bar as advance:
            if advance is not None and step:
                advance(step)
            while step < total:
                start = time.perf_counter()
                batch = self.batch(step).to(accelerator.device)
                with accelerator.autocast():
                    loss, _ = batch_loss(model, batch, self.objective, self.options)
                accelerator.backward(loss)
                accelerator.clip_grad_norm_(params, self.options.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                epoch_losses = self._account(stats, batch, loss, start, step, epoch_losses)
                if advance is not None:
                    advance(1)
                if step % self.options.checkpoint_every == 0 and step < total:
                    self._save(accelerator.unwrap_model(model), optimizer, scheduler, step, stats)
        return stats

    def _account(
        self,
        stats: PhaseStats,
        batch: Batch,
        loss: Any,
        start: float,
        step: int,
        epoch_losses: list[float],
    ) -> list[float]:
        stats.steps += 1
        stats.tokens += batch.n_tokens
        epoch_losses.append(float(loss.detach()))
        stats.seconds += time.perf_counter() - start
        if step % len(self.batches) == 0:
            stats.last_epoch_loss = float(np.mean(epoch_losses))
            return []
        return epoch_losses

    def _save(self, model: Any, optimizer: Any, scheduler: Any, step: int, stats: Any) -> None:
        import torch

        states = {
            "step": step,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "last_epoch_loss": stats.last_epoch_loss,
        }
        self.work.save(self.name, step, trainable_weights(model), states)

    def _resume(self, model: Any, optimizer: Any, scheduler: Any, stats: PhaseStats) -> int:
        import torch

        found = self.work.latest(self.name)
        if found is None:
            torch.manual_seed(self.options.seed)
            return 0
        weights, states = checkpoint.load(found)
        set_weights(model, weights)
        optimizer.load_state_dict(states["optimizer"])
        scheduler.load_state_dict(states["scheduler"])
        torch.set_rng_state(states["rng"])
        if states["cuda_rng"]:
            torch.cuda.set_rng_state_all(states["cuda_rng"])
        stats.resumed_at = int(states["step"])
        stats.last_epoch_loss = float(states["last_epoch_loss"])
        log.warning(
            "%s: resuming at step %d of %d from %s", self.name, stats.resumed_at, self.total_steps,
            found,
        )  # fmt: skip
        return stats.resumed_at
