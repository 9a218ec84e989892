"""The ``[judge]`` config section and the judge's files: layers, validation, versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swerm_plugin.config import load_config
from swerm_plugin.errors import ConfigError, JudgeError
from swerm_plugin.judge.exemplars import (
    Exemplar,
    ExemplarsFile,
    PoolRef,
    read_exemplars,
    read_pool,
    write_document,
)


def test_judge_section_from_a_file_and_the_environment(tmp_path: Path) -> None:
    (tmp_path / "swerm.toml").write_text(
        'backend = "judge"\n[judge]\nmodel = "gpt-4o-mini"\nmode = "verdict"\nn_samples = 7\n'
    )
    config = load_config(cwd=tmp_path, environ={"SWERM_JUDGE__EXEMPLARS": "ex.json"})
    assert (config.judge.model, config.judge.mode, config.judge.n_samples) == (
        "gpt-4o-mini",
        "verdict",
        7,
    )
    assert config.judge.exemplars == "ex.json"
    assert config.source_of("judge.exemplars") == "env SWERM_JUDGE__EXEMPLARS"


def test_judge_config_errors_name_the_key(tmp_path: Path) -> None:
    (tmp_path / "swerm.toml").write_text("[judge]\nn_sample = 3\n")
    with pytest.raises(ConfigError, match="unknown config key 'judge.n_sample'.*judge.n_samples"):
        load_config(cwd=tmp_path, environ={})
    (tmp_path / "swerm.toml").write_text('[judge]\nverdicts = ["YES", "yes"]\n')
    with pytest.raises(ConfigError, match="judge.verdicts.*two different single words"):
        load_config(cwd=tmp_path, environ={})
    (tmp_path / "swerm.toml").write_text("[judge]\ntemperature = 0\n")
    with pytest.raises(ConfigError, match="judge.temperature"):
        load_config(cwd=tmp_path, environ={})


def exemplar(text: str = "Looks right.") -> Exemplar:
    return Exemplar(
        instance_id="a",
        source_hash="h",
        label=True,
        verdict=True,
        problem="Task a: bug",
        trajectory="[STEP 1]\n[ACTION]\nls",
        patch="diff",
        rationale=text,
    )


def test_judge_exemplars_file_round_trip_and_edits(tmp_path: Path) -> None:
    chosen = [exemplar()]
    ref = PoolRef(path="pool.json", sha256="0" * 64, exemplar_ids=[chosen[0].id])
    path = tmp_path / "exemplars.json"
    write_document(path, ExemplarsFile(model="m", pool=ref, chosen=chosen))
    assert read_exemplars(path).chosen == chosen
    data = json.loads(path.read_text())
    data["chosen"][0]["rationale"] = "Edited by hand."
    path.write_text(json.dumps(data))
    with pytest.raises(JudgeError, match=r"field 'chosen.0'.*does not match its text"):
        read_exemplars(path)
    del data["chosen"][0]["id"]  # accepting the edit: the id is computed again
    path.write_text(json.dumps(data))
    assert read_exemplars(path).chosen[0].id == exemplar("Edited by hand.").id


def test_judge_files_are_versioned(tmp_path: Path) -> None:
    path = tmp_path / "pool.json"
    path.write_text(json.dumps({"format": "swerm-judge-pool", "version": 2, "model": "m"}))
    with pytest.raises(JudgeError, match="version 2; this swerm reads up to 1") as info:
        read_pool(path)
    assert info.value.hint and "upgrade" in info.value.hint
    path.write_text("[1, 2]")
    with pytest.raises(JudgeError, match="not a judge pool file"):
        read_pool(path)
    with pytest.raises(JudgeError, match="no such judge exemplars file"):
        read_exemplars(tmp_path / "missing.json")
