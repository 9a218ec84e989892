"""The data model every stage shares: trajectories in, scores and decisions out.

Pure data: this module imports nothing else of swerm's. All models are pydantic with
``extra="forbid"`` so a typo in a field name is an error, and ``model_dump_json`` /
``model_validate_json`` round-trip without loss.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

ExitStatus = Literal["submitted", "finished", "error", "limit", "unknown"]
EXIT_STATUSES: tuple[ExitStatus, ...] = ("submitted", "finished", "error", "limit", "unknown")
Role = Literal["system", "user", "assistant", "tool"]
Action = Literal["accept", "reject", "retry"]
#: What a score's number is: a model's P(YES) (calibrated or not), or a share of patch votes.
#: A probability threshold applies to probabilities only; vote shares rank candidates.
ScoreKind = Literal["p_yes", "vote_share"]
#: ``Score.calibrator`` when no calibrator is configured (``calibrated`` then equals ``raw``).
NO_CALIBRATOR = "none"

# Bumped only if the canonical form below changes; part of every hash so old caches never collide.
_HASH_VERSION = "swerm-trajectory-v1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Step(_Model):
    """One turn of an agent run.

    ``content`` is the message text as the framework stored it. Assistant turns also carry the
    parsed ``thought`` and ``action`` (command or tool call); ``observation`` is what the
    environment answered to that action, when the framework pairs the two.
    """

    role: Role
    content: str = ""
    thought: str = ""
    action: str = ""
    observation: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class Trajectory(_Model):
    """One finished attempt of an agent at one task."""

    instance_id: str
    source: str = Field(description="framework and format version, e.g. 'swe-agent/1.x'")
    problem_statement: str = ""
    steps: list[Step] = Field(default_factory=list)
    patch: str = ""
    exit_status: ExitStatus = "unknown"
    exit_status_raw: str | None = None
    attempt: int = 1
    model_name: str | None = None
    cost: float | None = None
    run_id: str | None = None
    source_path: str | None = None
    source_record: int | str | None = None
    label: bool | None = Field(default=None, description="resolved, when known")
    metadata: dict[str, Any] = Field(default_factory=dict)

    def content_hash(self) -> str:
        """A sha256 of what the verifier reads: instance id, problem statement, steps, patch.

        Canonical JSON with sorted keys, so it is stable across processes, Python versions and
        dict orders; bookkeeping (cost, paths, labels, metadata) does not change it.
        """
        canonical = {
            "v": _HASH_VERSION,
            "instance_id": self.instance_id,
            "problem_statement": self.problem_statement,
            "patch": self.patch,
            "steps": [[s.role, s.content, s.thought, s.action, s.observation] for s in self.steps],
        }
        return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()

    @property
    def has_patch(self) -> bool:
        return bool(self.patch.strip())


class TopLogprobs(_Model):
    """The K most likely next tokens at the verdict position, most likely first: token ids and
    their log-probabilities over the whole vocabulary (natural log, before any temperature).

    What ``swerm score --topk K`` records for distillation (``swerm distill``).
    """

    ids: list[int]
    logprobs: list[float]

    @model_validator(mode="after")
    def _same_length(self) -> TopLogprobs:
        if len(self.ids) != len(self.logprobs):
            raise ValueError(f"{len(self.ids)} token ids but {len(self.logprobs)} log-probs")
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("a token id is listed twice")
        return self


class Score(_Model):
    """The verifier's answer for one trajectory.

    ``raw`` is P(YES) over the two verdict tokens only (or a vote share, see ``kind``);
    ``calibrated`` is the same after the calibrator named in ``calibrator``. When scoring failed,
    both are ``None`` and ``error`` says why.
    """

    raw: float | None = Field(default=None, ge=0.0, le=1.0)
    calibrated: float | None = Field(default=None, ge=0.0, le=1.0)
    kind: ScoreKind = "p_yes"
    calibrator: str | None = Field(
        default=None, description="what produced 'calibrated': a calibrator file, or 'none'"
    )
    backend: str = ""
    model: str = ""
    template: str = ""
    template_version: str = ""
    n_tokens: int | None = None
    truncated: bool = False
    approximate: bool = Field(
        default=False, description="raw is a bound: a verdict token was outside the top-k"
    )
    sanitized: bool = Field(
        default=False, description="sent as text with agent markup neutralised, not as ids"
    )
    temperature: float | None = Field(
        default=None,
        gt=0.0,
        description="the model folder's swerm-card.json temperature, applied before 'raw'",
    )
    topk: TopLogprobs | None = Field(
        default=None, description="the top-K next-token log-probs (swerm score --topk)"
    )
    latency_s: float | None = None
    n_samples: int | None = Field(
        default=None, description="raw is the YES share of this many sampled verdicts"
    )
    prompt_tokens: int | None = Field(default=None, description="billed by an API model")
    completion_tokens: int | None = Field(default=None, description="billed by an API model")
    cost_usd: float | None = Field(
        default=None, description="of the verifier's calls; None when unpriced or local"
    )
    error: str | None = None

    @property
    def probability(self) -> float | None:
        """The best available probability: calibrated when there is one, else raw."""
        return self.calibrated if self.calibrated is not None else self.raw

    @property
    def ok(self) -> bool:
        return self.error is None and self.raw is not None

    @property
    def is_probability(self) -> bool:
        """Whether :attr:`probability` means P(resolved): a model's P(YES), or a vote share that
        a calibrator has turned into a probability."""
        return self.kind == "p_yes" or (
            self.calibrated is not None and self.calibrator not in (None, NO_CALIBRATOR)
        )


class Decision(_Model):
    """What a policy did with one scored trajectory."""

    action: Action
    reason: str
    threshold: float | None = None
    score: float | None = None
    score_kind: ScoreKind | None = Field(
        default=None, description="what 'score' was: a P(YES) or a vote share"
    )
    feedback: str | None = Field(default=None, description="message for the agent on retry")


class CandidateGroup(_Model):
    """The candidate trajectories of one task, e.g. N attempts to pick the best from.

    Choosing among them is the ``swerm_select`` hook's job, not this class's.
    """

    instance_id: str
    candidates: list[Trajectory] = Field(default_factory=list)
