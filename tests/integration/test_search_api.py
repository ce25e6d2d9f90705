"""Search HTTP API: results, suggestions as you type, and a 422 with a reason (never a 500) for any input."""

# ruff: noqa: RUF001 (names in many scripts, on purpose)

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog.models import Artist, Track, TrackArtist, TrackStatus
from cadenza.db.engine import transaction
from cadenza.search import service
from cadenza.web.app import create_app
from conftest import IdleRunner, create_user, make_settings


@pytest.fixture
def client(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path / "data", db[1])
    c = build_collaborators(settings, engine=engine, run_migrations=False)
    with transaction(c.sessions) as s:
        for title, artist, plays in [("Bohemian Rhapsody", "Queen", 900), ("Bohemia", "Suzanne Vega", 10)]:
            a = Artist(name=artist)
            t = Track(
                title=title, status=TrackStatus.ready, play_count=plays, genre="Rock", source_checksum="0"
            )
            s.add_all([a, t])
            s.flush()
            s.add(TrackArtist(track_id=t.id, artist_id=a.id, position=0))
            s.flush()
            service.index_track(s, track_id=t.id)
    token = create_user(c.sessions, email="fan@example.org")
    app = create_app(settings, wired=App(c=c, runner=IdleRunner()))
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as tc:
        yield tc


def test_search_needs_a_signed_in_user(client: TestClient) -> None:
    for path in ("/api/search", "/api/search/suggest"):
        resp = client.get(path, params={"q": "bohem"}, headers={"Authorization": ""})
        assert resp.status_code == 401 and resp.json()["error"] == "unauthorized"


def test_search(client: TestClient) -> None:
    resp = client.get("/api/search", params={"q": "bohem", "limit": 1})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [h["title"] for h in body["hits"]] == ["Bohemian Rhapsody"]
    assert body["hits"][0]["highlights"]["title"] == "<em>Bohemian</em> Rhapsody"
    assert body["hits"][0]["match"] == "prefix" and body["facets"] == [{"genre": "Rock", "count": 2}]
    more = client.get("/api/search", params={"q": "bohem", "limit": 1, "cursor": body["next_cursor"]}).json()
    assert [h["title"] for h in more["hits"]] == ["Bohemia"] and more["next_cursor"] is None
    assert (
        client.get("/api/search", params={"q": "queen", "type": "artist"}).json()["hits"][0]["title"]
        == "Queen"
    )


def test_suggest_as_you_type(client: TestClient) -> None:
    for typed in ("b", "bo", "boh", "bohem", "bohemian r"):
        resp = client.get("/api/search/suggest", params={"q": typed})
        assert resp.status_code == 200, resp.text
        assert "Bohemian Rhapsody — Queen" in [s["text"] for s in resp.json()], typed
    first = client.get("/api/search/suggest", params={"q": "bohem"}).json()[0]
    assert first["highlight"] == "<em>Bohemian</em> Rhapsody — Queen"
    assert client.get("/api/search/suggest", params={"q": ""}).json() == []


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "x" * 5000},
        {"q": "x" * 300},
        {"q": "a", "type": "playlist"},
        {"q": "a", "limit": "ten"},
        {"q": "a", "limit": "-1"},
        {"q": "a", "from": "yesterday"},
        {"q": "a", "from": "2020-01-01", "to": "2019-01-01"},
        {"q": "a", "cursor": "garbage!"},
        {"q": "a", "cursor": "x" * 5000},
        {"q": "a", "artist": "someone"},
        {},
    ],
)
def test_bad_parameters_are_422(client: TestClient, params: dict) -> None:
    resp = client.get("/api/search", params=params)
    assert resp.status_code == 422, resp.text
    assert resp.json()["reason"]


@pytest.mark.parametrize(
    "q", ["🎵🎶", "\u202eevil", "'; DROP TABLE tracks; --", "\\", "%_%", "ＢＯＨＥＭ", "Ø" * 199]
)
def test_weird_queries_are_answered(client: TestClient, q: str) -> None:
    assert client.get("/api/search", params={"q": q}).status_code == 200
    assert client.get("/api/search/suggest", params={"q": q}).status_code == 200
    assert client.get("/api/search", params={"q": q, "artist": 1, "genre": q[:100]}).status_code == 200


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"q": "ok\x00ay"}, "query.q"),
        ({"q": "ok", "genre": "r\x01ck"}, "query.genre"),
        ({"q": "ok", "artist": -1}, "query.artist"),
        ({"q": "ok", "artist": 2**64}, "query.artist"),
        ({"q": "ok", "limit": "²"}, "query.limit"),
    ],
)
def test_unstorable_text_and_out_of_range_numbers_are_refused_with_the_field(
    client: TestClient, params: dict, where: str
) -> None:
    resp = client.get("/api/search", params=params)
    assert resp.status_code == 422 and resp.json()["reason"].startswith(where), resp.text
