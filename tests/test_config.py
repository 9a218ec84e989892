"""Config layering, errors and secret handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from swerm_plugin.config import SECRET_MASK, is_enabled, load_config, valid_keys
from swerm_plugin.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults(tmp_path: Path) -> None:
    config = load_config(cwd=tmp_path, environ={})
    assert config.policy.threshold == 0.5
    assert config.source_of("policy.threshold") == "default"
    assert config.on_error == "accept"


def test_five_layers_in_order(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\n[tool.swerm]\nmodel = "from-pyproject"\ntemplate = "swe-gym"\n'
        'on_error = "reject"\nmax_tokens = 1000\n[tool.swerm.policy]\nthreshold = 0.1\n',
    )
    write(
        tmp_path / "swerm.toml",
        'template = "r2e-gym"\nmax_tokens = 2000\n[policy]\nthreshold = 0.2\n',
    )
    named = write(tmp_path / "team.toml", "max_tokens = 3000\n[policy]\nthreshold = 0.3\n")
    env = {"SWERM_CONFIG": str(named), "SWERM_POLICY__THRESHOLD": "0.4"}
    config = load_config(cwd=tmp_path, environ=env, policy={"threshold": 0.5}, model=None)

    assert config.on_error == "reject"
    assert config.source_of("on_error") == f"{tmp_path / 'pyproject.toml'} [tool.swerm]"
    assert config.model == "from-pyproject"  # None arguments do not mask lower layers
    assert config.template == "r2e-gym"
    assert config.source_of("template") == str(tmp_path / "swerm.toml")
    assert config.max_tokens == 3000
    assert config.source_of("max_tokens") == str(named)
    assert config.policy.threshold == 0.5
    assert config.source_of("policy.threshold") == "argument"

    without_argument = load_config(cwd=tmp_path, environ=env)
    assert without_argument.policy.threshold == 0.4
    assert without_argument.source_of("policy.threshold") == "env SWERM_POLICY__THRESHOLD"
    without_env = load_config(cwd=tmp_path, environ={"SWERM_CONFIG": str(named)})
    assert without_env.policy.threshold == 0.3


def test_relative_swerm_config_is_resolved_from_cwd(tmp_path: Path) -> None:
    write(tmp_path / "conf.toml", 'backend = "vllm"\n')
    assert load_config(cwd=tmp_path, environ={"SWERM_CONFIG": "conf.toml"}).backend == "vllm"


def test_swerm_config_file_may_be_pyproject_style(tmp_path: Path) -> None:
    named = write(tmp_path / "other.toml", '[tool.swerm]\nbackend = "openai"\n')
    config = load_config(cwd=tmp_path, environ={"SWERM_CONFIG": str(named)})
    assert config.backend == "openai"
    assert config.source_of("backend") == f"{named} [tool.swerm]"


def test_unknown_key_names_key_file_and_closest(tmp_path: Path) -> None:
    path = write(tmp_path / "swerm.toml", "[policy]\nthreshhold = 0.9\n")
    with pytest.raises(ConfigError) as err:
        load_config(cwd=tmp_path, environ={})
    message = str(err.value)
    assert "unknown config key 'policy.threshhold'" in message
    assert str(path) in message
    assert "did you mean 'policy.threshold'?" in message


def test_unknown_top_level_key_suggests_nested_key(tmp_path: Path) -> None:
    write(tmp_path / "swerm.toml", "threshold = 0.9\n")
    with pytest.raises(ConfigError, match="did you mean 'policy.threshold'"):
        load_config(cwd=tmp_path, environ={})


def test_unknown_env_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'modle' in env SWERM_MODLE; did you mean 'model'"):
        load_config(cwd=tmp_path, environ={"SWERM_MODLE": "x"})


def test_bad_value_names_origin(tmp_path: Path) -> None:
    path = write(tmp_path / "swerm.toml", 'on_error = "explode"\n')
    with pytest.raises(ConfigError, match=rf"'on_error' from {path}"):
        load_config(cwd=tmp_path, environ={})


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    write(tmp_path / "swerm.toml", "model = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(cwd=tmp_path, environ={})
    with pytest.raises(ConfigError, match="SWERM_CONFIG names .*nope.toml, which does not exist"):
        load_config(cwd=tmp_path / "elsewhere", environ={"SWERM_CONFIG": "nope.toml"})


def test_secret_from_env_reference_is_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "swerm.toml", '[remote]\napi_key = {"$env" = "MY_VERIFIER_KEY"}\n')
    secret = "sk-test-not-a-real-key-1234"
    monkeypatch.setenv("MY_VERIFIER_KEY", secret)
    config = load_config(cwd=tmp_path, environ={})
    assert config.remote.api_key is not None
    assert config.remote.api_key.get_secret_value() == secret
    shown = config.effective()
    assert shown["remote.api_key"]["value"] == SECRET_MASK
    assert secret not in repr(config) and secret not in str(shown)
    assert secret not in config.model_dump_json()


def test_secret_from_swerm_env_variable(tmp_path: Path) -> None:
    config = load_config(cwd=tmp_path, environ={"SWERM_REMOTE__API_KEY": "sk-env-secret"})
    assert config.remote.api_key is not None
    assert config.remote.api_key.get_secret_value() == "sk-env-secret"
    assert "sk-env-secret" not in str(config.effective())


def test_literal_secret_in_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "swerm.toml", '[remote]\napi_key = "sk-literal"\n')
    with pytest.raises(ConfigError, match=r"literal secret.*\$env") as err:
        load_config(cwd=tmp_path, environ={})
    assert "sk-literal" not in str(err.value)


def test_enabled_flag() -> None:
    assert not is_enabled({})
    assert is_enabled({"SWERM": "1"})
    assert is_enabled({"SWERM_CONFIG": "swerm.toml"})
    assert not is_enabled({"SWERM": "0"})


def test_valid_keys_cover_sections() -> None:
    keys = valid_keys()
    assert "policy.threshold" in keys and "remote.endpoints" in keys and "model" in keys
