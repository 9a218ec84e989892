"""The orchestrator: trajectories in, calibrated scores out.

For each trajectory: render (``swerm_render_prompt``) → score (the backend's ``score_batch``) →
calibrate (``swerm_calibrate``) → announce (``swerm_trajectory_scored``). No trajectory is ever
dropped: a failure at any stage gives a :class:`~swerm_plugin.model.Score` with ``error``
set, unless ``config.on_error == "raise"``, which raises :class:`VerifierError` instead.
Backends report only what they measured; the Verifier completes every score with what the
prompt and the configuration say (backend, model, template, tokens, cuts, kind, calibrator).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from types import TracebackType

from swerm_plugin.backends.base import RewardBackend
from swerm_plugin.backends.card import check_template as check_card_template
from swerm_plugin.config import SwermConfig, load_config
from swerm_plugin.errors import BackendUnavailable, ConfigError, VerifierError
from swerm_plugin.model import NO_CALIBRATOR, Score, Trajectory
from swerm_plugin.plugins.manager import Hooks, get_hooks
from swerm_plugin.presets.preset import resolve_verifier
from swerm_plugin.prompts.prompt import Prompt

__all__ = ["CONTEXT_MARGIN", "Verifier", "VerifierError", "create_backend", "topk_unsupported"]

#: Tokens kept free below the model's context length when no max_tokens is configured.
CONTEXT_MARGIN = 16
#: Upper bound on the threads that render (tokenize) trajectories concurrently.
MAX_RENDER_THREADS = 16


def create_backend(config: SwermConfig, hooks: Hooks | None = None) -> RewardBackend:
    """The backend named by ``config.backend`` among the registered ones.

    ``"auto"`` picks ``transformers`` when ``config.model`` is set. Without a model there is
    nothing to score prompts with: the commands that can do without one (``rerank``, ``eval``)
    fall back to patch consensus themselves.
    """
    available = (hooks or get_hooks(config)).backends()
    name = config.backend
    if name == "auto":
        if not config.model:
            raise BackendUnavailable(
                "no reward model configured: set model (--model) to a model folder or hub id, "
                f"or choose a backend explicitly (registered: {', '.join(sorted(available))})"
            )
        name = "transformers"
    if name not in available:
        raise BackendUnavailable(
            f"unknown backend '{name}'; registered backends: {', '.join(sorted(available))}"
        )
    cls = available[name]
    if not issubclass(cls, RewardBackend):
        raise BackendUnavailable(
            f"backend '{name}' scores the candidates of a task together (votes), not one "
            "trajectory: use it with `swerm rerank` / `swerm eval`, or configure a model"
        )
    return cls(config)


def topk_unsupported(config: SwermConfig, hooks: Hooks | None = None) -> str | None:
    """Why the configured backend cannot record the top-K log-probs that ``config.topk`` asks
    for, or ``None`` (also when ``topk`` is off, or the backend is unknown: creating it says so).
    """
    if not config.topk:
        return None
    name = "transformers" if config.backend == "auto" else config.backend
    cls = (hooks or get_hooks(config)).backends().get(name)
    if cls is None:
        return None
    if not issubclass(cls, RewardBackend):
        return f"'{name}' votes among candidates; it has no next-token log-probs (--topk)"
    return cls.topk_unsupported(config)


def calibrate_score(hooks: Hooks, trajectory: Trajectory, score: Score) -> Score:
    """``score`` with ``calibrated`` from the configured calibrator (``swerm_calibrate``) and
    ``calibrator`` naming it (``"none"``: then ``calibrated`` equals ``raw``). Scores read back
    from files go through here too, so the configured calibrator always applies."""
    if not score.ok:
        return score
    try:
        calibrated = hooks.calibrate(trajectory, score)
    except Exception as exc:
        return score.model_copy(
            update={"error": f"calibration failed: {type(exc).__name__}: {exc}"}
        )
    name = hooks.config.calibrator or NO_CALIBRATOR
    return score.model_copy(update={"calibrated": calibrated, "calibrator": name})


class Verifier:
    """Scores trajectories with one backend. Use as a context manager, or call :meth:`close`.

    :param config: the effective configuration (default: :func:`~swerm_plugin.load_config`).
    :param backend: a ready backend to use instead of the one ``config.backend`` names; the
        caller keeps ownership of it (:meth:`close` leaves it open).
    """

    def __init__(
        self, config: SwermConfig | None = None, *, backend: RewardBackend | None = None
    ) -> None:
        self.config = resolve_verifier(config if config is not None else load_config())
        self.hooks = get_hooks(self.config)
        problem = (
            type(backend).topk_unsupported(self.config) if backend is not None and self.config.topk
            else topk_unsupported(self.config, self.hooks)
        )  # fmt: skip
        if problem:
            raise ConfigError(problem)
        self._owns_backend = backend is None
        self.backend = backend if backend is not None else create_backend(self.config, self.hooks)
        check_card_template(self.backend.card, self.config.template)

    @functools.cached_property
    def budget(self) -> int | None:
        """Prompt token budget: ``config.max_tokens``, else the model's context minus a margin
        (asked of the backend once). A verifier preset's context is the most it was trained
        for: a server with a shorter one lowers it."""
        context = self.backend.discover_context_length()
        wanted = self.config.max_tokens
        from_preset = self.config.source_of("max_tokens").startswith("preset ")
        if wanted is not None and from_preset and context is not None and wanted > context:
            return max(1, context - CONTEXT_MARGIN)
        if wanted is not None:
            if context is not None and wanted > context:
                raise ConfigError(
                    f"max_tokens {wanted} is above the model's context of {context} tokens: "
                    "every prompt longer than the context would fail",
                    hint=f"set max_tokens (--max-tokens) to at most {context - CONTEXT_MARGIN}",
                )
            return wanted
        return None if context is None else max(1, context - CONTEXT_MARGIN)

    def render(self, trajectory: Trajectory) -> Prompt:
        """The prompt the backend would score for ``trajectory`` (raises on failure)."""
        return self.hooks.render_prompt(
            trajectory,
            template=self.backend.prompt_template() or self.config.template,
            tokenizer=self.backend.tokenizer,
            budget=self.budget,
            markup=self.backend.text_markup,
        )

    def score(self, trajectories: Sequence[Trajectory]) -> list[Score]:
        """One score per trajectory, in order."""
        trajectories = list(trajectories)
        return self.score_rendered(trajectories, self.render_all(trajectories))

    def score_rendered(
        self, trajectories: Sequence[Trajectory], rendered: Sequence[Prompt | Score]
    ) -> list[Score]:
        """:meth:`score` for trajectories already rendered by :meth:`render_all` (possibly by
        another process with the same configuration, as a Ray job does): score the prompts,
        complete, calibrate and announce; a rendering failure stays its error score."""
        prompts = [p for p in rendered if isinstance(p, Prompt)]
        try:
            scored = self.backend.score_batch(prompts) if prompts else []
        except Exception as exc:
            scored = self._backend_failed(prompts, exc)
        return self._finish(trajectories, rendered, scored)

    async def ascore(self, trajectories: Sequence[Trajectory]) -> list[Score]:
        """Async :meth:`score`: rendering runs in a worker thread, scoring through the backend's
        ``ascore_batch``."""
        trajectories = list(trajectories)
        rendered = await asyncio.to_thread(self.render_all, trajectories)
        prompts = [p for p in rendered if isinstance(p, Prompt)]
        try:
            scored = await self.backend.ascore_batch(prompts) if prompts else []
        except Exception as exc:
            scored = self._backend_failed(prompts, exc)
        return self._finish(trajectories, rendered, scored)

    def score_iter(
        self, trajectories: Iterable[Trajectory], chunk_size: int = 32
    ) -> Iterator[tuple[Trajectory, Score]]:
        """Score in chunks of ``chunk_size``, yielding each (trajectory, score) as its chunk is
        done: for progress bars and for writing results as they come."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        iterator = iter(trajectories)
        while chunk := list(islice(iterator, chunk_size)):
            yield from zip(chunk, self.score(chunk), strict=True)

    # --- stages ---

    def render_all(self, trajectories: Sequence[Trajectory]) -> list[Prompt | Score]:
        """Render every trajectory, in order; a trajectory that cannot be rendered gets its
        error :class:`Score` instead of a prompt. Tokenizing releases the GIL, so several
        trajectories render at once on a multi-core host: on a GPU, tokenizing would otherwise
        take longer than the forward pass of a small verifier."""
        _ = self.budget  # a budget the model cannot take is an error for all, found up front
        workers = min(len(trajectories), os.cpu_count() or 1, MAX_RENDER_THREADS)
        if workers < 2:
            return [self._try_render(t) for t in trajectories]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="swerm-render") as pool:
            return list(pool.map(self._try_render, trajectories))

    def _try_render(self, trajectory: Trajectory) -> Prompt | Score:
        try:
            return self.render(trajectory)
        except Exception as exc:
            if self.config.on_error == "raise":
                raise VerifierError(f"{trajectory.instance_id}: rendering failed: {exc}") from exc
            return self._render_error(f"rendering failed: {type(exc).__name__}: {exc}")

    def _backend_failed(self, prompts: Sequence[Prompt], exc: Exception) -> list[Score]:
        if self.config.on_error == "raise":
            raise VerifierError(f"backend '{self.backend.name}' failed: {exc}") from exc
        return [Score(error=f"backend failed: {type(exc).__name__}: {exc}") for _ in prompts]

    def _finish(
        self,
        trajectories: Sequence[Trajectory],
        rendered: Sequence[Prompt | Score],
        scored: Sequence[Score],
    ) -> list[Score]:
        prompts = [p for p in rendered if isinstance(p, Prompt)]
        if len(scored) != len(prompts):
            scored = self._backend_failed(
                prompts,
                RuntimeError(f"returned {len(scored)} scores for {len(prompts)} prompts"),
            )
        by_prompt = iter(scored)
        results = []
        for trajectory, item in zip(trajectories, rendered, strict=True):
            score = next(by_prompt) if isinstance(item, Prompt) else item
            if isinstance(item, Prompt):
                score = self._complete(score, item)
            score = self._calibrate(trajectory, score)
            if not score.ok and self.config.on_error == "raise":
                raise VerifierError(f"{trajectory.instance_id}: scoring failed: {score.error}")
            self.hooks.trajectory_scored(trajectory, score)
            results.append(score)
        return results

    def _complete(self, score: Score, prompt: Prompt) -> Score:
        """Add what the prompt and the backend say to what the backend measured."""
        return score.model_copy(
            update={
                "backend": self.backend.name,
                "model": self.backend.model_name or self.config.model or "",
                "kind": self.backend.kind,
                "template": prompt.template,
                "template_version": prompt.template_version,
                "n_tokens": prompt.n_tokens,
                "truncated": prompt.truncated or score.truncated,
                "sanitized": prompt.sanitized or self.backend.sends_text or score.sanitized,
            }
        )

    def _calibrate(self, trajectory: Trajectory, score: Score) -> Score:
        return calibrate_score(self.hooks, trajectory, score)

    def _render_error(self, message: str) -> Score:
        """The score of a trajectory that never became a prompt."""
        own = self.backend.prompt_template()
        return Score(
            error=message,
            backend=self.backend.name,
            model=self.backend.model_name or self.config.model or "",
            kind=self.backend.kind,
            template=own.name if own is not None else self.config.template,
        )

    # --- lifetime ---

    def close(self) -> None:
        """Release the backend, if this verifier created it."""
        if self._owns_backend:
            self.backend.close()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
