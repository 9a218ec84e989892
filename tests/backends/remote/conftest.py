"""Fixtures for the remote backends.

* ``fake_server``: starts servers from ``fake_server.py`` (own processes on 127.0.0.1) whose
  answers the tests know and whose faults they inject.
* ``vllm_server`` / ``vllm_classify_server``: real vLLM CPU servers from ``.venv-vllm`` (built on
  first use, then reused), started once per session, together: the tiny model generating, and
  the same model converted by ``swerm convert seq-cls`` into a one-logit classifier.
* ``start_vllm``: a context manager for the few tests that need a model of their own (the
  OpenHands critics' head shapes); each such module starts one and stops it when done.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from swerm_plugin.config import RemoteConfig, SwermConfig
from swerm_plugin.model import Step, Trajectory
from swerm_plugin.prompts.prompt import Prompt
from swerm_plugin.testing.vllm_cpu import (
    VllmEnvError,
    VllmServer,
    VllmServerError,
    ensure_vllm_env,
)

REPO = Path(__file__).resolve().parents[3]
FAKE_SERVER = Path(__file__).with_name("fake_server.py")
FAKE_MODEL = "fake-verifier"
#: Fast retries so that fault tests take milliseconds, not seconds.
FAST_RETRIES: dict[str, Any] = {"backoff_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5.0}


# --- the tiny model's verdict ids ---


@pytest.fixture(scope="session")
def verdict_ids(tiny_model_dir: Path) -> tuple[int, int]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    yes, no = tokenizer.convert_tokens_to_ids(["<YES>", "<NO>"])
    return int(yes), int(no)


def make_prompt(
    ids: list[int], verdict_ids: tuple[int, int], *, prefix_len: int | None = None
) -> Prompt:
    """A prompt as the renderer makes it, with chosen token ids."""
    return Prompt(
        content_hash=f"h{hash(tuple(ids))}",
        template="swe-rm",
        template_version="1",
        token_ids=list(ids),
        verdict_token_ids=verdict_ids,
        prefix_len=prefix_len,
    )


def config_for(
    urls: list[str], tokenizer: Path | None, *, model: str = FAKE_MODEL, **remote: Any
) -> SwermConfig:
    settings = {**FAST_RETRIES, **remote}
    return SwermConfig(
        model=model,
        remote=RemoteConfig(
            endpoints=urls, tokenizer=None if tokenizer is None else str(tokenizer), **settings
        ),
    )


# --- fake servers ---


class FakeServer:
    """One ``fake_server.py`` process."""

    def __init__(self, verdict_ids: tuple[int, int], **options: Any) -> None:
        tokens = {"<YES>": [verdict_ids[0]], "<NO>": [verdict_ids[1]]}
        tokens.update(options.pop("tokens", {}))
        command = [sys.executable, str(FAKE_SERVER), "--tokens", json.dumps(tokens)]
        command += ["--model", options.pop("model", FAKE_MODEL)]
        for name, value in options.items():
            command += [f"--{name.replace('_', '-')}", str(value)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        port = self.process.stdout.readline().strip()
        if not port.isdigit():
            self.stop()
            raise RuntimeError(f"fake server did not start: {port!r}")
        self.url = f"http://127.0.0.1:{port}"

    def faults(self, *faults: dict[str, Any]) -> None:
        httpx.post(f"{self.url}/_faults", json={"faults": list(faults)}).raise_for_status()

    def delay(self, seconds: float) -> None:
        httpx.post(f"{self.url}/_delay", json={"seconds": seconds}).raise_for_status()

    def log(self, scoring_only: bool = True) -> list[dict[str, Any]]:
        entries = httpx.get(f"{self.url}/_log").json()["log"]
        scoring = {"/generative_scoring", "/v1/completions", "/v1/chat/completions"}
        scoring |= {"/classify", "/pooling"}
        return [e for e in entries if e["path"] in scoring] if scoring_only else entries

    def max_in_flight(self) -> int:
        return int(httpx.get(f"{self.url}/_log").json()["max_in_flight"])

    def kill(self) -> None:
        """SIGKILL: the process dies mid-request, as a crashed replica would."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def fake_server(verdict_ids: tuple[int, int]) -> Iterator[Callable[..., FakeServer]]:
    """Starts fake servers (``fake_server(api_key=..., max_model_len=...)``); all stop after."""
    started: list[FakeServer] = []

    def start(**options: Any) -> FakeServer:
        server = FakeServer(verdict_ids, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# --- trajectories ---

_FILLER = (
    "the parser fails on empty input list index error fix return None test passed "
    "failed import module value config line 42 run pytest assert check edge case"
)
WORDS = _FILLER.split()


def sample_trajectories(n_tasks: int, per_task: int, seed: int = 0) -> list[Trajectory]:
    """``n_tasks * per_task`` trajectories; the candidates of a task share its problem statement."""
    rng = random.Random(seed)

    def text(lo: int, hi: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))

    out = []
    for task in range(n_tasks):
        problem = f"Task {task}: " + text(20, 40)
        for attempt in range(1, per_task + 1):
            steps = [
                Step(
                    role="assistant",
                    thought=text(5, 40),
                    action=f"python check_{i}.py",
                    observation=text(5, 30),
                )
                for i in range(rng.randint(1, 3))
            ]
            out.append(
                Trajectory(
                    instance_id=f"acme__task-{task}",
                    source="test/1",
                    problem_statement=problem,
                    steps=steps,
                    patch=f"diff --git a/m.py b/m.py\n+    {text(3, 8)}\n",
                    exit_status="submitted",
                    attempt=attempt,
                )
            )
    return out


# --- the real vLLM servers ---

GENERATE_NAME = "swerm-tiny"
CLASSIFY_NAME = "swerm-tiny-critic"
#: Lifts both verdict logits by at least this much above where the random model puts them.
VERDICT_LIFT = 40.0


def boost_verdict_rows(source: Path, target: Path, verdict_ids: tuple[int, int]) -> Path:
    """A copy of the tiny model whose two verdict tokens are always among the top log-probs.

    Both verdict rows of the output embedding get the same vector added: the direction the last
    hidden state points to at the end of a verifier prompt (the swe-rm template's, and the LLM
    judge's verdict-only chat, pre-filled with ``VERDICT:``). That raises both logits by the same
    amount, so P(YES) over the two verdicts (what every backend reports) is unchanged, while the
    two tokens rise to the top of the whole vocabulary, as in a trained verifier.
    """
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from swerm_plugin.prompts import render_prompt

    shutil.copytree(source, target)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32).eval()
    examples = sample_trajectories(4, 2, seed=99)
    prompts = [render_prompt(t, "swe-rm", tokenizer).token_ids for t in examples]
    prompts += [judge_verdict_ids(tokenizer, t) for t in examples]
    with torch.no_grad():
        hidden = torch.stack(
            [model.model(torch.tensor([ids])).last_hidden_state[0, -1] for ids in prompts]
        )
    direction = hidden.mean(0) / hidden.mean(0).norm()
    lowest = float((hidden @ direction).min())
    assert lowest > 0, "the last hidden states share no direction; cannot lift the verdicts"
    weights_path = target / "model.safetensors"
    weights = load_file(weights_path)
    head = weights["lm_head.weight"].clone()
    for token in verdict_ids:
        head[token] += direction * (VERDICT_LIFT / lowest)
    weights["lm_head.weight"] = head
    save_file(weights, weights_path, metadata={"format": "pt"})
    return target


def judge_messages(trajectory: Trajectory) -> list[dict[str, str]]:
    """The judge backend's verdict-only chat for ``trajectory`` (verdicts ``<YES>``/``<NO>``)."""
    from swerm_plugin.judge.settings import JudgeConfig
    from swerm_plugin.judge.template import judge_template
    from swerm_plugin.prompts import render_prompt

    settings = JudgeConfig(model=GENERATE_NAME, verdicts=("<YES>", "<NO>"), mode="verdict")
    return render_prompt(trajectory, judge_template([], settings), None, 1500).messages


def judge_verdict_ids(tokenizer: Any, trajectory: Trajectory) -> list[int]:
    """The token ids vLLM scores for the judge's chat: its chat template, the answer continued."""
    text = tokenizer.apply_chat_template(
        judge_messages(trajectory), tokenize=False, continue_final_message=True
    )
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


@pytest.fixture(scope="session")
def vllm_python() -> Path:
    """The Python of ``.venv-vllm``, built on first use. Failing to build fails the tests."""
    try:
        return ensure_vllm_env(REPO / ".venv-vllm")
    except VllmEnvError as exc:
        pytest.fail(f"cannot build the vLLM environment (.venv-vllm): {exc}", pytrace=False)


@pytest.fixture(scope="session")
def served_model_dir(
    tiny_model_dir: Path, verdict_ids: tuple[int, int], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return boost_verdict_rows(
        tiny_model_dir, tmp_path_factory.mktemp("served") / "model", verdict_ids
    )


@pytest.fixture(scope="session")
def classifier_dir(served_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served model as a one-logit sequence classifier (``swerm convert seq-cls``)."""
    from swerm_plugin.convert import convert_seq_cls

    target = tmp_path_factory.mktemp("classifier") / "model"
    return convert_seq_cls(served_model_dir, target, ("<YES>", "<NO>")).target_path


@pytest.fixture(scope="session")
def vllm_servers(
    vllm_python: Path,
    served_model_dir: Path,
    classifier_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, VllmServer]]:
    """A generating server and a classifying one (vLLM's pooling runner cannot share a process
    with generation), started together so their start-ups overlap; stopped at session end.
    Both serve the same weights: the classifier is the generator converted, so its /classify
    must agree with the generator's /generative_scoring."""
    logs = tmp_path_factory.mktemp("vllm-logs")
    servers = {
        "generate": VllmServer(
            vllm_python,
            served_model_dir,
            served_name=GENERATE_NAME,
            log_path=logs / "gen.log",
            extra_args=["--enable-prefix-caching"],
        ),
        "classify": VllmServer(
            vllm_python,
            classifier_dir,
            served_name=CLASSIFY_NAME,
            log_path=logs / "classify.log",
            extra_args=["--runner", "pooling", "--enable-prefix-caching"],
        ),
    }
    try:
        for server in servers.values():
            server.start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def _ready(server: VllmServer) -> VllmServer:
    try:
        return server.wait(timeout_s=600)
    except VllmServerError as exc:
        pytest.fail(f"the vLLM server did not start: {exc}", pytrace=False)


@contextlib.contextmanager
def start_vllm(
    python: Path, model_dir: Path, name: str, log_dir: Path, extra_args: list[str]
) -> Iterator[VllmServer]:
    """One more vLLM server for one test module (started, waited for, stopped after)."""
    server = VllmServer(
        python,
        model_dir,
        served_name=name,
        log_path=log_dir / f"{name}.log",
        extra_args=extra_args,
    )
    try:
        yield _ready(server.start())
    finally:
        server.stop()


@pytest.fixture(scope="session")
def vllm_server(vllm_servers: dict[str, VllmServer]) -> VllmServer:
    return _ready(vllm_servers["generate"])


@pytest.fixture(scope="session")
def vllm_classify_server(vllm_servers: dict[str, VllmServer]) -> VllmServer:
    return _ready(vllm_servers["classify"])


@pytest.fixture(scope="session", autouse=True)
def _boot_vllm_early(request: pytest.FixtureRequest) -> None:
    """Start the vLLM servers with the first remote test when any selected test needs them, so
    their minute of start-up overlaps the fake-server tests instead of adding to them."""
    if any("vllm_servers" in item.fixturenames for item in request.session.items):
        request.getfixturevalue("vllm_servers")
