"""Prometheus metrics of one service instance, on a registry of its own.

Names follow Prometheus' conventions (https://prometheus.io/docs/practices/naming/): the
``swerm_serve_`` prefix, base units (seconds), ``_total`` on counters, and labels with few
values only (the route, the status code, an error kind; never an instance id).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_asgi_app

#: Trajectories per backend batch: powers of two up to the largest batch a server takes.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class ServeMetrics:
    """The service's counters, gauges and histograms; :meth:`asgi_app` serves them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "swerm_serve_requests", "HTTP requests answered", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "swerm_serve_request_duration_seconds",
            "Time from a request's arrival to its answer",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "swerm_serve_batch_size",
            "Trajectories per backend batch",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "swerm_serve_queue_depth", "Trajectories waiting for a batch", registry=r
        )
        self.batches_in_flight = Gauge(
            "swerm_serve_batches_in_flight", "Batches being scored now", registry=r
        )
        self.errors = Counter(
            "swerm_serve_errors", "Requests that failed, by kind", ["kind"], registry=r
        )
        self.trajectories = Counter(
            "swerm_serve_trajectories",
            "Trajectories scored, by outcome (ok, failed)",
            ["outcome"],
            registry=r,
        )
        self.ready = Gauge(
            "swerm_serve_ready", "1 when the backend is loaded or reachable", registry=r
        )

    def asgi_app(self) -> MetricsEndpoint:
        """An ASGI app serving this registry (text or OpenMetrics, gzip when asked)."""
        return MetricsEndpoint(make_asgi_app(registry=self.registry))


class MetricsEndpoint:
    """prometheus_client's ASGI app as an object, so a Starlette ``Route`` serves it as an ASGI
    app (a plain function would be taken for a request handler)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
