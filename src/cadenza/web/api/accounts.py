"""Accounts: register and log in (public), log out, who am I."""

from __future__ import annotations

from datetime import datetime

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from cadenza.accounts import service
from cadenza.accounts.models import User
from cadenza.accounts.service import Principal
from cadenza.db.engine import transaction
from cadenza.web.deps import AppState, ClientIP, CurrentUser, public_router, user_router
from cadenza.web.validation import text_type

public = public_router(prefix="/api", tags=["accounts"])
router = user_router(prefix="/api", tags=["accounts"])


Email = text_type(320, min_length=1)
# Any characters a password manager makes, but none that cannot be encoded (the hash takes bytes).
Password = text_type(1024, min_length=1, free_text=True, strip=False)


class RegisterIn(BaseModel):
    email: Email
    password: Password
    display_name: text_type(200) | None = None


class LoginIn(BaseModel):
    email: Email
    password: Password


class UserOut(BaseModel):
    id: int
    email: str
    display_name: str
    role: str
    tier: str

    @classmethod
    def of(cls, u: User | Principal) -> UserOut:
        return cls(id=u.id, email=u.email, display_name=u.display_name, role=u.role.value, tier=u.tier.value)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserOut


@public.post("/auth/register", status_code=201, response_model=UserOut)
def register(body: RegisterIn, state: AppState) -> UserOut:
    with transaction(state.c.sessions) as s:
        user = service.register(
            s,
            email=body.email,
            password=body.password,
            display_name=body.display_name,
            cfg=state.c.settings.accounts,
        )
        return UserOut.of(user)


@public.post("/auth/login", response_model=TokenOut)
def login(body: LoginIn, state: AppState, ip: ClientIP) -> TokenOut:
    # Counters must be kept even when the login fails, so they commit in their own transaction.
    with state.c.sessions() as s:
        try:
            user, issued = service.login(
                s, email=body.email, password=body.password, ip=ip, cfg=state.c.settings.accounts
            )
        finally:
            s.commit()
        return TokenOut(access_token=issued.token, expires_at=issued.expires_at, user=UserOut.of(user))


@router.post("/auth/logout", status_code=204)
def logout(
    state: AppState, _: CurrentUser, creds: HTTPAuthorizationCredentials = Depends(HTTPBearer())
) -> None:
    with transaction(state.c.sessions) as s:
        service.revoke_token(s, token=creds.credentials)
    state.principals.drop(creds.credentials)


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    return UserOut.of(user)
