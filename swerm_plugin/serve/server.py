"""Running the app: one uvicorn server, or N Ray Serve replicas of the same app.

uvicorn: the socket is bound first (a taken port is a clear error, and ``--port 0`` picks a free
one), then served until SIGTERM or SIGINT. On either signal uvicorn stops accepting connections,
waits for the requests in flight (at most ``shutdown_timeout_s``), and only then does the app's
shutdown answer the queued work and release the model: every accepted request is answered.

Ray Serve: ``num_replicas`` copies of the app, each with its own model and micro-batcher, behind
Ray's HTTP proxy on the same host and port. Each replica asks for ``replica_cpus`` CPUs; a
fraction lets several replicas share a small machine.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from swerm_plugin.config import SwermConfig
from swerm_plugin.errors import BackendUnavailable, ServeError
from swerm_plugin.serve.settings import ServeSettings

if TYPE_CHECKING:
    from swerm_plugin.verifier import Verifier

log = logging.getLogger("swerm.serve")


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port): clients may connect
    as soon as it is announced.

    :raises ServeError: the address is taken or cannot be used.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServeError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --port (0 picks a free one), or stop what holds this one",
        ) from None
    sock.listen(2048)  # connections queue from now on, even before uvicorn serves them
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextmanager
def _stop_signals(on_stop: Callable[[], None] | None = None) -> Iterator[None]:
    """SIGINT and SIGTERM call ``on_stop`` here. uvicorn installs its own handlers while it
    serves and re-raises the signal that stopped it once it has shut down gracefully; this
    handler takes that signal, so a requested stop ends the command normally."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(sig: int, frame: Any) -> None:
        if on_stop is not None:
            on_stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def cli_log_config() -> dict[str, Any]:
    """uvicorn's log set-up, plus swerm's service messages on the same handler."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["swerm.serve"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return log_config


def uvicorn_server(
    app: Any, settings: ServeSettings, *, log_config: dict[str, Any] | None = None
) -> Any:
    """A uvicorn server for ``app`` with the service's shutdown timeout. No access log: the
    request line is all it would add, and it costs time under load. ``log_config=None`` leaves
    the process's logging as it is (an embedded server)."""
    import uvicorn

    config = uvicorn.Config(
        app,
        lifespan="on",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
        log_config=log_config,
    )
    return uvicorn.Server(config)


class BackgroundServer:
    """A uvicorn server running in a thread of this process (see :func:`serve_in_background`)."""

    def __init__(self, server: Any, sock: socket.socket) -> None:
        self.server = server
        self.url = url_of(sock)
        self._sock = sock
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="swerm-serve", daemon=True
        )

    def start(self, timeout_s: float) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServeError(f"the server on {self.url} did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop gracefully: answer the requests accepted so far, then return."""
        self.server.should_exit = True
        self._thread.join()
        self._sock.close()


@contextmanager
def serve_in_background(
    app: Any, settings: ServeSettings, *, start_timeout_s: float = 60.0
) -> Iterator[BackgroundServer]:
    """Serve ``app`` from a background thread while the block runs (a Python harness that
    embeds the service, tests, benchmarks); the server stops gracefully at the end."""
    sock = bind_socket(settings.host, settings.port)
    running = BackgroundServer(uvicorn_server(app, settings), sock)
    running.start(start_timeout_s)
    try:
        yield running
    finally:
        running.stop()


def run_uvicorn(
    config: SwermConfig,
    settings: ServeSettings,
    *,
    verifier: Verifier | None = None,
    announce: Callable[[str], None] = log.info,
) -> int:
    """Serve until SIGTERM or SIGINT (see the module docs); returns the exit code.

    :raises ServeError: the address is taken, or the backend failed to load (the server then
        stops at once, after answering what it accepted).
    """
    from swerm_plugin.serve.app import create_app

    sock = bind_socket(settings.host, settings.port)
    failures: list[str] = []
    server: Any = None

    def failed(reason: str) -> None:
        failures.append(reason)
        if server is not None:
            server.should_exit = True

    app = create_app(config, settings, verifier=verifier, on_failure=failed)
    server = uvicorn_server(app, settings, log_config=cli_log_config())
    announce(f"swerm serve: listening on {url_of(sock)}")
    try:
        with _stop_signals():
            server.run(sockets=[sock])
    finally:
        sock.close()
    if failures:
        raise ServeError(failures[0], hint="check --model / --backend; run with --debug for more")
    return 0 if server.started else 1


class _ReplicaBuilder:
    """What each Ray Serve replica runs: the same app, built inside the replica."""

    def __init__(self, config: SwermConfig, settings: ServeSettings) -> None:
        self.config = config
        self.settings = settings

    def __serve_build_asgi_app__(self) -> Any:
        from swerm_plugin.serve.app import create_app

        return create_app(self.config, self.settings)


def ray_application(
    config: SwermConfig, settings: ServeSettings, *, replicas: int, replica_cpus: float
) -> Any:
    """The Ray Serve application: ``replicas`` copies of the swerm app."""
    from ray import serve

    ingress = serve.ingress()(_ReplicaBuilder)
    deployment = serve.deployment(
        name="swerm",
        num_replicas=replicas,
        ray_actor_options={"num_cpus": replica_cpus},
        # the micro-batcher needs concurrent requests; its own queue bounds them
        max_ongoing_requests=settings.max_queue,
        graceful_shutdown_timeout_s=settings.shutdown_timeout_s,
    )(ingress)
    return deployment.bind(config, replace(settings, host="127.0.0.1", port=0))


def run_ray(
    config: SwermConfig,
    settings: ServeSettings,
    *,
    replicas: int,
    replica_cpus: float = 0.5,
    announce: Callable[[str], None] = log.info,
) -> int:
    """Serve ``replicas`` replicas with Ray Serve until SIGTERM or SIGINT."""
    try:
        import ray
        from ray import serve
    except ImportError as exc:
        raise BackendUnavailable(
            f"swerm serve --ray needs Ray Serve ({exc}): pip install 'swerm-plugin[ray]'"
        ) from None
    ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False)
    stop = threading.Event()
    try:
        serve.start(http_options={"host": settings.host, "port": settings.port})
        app = ray_application(config, settings, replicas=replicas, replica_cpus=replica_cpus)
        serve.run(app, name="swerm", route_prefix="/", blocking=False)
        announce(
            f"swerm serve: {replicas} Ray Serve replicas on http://{settings.host}:{settings.port}"
        )
        with _stop_signals(stop.set):
            while not stop.wait(0.5):
                pass
    finally:
        serve.shutdown()
        ray.shutdown()
    return 0
