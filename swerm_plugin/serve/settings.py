"""The service's knobs: where it listens, how it batches, and the limits that protect it."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from swerm_plugin.decisions.rewards import REWARD_MODES, RewardMode
from swerm_plugin.errors import ConfigError

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServeSettings:
    """Everything ``swerm serve`` needs besides the scoring configuration.

    Batching: concurrent requests wait at most ``max_wait_ms`` for others to join them; a batch
    closes at ``max_batch_tokens`` (estimated prompt tokens) or ``max_batch_size`` trajectories;
    ``batch_concurrency`` batches are scored at once (1 for a local model; more for a remote
    server that batches on its side). Limits: ``max_queue`` trajectories may wait (then 503 with
    ``Retry-After``), a body holds at most ``max_body_bytes`` and ``max_trajectories`` (413),
    and a request waits at most ``timeout_s`` for its scores (504).
    """

    host: str = "127.0.0.1"
    port: int = 8080
    max_batch_tokens: int = 131072
    max_batch_size: int = 64
    max_wait_ms: float = 5.0
    batch_concurrency: int = 1
    max_queue: int = 1024
    max_body_bytes: int = 32 * MIB
    max_trajectories: int = 256
    timeout_s: float = 120.0
    retry_after_s: int = 1
    api_key_env: str | None = None
    reward_mode: RewardMode = "score"
    shutdown_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name != "port" and isinstance(value, int | float) and value <= 0:
                raise ConfigError(f"serve setting {field.name} must be positive, got {value}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be in 0..65535, got {self.port}")
        if self.reward_mode not in REWARD_MODES:
            raise ConfigError(f"reward mode must be hybrid or score, got {self.reward_mode!r}")

    def api_key(self) -> str | None:
        """The API key from the environment variable ``api_key_env`` (``None``: no key asked).

        :raises ConfigError: the variable is named but unset or empty (never serve openly by
            mistake).
        """
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env, "")
        if not key.strip():
            raise ConfigError(
                f"environment variable {self.api_key_env} (--api-key-env) is unset or empty",
                hint=f"export {self.api_key_env}=<a long random key>, or drop --api-key-env",
            )
        return key
