"""The Prometheus metrics every Cadenza process may record, defined once.

Several processes (two API servers, Celery workers and their children) each keep their own counters;
with `PROMETHEUS_MULTIPROC_DIR` set (the cluster runner and production units set it, one directory per
host, emptied at boot), prometheus-client writes them to memory-mapped files there and a scrape of any
API process on that host adds them up (`render`). Without it (the embedded server, tests) they live in
this process's default registry.

Labels are bounded: route *templates* (never raw paths), ISO territories, stage names, status classes."""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import REGISTRY, Collector

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

# From a cached stream grant (~0.2 ms) to a slow upload (seconds).
_HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)

http_request_seconds = Histogram(
    "cadenza_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, per route template.",
    ["method", "route", "status"],
    buckets=_HTTP_BUCKETS,
)
stream_grants = Counter(
    "cadenza_stream_grants",
    "Stream requests answered, by the listener's territory and outcome (issued, unavailable = 451).",
    ["territory", "outcome"],
)
stage_seconds = Histogram(
    "cadenza_pipeline_stage_duration_seconds",
    "Time one pipeline stage took in a worker, by stage and outcome (ok, retry, error).",
    ["stage", "outcome"],
    buckets=_STAGE_BUCKETS,
)
tracks_failed = Counter(
    "cadenza_pipeline_tracks_failed",
    "Tracks the pipeline marked failed, by the stage that failed.",
    ["stage"],
)
stale_requeued = Counter(
    "cadenza_pipeline_stale_requeued", "Tracks the reaper found stuck in processing and queued again."
)

# `cadenza import` (ingest/bulk.py, through telemetry/imports.py): the batch's state as the database holds
# it, so a resumed import (another process) carries on from the same figures. `mostrecent`: in
# multiprocess mode the last value written by any process is reported, and stays after the import ends.
import_tracks = Gauge(
    "cadenza_import_tracks",
    "Files of an import by state: done (ready), failed (failed or rejected), skipped (the same bytes as "
    "an earlier file of the batch), processing, pending.",
    ["batch", "state"],
    multiprocess_mode="mostrecent",
)
import_planned = Gauge(
    "cadenza_import_planned_tracks",
    "Files an import holds in all (every state).",
    ["batch"],
    multiprocess_mode="mostrecent",
)
import_eta = Gauge(
    "cadenza_import_eta_seconds",
    "Estimated time until every file of the import is finished, at this run's pace so far (NaN until one "
    "has finished; 0 when none is left).",
    ["batch"],
    multiprocess_mode="mostrecent",
)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def render(extra: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """The exposition text for a scrape: every process's metrics on this host (multiprocess mode) or
    this process's, plus `extra` collectors computed now (queue depth)."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(REGISTRY))
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Forward(Collector):
    """The default registry's metrics inside a scrape-local registry (so `extra` can be added per scrape)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        return self._source.collect()
