"""The library's REST API on both databases, through FastAPI's TestClient: what a listener does, what
another listener cannot do, bounds with reasons, territory from the client's address."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog import artwork
from cadenza.catalog.models import Artist, Release, Track, TrackStatus
from cadenza.db.base import utcnow
from cadenza.db.engine import transaction
from cadenza.royalties.models import PlaybackSession
from cadenza.storage.base import ObjectStore
from cadenza.web.api import library
from cadenza.web.app import create_app
from conftest import IdleRunner, create_user, make_settings
from images import picture
from library_world import add_track

DE = {"X-Forwarded-For": "203.0.113.7"}
FR = {"X-Forwarded-For": "198.51.100.7"}


class Api:
    """A test client speaking as one listener or another."""

    def __init__(
        self,
        tc: TestClient,
        tokens: dict[str, str],
        tracks: dict[str, int],
        sessions: sessionmaker[Session],
        store: ObjectStore,
    ) -> None:
        self.tc, self.tokens, self.tracks, self.sessions, self.store = tc, tokens, tracks, sessions, store

    def __call__(
        self, who: str, method: str, path: str, *, where: dict[str, str] = DE, **kw: object
    ) -> Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **where}
        return self.tc.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]


@pytest.fixture
def api(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(
        tmp_path / "data",
        db[1],
        delivery={
            "trusted_proxies": ["127.0.0.1/32"],
            "geo_overrides": {"203.0.113.0/24": "DE", "198.51.100.0/24": "FR"},
        },
    )
    c = build_collaborators(settings, engine=engine, run_migrations=False)
    with transaction(c.sessions) as s:
        tracks = {
            "a": add_track(s, title="Alpha", artist="Ana", duration=100).id,
            "b": add_track(s, title="Bravo", artist="Bo", duration=200).id,
            "fr": add_track(s, title="Only in France", artist="Cé", territory="FR", duration=300).id,
            "wip": add_track(s, title="Still processing", status=TrackStatus.processing).id,
        }
    tokens = {
        "ann": create_user(c.sessions, email="ann@example.org"),
        "ben": create_user(c.sessions, email="ben@example.org"),
        "admin": create_user(c.sessions, email="boss@example.org", role="admin"),
    }
    app = create_app(settings, wired=App(c=c, runner=IdleRunner()))
    with TestClient(app, client=("127.0.0.1", 50000)) as tc:
        yield Api(tc, tokens, tracks, c.sessions, c.store)


def _ok(resp: Response, status: int = 200) -> dict:
    assert resp.status_code == status, resp.text
    return resp.json() if resp.content else {}


def test_a_listener_builds_reorders_and_shares_a_playlist(api: Api) -> None:
    t = api.tracks
    p = _ok(
        api("ann", "POST", "/api/playlists", json={"name": "Road trip", "description": "for the drive"}), 201
    )
    pid = p["id"]
    assert (p["public"], p["track_count"], p["version"]) == (False, 0, 1)
    added = _ok(
        api("ann", "POST", f"/api/playlists/{pid}/tracks", json={"track_ids": [t["a"], t["b"], t["fr"]]}), 201
    )
    e = added["entry_ids"]
    assert added["playlist"]["track_count"] == 3 and added["playlist"]["duration_ms"] == 600_000
    front = _ok(
        api("ann", "POST", f"/api/playlists/{pid}/tracks", json={"track_ids": [t["b"]], "position": 0}), 201
    )
    order = [front["entry_ids"][0], *e]

    def listing(where: dict[str, str] = DE) -> list[tuple[int, int, bool]]:
        page = _ok(api("ann", "GET", f"/api/playlists/{pid}/tracks", where=where))
        return [(x["entry_id"], x["track"]["id"], x["available"]) for x in page["entries"]]

    assert listing() == [
        (order[0], t["b"], True),
        (e[0], t["a"], True),
        (e[1], t["b"], True),
        (e[2], t["fr"], False),
    ]
    assert [x[2] for x in listing(FR)] == [True, True, True, True]  # the French right counts in France

    _ok(api("ann", "POST", f"/api/playlists/{pid}/tracks/{e[2]}/move", json={"index": 0}))
    _ok(api("ann", "POST", f"/api/playlists/{pid}/tracks/{e[0]}/move", json={"after": e[1]}))
    moved = _ok(api("ann", "POST", f"/api/playlists/{pid}/tracks/{order[0]}/move", json={"before": e[2]}))
    assert [x[0] for x in listing()] == [order[0], e[2], e[1], e[0]]
    assert moved["version"] == 6

    assert _ok(api("ann", "DELETE", f"/api/playlists/{pid}/tracks/{e[1]}"))["track_count"] == 3
    patched = _ok(
        api("ann", "PATCH", f"/api/playlists/{pid}", json={"name": "Road trip 2026", "public": True})
    )
    assert (patched["name"], patched["description"], patched["public"]) == (
        "Road trip 2026",
        "for the drive",
        True,
    )

    copy = _ok(api("ben", "POST", f"/api/playlists/{pid}/duplicate", json={}), 201)
    assert copy["name"] == "Road trip 2026 (copy)" and copy["owner_id"] != patched["owner_id"]
    copied = _ok(api("ben", "GET", f"/api/playlists/{copy['id']}/tracks"))
    assert [x["track"]["id"] for x in copied["entries"]] == [t["b"], t["fr"], t["a"]]
    assert [x["id"] for x in _ok(api("ben", "GET", "/api/playlists"))] == [copy["id"]]
    assert [x["id"] for x in _ok(api("ben", "GET", f"/api/playlists?owner_id={patched['owner_id']}"))] == [
        pid
    ]

    assert api("ann", "DELETE", f"/api/playlists/{pid}").status_code == 204
    gone = api("ann", "GET", f"/api/playlists/{pid}")
    assert gone.status_code == 404 and gone.json()["reason"] == f"playlist {pid} not found"


def test_pages_of_entries_follow_next_after(api: Api) -> None:
    pid = _ok(api("ann", "POST", "/api/playlists", json={"name": "Long"}), 201)["id"]
    ids: list[int] = []
    for _ in range(3):
        body = {"track_ids": [api.tracks["a"], api.tracks["b"]] * 50}
        ids += _ok(api("ann", "POST", f"/api/playlists/{pid}/tracks", json=body), 201)["entry_ids"]
    seen: list[int] = []
    query = "?limit=120"
    while True:
        page = _ok(api("ann", "GET", f"/api/playlists/{pid}/tracks{query}"))
        assert page["playlist"]["track_count"] == 300 and page["playlist"]["duration_ms"] == 150 * 300_000
        seen += [x["entry_id"] for x in page["entries"]]
        if page["next_after"] is None:
            break
        query = f"?limit=120&after={page['next_after']}"
    assert seen == ids


def test_one_listener_cannot_read_or_change_anothers_library(api: Api) -> None:
    """Ann's private playlist is invisible to Ben; her public one is readable but not his to change; what
    Ben does under /api/me touches only his own favourites, ratings and queue."""
    t = api.tracks
    private = _ok(api("ann", "POST", "/api/playlists", json={"name": "Diary"}), 201)["id"]
    public = _ok(api("ann", "POST", "/api/playlists", json={"name": "Party", "public": True}), 201)["id"]
    entry = _ok(
        api("ann", "POST", f"/api/playlists/{public}/tracks", json={"track_ids": [t["a"], t["b"]]}), 201
    )["entry_ids"]
    _ok(api("ann", "PUT", f"/api/me/favourites/track/{t['a']}"))
    _ok(api("ann", "PUT", f"/api/me/ratings/track/{t['a']}", json={"rating": 5}))
    _ok(
        api(
            "ann",
            "PUT",
            "/api/me/queue",
            json={"track_ids": [t["a"], t["b"]], "current_index": 1, "device": "Phone"},
        )
    )

    for method, path, body in [
        ("GET", f"/api/playlists/{private}", None),
        ("GET", f"/api/playlists/{private}/tracks", None),
        ("PATCH", f"/api/playlists/{private}", {"name": "Mine"}),
        ("DELETE", f"/api/playlists/{private}", None),
        ("POST", f"/api/playlists/{private}/tracks", {"track_ids": [t["a"]]}),
        ("POST", f"/api/playlists/{private}/duplicate", {}),
    ]:
        resp = api("ben", method, path, json=body)
        assert resp.status_code == 404 and resp.json()["reason"] == f"playlist {private} not found", (
            method,
            path,
        )
    assert _ok(api("ben", "GET", f"/api/playlists/{public}"))["name"] == "Party"
    for who in ("ben", "admin"):
        for method, path, body in [
            ("PATCH", f"/api/playlists/{public}", {"name": "Mine"}),
            ("POST", f"/api/playlists/{public}/tracks", {"track_ids": [t["a"]]}),
            ("DELETE", f"/api/playlists/{public}/tracks/{entry[0]}", None),
            ("POST", f"/api/playlists/{public}/tracks/{entry[1]}/move", {"index": 0}),
        ]:
            resp = api(who, method, path, json=body)
            assert resp.status_code == 403, (who, method, path, resp.text)
            assert resp.json()["reason"] == f"only the owner of playlist {public} can change it"
    assert api("ben", "DELETE", f"/api/playlists/{public}").status_code == 403
    assert [
        x["entry_id"] for x in _ok(api("ann", "GET", f"/api/playlists/{public}/tracks"))["entries"]
    ] == entry

    # Ben's own marks and queue: Ann's stay as they were.
    assert api("ben", "DELETE", f"/api/me/favourites/track/{t['a']}").status_code == 204
    assert api("ben", "DELETE", f"/api/me/ratings/track/{t['a']}").status_code == 204
    _ok(api("ben", "PUT", "/api/me/queue", json={"track_ids": [t["b"]], "device": "Laptop"}))
    [fav] = _ok(api("ann", "GET", "/api/me/favourites"))["items"]
    assert (fav["id"], fav["rating"]) == (t["a"], 5)
    assert _ok(api("ben", "GET", "/api/me/favourites"))["items"] == []
    queue = _ok(api("ann", "GET", "/api/me/queue"))
    assert ([e["track"]["id"] for e in queue["entries"]], queue["device"]) == ([t["a"], t["b"]], "Phone")

    # An administrator reads any playlist and may delete one.
    assert _ok(api("admin", "GET", f"/api/playlists/{private}"))["name"] == "Diary"
    assert api("admin", "DELETE", f"/api/playlists/{private}").status_code == 204


def test_favourites_ratings_recent_and_queue(api: Api) -> None:
    t = api.tracks
    star = _ok(api("ann", "PUT", f"/api/me/favourites/track/{t['b']}"))
    assert star["kind"] == "track" and star["id"] == t["b"]
    _ok(api("ann", "PUT", f"/api/me/favourites/track/{t['fr']}"))
    _ok(api("ann", "PUT", f"/api/me/favourites/track/{t['a']}"))
    assert _ok(api("ann", "PUT", f"/api/me/ratings/track/{t['b']}", json={"rating": 3}))["rating"] == 3
    by_title = _ok(api("ann", "GET", "/api/me/favourites?kind=track&sort=title&limit=2"))
    assert [i["title"] for i in by_title["items"]] == ["Alpha", "Bravo"] and by_title["next_after"]
    rest = _ok(api("ann", "GET", f"/api/me/favourites?kind=track&sort=title&after={by_title['next_after']}"))
    assert [(i["title"], i["available"]) for i in rest["items"]] == [("Only in France", False)]
    assert _ok(api("ann", "GET", "/api/me/favourites?sort=title"))["items"][1]["rating"] == 3
    assert _ok(api("ann", "GET", "/api/me/favourites?kind=artist"))["items"] == []
    assert api("ann", "PUT", f"/api/me/ratings/track/{t['b']}", json={"rating": 0}).json()["rating"] is None

    empty = _ok(api("ann", "GET", "/api/me/queue"))
    assert (empty["entries"], empty["version"], empty["device"]) == ([], 0, None)
    saved = _ok(
        api(
            "ann",
            "PUT",
            "/api/me/queue",
            json={
                "track_ids": [t["a"], t["fr"]],
                "current_index": 1,
                "position_ms": 42_000,
                "device": "Phone",
            },
        )
    )
    restored = _ok(api("ann", "GET", "/api/me/queue", where=FR))
    assert [e["available"] for e in restored["entries"]] == [True, True]
    assert (restored["current_index"], restored["position_ms"], restored["version"]) == (
        1,
        42_000,
        saved["version"],
    )

    assert _ok(api("ann", "GET", "/api/me/recent")) == []
    ann = _ok(api("ann", "POST", "/api/playlists", json={"name": "Who am I"}), 201)["owner_id"]
    with transaction(api.sessions) as s:
        for minutes, track in [(30, t["a"]), (20, t["fr"]), (10, t["a"])]:
            started = utcnow() - timedelta(minutes=minutes)
            s.add(
                PlaybackSession(
                    id=str(uuid.uuid4()), user_id=ann, track_id=track, started_at=started, day=started.date()
                )
            )
    recent = _ok(api("ann", "GET", "/api/me/recent"))
    assert [(r["track"]["id"], r["available"]) for r in recent] == [(t["a"], True), (t["fr"], False)]
    assert _ok(api("ben", "GET", "/api/me/recent")) == []


BAD_INPUT = [
    ("POST", "/api/playlists", {"name": "x" * 201}, "body.name"),
    ("POST", "/api/playlists", {"name": " \t "}, "body.name: String should have at least 1 character"),
    ("POST", "/api/playlists", {"name": "ok", "description": "d" * 2001}, "body.description"),
    ("POST", "/api/playlists/{pid}/tracks", {"track_ids": []}, "body.track_ids"),
    ("POST", "/api/playlists/{pid}/tracks", {"track_ids": [1] * 1001}, "body.track_ids"),
    ("POST", "/api/playlists/{pid}/tracks", {"track_ids": ["{wip}"]}, "track {wip} not found"),
    (
        "POST",
        "/api/playlists/{pid}/tracks",
        {"track_ids": ["{a}"], "position": 5},
        "index must be between 0 and 0",
    ),
    ("POST", "/api/playlists/{pid}/tracks/1/move", {}, "exactly one of before, after or index"),
    ("GET", "/api/playlists/{pid}/tracks?limit=0", None, "query.limit"),
    ("GET", "/api/me/favourites?sort=popular", None, "query.sort"),
    ("GET", "/api/me/favourites?after=nonsense", None, "not a cursor from this listing"),
    ("PUT", "/api/me/favourites/genre/1", None, "path.kind"),
    ("PUT", "/api/me/favourites/track/{wip}", None, "track {wip} not found"),
    ("PUT", "/api/me/ratings/track/{a}", {"rating": 6}, "body.rating"),
    ("PUT", "/api/me/queue", {"track_ids": [], "current_index": 0, "device": ""}, "body.device"),
    (
        "PUT",
        "/api/me/queue",
        {"track_ids": ["{a}"], "current_index": 1, "device": "x"},
        "current_index must",
    ),
    ("GET", "/api/playlists/0", None, "path.playlist_id"),
]


def test_bad_input_is_refused_with_a_reason(api: Api) -> None:
    """Each case in `BAD_INPUT`: refused (422, or 404 for what the caller cannot see) with its reason."""
    pid = _ok(api("ann", "POST", "/api/playlists", json={"name": "Target"}), 201)["id"]
    names = {"pid": pid, **api.tracks}

    def fill(value: object) -> object:
        """Put the fixture's ids into a path or body: "{a}" alone becomes an int, inside text a number."""
        if isinstance(value, str):
            whole = value[1:-1] if value.startswith("{") and value.endswith("}") else None
            return names[whole] if whole in names else value.format(**names)
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    for method, path, body, reason in BAD_INPUT:
        resp = api("ann", method, str(fill(path)), json=fill(body))
        assert resp.status_code in (404, 422), (path, body, resp.text)
        assert str(fill(reason)) in resp.json()["reason"], (path, body, resp.text)


def test_every_library_route_needs_a_signed_in_user(api: Api) -> None:
    routes = [r for r in library.router.routes if isinstance(r, APIRoute)]
    assert len(routes) == 19  # 18 + GET /api/me/marks/{kind}
    for route in routes:
        path = route.path.replace("{kind}", "track")
        for name in ("playlist_id", "entry_id", "item_id"):
            path = path.replace("{" + name + "}", "1")
        for method in route.methods:
            resp = api.tc.request(method, path, json={})
            assert resp.status_code == 401, (method, path, resp.status_code)


def test_the_library_is_described_in_openapi(api: Api) -> None:
    spec = api.tc.get("/openapi.json").json()
    assert "/api/playlists/{playlist_id}/tracks/{entry_id}/move" in spec["paths"]
    schemas = spec["components"]["schemas"]
    ours = [name for name, schema in schemas.items() if name in vars(library)]
    assert {"MoveIn", "PlaylistOut", "EntryPageOut", "QueueOut"} <= set(ours)
    undescribed = [
        f"{name}.{field}"
        for name in ours
        for field, spec_of in schemas[name].get("properties", {}).items()
        if "description" not in spec_of
    ]
    assert undescribed == []


def test_a_page_is_written_exactly_as_its_declared_shape_would_write_it(api: Api) -> None:
    """The page route writes its body from plain values (no models built per entry): byte for byte what
    `EntryPageOut` produces, with a deleted track, a non-ASCII name, a track unavailable here and artwork."""
    t = api.tracks
    pid = _ok(api("ann", "POST", "/api/playlists", json={"name": "Café ☕ «mix»"}), 201)["id"]
    _ok(
        api("ann", "POST", f"/api/playlists/{pid}/tracks", json={"track_ids": [t["fr"], t["a"], t["b"]]}), 201
    )
    cover = artwork.store_image(api.sessions, store=api.store, data=picture(640, 480))
    with transaction(api.sessions) as s:
        s.execute(delete(Track).where(Track.id == t["b"]))
        s.get(Track, t["a"]).artwork_id = cover.id
    resp = api("ann", "GET", f"/api/playlists/{pid}/tracks", params={"limit": 2})
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    page = library.EntryPageOut.model_validate_json(resp.content)
    assert resp.content == page.model_dump_json().encode()
    assert [e.available for e in page.entries] == [False, True] and page.next_after is not None
    art = page.entries[1].track.artwork if page.entries[1].track else None
    assert art is not None and set(art.urls) == {"64", "300", "600"}
    last = _ok(api("ann", "GET", f"/api/playlists/{pid}/tracks", params={"after": page.next_after}))
    assert last["entries"][0]["track"] is None and last["next_after"] is None


def test_every_library_answer_shows_artwork_as_the_catalog_api_does(api: Api) -> None:
    """A playlist page, favourites of each kind, recently played and the queue carry each item's
    artwork in the catalog API's shape and by its rule: a track's own cover, else its release's; an
    artist's, their latest release's; no artwork is null."""
    t = api.tracks
    with transaction(api.sessions) as s:
        no_release = add_track(s, title="Loose single", artist="Di", release=None).id
    album_art = artwork.store_image(api.sessions, store=api.store, data=picture(320, 320))
    own_art = artwork.store_image(api.sessions, store=api.store, data=picture(80, 40, "JPEG"))
    with transaction(api.sessions) as s:
        release = s.query(Release).filter_by(title="First").one()
        release.artwork_id = album_art.id
        s.get(Track, t["b"]).artwork_id = own_art.id  # embedded in its file: wins over the album's
        release_id, ana = release.id, s.query(Artist).filter_by(name="Ana").one().id

    def catalog(kind: str, item: int) -> dict:
        return _ok(api("ann", "GET", f"/api/{kind}/{item}"))["artwork"]

    expected = {tid: catalog("tracks", tid) for tid in (t["a"], t["b"], no_release)}
    assert expected[t["a"]]["id"] == album_art.id and expected[t["b"]]["id"] == own_art.id
    assert expected[no_release] is None
    assert set(expected[t["a"]]["urls"]) == {"64", "300"} and set(expected[t["b"]]["jpeg"]) == {"64"}

    pid = _ok(api("ann", "POST", "/api/playlists", json={"name": "Covers"}), 201)["id"]
    order = [t["a"], t["b"], no_release, t["a"]]
    _ok(api("ann", "POST", f"/api/playlists/{pid}/tracks", json={"track_ids": order}), 201)
    page = _ok(api("ann", "GET", f"/api/playlists/{pid}/tracks"))
    assert [e["track"]["artwork"] for e in page["entries"]] == [expected[x] for x in order]

    for tid in (t["a"], t["b"], no_release):
        _ok(api("ann", "PUT", f"/api/me/favourites/track/{tid}"))
    _ok(api("ann", "PUT", f"/api/me/favourites/release/{release_id}"))
    _ok(api("ann", "PUT", f"/api/me/favourites/artist/{ana}"))
    starred = _ok(api("ann", "GET", "/api/me/favourites?kind=track"))["items"]
    assert {i["id"]: i["artwork"] for i in starred} == expected
    [album] = _ok(api("ann", "GET", "/api/me/favourites?kind=release"))["items"]
    assert album["artwork"] == catalog("releases", release_id) and album["artwork"]["id"] == album_art.id
    [artist] = _ok(api("ann", "GET", "/api/me/favourites?kind=artist"))["items"]
    assert artist["artwork"] == catalog("artists", ana) and artist["artwork"]["id"] == album_art.id

    queue = {"track_ids": order, "current_index": 0, "device": "Phone"}
    _ok(api("ann", "PUT", "/api/me/queue", json=queue))
    restored = _ok(api("ann", "GET", "/api/me/queue"))
    assert [e["track"]["artwork"] for e in restored["entries"]] == [expected[x] for x in order]

    ann = page["playlist"]["owner_id"]
    with transaction(api.sessions) as s:
        for minutes, track in [(3, t["a"]), (2, no_release), (1, t["b"])]:
            started = utcnow() - timedelta(minutes=minutes)
            s.add(
                PlaybackSession(
                    id=str(uuid.uuid4()), user_id=ann, track_id=track, started_at=started, day=started.date()
                )
            )
    recent = _ok(api("ann", "GET", "/api/me/recent"))
    assert [r["track"]["artwork"] for r in recent] == [expected[x] for x in (t["b"], no_release, t["a"])]
