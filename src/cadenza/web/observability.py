"""Operations at the HTTP edge, as one raw ASGI layer outside the app: request ids, latency per route
template, stream grants by territory, and the `/metrics` scrape.

Kept out of the routes on purpose: the stream route is the hot path (and has its own owner), so nothing
is added to it; this layer reads what it needs from the response (its status) and from the scope (the
route template Starlette recorded while routing). It costs one `perf_counter` pair, one histogram
observation and a wrapped `send` per request: see bench/metrics_overhead.py for the measurement.

`/metrics` is not a route: it is answered here, only with `Authorization: Bearer <CADENZA_OPS__METRICS_TOKEN>`
(404 without a configured token, 401 with a wrong one), and nginx never passes it from outside
(deploy/nginx/cadenza.conf). Prometheus scrapes each API process on its private address."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from cadenza.bootstrap import App
from cadenza.ingest.queue import QUEUE
from cadenza.ingest.reprocess import QUEUE as ANALYSIS_QUEUE
from cadenza.telemetry import logs, metrics, nginx, queues

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STREAM_ROUTE = "/api/tracks/{track_id}/stream"
# Where the stream route leaves the territory it resolved for the listener, for the grant counter: the
# route works it out anyway (rights depend on it), so it is never worked out twice.
GRANT_TERRITORY = "cadenza.territory"
_PREFIXES = (("/media/", "/media"), ("/origin/", "/origin"), ("/rest/", "/rest/{name}"))


def route_of(scope: Scope) -> str:
    """The route template that served the request, never the raw path (bounded label values)."""
    route = scope.get("route")
    if route is not None and (path := getattr(route, "path", None)):
        return str(path)
    raw: str = scope.get("path", "")
    for prefix, label in _PREFIXES:
        if raw.startswith(prefix):
            return label
    return "unmatched"


class Observability:
    def __init__(self, app: ASGIApp, state: Callable[[], App | None], *, metrics_token: str | None) -> None:
        self.app = app
        self._state = state
        self._token = metrics_token.encode() if metrics_token else None
        self._children: dict[tuple[str, str, int], Any] = {}
        self._grants: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/metrics":
            await self._metrics(scope, send)
            return
        rid = logs.accept_request_id(_header(scope, b"x-request-id"))
        token = logs.request_id.set(rid)
        status = 500
        rid_header = (b"x-request-id", rid.encode())

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = route_of(scope)
            key = (scope["method"], route, status)
            child = self._children.get(key)
            if child is None:  # a handful of (method, route, status) combinations: resolved once each
                child = metrics.http_request_seconds.labels(
                    scope["method"], route, metrics.status_class(status)
                )
                self._children[key] = child
            child.observe(elapsed)
            if route == STREAM_ROUTE and status in (200, 451) and GRANT_TERRITORY in scope:
                self._count_grant(scope[GRANT_TERRITORY], status)
            logs.request_id.reset(token)

    def _count_grant(self, territory: str, status: int) -> None:
        key = (territory, _OUTCOMES[status])
        child = self._grants.get(key)
        if child is None:  # bounded: territories x 2 outcomes
            child = self._grants[key] = metrics.stream_grants.labels(*key)
        child.inc()

    async def _metrics(self, scope: Scope, send: Send) -> None:
        if self._token is None:
            await _plain(send, 404, b"not found\n")
            return
        scheme, _, given = (_header(scope, b"authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._token):
            await _plain(
                send, 401, b"metrics need the metrics bearer token\n", [(b"www-authenticate", b"Bearer")]
            )
            return
        state = self._state()
        extra: list[Collector] = []
        if state is not None:
            settings = state.c.settings
            if settings.broker_url:
                extra.append(queues.QueueDepthCollector(settings.broker_url, [QUEUE, ANALYSIS_QUEUE]))
            if settings.ops.nginx_status_url:
                extra.append(
                    nginx.NginxStatusCollector(
                        settings.ops.nginx_status_url, timeout=settings.ops.nginx_status_timeout_sec
                    )
                )
        # The broker and nginx are asked over the network: off the event loop, so a slow one delays
        # the scrape, never the requests this process is serving.
        body, content_type = await run_in_threadpool(metrics.render, extra)
        await _plain(send, 200, body, [(b"cache-control", b"no-store")], content_type=content_type)


_OUTCOMES = {200: "issued", 451: "unavailable"}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _plain(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    content_type: str = "text/plain; charset=utf-8",
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
