"""Verifier presets: the registry, what a preset sets, precedence, and the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.config import load_config, valid_keys
from swerm_plugin.errors import ConfigError
from swerm_plugin.plugins import get_hooks
from swerm_plugin.presets import VerifierPreset, get_preset, preset_names, resolve_verifier
from swerm_plugin.presets.builtin import OPENHANDS_CRITIC_LABELS
from swerm_plugin.presets.preset import PRESET_KEYS
from swerm_plugin.testing import MockRewardBackend, run_cli
from swerm_plugin.verifier import CONTEXT_MARGIN, Verifier

NAMES = {
    "swe-rm",
    "swe-gym-verifier",
    "r2e-gym-verifier",
    "openhands-critic-4b",
    "openhands-critic-32b",
}


def test_the_five_presets_are_registered_and_consistent() -> None:
    assert set(preset_names()) >= NAMES
    hooks = get_hooks()
    for name in NAMES:
        preset = get_preset(name)
        assert preset.template in hooks.templates(), name
        assert preset.backend in hooks.backends(), name
        assert preset.sources and all(source.strip() for source in preset.sources)
        assert preset.settings["max_tokens"] > 0
        assert "--max-model-len" in preset.serve
        template = hooks.template(preset.template)
        verdicts = preset.settings.get("verdict_tokens")
        # A judge reads two verdict tokens; a classifier or value head reads none.
        assert template.reads_verdict == (verdicts is not None), name


def test_what_each_preset_sets() -> None:
    expected: dict[str, dict[str, Any]] = {
        "swe-rm": {"backend": "vllm", "template": "swe-rm", "verdict_tokens": ("<YES>", "<NO>")},
        "swe-gym-verifier": {"template": "swe-gym", "prefill": "<judgement>", "max_tokens": 32752},
        "r2e-gym-verifier": {"template": "r2e-gym", "verdict_tokens": ("YES", "NO")},
        "openhands-critic-4b": {
            "backend": "classify",
            "remote.classify_route": "classify",
            "remote.score_label": 0,
            "remote.activation": "sigmoid",
        },
        "openhands-critic-32b": {
            "backend": "classify",
            "template": "openhands-critic-value",
            "remote.classify_route": "pooling",
            "remote.activation": "raw",
        },
    }
    for name, settings in expected.items():
        config = resolve_verifier(load_config(environ={}, verifier=name, model="m"))
        for key, value in settings.items():
            node: Any = config
            for part in key.split("."):
                node = getattr(node, part)
            assert node == value, (name, key)
            assert config.source_of(key) == f"preset {name}"
    assert OPENHANDS_CRITIC_LABELS[0] == "success" and len(OPENHANDS_CRITIC_LABELS) == 27


def test_preset_keys_are_config_keys() -> None:
    assert set(valid_keys()) >= PRESET_KEYS
    with pytest.raises(ConfigError, match="which a preset cannot set"):
        VerifierPreset("x", "x", "x", "x", {"model": "m"}, (), ("s",))
    with pytest.raises(ConfigError, match="names no source"):
        VerifierPreset("x", "x", "x", "x", {}, (), ())


def test_explicit_values_win_over_the_preset(tmp_path: Path) -> None:
    (tmp_path / "swerm.toml").write_text('verifier = "swe-gym-verifier"\nmax_tokens = 16000\n')
    config = resolve_verifier(
        load_config(cwd=tmp_path, environ={"SWERM_PREFILL": "<j>"}, template="r2e-gym")
    )
    assert (config.max_tokens, config.prefill, config.template) == (16000, "<j>", "r2e-gym")
    assert config.source_of("max_tokens").endswith("swerm.toml")
    assert config.source_of("prefill") == "env SWERM_PREFILL"
    assert config.source_of("template") == "argument"
    # What nobody set comes from the preset.
    assert config.verdict_tokens == ("YES", "NO")
    assert config.source_of("verdict_tokens") == "preset swe-gym-verifier"
    assert resolve_verifier(config) is config  # applying twice changes nothing


def test_an_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown verifier preset 'swe-gym'.*swe-gym-verifier"):
        resolve_verifier(load_config(environ={}, verifier="swe-gym"))


def test_a_presets_context_gives_way_to_a_shorter_server() -> None:
    """A preset's context is what the verifier was trained for; a server with less lowers the
    budget instead of failing. An explicit max_tokens above the context is still an error."""
    backend = MockRewardBackend(default=0.5)
    backend.context_length = 8192
    config = load_config(environ={}, verifier="swe-rm")
    with Verifier(config, backend=backend) as verifier:
        assert verifier.budget == 8192 - CONTEXT_MARGIN
    explicit = load_config(environ={}, verifier="swe-rm", max_tokens=100_000)
    with Verifier(explicit, backend=backend) as verifier, pytest.raises(ConfigError):
        _ = verifier.budget


def test_presets_command_lists_them_with_sources() -> None:
    listed = run_cli("presets", "--json")
    assert listed.exit_code == 0, listed.output
    entries = json.loads(listed.stdout)
    by_name = {entry["name"]: entry for entry in entries}
    assert set(by_name) >= NAMES
    for entry in entries:
        assert {"name", "backend", "template", "source", "serve"} <= set(entry)
    assert by_name["openhands-critic-4b"]["labels"][0] == "success"
    assert "--runner pooling" in by_name["openhands-critic-4b"]["serve"]
    table = run_cli("presets")
    assert table.exit_code == 0 and "openhands-critic-32b" in table.stdout
    one = run_cli("presets", "swe-gym-verifier")
    assert one.exit_code == 0
    assert "arXiv 2412.21139" in one.stdout and "vllm serve <MODEL_PATH>" in one.stdout
    missing = run_cli("presets", "nope")
    assert missing.exit_code == 1 and "unknown verifier preset 'nope'" in missing.stderr


def test_config_show_names_the_preset_as_a_source(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "swerm.toml").write_text('verifier = "openhands-critic-32b"\n')
    shown = run_cli("config", "show", "--json")
    assert shown.exit_code == 0, shown.output
    effective = json.loads(shown.stdout)
    assert effective["template"] == {
        "value": "openhands-critic-value",
        "source": "preset openhands-critic-32b",
    }


@pytest.mark.parametrize(
    ("name", "template"),
    [
        ("swe-rm", "swe-rm v2"),
        ("swe-gym-verifier", "swe-gym v3"),
        ("r2e-gym-verifier", "r2e-gym v3"),
        ("openhands-critic-4b", "openhands-critic v1"),
        ("openhands-critic-32b", "openhands-critic-value v1"),
    ],
)
def test_score_verifier_renders_the_presets_format(
    name: str, template: str, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """`--verifier` picks the format; `--backend transformers` renders it with the local
    tokenizer (the preset's remote backend would need a server)."""
    from tests.conftest import mini_swe_agent_file

    path = mini_swe_agent_file(tmp_path, "calc__calc-1", "a + b")
    result = run_cli(
        "score",
        path,
        "--model",
        tiny_model_dir,
        "--backend",
        "transformers",
        "--verifier",
        name,
        "--explain",
    )
    assert result.exit_code == 0, result.output
    assert f"template {template} |" in result.stdout


def test_a_head_template_cannot_be_scored_by_verdict_tokens(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """The local backend reads verdict tokens; a critic's prompt has none: a clear error per
    trajectory, not a number."""
    from tests.conftest import mini_swe_agent_file

    path = mini_swe_agent_file(tmp_path, "calc__calc-1", "a + b")
    result = run_cli(
        "score",
        path,
        "--model",
        tiny_model_dir,
        "--backend",
        "transformers",
        "--verifier",
        "openhands-critic-4b",
        "--json",
    )
    assert result.exit_code == 1
    (record,) = json.loads(result.stdout)["records"]
    assert record["raw"] is None
    assert "score it with the classify backend" in record["error"]
