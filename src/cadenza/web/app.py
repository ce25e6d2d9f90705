"""The FastAPI application factory: routers, error mapping, lifecycle."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from cadenza import __version__
from cadenza.accounts import views as accounts_views
from cadenza.accounts.service import AuthError, RateLimited
from cadenza.bootstrap import App, bootstrap
from cadenza.catalog import views as catalog_views
from cadenza.catalog.models import Track
from cadenza.config import Settings, get_settings
from cadenza.delivery import service as delivery_service
from cadenza.delivery import views as delivery_views
from cadenza.delivery.asgi import MediaConfig, MediaMiddleware
from cadenza.delivery.service import NotAvailable
from cadenza.errors import CadenzaError, Forbidden, InvalidInput, NotFound, Unavailable
from cadenza.ingest import views as ingest_views
from cadenza.rights import views as rights_views
from cadenza.royalties import views as royalties_views
from cadenza.search import views as search_views
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


def _error(status: int, error: str, reason: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": error, "reason": reason})


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


def _duration_of(state: App, master_key: str) -> float:
    """The duration of the track whose master playlist this is (tracks/<id>/...), for token lifetimes."""
    parts = master_key.split("/")
    if len(parts) > 1 and parts[0] == "tracks" and parts[1].isdigit():
        with state.c.sessions() as s:
            track = s.get(Track, int(parts[1]))
            if track is not None and track.duration_sec:
                return track.duration_sec
    return 3600.0


def create_app(settings: Settings | None = None, *, wired: App | None = None) -> FastAPI:
    """A ready-to-serve app; `wired` lets tests pass collaborators they built themselves."""
    settings = settings or get_settings()

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
    # The stream endpoint first: routes are matched in order, and it is the hot one.
    for router in (
        delivery_views.router,
        accounts_views.router,
        ingest_views.router,
        catalog_views.router,
        rights_views.router,
        search_views.router,
        royalties_views.router,
    ):
        app.include_router(router)

    def media_config() -> MediaConfig:
        state: App = app.state.cadenza
        s = state.c.settings

        def playback_ttl(master_key: str) -> int:
            return delivery_service.playback_ttl(s.delivery, _duration_of(state, master_key))

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

    @app.get("/api/health", tags=["meta"])
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

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

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, "not_found", exc.reason)

    @app.exception_handler(CadenzaError)
    async def _cadenza(_: Request, exc: CadenzaError) -> JSONResponse:
        return _error(400, "bad_request", exc.reason)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, "invalid_input", f"{where}: {first.get('msg', 'invalid value')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "internal_error", "an unexpected error occurred; it has been logged")

    return app
