"""The OpenSubsonic API at `/rest/`: a second HTTP surface on the same domain services as `web/api`.

Each method authenticates itself (`auth.authenticate`: apiKey, or an app password by token+salt or
`p`), so its routes declare the `subsonic` security in their OpenAPI extra, which `web.app`'s start-up
check reads; only `getOpenSubsonicExtensions` answers anonymously (it is in `web.app.PUBLIC_ROUTES`).
Every failure is HTTP 200 with `status="failed"` and the spec's code: domain errors are mapped to codes
here, in one place (as Navidrome's `mapToSubsonicError`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from cadenza.accounts.service import AuthError
from cadenza.delivery import clientip
from cadenza.delivery.service import NotAvailable
from cadenza.errors import CadenzaError, Forbidden, InvalidInput, NotFound
from cadenza.web.subsonic import browsing, lists, media, system  # noqa: F401 (they register methods)
from cadenza.web.subsonic.auth import authenticate
from cadenza.web.subsonic.envelope import (
    FORMATS,
    GENERIC,
    MISSING_PARAMETER,
    NOT_AUTHORIZED,
    NOT_FOUND,
    WRONG_CREDENTIALS,
    SubsonicError,
    envelope,
    failed,
    render,
)
from cadenza.web.subsonic.params import Params
from cadenza.web.subsonic.registry import METHODS, Call, Method

log = logging.getLogger(__name__)

SECURITY = {"security": [{"subsonic": []}]}


def public_paths() -> set[tuple[str, str]]:
    """(method, path) of the routes that answer without authentication, for `web.app.PUBLIC_ROUTES`."""
    return {
        (verb, f"/rest/{m.name}{suffix}")
        for m in METHODS.values()
        if m.public
        for verb in ("GET", "POST")
        for suffix in ("", ".view")
    }


def _code_of(exc: CadenzaError) -> int:
    if isinstance(exc, NotFound):
        return NOT_FOUND
    if isinstance(exc, NotAvailable | Forbidden):
        return NOT_AUTHORIZED
    if isinstance(exc, InvalidInput):
        return MISSING_PARAMETER
    if isinstance(exc, AuthError):
        return WRONG_CREDENTIALS
    return GENERIC


def _run(m: Method, request: Request, params: Params) -> dict[str, Any] | Response:
    state = request.app.state.cadenza
    peer = request.client.host if request.client else ""
    ip = clientip.client_ip(peer, request.headers.get("x-forwarded-for"), state.trusted_proxies)
    user = None if m.public else authenticate(state, params, ip=ip)
    return m.handler(Call(state=state, params=params, ip=ip, user=user))


def _endpoint(m: Method):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        fmt, callback = "xml", None
        try:
            params = await Params.of(request)
            fmt = (params.text("f", max_length=10) or "xml").lower()
            callback = params.text("callback", max_length=100)
            if fmt not in FORMATS:
                fmt = "xml"
            result = await run_in_threadpool(_run, m, request, params)
            if isinstance(result, Response):
                return result
            data = envelope("ok", result)
        except SubsonicError as exc:
            data = failed(exc.code, exc.message)
        except CadenzaError as exc:
            data = failed(_code_of(exc), exc.reason)
        except Exception:  # never a 5xx to a Subsonic client: a failed response it can show
            log.exception("subsonic %s failed", m.name)
            data = failed(GENERIC, "an unexpected error occurred; it has been logged")
        return render(data, fmt=fmt, callback=callback)

    endpoint.__name__ = f"subsonic_{m.name}"
    return endpoint


def build_router() -> APIRouter:
    router = APIRouter(prefix="/rest", tags=["subsonic"], include_in_schema=False)
    for m in METHODS.values():
        endpoint = _endpoint(m)
        for suffix in ("", ".view"):
            router.add_api_route(
                f"/{m.name}{suffix}",
                endpoint,
                methods=["GET", "POST"],
                openapi_extra=None if m.public else SECURITY,
            )
    return router


router = build_router()
