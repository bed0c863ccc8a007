"""Every Prometheus metric of the service, on a registry of its own per app instance."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _StateCollector(Collector):
    """Gauges read at scrape time: jobs by status (as `job_counts` gives them: the app passes
    every status, zeros included), models loaded (the serving cache)."""

    def __init__(
        self, job_counts: Callable[[], Mapping[str, int]], models_loaded: Callable[[], int]
    ) -> None:
        self._job_counts, self._models_loaded = job_counts, models_loaded

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily("forecast_jobs", "Training jobs by status", labels=["status"])
        for status, count in self._job_counts().items():
            jobs.add_metric([status], count)
        yield jobs
        yield GaugeMetricFamily(
            "forecast_models_loaded", "Model versions in the serving cache", self._models_loaded()
        )


class ServiceMetrics:
    """The metric objects; built once per app so tests never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._state: _StateCollector | None = None
        r = self.registry
        self.http_requests = Counter(
            "forecast_http_requests_total",
            "HTTP requests",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "forecast_http_request_duration_seconds",
            "HTTP request latency",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.http_in_progress = Gauge(
            "forecast_http_requests_in_progress", "HTTP requests being served", registry=r
        )
        self.epochs_trained = Counter(
            "forecast_epochs_trained_total", "Training epochs finished", registry=r
        )
        self.epoch_duration = Histogram(
            "forecast_epoch_duration_seconds",
            "Duration of one training epoch",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=r,
        )
        self.forecast_duration = Histogram(
            "forecast_rollout_duration_seconds",
            "Forecast latency (loading, rollout and scaling)",
            ["device"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.forecast_horizon = Histogram(
            "forecast_rollout_horizon_steps",
            "Steps asked for per forecast request",
            buckets=(1, 10, 50, 100, 500, 1000, 5000, 10000),
            registry=r,
        )

    def observe_epoch(self, seconds: float) -> None:
        """Record one finished training epoch."""
        self.epochs_trained.inc()
        self.epoch_duration.observe(seconds)

    def watch_state(
        self, job_counts: Callable[[], Mapping[str, int]], models_loaded: Callable[[], int]
    ) -> None:
        """Expose jobs by status and loaded models, read fresh at every scrape; a later call
        (the app's lifespan run again) replaces the earlier source."""
        if self._state is not None:
            self.registry.unregister(self._state)
        self._state = _StateCollector(job_counts, models_loaded)
        self.registry.register(self._state)
