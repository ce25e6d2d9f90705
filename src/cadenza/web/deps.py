"""FastAPI dependencies: the wired application, the caller, the client's address and territory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cadenza.accounts import service as accounts
from cadenza.accounts.models import Role
from cadenza.accounts.service import Principal
from cadenza.bootstrap import App
from cadenza.db.base import utcnow
from cadenza.delivery import clientip
from cadenza.errors import Forbidden

# Dependencies on the hot path are `async def`: FastAPI runs a plain `def` dependency in a worker
# thread, and those hops cost more than the work. Database reads still go to a thread.


async def get_app_state(request: Request) -> App:
    app: App = request.app.state.cadenza
    return app


AppState = Annotated[App, Depends(get_app_state)]

# A database id in a path: positive and within BIGINT, so no input can overflow a driver.
Id = Annotated[int, Path(ge=1, le=2**63 - 1, description="a database id")]

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
    principal = state.principals.get(token)
    if principal is None:
        principal = await run_in_threadpool(_principal_from_db, state, token)
        state.principals.put(token, principal)
    if principal.token_expires_at <= utcnow():
        state.principals.drop(token)
        raise accounts.AuthError("token is invalid or expired")
    return principal


def _principal_from_db(state: App, token: str) -> Principal:
    with state.c.sessions() as s:
        return accounts.principal_for_token(s, token=token)


CurrentUser = Annotated[Principal, Depends(get_current_user)]


async def get_admin(user: CurrentUser) -> Principal:
    if user.role != Role.admin:
        raise Forbidden("this needs an administrator")
    return user


AdminUser = Annotated[Principal, Depends(get_admin)]


@dataclass(frozen=True)
class Caller:
    state: App
    user: Principal
    ip: str


async def get_caller(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    """App, user and client address in one dependency, for the hottest route (each dependency FastAPI
    resolves costs tens of microseconds)."""
    state: App = request.app.state.cadenza
    scheme, _sep, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise accounts.AuthError("sign in first: send Authorization: Bearer <token>")
    peer = request.client.host if request.client else ""
    ip = clientip.client_ip(peer, request.headers.get("x-forwarded-for"), state.trusted_proxies)
    return Caller(state, await _principal(state, token.strip()), ip)


CallerDep = Annotated[Caller, Depends(get_caller)]
