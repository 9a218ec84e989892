"""The example configs in ``examples/`` are valid for swerm and for the frameworks."""

from __future__ import annotations

from pathlib import Path

import yaml

from swerm_plugin.config import load_config
from swerm_plugin.integrations.common import integration_enabled

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_example_swerm_toml_loads_and_switches_swerm_on(tmp_path: Path) -> None:
    environ = {"SWERM_CONFIG": str(EXAMPLES / "swerm.toml")}
    config = load_config(cwd=tmp_path, environ=environ)
    assert (config.backend, config.policy.max_attempts, config.on_error) == ("vllm", 3, "accept")
    assert config.source_of("policy.threshold") == f"{EXAMPLES / 'swerm.toml'}"
    assert integration_enabled(explicit=False, environ=environ, cwd=tmp_path)
    assert not integration_enabled(explicit=True, environ={**environ, "SWERM": "0"}, cwd=tmp_path)
    assert not integration_enabled(explicit=False, environ={}, cwd=tmp_path)


def test_example_mini_yaml_names_an_importable_agent_class() -> None:
    from minisweagent.agents import get_agent_class

    from swerm_plugin.integrations.mini import SwermAgent

    config = yaml.safe_load((EXAMPLES / "mini" / "swerm_agent.yaml").read_text())
    assert get_agent_class(config["agent"]["agent_class"]) is SwermAgent
