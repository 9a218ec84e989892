"""Shared test set-up: every test runs with a clean swerm environment; the tiny model, its
tokenizer and backend are built once per session; trajectories with seeded filler text."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from swerm_plugin.config import SwermConfig
from swerm_plugin.model import Step, Trajectory
from swerm_plugin.plugins import manager as plugins


@pytest.fixture(autouse=True)
def _isolated_swerm_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No SWERM_* variable from the developer's shell leaks into a test, and no cached manager."""
    import os

    for name in list(os.environ):
        if name.startswith("SWERM"):
            monkeypatch.delenv(name)
    plugins.reset_plugin_manager()
    yield
    plugins.reset_plugin_manager()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3-MoE verifier with its tokenizer (``make_tiny_model``), built once per
    test session; shared by the local and the vLLM backend tests."""
    from swerm_plugin.testing import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"), seed=0)


# Words from which filler text is drawn: no "<", "[" or "|" so that no generated text can look
# like markup or a truncation marker.
WORDS = [
    *("parse", "value", "error", "return", "None", "items", "self", "def", "test", "fix"),
    *("the", "issue", "when", "input", "is", "empty", "assert", "list", "index", "range"),
    *("module", "import", "class", "field", "config", "path", "file", "line", "42", "7", "0"),
]
FILLER_SEPARATORS = (" ", " ", " ", "\n", "    ", ": ", ", ", "(", ")")


def filler(rng: random.Random, n_words: int) -> str:
    """Deterministic code-and-prose-like text of ``n_words`` words."""
    parts = []
    for _ in range(n_words):
        parts.append(rng.choice(WORDS))
        parts.append(rng.choice(FILLER_SEPARATORS))
    return "".join(parts).strip()


def make_trajectory(
    seed: int = 0,
    *,
    instance_id: str = "acme__widgets-17",
    n_steps: int = 3,
    words: int = 40,
    problem_words: int = 40,
    patch_words: int = 20,
    **fields: Any,
) -> Trajectory:
    """A trajectory in the shape the adapters produce, with seeded filler text."""
    rng = random.Random(seed)
    steps = [
        Step(
            role="assistant",
            thought=f"Step {i} thought: " + filler(rng, rng.randint(words // 2, words)),
            action=f"python run_{i}.py " + filler(rng, 3),
            observation=f"Output {i}: " + filler(rng, rng.randint(words // 2, 2 * words)),
        )
        for i in range(n_steps)
    ]
    defaults: dict[str, Any] = {
        "instance_id": instance_id,
        "source": "test/1",
        "problem_statement": "Widgets crash on empty input. " + filler(rng, problem_words),
        "steps": steps,
        "patch": "diff --git a/w.py b/w.py\n+    if not items:\n+        return None\n"
        + filler(rng, patch_words),
        "exit_status": "submitted",
    }
    defaults.update(fields)
    return Trajectory(**defaults)


@pytest.fixture
def trajectory_factory() -> Callable[..., Trajectory]:
    return make_trajectory


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def local_backend(tiny_model_dir: Path) -> Iterator[Any]:
    """One loaded transformers backend over the tiny model, shared by the module's tests."""
    from swerm_plugin.backends.transformers import TransformersBackend

    backend = TransformersBackend(SwermConfig(model=str(tiny_model_dir), backend="transformers"))
    yield backend
    backend.close()


def mini_swe_agent_file(folder: Path, instance_id: str, fix: str, *, observation: str = "") -> Path:
    """A mini-swe-agent 2.x ``.traj.json`` (format ``mini-swe-agent-1.1``)."""
    patch = f"diff --git a/calc.py b/calc.py\n-    return a - b\n+    return {fix}\n"
    messages = [
        {"role": "system", "content": "You are a helpful assistant that can run bash commands."},
        {
            "role": "user",
            "content": f"Please solve this issue: add() in calc.py subtracts ({instance_id}).\n\n"
            "You can execute bash commands and edit files.",
        },
        {
            "role": "assistant",
            "content": "THOUGHT: read the file\n\n```mswea_bash_command\ncat calc.py\n```",
            "extra": {"actions": [{"command": "cat calc.py"}]},
        },
        {
            "role": "user",
            "content": f"<returncode>0</returncode>\n<output>\n{observation or 'return a - b'}\n"
            "</output>",
            "extra": {"returncode": 0, "raw_output": observation or "return a - b\n"},
        },
        {
            "role": "exit",
            "content": patch,
            "extra": {"exit_status": "Submitted", "submission": patch},
        },
    ]
    return write_mini_document(folder, instance_id, messages, patch)


def write_mini_document(
    folder: Path, instance_id: str, messages: list[dict[str, Any]], patch: str
) -> Path:
    """``folder/<id>/<id>.traj.json``: ``messages`` as a submitted mini-swe-agent 2.x run."""
    document = {
        "info": {"exit_status": "Submitted", "submission": patch, "mini_version": "2.4.6"},
        "messages": messages,
        "trajectory_format": "mini-swe-agent-1.1",
        "instance_id": instance_id,
    }
    path = folder / instance_id / f"{instance_id}.traj.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def mini_swe_agent_document(seed: int, *, instance_id: str | None = None) -> dict[str, Any]:
    """A mini-swe-agent 2.x ``.traj.json`` document (``mini-swe-agent-1.1``) of 1-3 steps whose
    text and length vary with ``seed``."""
    rng = random.Random(seed)
    iid = instance_id or f"acme__widgets-{seed}"
    patch = f"diff --git a/w.py b/w.py\n+    return {filler(rng, 4)}\n"
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a helpful assistant that can run bash commands."},
        {"role": "user", "content": f"Please solve this issue: {filler(rng, 30)} ({iid})."},
    ]
    for step in range(rng.randint(1, 3)):
        command = f"python check_{step}.py"
        messages += [
            {
                "role": "assistant",
                "content": f"THOUGHT: {filler(rng, 20)}\n\n```mswea_bash_command\n{command}\n```",
                "extra": {"actions": [{"command": command}]},
            },
            {
                "role": "user",
                "content": f"<returncode>0</returncode>\n<output>\n{filler(rng, 30)}\n</output>",
            },
        ]
    messages.append(
        {
            "role": "exit",
            "content": patch,
            "extra": {"exit_status": "Submitted", "submission": patch},
        }
    )
    info = {"exit_status": "Submitted", "submission": patch, "mini_version": "2.4.6"}
    return {
        "info": info,
        "messages": messages,
        "trajectory_format": "mini-swe-agent-1.1",
        "instance_id": iid,
    }


@pytest.fixture
def mini_document() -> Callable[..., dict[str, Any]]:
    """``mini_document(seed, instance_id=None)``: see :func:`mini_swe_agent_document`."""
    return mini_swe_agent_document


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """One local Ray cluster per test session (2 CPUs, no dashboard), connected in this process;
    yields its address for other processes. Ray turns token authentication on by itself; the
    token is made here and handed on by environment (no token file under the home directory),
    so a subprocess can join. Shut down at the end."""
    import logging
    import os
    import secrets

    import ray

    names = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.pop("RAY_AUTH_MODE", None)  # unset: ray.init enables it (and re-reads its config)
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    try:
        context = ray.init(
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=256 * 2**20,
            logging_level=logging.WARNING,
        )
        yield str(context.address_info["gcs_address"])
    finally:
        ray.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def mini_file() -> Callable[..., Path]:
    """:func:`mini_swe_agent_file`: writes a mini-swe-agent ``.traj.json`` run file."""
    return mini_swe_agent_file
