"""One typed configuration, filled from five layers (lowest first):

1. defaults (the field defaults below)
2. ``[tool.swerm]`` in ``pyproject.toml``, then ``swerm.toml``, in the working directory
3. the file named by ``SWERM_CONFIG``
4. ``SWERM_*`` environment variables (``SWERM_POLICY__THRESHOLD=0.7`` sets ``policy.threshold``)
5. explicit arguments to :func:`load_config`

Every value remembers the layer it came from (``swerm config show``). Secrets are never read from
files: a file writes ``api_key = {"$env" = "NAME"}`` and the value is taken from that variable.
"""

from swerm_plugin.config.environment import (
    ENV_PREFIX,
    RESERVED_ENV,
    config_file_from_env,
    env_flag,
    is_enabled,
    state_dir,
)
from swerm_plugin.config.loading import load_config
from swerm_plugin.config.schema import (
    SECRET_MASK,
    Activation,
    OnError,
    PolicyConfig,
    RemoteConfig,
    SwermConfig,
    mask_url,
    valid_keys,
)

__all__ = [
    "ENV_PREFIX",
    "RESERVED_ENV",
    "SECRET_MASK",
    "Activation",
    "OnError",
    "PolicyConfig",
    "RemoteConfig",
    "SwermConfig",
    "config_file_from_env",
    "env_flag",
    "is_enabled",
    "load_config",
    "mask_url",
    "state_dir",
    "valid_keys",
]
