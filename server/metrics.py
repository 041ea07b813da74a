"""Prometheus metrics, defined once and counted in the service layer (never per transport).

Each `Metrics` owns its registry, so several servers can live in one process (tests) without
clashing in the global default registry.
"""

from __future__ import annotations

from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)

# The `model` label of a request that used no model: an operation that needs none (listing the models,
# collection operations) or a request refused before its operation ran (a bad key, body or schema).
NO_MODEL = ""
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
TOKEN_BUCKETS = (16, 64, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "lexsent_requests",
            "Requests by operation, transport, model and outcome",
            ["operation", "transport", "model", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "lexsent_request_seconds",
            "Request latency",
            ["operation", "transport"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("lexsent_requests_in_flight", "Requests being served", registry=r)
        self.batch_inputs = Histogram(
            "lexsent_batch_inputs", "Inputs per model batch", ["model"], buckets=SIZE_BUCKETS, registry=r
        )
        self.batch_tokens = Histogram(
            "lexsent_batch_tokens", "Tokens per model batch", ["model"], buckets=TOKEN_BUCKETS, registry=r
        )
        self.queue_depth = Gauge("lexsent_queue_depth", "Inputs waiting for a batch", ["model"], registry=r)
        self.tokens = Counter("lexsent_tokens", "Tokens embedded", ["model"], registry=r)
        self.truncated = Counter("lexsent_truncated_inputs", "Inputs cut to max_length", ["model"], registry=r)
        self._children: dict[tuple[object, ...], MetricWrapperBase] = {}

    def child(self, metric: M, *labels: str) -> M:
        """`metric.labels(*labels)`, memoised: prometheus_client validates the labels and takes a lock on
        every call, several times per request. Label values are bounded (served names, outcomes)."""
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found  # type: ignore[return-value]

    def render(self) -> bytes:
        return generate_latest(self.registry)
