"""The ``[judge]`` configuration section (a part of :class:`~swerm_plugin.config.SwermConfig`).

Pure data: this module imports nothing of swerm's, because the config module imports it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

JudgeMode = Literal["rationale", "verdict"]
VerdictSource = Literal["auto", "logprobs", "sampling"]


class JudgeConfig(BaseModel):
    """How the ``judge`` backend asks an API model for a verdict."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: str | None = Field(
        None,
        description="litellm model name (gpt-4o-mini, anthropic/claude-sonnet-4-5, or the "
        "served name with remote.endpoints); None: the top-level model",
    )
    provider: str | None = Field(
        None,
        description="litellm provider; None: from the model name, or openai (any "
        "OpenAI-compatible server) when remote.endpoints is set",
    )
    exemplars: str | None = Field(
        None, description="exemplars file written by `swerm judge select`; None: zero-shot"
    )
    mode: JudgeMode = Field(
        "rationale",
        description="rationale: a short rationale, then the verdict; verdict: the verdict alone "
        "(prefilled, one token read)",
    )
    verdict_from: VerdictSource = Field(
        "auto",
        description="auto: log-probs when the provider returns them, else sampled verdicts",
    )
    n_samples: int = Field(5, ge=1, le=64, description="sampled verdicts without log-probs")
    temperature: float = Field(
        0.7, gt=0.0, le=2.0, description="for sampled verdicts and rationale chains"
    )
    max_rationale_tokens: int = Field(
        256, ge=8, description="the longest answer the judge may write"
    )
    verdicts: tuple[str, str] = Field(("YES", "NO"), description="the (yes, no) verdict words")
    prefill: bool = Field(
        True,
        description="verdict mode: the answer starts with 'VERDICT:' (vLLM, Anthropic); off "
        "for APIs that refuse a final assistant message",
    )
    exemplar_problem_tokens: int = Field(300, ge=16, description="per exemplar, about")
    exemplar_trajectory_tokens: int = Field(1200, ge=32, description="per exemplar, about")
    exemplar_patch_tokens: int = Field(600, ge=16, description="per exemplar, about")

    @field_validator("verdicts")
    @classmethod
    def _two_words(cls, words: tuple[str, str]) -> tuple[str, str]:
        yes, no = (word.strip() for word in words)
        if not yes or not no or yes.lower() == no.lower() or any(c.isspace() for c in yes + no):
            raise ValueError(f"verdicts must be two different single words, got {list(words)!r}")
        return yes, no
