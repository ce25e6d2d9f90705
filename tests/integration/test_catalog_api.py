"""Catalog reads: listeners see ready tracks only, admins see all; pages by `after_id`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine

from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog import service
from cadenza.catalog.models import TrackStatus
from cadenza.catalog.service import TrackMetadata
from cadenza.db.engine import transaction
from cadenza.web.app import create_app
from conftest import IdleRunner, create_user, make_settings


@pytest.fixture
def client(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> Iterator[tuple[TestClient, dict]]:
    settings = make_settings(tmp_path / "data", db[1])
    c = build_collaborators(settings, engine=engine, run_migrations=False)
    ids = {}
    with transaction(c.sessions) as s:
        for n, status in enumerate(
            [TrackStatus.ready, TrackStatus.ready, TrackStatus.processing, TrackStatus.failed]
        ):
            meta = TrackMetadata(
                title=f"Song {n}",
                artists=["Ana", "Bo"] if n == 0 else ["Ana"],
                release_title="First",
                track_number=n + 1,
            )
            t = service.create_track(
                s, meta=meta, source_filename=None, source_checksum="0" * 64, source_size=1
            )
            t.status = status
            ids[n] = t.id
    tokens = {
        "fan": create_user(c.sessions, email="fan@example.org"),
        "admin": create_user(c.sessions, email="boss@example.org", role="admin"),
    }
    with TestClient(create_app(settings, wired=App(c=c, runner=IdleRunner()))) as tc:
        yield tc, {"ids": ids, **tokens}


def _get(client: TestClient, path: str, token: str) -> Response:
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def test_listeners_see_ready_tracks_and_admins_see_all(client: tuple[TestClient, dict]) -> None:
    tc, w = client
    fan = [t["id"] for t in _get(tc, "/api/tracks", w["fan"]).json()]
    assert fan == [w["ids"][0], w["ids"][1]]
    everything = _get(tc, "/api/tracks", w["admin"]).json()
    assert [t["status"] for t in everything] == ["ready", "ready", "processing", "failed"]
    assert _get(tc, f"/api/tracks/{w['ids'][2]}", w["fan"]).status_code == 404
    assert _get(tc, f"/api/tracks/{w['ids'][2]}", w["admin"]).json()["status"] == "processing"
    assert tc.get("/api/tracks").status_code == 401


def test_pages_follow_after_id(client: tuple[TestClient, dict]) -> None:
    tc, w = client
    first = _get(tc, "/api/tracks?limit=1", w["admin"]).json()
    second = _get(tc, f"/api/tracks?limit=1&after_id={first[0]['id']}", w["admin"]).json()
    assert [first[0]["id"], second[0]["id"]] == [w["ids"][0], w["ids"][1]]
    assert _get(tc, "/api/tracks?limit=0", w["admin"]).status_code == 422
    assert _get(tc, "/api/tracks?limit=10000", w["admin"]).status_code == 422


def test_artists_and_releases(client: tuple[TestClient, dict]) -> None:
    tc, w = client
    artists = _get(tc, "/api/artists", w["fan"]).json()
    assert [a["name"] for a in artists] == ["Ana", "Bo"]
    ana = _get(tc, f"/api/artists/{artists[0]['id']}", w["fan"]).json()
    assert [t["title"] for t in ana["tracks"]] == ["Song 0", "Song 1"]
    [release] = _get(tc, "/api/releases", w["fan"]).json()
    assert release["title"] == "First" and release["artist"]["name"] == "Ana"
    detail = _get(tc, f"/api/releases/{release['id']}", w["fan"]).json()
    assert [t["track_number"] for t in detail["tracks"]] == [1, 2]
    assert _get(tc, "/api/artists/999999", w["fan"]).status_code == 404


def test_names_with_no_ready_track_stay_out_of_listener_listings(client: tuple[TestClient, dict]) -> None:
    """One visibility rule for every listing: an artist or release whose only tracks failed or are still
    processing is listed to nobody but administrators (search hides them the same way)."""
    tc, w = client
    artists = _get(tc, "/api/artists", w["fan"]).json()
    assert len(artists) == 2  # the fixture's ready tracks credit Ana and Bo
    with transaction(tc.app.state.cadenza.c.sessions) as s:  # type: ignore[attr-defined]
        for title, artist, release, status in [
            ("Broken", "Ghost", "Never Out", TrackStatus.failed),
            ("Pending", "Ghost", "Coming Soon", TrackStatus.processing),
        ]:
            meta = TrackMetadata(title=title, artists=[artist], release_title=release)
            t = service.create_track(
                s, meta=meta, source_filename=None, source_checksum="1" * 64, source_size=1
            )
            t.status = status
        ghost = service.get_or_create_artist(s, name="Ghost").id
    assert [a["name"] for a in _get(tc, "/api/artists", w["fan"]).json()] == ["Ana", "Bo"]
    assert [r["title"] for r in _get(tc, "/api/releases", w["fan"]).json()] == ["First"]
    assert _get(tc, f"/api/artists/{ghost}", w["fan"]).status_code == 404
    admin_artists = [a["name"] for a in _get(tc, "/api/artists", w["admin"]).json()]
    assert admin_artists == ["Ana", "Bo", "Ghost"]
    admin_releases = [r["title"] for r in _get(tc, "/api/releases", w["admin"]).json()]
    assert admin_releases == ["First", "Never Out", "Coming Soon"]
    assert [t["title"] for t in _get(tc, f"/api/artists/{ghost}", w["admin"]).json()["tracks"]] == [
        "Broken",
        "Pending",
    ]
