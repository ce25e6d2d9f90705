"""The FastAPI application factory: routers, error mapping, lifecycle."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cadenza import __version__
from cadenza.bootstrap import App, bootstrap
from cadenza.config import Settings, get_settings
from cadenza.errors import CadenzaError, InvalidInput, NotFound
from cadenza.ingest import views as ingest_views
from cadenza.web.upload import UploadRejected

log = logging.getLogger(__name__)


def _error(status: int, error: str, reason: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": error, "reason": reason})


def create_app(settings: Settings | None = None, *, wired: App | None = None) -> FastAPI:
    """A ready-to-serve app; `wired` lets tests pass collaborators they built themselves."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = wired or bootstrap(settings)
        app.state.cadenza = state
        yield
        if wired is None:
            state.runner.shutdown(wait=False)

    app = FastAPI(title="Cadenza", version=__version__, lifespan=lifespan)
    app.include_router(ingest_views.router)

    @app.get("/api/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.exception_handler(UploadRejected)
    async def _upload_rejected(_: Request, exc: UploadRejected) -> JSONResponse:
        return _error(exc.status, "upload_rejected", exc.reason)

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
