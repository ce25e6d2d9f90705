"""CORS is configurable: listed origins only, or off."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cadenza.bootstrap import App, build_collaborators
from cadenza.web.app import create_app
from conftest import IdleRunner, make_settings


@pytest.mark.parametrize(
    ("allowed", "origin", "expected"),
    [
        (["*"], "https://any.example", "*"),
        (["https://player.example.net"], "https://player.example.net", "https://player.example.net"),
        (["https://player.example.net"], "https://evil.example", None),
        ([], "https://player.example.net", None),
    ],
)
def test_cors_follows_the_setting(
    engine: Engine,
    db: tuple[Engine, str],
    tmp_path: Path,
    allowed: list[str],
    origin: str,
    expected: str | None,
) -> None:
    settings = make_settings(tmp_path / "data", db[1], delivery={"cors_allow_origins": allowed})
    state = App(c=build_collaborators(settings, engine=engine, run_migrations=False), runner=IdleRunner())
    with TestClient(create_app(settings, wired=state)) as client:
        r = client.get("/api/health", headers={"Origin": origin})
        assert r.status_code == 200
        assert r.headers.get("access-control-allow-origin") == expected
        pre = client.options(
            "/api/search", headers={"Origin": origin, "Access-Control-Request-Method": "GET"}
        )
        assert (pre.headers.get("access-control-allow-origin") is not None) == (expected is not None)
