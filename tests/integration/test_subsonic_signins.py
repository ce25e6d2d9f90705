"""Subsonic sign-ins belong to the app that made them: two apps in one process (as tests, or a CLI beside
a server) share neither the app-password cipher nor the memory of successful sign-ins."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from starlette.datastructures import MultiDict

from cadenza.accounts import subsonic_credentials as credentials
from cadenza.accounts.models import User
from cadenza.bootstrap import App, build_collaborators
from cadenza.db.engine import transaction
from cadenza.web.subsonic.auth import authenticate
from cadenza.web.subsonic.envelope import INVALID_API_KEY, WRONG_CREDENTIALS, SubsonicError
from cadenza.web.subsonic.params import Params
from conftest import InlineRunner, create_user, make_settings


def _app(db: tuple[Engine, str], data: Path, *, secret: str) -> App:
    settings = make_settings(data, db[1], subsonic={"secret": secret}, accounts={"token_cache_sec": 60})
    c = build_collaborators(settings, engine=db[0], run_migrations=False)
    return App(c=c, runner=InlineRunner(c))


def _params(**values: str) -> Params:
    return Params(MultiDict(values))


@pytest.fixture
def two_apps(engine: Engine, db: tuple[Engine, str], tmp_path: Path):  # type: ignore[no-untyped-def]
    first, second = _app(db, tmp_path / "a", secret="first"), _app(db, tmp_path / "b", secret="second")
    yield first, second
    first.close()
    second.close()


def _issue(app: App, email: str) -> credentials.Issued:
    create_user(app.c.sessions, email=email)
    with transaction(app.c.sessions) as s:
        user_id = s.scalar(select(User.id).where(User.email == email))
        assert user_id is not None
        return credentials.create(s, user_id=user_id, label="phone", vault=app.subsonic.vault)


def test_each_app_has_its_own_cipher(two_apps: tuple[App, App]) -> None:
    first, second = two_apps
    made = _issue(first, "fan@example.org")
    sent = _params(u=made.username, p=made.app_password)
    assert authenticate(first, sent, ip="10.0.0.1").email == "fan@example.org"
    # sealed under the first app's secret: the second cannot open it, and remembers nothing of the first
    with pytest.raises(SubsonicError) as caught:
        authenticate(second, sent, ip="10.0.0.1")
    assert caught.value.code == WRONG_CREDENTIALS
    assert len(first.subsonic) == 1 and len(second.subsonic) == 0


def test_a_remembered_sign_in_is_forgotten_by_its_own_app_only(two_apps: tuple[App, App]) -> None:
    first, second = two_apps
    made = _issue(first, "fan@example.org")
    sent = _params(apiKey=made.api_key)
    for app in two_apps:
        assert authenticate(app, sent, ip="10.0.0.1").email == "fan@example.org"
    with transaction(first.c.sessions) as s:
        credentials.revoke(s, user_id=authenticate(first, sent, ip="10.0.0.1").id, credential_id=made.id)
    first.subsonic.forget_user(authenticate(second, sent, ip="10.0.0.1").id)
    with pytest.raises(SubsonicError) as caught:
        authenticate(first, sent, ip="10.0.0.1")  # the revoking app checks again at once
    assert caught.value.code == INVALID_API_KEY
    # the other app (another process, in production) still remembers it until its cache time passes
    assert authenticate(second, sent, ip="10.0.0.1").email == "fan@example.org"
    assert len(second.subsonic) == 1 and len(first.subsonic) == 0
