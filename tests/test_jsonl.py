"""The helpers shipped for plugin authors, and atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swerm_plugin.jsonl import append_jsonl, atomic_open, atomic_write_json, atomic_write_jsonl
from swerm_plugin.prompts.prompt import Prompt
from swerm_plugin.testing import MockRewardBackend


def prompt(i: int) -> Prompt:
    return Prompt(content_hash=f"h{i}", template="swe-rm", template_version="1", token_ids=[1] * i)


def test_mock_backend_returns_queued_scores_and_records_calls(
    mock_backend: MockRewardBackend,
) -> None:
    mock_backend.queue(0.9, "server exploded", 0.1)
    first = mock_backend.score_batch([prompt(1), prompt(2)])
    second = mock_backend.score_batch([prompt(3)])
    assert [s.raw for s in first + second] == [0.9, None, 0.1]
    assert first[1].error == "server exploded" and not first[1].ok
    assert first[0].latency_s == 0.0 and first[1].latency_s is None
    assert [len(c) for c in mock_backend.calls] == [2, 1]
    assert [p.content_hash for p in mock_backend.prompts] == ["h1", "h2", "h3"]


def test_mock_backend_without_queue_or_default_fails_loudly() -> None:
    with pytest.raises(AssertionError, match="no queued score left"):
        MockRewardBackend().score_batch([prompt(1)])
    assert MockRewardBackend(default=0.5).score_batch([prompt(1)])[0].raw == 0.5


def test_mock_backend_async(mock_backend: MockRewardBackend) -> None:
    import asyncio

    mock_backend.queue(0.3)
    scores = asyncio.run(mock_backend.ascore_batch([prompt(1)]))
    assert scores[0].raw == 0.3


def test_swerm_pm_fixture_has_only_builtins(swerm_pm) -> None:  # type: ignore[no-untyped-def]
    from swerm_plugin.plugins import BUILTIN_PLUGINS, get_plugin_manager

    assert get_plugin_manager() is swerm_pm
    assert {name for name, _ in swerm_pm.list_name_plugin()} == set(BUILTIN_PLUGINS)


def test_atomic_write_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "preds.json"
    atomic_write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    with pytest.raises(RuntimeError, match="crash"), atomic_open(target) as fh:
        fh.write(b"half written")
        raise RuntimeError("crash mid-write")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in target.parent.iterdir()] == ["preds.json"], "temp file cleaned up"


def test_jsonl_writers(tmp_path: Path) -> None:
    target = tmp_path / "log.jsonl"
    atomic_write_jsonl(target, [{"i": 0}, {"i": 1}])
    append_jsonl(target, {"i": 2})
    assert [json.loads(line)["i"] for line in target.read_text().splitlines()] == [0, 1, 2]
