"""Authentication on by default: every route of the app, enumerated, answers 401 to an anonymous caller
unless it is on the short public list, and 403 to a listener where it is for administrators."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from cadenza.bootstrap import App, build_collaborators
from cadenza.web.app import PUBLIC_ROUTES, _check_authentication, create_app, routes_of
from conftest import IdleRunner, create_user, make_settings, make_test_engine

# Routes that must stay administrator-only whatever else changes (a route under /api/admin is too).
ADMIN_ROUTES = {
    ("POST", "/api/tracks"),
    ("GET", "/api/tracks/{track_id}/rights"),
    ("POST", "/api/tracks/{track_id}/rights"),
    ("DELETE", "/api/rights/{right_id}"),
    ("PUT", "/api/tracks/{track_id}/lyrics"),
    ("POST", "/api/tracks/{track_id}/take-down"),
    ("POST", "/api/tracks/{track_id}/reinstate"),
    ("POST", "/api/tracks/{track_id}/move"),
    ("DELETE", "/api/tracks/{track_id}"),
}


@pytest.fixture(scope="module")
def app_and_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    tmp = tmp_path_factory.mktemp("routes")
    engine, url, _ = make_test_engine("sqlite", tmp)
    c = build_collaborators(make_settings(tmp / "data", url), engine=engine, run_migrations=False)
    token = create_user(c.sessions, email="fan@example.org")
    yield create_app(c.settings, wired=App(c=c, runner=IdleRunner())), token
    engine.dispose()


def _calls(app: FastAPI) -> list[tuple[str, str, str, bool]]:
    """(method, template, concrete path, admin only) for every non-public route."""
    out = []
    for route in routes_of(app):
        for method in sorted(route.methods - {"HEAD"}):
            if (method, route.path) in PUBLIC_ROUTES:
                continue
            if route.path.startswith("/rest/"):
                continue  # the Subsonic protocol answers 200 "failed": tests/integration/test_subsonic_api.py
            out.append((method, route.path, re.sub(r"\{[^}]+\}", "1", route.path), route.admin_only))
    return out


def test_the_app_has_the_routes_this_test_expects(app_and_token: tuple[FastAPI, str]) -> None:
    calls = {(m, p) for m, p, _, _ in _calls(app_and_token[0])}
    assert len(calls) >= 20 and calls >= ADMIN_ROUTES
    assert ("GET", "/api/tracks/{track_id}/stream") in calls


def test_every_non_public_route_refuses_an_anonymous_caller(app_and_token: tuple[FastAPI, str]) -> None:
    app, _ = app_and_token
    with TestClient(app) as client:
        for method, template, path, _ in _calls(app):
            resp = client.request(method, path)
            assert resp.status_code == 401, f"{method} {template} → {resp.status_code}: {resp.text}"
            assert resp.json()["error"] == "unauthorized" and resp.json()["reason"]
            assert resp.headers["www-authenticate"] == "Bearer"
            bad = client.request(method, path, headers={"Authorization": "Bearer not-a-token"})
            assert bad.status_code == 401, f"{method} {template} with a bad token → {bad.status_code}"


def test_admin_routes_refuse_a_listener(app_and_token: tuple[FastAPI, str]) -> None:
    app, token = app_and_token
    calls = _calls(app)
    admin_only = {(m, p) for m, p, _, admin in calls if admin}
    assert admin_only >= ADMIN_ROUTES
    assert all((m, p) in admin_only for m, p, _, _ in calls if p.startswith("/api/admin"))
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        for method, template, path, admin in calls:
            if admin:
                resp = client.request(method, path)
                assert resp.status_code == 403, f"{method} {template} → {resp.status_code}: {resp.text}"
                assert resp.json() == {"error": "forbidden", "reason": "this needs an administrator"}


def test_public_routes_answer_without_a_token(app_and_token: tuple[FastAPI, str]) -> None:
    app, _ = app_and_token
    with TestClient(app) as client:
        assert client.get("/api/health").status_code == 200
        assert client.get("/openapi.json").status_code == 200
        assert client.post("/api/auth/login", json={"email": "x@y.org", "password": "p"}).status_code == 401
        assert client.post("/api/playback/beacon", json={"events": []}).status_code == 200


def test_a_route_without_authentication_stops_the_app_at_start() -> None:
    app = FastAPI()
    forgotten = APIRouter()

    @forgotten.get("/api/forgotten")
    def _forgotten() -> dict[str, str]:
        return {}

    app.include_router(forgotten)
    with pytest.raises(RuntimeError, match="/api/forgotten"):
        _check_authentication(app)


def test_every_public_route_exists(app_and_token: tuple[FastAPI, str]) -> None:
    served = {(m, r.path) for r in routes_of(app_and_token[0]) for m in r.methods}
    assert served >= PUBLIC_ROUTES  # no stale entry that a new route could silently match
