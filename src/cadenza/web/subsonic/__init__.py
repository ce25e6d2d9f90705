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
from cadenza.web.subsonic import (  # noqa: F401 (they register methods)
    absent,
    bookmarks,
    browsing,
    discovery,
    lists,
    media,
    playback,
    system,
)
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


async def endpoint(request: Request, name: str) -> Response:
    """Every method behind one route: a route per method (66 with the `.view` spellings) made every
    request to the app walk them all before its own (FastAPI matches routes one by one)."""
    fmt, callback = "xml", None
    m = METHODS.get(name.removesuffix(".view"))
    if m is None:  # not a Subsonic method: a failed answer a client can show, with HTTP 404
        # in the format asked where every method reads it, the query or the form body (OpenSubsonic
        # formPost): a JSON client that posts its parameters cannot parse an XML answer
        try:
            asked = ((await Params.of(request)).text("f", max_length=10) or "xml").lower()
        except SubsonicError:
            asked = "xml"
        unknown = render(
            failed(NOT_FOUND, f"unknown method {name[:60]!r}"),
            fmt=asked if asked in ("xml", "json") else "xml",
            callback=None,
        )
        unknown.status_code = 404
        return unknown
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


def build_router() -> APIRouter:
    """`/rest/<method>` and `/rest/<method>.view`, GET and POST. Each call authenticates itself (`_run`);
    only the methods marked public (getOpenSubsonicExtensions) answer without credentials."""
    router = APIRouter(prefix="/rest", tags=["subsonic"], include_in_schema=False)
    router.add_api_route("/{name}", endpoint, methods=["GET", "POST"], openapi_extra=SECURITY)
    return router


router = build_router()
