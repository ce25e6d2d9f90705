"""The listener's Subsonic credentials: create (the secrets are shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from cadenza.accounts import subsonic_credentials as credentials
from cadenza.db.engine import reading, transaction
from cadenza.web.deps import AppState, CurrentUser, Id, user_router
from cadenza.web.validation import text_type

router = user_router(prefix="/api/me/subsonic-keys", tags=["subsonic"])


class KeyIn(BaseModel):
    label: text_type(200, min_length=1) = "Subsonic app"


class KeyOut(BaseModel):
    id: int
    label: str
    created_at: datetime


class IssuedOut(KeyOut):
    api_key: str  # for `apiKey=` (OpenSubsonic clients)
    username: str  # for `u=` with the app password (older clients)
    app_password: str  # for `t`+`s` (token = md5(app_password + salt)) or `p=`


@router.post("", status_code=201, response_model=IssuedOut)
def create(state: AppState, user: CurrentUser, body: KeyIn | None = None) -> IssuedOut:
    """A new API key and app password for Subsonic apps; both are shown only in this answer."""
    with transaction(state.c.sessions) as s:
        made = credentials.create(
            s, user_id=user.id, label=(body or KeyIn()).label, vault=state.subsonic.vault
        )
    return IssuedOut(
        id=made.id,
        label=made.label,
        created_at=made.created_at,
        api_key=made.api_key,
        username=made.username,
        app_password=made.app_password,
    )


@router.get("", response_model=list[KeyOut])
def list_keys(state: AppState, user: CurrentUser) -> list[KeyOut]:
    with reading(state.c.sessions) as s:
        return [
            KeyOut(id=k.id, label=k.label, created_at=k.created_at)
            for k in credentials.list_for(s, user_id=user.id)
        ]


@router.delete("/{key_id}", status_code=204)
def revoke(state: AppState, user: CurrentUser, key_id: Id) -> None:
    """Revoke a credential: its API key and app password stop working at once."""
    with transaction(state.c.sessions) as s:
        credentials.revoke(s, user_id=user.id, credential_id=key_id)
    state.subsonic.forget_user(user.id)
