"""Accounts over HTTP: register, log in (Argon2, rate limits), bearer tokens, log out, admin role."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, select, update

from cadenza.accounts.models import AuthToken, User
from cadenza.bootstrap import App, build_collaborators
from cadenza.db.base import utcnow
from cadenza.web.app import create_app
from conftest import IdleRunner, make_settings


@pytest.fixture
def app(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> Iterator[tuple[TestClient, App]]:
    settings = make_settings(
        tmp_path / "data",
        db[1],
        accounts={"login_attempts_per_account": 3, "login_attempts_per_ip": 6, "token_cache_sec": 0},
    )
    state = App(c=build_collaborators(settings, engine=engine, run_migrations=False), runner=IdleRunner())
    with TestClient(create_app(settings, wired=state)) as client:
        yield client, state


def _register(
    client: TestClient, email: str = "ana@example.org", password: str = "a long passphrase"
) -> dict:
    resp = client.post(
        "/api/auth/register", json={"email": email, "password": password, "display_name": "Ana"}
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def _login(
    client: TestClient, email: str = "ana@example.org", password: str = "a long passphrase"
) -> Response:
    return client.post("/api/auth/login", json={"email": email, "password": password})


def test_register_login_me_logout(app: tuple[TestClient, App]) -> None:
    client, state = app
    user = _register(client, email="Ana@Example.org")
    assert user["email"] == "ana@example.org" and user["role"] == "listener" and user["tier"] == "free"
    with state.c.sessions() as s:
        stored = s.scalar(select(User.password_hash).where(User.id == user["id"]))
        assert stored and stored.startswith("$argon2id$")
    resp = _login(client)
    assert resp.status_code == 200
    token = resp.json()["access_token"]
    with state.c.sessions() as s:
        assert s.scalar(select(AuthToken.token_hash)) != token  # only a hash is kept
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["id"] == user["id"]
    assert client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    after = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401 and after.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"email": "not-an-email", "password": "long enough pw"}, "email"),
        ({"email": "b@example.org", "password": "short"}, "at least 8"),
    ],
)
def test_register_rejects_bad_input(app: tuple[TestClient, App], body: dict, needle: str) -> None:
    client, _ = app
    resp = client.post("/api/auth/register", json=body)
    assert resp.status_code == 422 and needle in resp.json()["reason"]


def test_duplicate_email_is_refused(app: tuple[TestClient, App]) -> None:
    client, _ = app
    _register(client)
    resp = client.post(
        "/api/auth/register", json={"email": "ANA@example.org", "password": "another long one"}
    )
    assert resp.status_code == 422 and "already exists" in resp.json()["reason"]


def test_wrong_password_then_account_lockout(app: tuple[TestClient, App]) -> None:
    client, _ = app
    _register(client)
    for _ in range(3):
        resp = _login(client, password="wrong password")
        assert resp.status_code == 401
    locked = _login(client)  # right password, but the account is rate limited now
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert _login(client, email="nobody@example.org").status_code == 401


def test_per_ip_limit_spans_accounts(app: tuple[TestClient, App]) -> None:
    client, _ = app
    codes = [_login(client, email=f"u{i}@example.org").status_code for i in range(8)]
    assert codes[:6] == [401] * 6 and codes[6:] == [429, 429]


def test_expired_token_is_refused(app: tuple[TestClient, App]) -> None:
    client, state = app
    _register(client)
    token = _login(client).json()["access_token"]
    with state.c.sessions() as s, s.begin():
        s.execute(update(AuthToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_tokens_are_looked_up_in_one_batch(app: tuple[TestClient, App]) -> None:
    """The token cache reads every token that missed in one query: live ones come back, revoked, expired,
    unknown and malformed ones are left out (so the cache forgets them)."""
    from cadenza.accounts.service import principals_for_tokens

    client, state = app
    _register(client, "live@example.org")
    _register(client, "gone@example.org")
    _register(client, "old@example.org")
    live = _login(client, "live@example.org").json()["access_token"]
    gone = _login(client, "gone@example.org").json()["access_token"]
    old = _login(client, "old@example.org").json()["access_token"]
    assert client.post("/api/auth/logout", headers={"Authorization": f"Bearer {gone}"}).status_code == 204
    with state.c.sessions() as s, s.begin():
        old_user = s.scalar(select(User.id).where(User.email == "old@example.org"))
        s.execute(
            update(AuthToken)
            .where(AuthToken.user_id == old_user)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with state.c.sessions() as s:
        found = principals_for_tokens(s, tokens=[live, gone, old, "unknown", "", "x" * 500, live])
    assert list(found) == [live]
    assert found[live].email == "live@example.org"
