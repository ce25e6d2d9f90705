"""The FastAPI application factory: routers, authentication on by default, error mapping, lifecycle.

`web/` is the only package that speaks HTTP: the REST API (`web/api/<area>.py`), the signed media path
(`web/media.py`, raw ASGI in front of the app), and later surfaces beside them. Route handlers translate
HTTP to one domain call and back; the rules live in the domain packages."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from cadenza import __version__
from cadenza.accounts.service import AuthError, RateLimited
from cadenza.bootstrap import App, bootstrap
from cadenza.config import Settings, get_settings
from cadenza.db.errors import classify
from cadenza.delivery import service as delivery_service
from cadenza.delivery.service import NotAvailable
from cadenza.errors import CadenzaError, Conflict, Forbidden, InvalidInput, NotFound, Unavailable
from cadenza.storage.keys import track_id_of
from cadenza.telemetry import logs as telemetry_logs
from cadenza.telemetry import tasks as task_telemetry
from cadenza.web import deps, static
from cadenza.web.api import (
    accounts,
    artwork,
    catalog,
    catalog_admin,
    library,
    lyrics,
    playback,
    protection,
    rights,
    royalties,
    search,
    stream,
    subsonic_keys,
    uploads,
)
from cadenza.web.media import MediaConfig, MediaMiddleware
from cadenza.web.observability import Observability
from cadenza.web.subsonic import router as subsonic_router
from cadenza.web.upload import UploadRejected

log = logging.getLogger(__name__)


class CrossOrigin(CORSMiddleware):
    """Starlette's CORS, skipped outright for requests that carry no Origin (players, ffmpeg, nginx,
    server-to-server): they need no CORS headers, and the hot routes then pay nothing for it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and all(name != b"origin" for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


# Response headers a cross-origin page may read: what a player needs for ranges, caching, retries.
CORS_EXPOSE = ["content-length", "content-range", "accept-ranges", "etag", "last-modified", "retry-after"]


def _printable(value: object) -> str:
    text = str(value)
    return text if text.isprintable() and text.isascii() else ascii(text).strip("'")


def _error(status: int, error: str, reason: str) -> JSONResponse:
    # An answer about this caller (refused, not available here) is no one else's: never cached, which
    # the licence endpoint needs for its refusals as much as for its keys.
    return JSONResponse(
        status_code=status, content={"error": error, "reason": reason}, headers={"Cache-Control": "no-store"}
    )


def _tune_runtime() -> None:
    """Short pauses for a long-running server whose background threads (playback-session writer, cache
    refresher, rollups) share the GIL with the event loop; measured with bench/stream_api.py:

    - everything loaded at start is moved out of the collector's sight (full collections over a large
      heap were the stream endpoint's tail latency), and the youngest generation is collected every 5,000
      allocations: each pause is ~1 ms (at 50,000 they were 5-18 ms, and every request in flight waited);
    - a background thread running Python gives the GIL back after 1 ms instead of 5 ms, so a request no
      longer waits 5 ms behind a batch being written."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(5_000, 20, 100)
    sys.setswitchinterval(0.001)


# The routes anyone may call without a token; every other route needs a signed-in user, and the app
# refuses to start if one is reachable without (`_check_authentication`). The signed media path
# (`/media/...`) is not a route: `web.media` checks its signatures before the app sees the request.
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/api/health"),
        ("GET", "/healthz"),  # liveness and readiness, for load balancers and orchestrators
        ("GET", "/readyz"),
        ("POST", "/api/auth/register"),
        ("POST", "/api/auth/login"),
        ("POST", "/api/playback/beacon"),  # each event's unguessable session id is its credential
        ("GET", "/api/artwork/{sha256}/{filename}"),  # content-hashed cover art: not protected content
        ("HEAD", "/api/artwork/{sha256}/{filename}"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
        ("GET", "/"),  # the web player's shell (web/static.py): it holds nothing protected
        ("GET", "/assets/{name}"),
        ("GET", "/sw.js"),  # the player's service worker, web app manifest and icons (web/static.py)
        ("GET", "/manifest.webmanifest"),
        ("GET", "/icons/{name}"),
    }
)
# The OpenSubsonic surface (/rest/{name}) authenticates each call itself (`web.subsonic`, declared like the
# lean stream route); only its extension list answers anonymously, as the OpenSubsonic spec requires.


@dataclass(frozen=True)
class RouteInfo:
    """One route as the app serves it, with its router's prefix and dependencies applied."""

    methods: frozenset[str]
    path: str
    dependant: Dependant | None  # None: not a FastAPI route (the OpenAPI and docs pages)
    openapi_extra: dict[str, Any]

    @property
    def public(self) -> bool:
        methods = self.methods - {"HEAD"} or self.methods  # a HEAD-only route stands for itself
        return all((m, self.path) in PUBLIC_ROUTES for m in methods)

    def calls(self, *functions: Callable[..., Any]) -> bool:
        """The route resolves one of `functions` as a dependency, directly or through another."""
        stack = list(self.dependant.dependencies) if self.dependant else []
        while stack:
            dep = stack.pop()
            if dep.call in functions:
                return True
            stack.extend(dep.dependencies)
        return False

    @property
    def authenticated(self) -> bool:
        """It resolves the caller through a dependency, or declares (`lean_route`) that it reads the
        caller itself."""
        return bool(self.openapi_extra.get("security")) or self.calls(deps.get_current_user, deps.get_caller)

    @property
    def admin_only(self) -> bool:
        return self.calls(deps.get_admin)


def routes_of(app: FastAPI) -> Iterator[RouteInfo]:
    """Every route of the app, those of included routers too (FastAPI keeps them as included routers)."""
    for route in app.routes:
        contexts = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for r in contexts:
            yield RouteInfo(
                methods=frozenset(getattr(r, "methods", None) or ()),
                path=getattr(r, "path", ""),
                dependant=getattr(r, "dependant", None),
                openapi_extra=getattr(r, "openapi_extra", None) or {},
            )


def _check_authentication(app: FastAPI) -> None:
    """Authentication on by default: a route that is neither public nor authenticated stops the app at
    start, so a forgotten dependency can never make a route public."""
    for route in routes_of(app):
        if not route.public and not route.authenticated:
            raise RuntimeError(f"{sorted(route.methods)} {route.path} needs authentication or PUBLIC_ROUTES")


def create_app(
    settings: Settings | None = None, *, wired: App | None = None, static_dir: Path | None = None
) -> FastAPI:
    """A ready-to-serve app; `wired` lets tests pass collaborators they built themselves, `static_dir`
    another build of the web player (default: the package's `web/static/`)."""
    settings = settings or get_settings()
    if wired is None and settings.ops.json_logs:
        telemetry_logs.configure(json_logs=True)
    task_telemetry.connect()  # tasks queued while serving a request carry its id

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = wired or bootstrap(settings)
        app.state.cadenza = state
        if wired is None:
            state.rollups.start()  # the server keeps stream counts and play counts current
            _tune_runtime()
        yield
        if wired is None:
            state.close()
        else:
            state.recorder.flush()

    app = FastAPI(title="Cadenza", version=__version__, lifespan=lifespan)
    if wired is not None:
        app.state.cadenza = wired  # usable without a lifespan (test clients that skip it)
    app.state.static_dir = static_dir

    # FastAPI matches routes one by one (~10 us each here), so the hot ones come first: health (load
    # balancers, the stream benchmark's baseline), then the stream endpoint and the licence endpoint
    # (both on the click-to-first-audio path of a protected track).
    @app.get("/api/health", tags=["meta"])
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/healthz", tags=["meta"])
    async def healthz() -> dict[str, str]:
        """Alive: the process answers (a load balancer's liveness check; touches nothing else)."""
        return {"status": "alive"}

    @app.get(
        "/readyz",
        tags=["meta"],
        responses={503: {"description": "a part this process needs does not answer; it is named"}},
    )
    async def readyz() -> JSONResponse:
        """Ready: the database, the object store and the broker (in a cluster) answer now. A 503 names
        the part that does not, so a load balancer drains this process and an operator knows why."""
        state: App = app.state.cadenza
        parts = await run_in_threadpool(state.readiness)
        failing = {name: reason for name, reason in parts.items() if reason is not None}
        body = {
            "status": "ready" if not failing else "unavailable",
            "checks": {name: reason or "ok" for name, reason in parts.items()},
        }
        if failing:
            body["reason"] = "; ".join(f"{name}: {reason}" for name, reason in failing.items())
        return JSONResponse(status_code=503 if failing else 200, content=body)

    for router in (
        stream.router,
        protection.router,
        accounts.public,
        accounts.router,
        uploads.router,
        catalog.router,
        rights.router,
        search.router,
        playback.router,
        playback.public,
        royalties.router,
        artwork.router,
        artwork.public,
        library.router,
        lyrics.router,
        subsonic_keys.router,
        protection.admin,
        catalog_admin.router,  # after the listeners' routes: FastAPI matches routes one by one
        subsonic_router,
        static.router,  # last: the player's shell and assets
    ):
        app.include_router(router)

    def media_config() -> MediaConfig:
        state: App = app.state.cadenza
        s = state.c.settings

        async def playback_ttl(master_key: str) -> int:
            """Long enough for the whole track: its duration from the cache the stream route filled."""
            track_id = track_id_of(master_key)
            media = await state.track_media.get_async(track_id) if track_id is not None else None
            return delivery_service.playback_ttl(s.delivery, media.duration_sec if media else 3600.0)

        return MediaConfig(
            store=state.c.store,
            keyring=state.keyring,
            bind_ip=s.signing.bind_ip,
            trusted_proxies=s.delivery.trusted_proxies,
            manifest_max_age=s.delivery.manifest_max_age_sec,
            progressive_max_age=s.delivery.progressive_max_age_sec,
            playback_ttl=playback_ttl,
            origin_secret=s.origin_secret(),
            accel=s.delivery.mode == "x-accel",
        )

    app.add_middleware(MediaMiddleware, cfg=media_config)
    if settings.delivery.cors_allow_origins:
        # Outermost: preflights are answered before any route, and media responses carry the headers
        # too (nginx adds the same ones to the bytes it serves itself: deploy/nginx/cadenza.conf).
        app.add_middleware(
            CrossOrigin,
            allow_origins=settings.delivery.cors_allow_origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "range", "if-range", "if-none-match"],
            expose_headers=CORS_EXPOSE,
            max_age=600,
        )

    # Outermost: every request is timed and carries a request id, the media path's too.
    app.add_middleware(
        Observability,
        state=lambda: getattr(app.state, "cadenza", None),
        metrics_token=settings.ops.metrics_token,
    )
    _check_authentication(app)

    @app.exception_handler(UploadRejected)
    async def _upload_rejected(_: Request, exc: UploadRejected) -> JSONResponse:
        return _error(exc.status, "upload_rejected", exc.reason)

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        resp = _error(401, "unauthorized", exc.reason)
        resp.headers["WWW-Authenticate"] = "Bearer"
        return resp

    @app.exception_handler(Forbidden)
    async def _forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        return _error(403, "forbidden", exc.reason)

    @app.exception_handler(RateLimited)
    async def _limited(_: Request, exc: RateLimited) -> JSONResponse:
        resp = _error(429, "rate_limited", exc.reason)
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp

    @app.exception_handler(Unavailable)
    async def _unavailable_now(_: Request, exc: Unavailable) -> JSONResponse:
        resp = _error(503, "unavailable", exc.reason)
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp

    @app.exception_handler(NotAvailable)
    async def _unavailable(_: Request, exc: NotAvailable) -> JSONResponse:
        return _error(451, "not_available", exc.reason)

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return _error(422, "invalid_input", exc.reason)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return _error(409, "conflict", exc.reason)

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, "not_found", exc.reason)

    @app.exception_handler(CadenzaError)
    async def _cadenza(_: Request, exc: CadenzaError) -> JSONResponse:
        return _error(400, "bad_request", exc.reason)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        # A location may hold a client's own dict key: keep it printable and encodable (no surrogates).
        where = ".".join(_printable(p) for p in first.get("loc", ()))
        return _error(422, "invalid_input", f"{where}: {_printable(first.get('msg', 'invalid value'))}")

    @app.exception_handler(UnicodeError)
    async def _undecodable(_: Request, exc: UnicodeError) -> JSONResponse:
        return _error(400, "bad_request", "the request is not valid UTF-8 text where text is expected")

    @app.exception_handler(SQLAlchemyError)
    async def _database(_: Request, exc: SQLAlchemyError) -> JSONResponse:
        """Database errors in one place: the request's fault is a 4xx that says what (never "send
        again", or a client retries forever a request that can never succeed); only a database that
        cannot answer now is a 503 with Retry-After."""
        found = classify(exc)
        if found.kind == "client":
            status = 409 if isinstance(exc, IntegrityError) else 422
            return _error(status, "invalid_input" if status == 422 else "conflict", found.reason)
        if found.kind == "unavailable":
            log.warning("database unavailable: %s", exc.__class__.__name__)
            resp = _error(503, "unavailable", found.reason)
            resp.headers["Retry-After"] = str(found.retry_after)
            return resp
        log.exception("database error")
        return _error(500, "internal_error", "an unexpected error occurred; it has been logged")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "internal_error", "an unexpected error occurred; it has been logged")

    return app
