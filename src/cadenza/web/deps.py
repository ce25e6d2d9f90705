"""FastAPI dependencies: the wired application, the caller, the client's address and territory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cadenza.accounts import service as accounts
from cadenza.accounts.models import Role
from cadenza.accounts.service import Principal
from cadenza.bootstrap import App
from cadenza.catalog.visibility import Viewer
from cadenza.db.base import utcnow
from cadenza.delivery import clientip
from cadenza.errors import Forbidden, InvalidInput

# Dependencies on the hot path are `async def`: FastAPI runs a plain `def` dependency in a worker
# thread, and those hops cost more than the work. Database reads still go to a thread.


async def get_app_state(request: Request) -> App:
    app: App = request.app.state.cadenza
    return app


AppState = Annotated[App, Depends(get_app_state)]

# A database id in a path: positive and within BIGINT, so no input can overflow a driver.
MAX_ID = 2**63 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID, description="a database id")]

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/auth/login")


async def get_client_ip(request: Request, state: AppState) -> str:
    peer = request.client.host if request.client else ""
    return clientip.client_ip(peer, request.headers.get("x-forwarded-for"), state.trusted_proxies)


ClientIP = Annotated[str, Depends(get_client_ip)]


async def get_current_user(
    state: AppState, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller, via a short-lived per-process token cache (a revocation elsewhere lands within its TTL)."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise accounts.AuthError("sign in first: send Authorization: Bearer <token>")
    return await _principal(state, creds.credentials)


async def _principal(state: App, token: str) -> Principal:
    principal = await state.principals.get_async(token)
    if principal is None:
        raise accounts.AuthError("token is invalid or expired")
    if principal.token_expires_at <= utcnow():
        state.principals.drop(token)
        raise accounts.AuthError("token is invalid or expired")
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_user)]


async def get_viewer(user: CurrentUser, ip: ClientIP, state: AppState) -> Viewer:
    """The caller as `catalog.visibility` sees them: who, whether an administrator, and from where."""
    return Viewer(user_id=user.id, is_admin=user.role == Role.admin, territory=state.geo.territory(ip))


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


async def get_admin(user: CurrentUser) -> Principal:
    if user.role != Role.admin:
        raise Forbidden("this needs an administrator")
    return user


AdminUser = Annotated[Principal, Depends(get_admin)]


# Authentication on by default: every router of the API is made by one of these. A route's own
# `CurrentUser`/`AdminUser` parameter resolves to the same cached value, so it costs nothing twice.
# A route on `public_router` must also be on `web.app.PUBLIC_ROUTES`, which the app checks at start.
def user_router(**kwargs: Any) -> APIRouter:
    """Routes for any signed-in user (401 without a valid token)."""
    return APIRouter(dependencies=[Depends(get_current_user)], **kwargs)


def admin_router(**kwargs: Any) -> APIRouter:
    """Routes for administrators (401 without a token, 403 for a listener)."""
    return APIRouter(dependencies=[Depends(get_admin)], **kwargs)


def public_router(**kwargs: Any) -> APIRouter:
    """Routes anyone may call: only those listed in `web.app.PUBLIC_ROUTES`."""
    return APIRouter(**kwargs)


@dataclass(frozen=True)
class Caller:
    state: App
    user: Principal
    ip: str


async def get_caller(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    """App, user and client address in one dependency (each dependency FastAPI resolves costs tens of
    microseconds)."""
    return await caller_of(request)


async def caller_of(request: Request) -> Caller:
    """The caller of a request, for a route that takes the bare `Request` (see `lean_route`)."""
    state: App = request.app.state.cadenza
    scheme, _sep, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise accounts.AuthError("sign in first: send Authorization: Bearer <token>")
    peer = request.client.host if request.client else ""
    ip = clientip.client_ip(peer, request.headers.get("x-forwarded-for"), state.trusted_proxies)
    return Caller(state, await _principal(state, token.strip()), ip)


CallerDep = Annotated[Caller, Depends(get_caller)]


def path_id(request: Request, name: str) -> int:
    """A database id from the path, validated as `Id` is, for a route that takes the bare `Request`."""
    raw = request.path_params.get(name, "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not 1 <= int(raw) <= MAX_ID:
        raise InvalidInput(f"path.{name}: must be a whole number from 1 to {MAX_ID}")
    return int(raw)


def lean_route(*ids: str) -> dict[str, object]:
    """OpenAPI for a hot route declared as `(request: Request)`: FastAPI's dependency resolution costs
    about a third of such a route's time, so it reads its ids (`path_id`) and caller (`caller_of`) itself,
    and declares here what the signature would have: bearer auth and the path ids."""
    return {
        "security": [{"HTTPBearer": []}],
        "parameters": [
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": "a database id",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            }
            for name in ids
        ],
    }
