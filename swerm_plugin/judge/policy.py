"""Automate-CoT's selection: which k exemplars of a pool make the best prompt, with the model
as a black box (Shum et al., "Automatic Prompt Augmentation and Selection with
Chain-of-Thought from Labeled Data", Findings of EMNLP 2023).

Each of the k slots is a categorical distribution over the pool (a row of ``probs``). A step
samples ``I`` prompts (one exemplar per slot each), measures the loss ``L_i`` of each on the same
dev batch, and moves the rows along the variance-reduced policy gradient

    g = 1/(I-1) * sum_i (L_i - mean(L)) * grad log p(prompt_i)

where ``grad log p`` of a slot's row is ``1/p_j`` at the sampled exemplar ``j`` and 0 elsewhere.
Subtracting the batch mean (a baseline) leaves the estimate unbiased and lowers its variance:
only how much better or worse than its siblings a prompt did moves the distribution. Adam
(lr 1e-3 by default) takes the step; each row is then projected back onto the probability
simplex (with a small floor, so every exemplar keeps a chance). The final prompt takes each
slot's most likely exemplar (a later slot takes its best one not already taken).

A sampled prompt that names an exemplar in two slots shows it once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Every exemplar keeps at least this probability in each slot.
PROB_FLOOR = 1e-4
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8

#: Scores sampled prompts: ``losses(prompts, step)`` (each prompt a list of pool indices).
LossFunction = Callable[[list[list[int]], int], Sequence[float]]


def project_to_simplex(row: np.ndarray, floor: float = PROB_FLOOR) -> np.ndarray:
    """The closest point to ``row`` (Euclidean) with every entry at least ``floor`` and a sum
    of 1 (sort-based projection, on the simplex shifted by the floor)."""
    n = row.size
    if floor * n > 1.0:
        raise ValueError(f"a floor of {floor} leaves no room for {n} entries")
    budget = 1.0 - floor * n
    shifted = row - floor
    ordered = np.sort(shifted)[::-1]
    cumulative = np.cumsum(ordered) - budget
    ranks = np.arange(1, n + 1)
    valid = ordered - cumulative / ranks > 0
    rho = int(ranks[valid][-1])
    theta = cumulative[rho - 1] / rho
    return np.maximum(shifted - theta, 0.0) + floor


def score_function_gradient(
    probs: np.ndarray, prompts: Sequence[Sequence[int]], losses: Sequence[float], *, baseline: bool
) -> np.ndarray:
    """The policy-gradient estimate of d E[L] / d probs from sampled ``prompts`` and ``losses``.

    With ``baseline`` (Automate-CoT's): ``1/(I-1) * sum_i (L_i - mean L) grad log p_i``.
    Without: the plain REINFORCE estimate ``1/I * sum_i L_i grad log p_i``. Both are unbiased;
    the first has a lower variance (measured in the tests).
    """
    values = np.asarray(losses, dtype=float)
    count = values.size
    if baseline:
        if count < 2:
            raise ValueError("the batch-mean baseline needs at least two samples per step")
        weights = (values - values.mean()) / (count - 1)
    else:
        weights = values / count
    grad = np.zeros_like(probs)
    for prompt, weight in zip(prompts, weights, strict=True):
        for slot, index in enumerate(prompt):
            grad[slot, index] += weight / probs[slot, index]
    return grad


class Adam:
    """Adam on one array (Kingma & Ba), the optimizer Automate-CoT uses."""

    def __init__(self, shape: tuple[int, ...], lr: float) -> None:
        self.lr = lr
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)
        self.t = 0

    def step(self, params: np.ndarray, grad: np.ndarray) -> np.ndarray:
        beta1, beta2 = ADAM_BETAS
        self.t += 1
        self.m = beta1 * self.m + (1 - beta1) * grad
        self.v = beta2 * self.v + (1 - beta2) * grad**2
        m_hat = self.m / (1 - beta1**self.t)
        v_hat = self.v / (1 - beta2**self.t)
        return params - self.lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)


@dataclass
class StepRecord:
    """One step: the sampled prompts, their losses, and any extra metrics the loss reported."""

    step: int
    prompts: list[list[int]]
    losses: list[float]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mean_loss(self) -> float:
        return float(np.mean(self.losses))


def distinct(prompt: Sequence[int]) -> list[int]:
    """The exemplars a sampled prompt shows: each once, in slot order."""
    return list(dict.fromkeys(int(i) for i in prompt))


def final_choice(probs: np.ndarray) -> list[int]:
    """Each slot's most likely exemplar; slots go in order of confidence, and a slot whose
    favourite is taken gets its most likely one not taken yet. Returned in slot order."""
    chosen: dict[int, int] = {}
    taken: set[int] = set()
    for slot in np.argsort(-probs.max(axis=1), kind="stable"):
        for index in np.argsort(-probs[slot], kind="stable"):
            if int(index) not in taken:
                chosen[int(slot)] = int(index)
                taken.add(int(index))
                break
    return [chosen[slot] for slot in range(probs.shape[0])]


class ExemplarSearch:
    """The search state: ``probs`` (k x pool), the optimizer and the random generator.

    :param k: exemplar slots (at most the pool size).
    :param samples: prompts sampled per step (``I``, at least 2).
    :param baseline: subtract the batch mean (Automate-CoT); off only to measure what it gives.
    """

    def __init__(
        self,
        pool_size: int,
        k: int,
        *,
        samples: int = 10,
        lr: float = 1e-3,
        seed: int = 0,
        baseline: bool = True,
    ) -> None:
        if not 1 <= k <= pool_size:
            raise ValueError(f"k must be between 1 and the pool size {pool_size}, got {k}")
        if samples < 2:
            raise ValueError(f"samples per step must be at least 2, got {samples}")
        self.k, self.samples, self.baseline = k, samples, baseline
        self.probs = np.full((k, pool_size), 1.0 / pool_size)
        self.optimizer = Adam(self.probs.shape, lr)
        self.rng = np.random.default_rng(seed)
        self.history: list[StepRecord] = []

    def sample(self) -> list[list[int]]:
        """``samples`` prompts, one exemplar per slot each (slots drawn independently)."""
        pool = self.probs.shape[1]
        return [
            [int(self.rng.choice(pool, p=row)) for row in self.probs] for _ in range(self.samples)
        ]

    def update(self, prompts: list[list[int]], losses: Sequence[float]) -> np.ndarray:
        """One policy-gradient step (with the batch-mean baseline unless the search was made
        without, for comparison); returns the gradient."""
        grad = score_function_gradient(self.probs, prompts, losses, baseline=self.baseline)
        stepped = self.optimizer.step(self.probs, grad)
        self.probs = np.stack([project_to_simplex(row) for row in stepped])
        return grad

    def step(self, losses: LossFunction) -> StepRecord:
        prompts = self.sample()
        measured = [float(x) for x in losses(prompts, len(self.history))]
        if len(measured) != len(prompts):
            raise ValueError(f"the loss function gave {len(measured)} losses for {len(prompts)}")
        self.update(prompts, measured)
        record = StepRecord(len(self.history), prompts, measured)
        self.history.append(record)
        return record

    def run(self, losses: LossFunction, steps: int) -> list[int]:
        """``steps`` steps, then the final choice (:func:`final_choice`)."""
        for _ in range(steps):
            self.step(losses)
        return self.choice()

    def choice(self) -> list[int]:
        return final_choice(self.probs)

    def state(self) -> dict[str, Any]:
        """Everything a later process needs to go on exactly where this one is (JSON-safe)."""
        return {
            "probs": self.probs.tolist(),
            "adam": {"m": self.optimizer.m.tolist(), "v": self.optimizer.v.tolist()},
            "adam_t": self.optimizer.t,
            "rng": rng_state(self.rng),
        }

    def restore(self, state: dict[str, Any]) -> None:
        probs = np.asarray(state["probs"], dtype=float)
        if probs.shape != self.probs.shape:
            raise ValueError(f"a saved search of shape {probs.shape}, not {self.probs.shape}")
        self.probs = probs
        self.optimizer.m = np.asarray(state["adam"]["m"], dtype=float)
        self.optimizer.v = np.asarray(state["adam"]["v"], dtype=float)
        self.optimizer.t = int(state["adam_t"])
        set_rng_state(self.rng, state["rng"])


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """A generator's state with its 128-bit integers as text (JSON cannot hold them)."""
    state = dict(rng.bit_generator.state)
    state["state"] = {k: str(v) for k, v in state["state"].items()}
    return state


def set_rng_state(rng: np.random.Generator, saved: dict[str, Any]) -> None:
    state = dict(saved)
    state["state"] = {k: int(v) for k, v in saved["state"].items()}
    rng.bit_generator.state = state
