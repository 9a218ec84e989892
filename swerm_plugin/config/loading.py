"""Building the effective configuration from its layers, each value with the layer it came
from; unknown keys and literal secrets in files are errors that say what to write instead."""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from swerm_plugin.config.environment import (
    ENV_PREFIX,
    RESERVED_ENV,
    config_file_from_env,
    is_enabled,
)
from swerm_plugin.config.schema import _USERINFO, SwermConfig, _flatten, mask_url, valid_keys
from swerm_plugin.errors import ConfigError


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
        self.env_names: dict[str, str] = {}  # key -> the variable a {"$env" = NAME} names
        self._known = set(valid_keys())

    def add(self, data: Mapping[str, Any], origin: str) -> None:
        for key, value in _flatten(data):
            if key not in self._known:
                raise ConfigError(f"unknown config key '{key}' in {origin}{_closest(key)}")
            if isinstance(value, Mapping) and set(value) == {"$env"}:
                self.env_names[key] = str(value["$env"])
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
    if "enabled" not in layers.values and is_enabled(env):  # the one flag switches it on
        layers.add(
            {"enabled": True}, "env SWERM_CONFIG" if env.get("SWERM_CONFIG") else "env SWERM"
        )
    layers.add({k: v for k, v in overrides.items() if v is not None}, "argument")
    try:
        config = SwermConfig.model_validate(layers.nested())
    except ValidationError as exc:
        raise ConfigError(_explain(exc, layers.sources)) from None
    config._sources = dict(layers.sources)
    config._env_names = dict(layers.env_names)
    return config


def _explain(exc: ValidationError, sources: Mapping[str, str]) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        origin = sources.get(key, "defaults")
        lines.append(f"config key '{key}' from {origin}: {err['msg']}")
    return "; ".join(lines)
