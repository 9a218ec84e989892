"""The typed configuration: every key, its default and what it accepts (pydantic models)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator

from swerm_plugin.judge.settings import JudgeConfig

SECRET_MASK = "**********"
OnError = Literal["accept", "reject", "raise"]
Activation = Literal["server", "sigmoid", "raw"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PolicyConfig(_Section):
    """What to do with a scored trajectory."""

    threshold: float = Field(0.5, ge=0.0, le=1.0, description="accept at or above this p")
    max_attempts: int = Field(1, ge=1, description="attempts per task, the first included")
    cost_budget: float | None = Field(None, ge=0.0, description="stop retrying past this cost")
    on_reject: Literal["empty_patch", "flag"] = Field(
        "flag", description="abstain with an empty patch, or keep the patch and flag it"
    )
    retry_mode: Literal["refine", "resample"] = "refine"
    allow_unscored: bool = Field(
        False, description="offline: accept a chosen candidate that has no score (else reject)"
    )
    consensus: Literal["off", "tiebreak", "hybrid"] = Field(
        "tiebreak", description="patch agreement among candidates: ignore, break ties, or mix in"
    )
    consensus_weight: float = Field(
        0.5, ge=0.0, le=1.0, description="hybrid: the selector's share (calibrate can fit it)"
    )
    consensus_similarity: float = Field(
        0.7, gt=0.0, le=1.0, description="patches at least this similar share votes"
    )


class RemoteConfig(_Section):
    """Inference servers for the remote backends."""

    endpoints: list[str] = Field(default_factory=list, description="base URLs, load-balanced")

    @field_validator("endpoints")
    @classmethod
    def _urls_with_a_scheme(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(
                    f"endpoint {url!r} has no scheme; write it as a URL, e.g. "
                    f"'http://{url.split('://')[-1]}'"
                )
        return urls

    api_key: SecretStr | None = Field(None, description='from the environment: {"$env" = "NAME"}')
    timeout_s: float = Field(120.0, gt=0)
    concurrency: int = Field(8, ge=1)
    max_retries: int = Field(4, ge=0)
    backoff_s: float = Field(0.5, gt=0, description="first retry delay; doubles, with jitter")
    backoff_max_s: float = Field(30.0, gt=0, description="longest delay between two attempts")
    tokenizer: str | None = Field(
        None, description="local folder or hub id of the served model's tokenizer; None: model"
    )
    group_candidates: bool = Field(
        True, description="vllm: a task's candidates in one request, shared prefix as the query"
    )
    max_items: int = Field(16, ge=1, description="vllm/classify: prompts per request at most")
    openai_api: Literal["completions", "chat"] = Field(
        "completions", description="openai: token-id completions, or chat for chat-only servers"
    )
    top_logprobs: int = Field(20, ge=1, description="openai: alternatives asked for per token")
    vllm_extensions: bool = Field(
        True, description="openai: send vLLM's extra fields; off for servers that reject them"
    )
    classify_route: Literal["classify", "pooling"] = Field(
        "classify", description="classify: vLLM's /classify, or /pooling for per-token values"
    )
    score_label: int | str | None = Field(
        None, description="classify: class index or label name that is the score; None: auto"
    )
    activation: Activation = Field("server", description="classify: server's p, sigmoid, raw")


class SwermConfig(_Section):
    """The effective configuration. Build it with :func:`load_config`."""

    enabled: bool = Field(False, description="switch the framework integrations on")
    backend: str = Field(
        "auto",
        description="auto: transformers when a model is set, else (rerank, eval) the selector",
    )
    model: str | None = Field(None, description="model folder, hub id or served model name")
    verifier: str | None = Field(None, description="a preset (swerm presets); settings win")
    template: str = "swe-rm"
    verdict_tokens: tuple[str, str] | None = Field(
        None, description='(YES, NO) verdict strings; None: the template\'s, e.g. ["<YES>", "<NO>"]'
    )
    prefill: str | None = Field(None, description="assistant-turn prefix; None: the template's")
    max_tokens: int | None = Field(None, gt=0, description="prompt token budget; None: context")
    topk: int | None = Field(None, ge=1, description="also record top-K log-probs (distill)")
    batch_tokens: int = Field(32768, gt=0, description="local backend: tokens per batch")
    device: str = "auto"
    dtype: str = "auto"
    trust_remote_code: bool = False
    calibrator: str | None = Field(None, description="path of a fitted calibrator JSON file")
    on_error: OnError = Field(
        "accept", description="when scoring fails: accept+flag, reject, raise"
    )
    decisions_log: str | None = Field(
        None,
        description="decisions log of agent runs; None: beside the run's output (launchers) or "
        "in swerm's state folder, never inside the agent's repository",
    )
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    remote: RemoteConfig = Field(default_factory=RemoteConfig)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)

    _sources: dict[str, str] = PrivateAttr(default_factory=dict)
    _env_names: dict[str, str] = PrivateAttr(default_factory=dict)
    _preset_applied: str | None = PrivateAttr(default=None)  # presets.resolve_verifier

    def source_of(self, key: str) -> str:
        """Where the dotted ``key`` got its value (``"default"`` when nothing set it)."""
        return self._sources.get(key, "default")

    def effective(self) -> dict[str, dict[str, Any]]:
        """``{dotted key: {"value", "source"}}``, secrets masked: what ``config show`` prints."""
        out: dict[str, dict[str, Any]] = {}
        for key, value in _flatten(self.model_dump(mode="python")):
            if isinstance(value, SecretStr):
                name = self._env_names.get(key)
                if not value.get_secret_value() and name:
                    value = f"(missing: {name} is not set)"
                else:
                    value = SECRET_MASK
            elif key == "remote.endpoints":
                value = [mask_url(url) for url in value]
            out[key] = {"value": value, "source": self.source_of(key)}
        return out


_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def mask_url(url: str) -> str:
    """``url`` with any ``user:password@`` part replaced by the mask (it is a secret too)."""
    return _USERINFO.sub(lambda m: f"{m.group(1)}{SECRET_MASK}@", url)


def valid_keys(model: type[BaseModel] = SwermConfig, prefix: str = "") -> list[str]:
    """Every dotted key the config accepts, sections included."""
    keys: list[str] = []
    for name, field in model.model_fields.items():
        key = prefix + name
        keys.append(key)
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            keys.extend(valid_keys(sub, key + "."))
    return keys


def _section_keys() -> set[str]:
    fields = SwermConfig.model_fields
    return {
        name
        for name, f in fields.items()
        if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)
    }


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    sections = _section_keys() if not prefix else set()
    for key, value in data.items():
        if isinstance(value, Mapping) and key in sections:
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield prefix + key, value
