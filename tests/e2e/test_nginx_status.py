"""nginx's own counters in the API's /metrics: the edge's stub_status (deploy/nginx/cadenza.conf), read
at scrape time by telemetry/nginx.py; the figures follow the traffic through the real edge, and an edge
that is down or hangs turns into `cadenza_nginx_up 0`, never into a failed scrape."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cadenza.telemetry import nginx
from cadenza.web.app import create_app
from conftest import make_settings
from e2e import nginx_fixture
from livesrv import serve

if reason := nginx_fixture.missing():
    pytest.skip(reason, allow_module_level=True)

KEYS = {"k1": "status-test-secret"}
TOKEN = "status-scrape-token"


def _samples(text: str) -> dict[str, float]:
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


def _scrape(app_url: str) -> dict[str, float]:
    r = httpx.get(f"{app_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 200, r.text
    return {k: v for k, v in _samples(r.text).items() if k.startswith("cadenza_nginx_")}


@pytest.fixture
def edge_and_app(tmp_path: Path) -> Iterator[tuple[nginx_fixture.NginxProcess, str]]:
    """The app on SQLite reading the stub_status of the real edge in front of it."""
    edge_port = nginx_fixture.free_port()
    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'data' / 'cadenza.db'}",
        signing={"keys": KEYS, "active_key": "k1"},
        delivery={"origin_secret": "status-origin", "trusted_proxies": ["127.0.0.1/32"]},
        ops={"metrics_token": TOKEN, "nginx_status_url": f"http://127.0.0.1:{edge_port}/_edge/status"},
    )
    with serve(create_app(settings)) as app_url:
        edge = nginx_fixture.start_nginx(
            tmp_path / "edge", upstream=app_url, keys=KEYS, origin_secret="status-origin", port=edge_port
        )
        try:
            yield edge, app_url
        finally:
            edge.stop()


def test_the_edges_counters_follow_its_traffic_and_a_dead_edge_reads_as_down(
    edge_and_app: tuple[nginx_fixture.NginxProcess, str],
) -> None:
    edge, app_url = edge_and_app
    before = _scrape(app_url)
    assert before["cadenza_nginx_up"] == 1
    with httpx.Client(base_url=edge.url) as client:  # one keep-alive connection, 20 requests
        for _ in range(20):
            assert client.get("/healthz").status_code == 200
        during = _scrape(app_url)
        # The scrape's own read of the page is a request and a connection too, and this client's
        # connection is still open (idle between requests, or the one being written to).
        assert during["cadenza_nginx_http_requests_total"] >= before["cadenza_nginx_http_requests_total"] + 20
        assert during["cadenza_nginx_connections_accepted_total"] >= (
            before["cadenza_nginx_connections_accepted_total"] + 1
        )
        assert during["cadenza_nginx_connections_active"] >= 1
        assert during["cadenza_nginx_connections_writing"] >= 1  # the status request itself
        accepted = during["cadenza_nginx_connections_accepted_total"]
        assert during["cadenza_nginx_connections_handled_total"] == accepted  # no limit was hit
    # The page is for this host only and is served by nginx itself (the app never sees it).
    page = httpx.get(f"{edge.url}/_edge/status")
    assert page.status_code == 200 and nginx.parse(page.text) is not None

    edge.stop()
    t0 = time.monotonic()
    after = _scrape(app_url)
    assert time.monotonic() - t0 < 5
    assert after == {"cadenza_nginx_up": 0}  # no stale figures


def test_an_edge_that_accepts_and_never_answers_costs_the_scrape_its_timeout_only() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        held: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:  # take connections and say nothing
            listener.settimeout(0.1)
            while not stop.is_set():
                try:
                    held.append(listener.accept()[0])
                except TimeoutError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            collector = nginx.NginxStatusCollector(f"http://127.0.0.1:{port}/_edge/status", timeout=0.3)
            t0 = time.monotonic()
            families = {f.name: f for f in collector.collect()}
            elapsed = time.monotonic() - t0
        finally:
            stop.set()
            thread.join(5)
            for conn in held:
                conn.close()
    assert list(families) == ["cadenza_nginx_up"] and families["cadenza_nginx_up"].samples[0].value == 0
    assert 0.25 <= elapsed < 2, elapsed
