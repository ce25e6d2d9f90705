"""nginx's own counters in Cadenza's scrape: the edge's `stub_status` page, read at scrape time.

deploy/nginx/cadenza.conf answers `/_edge/status` (stub_status) to loopback only; an API process on the
same host names it in `CADENZA_OPS__NGINX_STATUS_URL` and its `/metrics` then carries the figures below,
read with a short timeout. An edge that is down, slow or answers garbage never fails the scrape:
`cadenza_nginx_up` is 0 and the other figures are left out (a gap in the graphs, not a made-up zero).

The names follow nginx-prometheus-exporter's (`nginx_connections_active` …), prefixed like every
Cadenza metric. Every API process of a host reports the same nginx: the dashboard takes `max`."""

from __future__ import annotations

import logging
import re
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Every name this collector may export (the dashboard test checks panels against them).
METRICS = (
    "cadenza_nginx_up",
    "cadenza_nginx_connections_active",
    "cadenza_nginx_connections_reading",
    "cadenza_nginx_connections_writing",
    "cadenza_nginx_connections_waiting",
    "cadenza_nginx_connections_accepted",
    "cadenza_nginx_connections_handled",
    "cadenza_nginx_http_requests",
)

_PAGE = re.compile(
    r"Active connections:\s*(?P<active>\d+)\s+"
    r"server accepts handled requests\s+(?P<accepted>\d+)\s+(?P<handled>\d+)\s+(?P<requests>\d+)\s+"
    r"Reading:\s*(?P<reading>\d+)\s+Writing:\s*(?P<writing>\d+)\s+Waiting:\s*(?P<waiting>\d+)"
)
_MAX_BYTES = 4096  # the page is ~100 bytes; anything longer is not a stub_status page


@dataclass(frozen=True)
class StubStatus:
    active: int
    accepted: int
    handled: int
    requests: int
    reading: int
    writing: int
    waiting: int


def parse(page: str) -> StubStatus | None:
    """The figures of an nginx stub_status page, or None if `page` is not one."""
    m = _PAGE.search(page)
    return StubStatus(**{k: int(v) for k, v in m.groupdict().items()}) if m else None


def read(url: str, *, timeout: float) -> StubStatus | None:
    """The edge's figures, or None when it does not answer in time, answers an error, or not a status
    page (logged at warning: the scrape itself succeeds)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = resp.read(_MAX_BYTES + 1)
    except (OSError, ValueError) as exc:  # refused, timed out, HTTP error status, malformed URL
        log.warning("nginx status %s did not answer: %s", url, type(exc).__name__)
        return None
    status = parse(body[:_MAX_BYTES].decode("latin-1"))
    if status is None:
        log.warning("nginx status %s is not a stub_status page", url)
    return status


class NginxStatusCollector(Collector):
    """`cadenza_nginx_*` from one nginx's stub_status, read at each scrape."""

    def __init__(self, url: str, *, timeout: float = 1.0) -> None:
        self._url = url
        self._timeout = timeout

    def collect(self) -> Iterable[Metric]:
        status = read(self._url, timeout=self._timeout)
        yield GaugeMetricFamily(
            "cadenza_nginx_up",
            "1 if the edge's stub_status answered this scrape, else 0.",
            value=int(bool(status)),
        )
        if status is None:
            return
        yield GaugeMetricFamily(
            "cadenza_nginx_connections_active",
            "Open client connections, idle ones included.",
            value=status.active,
        )
        for state, value, meaning in (
            ("reading", status.reading, "reading a request header from"),
            ("writing", status.writing, "working on a request of (reading its body, waiting, writing)"),
            ("waiting", status.waiting, "keeping open idle, waiting for the next request"),
        ):
            yield GaugeMetricFamily(
                f"cadenza_nginx_connections_{state}", f"Client connections nginx is {meaning}.", value=value
            )
        yield CounterMetricFamily(
            "cadenza_nginx_connections_accepted", "Client connections accepted.", value=status.accepted
        )
        yield CounterMetricFamily(
            "cadenza_nginx_connections_handled",
            "Client connections handled (below accepted only when a limit was hit).",
            value=status.handled,
        )
        yield CounterMetricFamily("cadenza_nginx_http_requests", "Client requests.", value=status.requests)
