"""The Prometheus text format of a server's ``Metrics`` (``GET /metrics``), by the Prometheus
client library: imported on the first scrape, not to serve requests."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from .metrics import BOUNDS, Count, Metrics, Timings

__all__ = ["BootTimeline", "GeneratorTimeline", "render"]

LE = tuple("+Inf" if bound == float("inf") else repr(bound) for bound in BOUNDS)  # as Go prints them


def _created_series() -> bool:
    """The library's switch for ``_created`` series (on unless the environment disables them)."""
    return os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False").lower() not in ("true", "1", "t")


class BootTimeline(Collector):
    """The boot timeline file as gauges; nothing when it is missing or unreadable."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def collect(self) -> Iterator[Metric]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            steps = [(str(s["name"]), str(s["unit"]), str(s["status"]), float(s["seconds"])) for s in data["steps"]]
            total = float(data["total"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        family = GaugeMetricFamily(
            "thar_boot_step_duration_seconds",
            "Duration of each step of the last boot",
            labels=["step", "unit", "status"],
        )
        for name, unit, status, seconds in steps:
            family.add_metric([name, unit, status], seconds)
        yield family
        yield GaugeMetricFamily("thar_boot_duration_seconds", "Duration of the last boot", value=total)


class GeneratorTimeline(Collector):
    """sundog's last run (``run/thar/generators.json``) as gauges; nothing when missing or unreadable."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def collect(self) -> Iterator[Metric]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            runs = [(str(g["setting"]), str(g["result"]), float(g["seconds"])) for g in data["generators"]]
            total = float(data["total"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        family = GaugeMetricFamily(
            "thar_generator_duration_seconds",
            "Duration of each setting generator in sundog's last run",
            labels=["setting", "result"],
        )
        for setting, result, seconds in runs:
            family.add_metric([setting, result], seconds)
        yield family
        yield GaugeMetricFamily("thar_generators_duration_seconds", "Duration of sundog's last run", value=total)


def _counter(name: str, doc: str, labelnames: tuple[str, ...], series: dict[tuple[str, ...], Count]) -> Metric:
    metric, created = Metric(name, doc, "counter"), _created_series()
    for values, count in series.items():
        labels = dict(zip(labelnames, values, strict=True))
        metric.add_sample(name + "_total", labels, count.value)
        if created:
            metric.add_sample(name + "_created", labels, count.created)
    return metric


def _histogram(name: str, doc: str, labelnames: tuple[str, ...], series: dict[tuple[str, ...], Timings]) -> Metric:
    metric, created = Metric(name, doc, "histogram"), _created_series()
    for values, timings in series.items():
        labels = dict(zip(labelnames, values, strict=True))
        total = 0.0
        for le, count in zip(LE, timings.counts, strict=True):
            total += count
            metric.add_sample(name + "_bucket", {**labels, "le": le}, total)
        metric.add_sample(name + "_count", labels, total)
        metric.add_sample(name + "_sum", labels, timings.sum)
        if created:
            metric.add_sample(name + "_created", labels, timings.created)
    return metric


def _gauge(name: str, doc: str, value: float) -> Metric:
    metric = Metric(name, doc, "gauge")
    metric.add_sample(name, {}, value)
    return metric


class ServerMetrics(Collector):
    """Every family of one server, in a fixed order (the boot timeline's first)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        if m.boot_timeline is not None:
            yield from BootTimeline(m.boot_timeline).collect()
        if m.generator_timeline is not None:
            yield from GeneratorTimeline(m.generator_timeline).collect()
        # Copies: the writer thread may add a series while this runs.
        yield _counter("thar_api_requests", "API requests answered", ("method", "route", "status"),
                       dict(m.requests.series))  # fmt: skip
        yield _histogram("thar_api_request_duration_seconds", "Time to answer an API request", ("method", "route"),
                         dict(m.latency.series))  # fmt: skip
        yield _counter("thar_commits", "Commits (generations) made by this server", (), {(): m.commits})
        yield _counter("thar_committed_keys", "Settings keys changed by commits", (), {(): m.committed_keys})
        yield _gauge("thar_generation", "The newest generation of live settings", m.generation.value)
        yield _counter("thar_applier_runs", "Settings applier runs", ("result",), dict(m.applier_runs.series))
        yield _histogram("thar_applier_duration_seconds",
                         "Time from starting the settings applier to its first process's exit",
                         (), {(): m.applier_duration})  # fmt: skip
        yield _counter("thar_confirm_reverts", "Commits reverted because no confirmation came in time", (),
                       {(): m.confirm_reverts})  # fmt: skip
        yield _gauge("thar_watches_waiting", "Watch requests waiting for a change", m.watches.value)
        yield _counter("thar_access_denied", "Requests refused by the access policy", (), {(): m.denied})


def render(metrics: Metrics) -> bytes:
    return generate_latest(ServerMetrics(metrics))
