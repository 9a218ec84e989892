"""One typed configuration, filled from five layers (lowest first):

1. defaults (the field defaults below)
2. ``[tool.swerm]`` in ``pyproject.toml``, then ``swerm.toml``, in the working directory
3. the file named by ``SWERM_CONFIG``
4. ``SWERM_*`` environment variables (``SWERM_POLICY__THRESHOLD=0.7`` sets ``policy.threshold``)
5. explicit arguments to :func:`load_config`

Every value remembers the layer it came from (``swerm config show``). Secrets are never read from
files: a file writes ``api_key = {"$env" = "NAME"}`` and the value is taken from that variable.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)

from swerm_plugin.errors import ConfigError

ENV_PREFIX = "SWERM_"
# Variables that steer swerm itself rather than set a config key.
RESERVED_ENV = frozenset(
    {
        "SWERM",
        "SWERM_CONFIG",
        "SWERM_DISABLE_PLUGIN_AUTOLOAD",
        "SWERM_LOAD_PLUGINS",
        "SWERM_DEBUG",
        "SWERM_STATE_DIR",
    }
)
SECRET_MASK = "**********"
OnError = Literal["accept", "reject", "raise"]


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def env_flag(name: str, environ: Mapping[str, str] | None = None) -> bool | None:
    """A yes/no environment variable: ``None`` when unset or empty, else its truth value.

    The one parser for every swerm switch (``SWERM``, ``SWERM_DEBUG``,
    ``SWERM_DISABLE_PLUGIN_AUTOLOAD``): ``1/true/yes/on`` and ``0/false/no/off``, any case.
    Anything else is an error rather than a guess.
    """
    env = os.environ if environ is None else environ
    text = env.get(name, "").strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(
        f"environment variable {name}={env[name]!r} is not a yes/no value; use 1 or 0 "
        "(also true/false, yes/no, on/off)"
    )


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
        0.5,
        ge=0.0,
        le=1.0,
        description="hybrid: the selector's share (fit it: swerm calibrate --fit-consensus-weight)",
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


class SwermConfig(_Section):
    """The effective configuration. Build it with :func:`load_config`."""

    enabled: bool = Field(False, description="switch the framework integrations on")
    backend: str = Field(
        "auto",
        description="auto: transformers when a model is set, else (rerank, eval) the selector",
    )
    model: str | None = Field(None, description="model folder, hub id or served model name")
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

    _sources: dict[str, str] = PrivateAttr(default_factory=dict)

    def source_of(self, key: str) -> str:
        """Where the dotted ``key`` got its value (``"default"`` when nothing set it)."""
        return self._sources.get(key, "default")

    def effective(self) -> dict[str, dict[str, Any]]:
        """``{dotted key: {"value", "source"}}``, secrets masked: what ``config show`` prints."""
        out: dict[str, dict[str, Any]] = {}
        for key, value in _flatten(self.model_dump(mode="python")):
            if isinstance(value, SecretStr):
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


def _closest(key: str) -> str:
    keys = valid_keys()
    match = difflib.get_close_matches(key, keys, n=1, cutoff=0.5)
    if not match:
        leaf = key.rsplit(".", 1)[-1]
        by_leaf = {k.rsplit(".", 1)[-1]: k for k in keys}
        leaf_match = difflib.get_close_matches(leaf, list(by_leaf), n=1, cutoff=0.5)
        match = [by_leaf[leaf_match[0]]] if leaf_match else []
    return f"; did you mean '{match[0]}'?" if match else f"; valid keys: {', '.join(keys)}"


def _resolve_secret(key: str, value: Any, origin: str) -> Any:
    """Turn ``{"$env": NAME}`` into the variable's value; refuse literal secrets in files."""
    if isinstance(value, Mapping) and set(value) == {"$env"}:
        return SecretStr(os.environ.get(str(value["$env"]), ""))
    in_file = not origin.startswith(("env ", "argument"))
    if key == "remote.endpoints" and in_file and isinstance(value, list):
        with_credentials = [mask_url(str(url)) for url in value if _USERINFO.search(str(url))]
        if with_credentials:
            raise ConfigError(
                f"remote.endpoints in {origin} carries credentials ({with_credentials[0]}); "
                'keep secrets out of files: write remote.api_key = {"$env" = "NAME"} and export '
                "NAME, or set the endpoints in SWERM_REMOTE__ENDPOINTS"
            )
    if key == "remote.api_key" and not origin.startswith(("env ", "argument")):
        raise ConfigError(
            f"{key} in {origin} is a literal secret; keep secrets out of files: "
            'write api_key = {"$env" = "NAME"} and export NAME'
        )
    return value


class _Layers:
    """Collects dotted key → (value, source) from each layer in precedence order."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.sources: dict[str, str] = {}
        self._known = set(valid_keys())

    def add(self, data: Mapping[str, Any], origin: str) -> None:
        for key, value in _flatten(data):
            if key not in self._known:
                raise ConfigError(f"unknown config key '{key}' in {origin}{_closest(key)}")
            self.values[key] = _resolve_secret(key, value, origin)
            self.sources[key] = origin

    def nested(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.values.items():
            node = out
            *parents, leaf = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from exc


def _file_layer(path: Path) -> tuple[dict[str, Any], str]:
    """A file's swerm table: ``[tool.swerm]`` in a pyproject-style file, else the top level."""
    data = _read_toml(path)
    tool = data.get("tool")
    if isinstance(tool, dict) and "swerm" in tool:
        return tool["swerm"], f"{path} [tool.swerm]"
    if path.name == "pyproject.toml":
        return {}, str(path)
    return data, str(path)


def _parse_env_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _env_layer(environ: Mapping[str, str]) -> Iterator[tuple[dict[str, Any], str]]:
    for name, text in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        key = name[len(ENV_PREFIX) :].lower().replace("__", ".")
        value: Any = SecretStr(text) if key == "remote.api_key" else _parse_env_value(text)
        yield {key: value}, f"env {name}"


def config_file_from_env(environ: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if environ is None else environ
    named = env.get("SWERM_CONFIG")
    return Path(named).expanduser() if named else None


def load_config(
    cwd: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> SwermConfig:
    """Build the effective :class:`SwermConfig` from all five layers.

    ``overrides`` are the explicit arguments (highest precedence); nested keys can be given as
    dicts (``policy={"threshold": 0.7}``). ``None`` values in ``overrides`` are ignored, so CLI
    options that were not given do not mask lower layers.
    """
    base = Path.cwd() if cwd is None else Path(cwd)
    env = os.environ if environ is None else environ
    layers = _Layers()
    for name in ("pyproject.toml", "swerm.toml"):
        path = base / name
        if path.is_file():
            layers.add(*_file_layer(path))
    named = config_file_from_env(env)
    if named is not None:
        if not named.is_absolute():
            named = base / named
        if not named.is_file():
            raise ConfigError(f"SWERM_CONFIG names {named}, which does not exist")
        layers.add(*_file_layer(named))
    for data, origin in _env_layer(env):
        layers.add(data, origin)
    layers.add({k: v for k, v in overrides.items() if v is not None}, "argument")
    try:
        config = SwermConfig.model_validate(layers.nested())
    except ValidationError as exc:
        raise ConfigError(_explain(exc, layers.sources)) from None
    config._sources = dict(layers.sources)
    return config


def _explain(exc: ValidationError, sources: Mapping[str, str]) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        origin = sources.get(key, "defaults")
        lines.append(f"config key '{key}' from {origin}: {err['msg']}")
    return "; ".join(lines)


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where swerm keeps what belongs to no run folder (default decisions logs):
    ``SWERM_STATE_DIR``, else ``$XDG_STATE_HOME/swerm``, else ``~/.local/state/swerm``."""
    env = os.environ if environ is None else environ
    if env.get("SWERM_STATE_DIR"):
        return Path(env["SWERM_STATE_DIR"]).expanduser()
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "swerm"


def is_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """The one flag that switches integrations on: ``SWERM_CONFIG`` set, or ``SWERM=1``."""
    env = os.environ if environ is None else environ
    return bool(env.get("SWERM_CONFIG")) or env_flag("SWERM", env) is True
