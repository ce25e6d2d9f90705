"""Artwork over HTTP: an administrator sets a release's cover; anyone fetches the variants, cached forever."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine

from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog import artwork
from cadenza.catalog.models import Artist, Release, Track, TrackArtist, TrackStatus
from cadenza.db.engine import transaction
from cadenza.web.app import create_app
from conftest import IdleRunner, create_user, make_settings
from images import picture


@pytest.fixture
def client(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path / "data", db[1])
    c = build_collaborators(settings, engine=engine, run_migrations=False)
    app = create_app(settings, wired=App(c=c, runner=IdleRunner()))
    admin = create_user(c.sessions, email="admin@example.org", role="admin")
    with TestClient(app) as tc:
        tc.headers["Authorization"] = f"Bearer {admin}"
        yield tc


def _state(client: TestClient) -> App:
    return client.app.state.cadenza  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def release_id(client: TestClient) -> int:
    with transaction(_state(client).c.sessions) as s:
        release = Release(title="First Light")
        s.add(release)
        s.flush()
        return release.id


def _release_artwork(client: TestClient, release_id: int) -> int | None:
    with _state(client).c.sessions() as s:
        return s.get_one(Release, release_id).artwork_id


def _objects(client: TestClient) -> list[str]:
    return _state(client).c.store.list("artwork")


def test_an_admin_uploads_a_cover_and_anyone_fetches_it(client: TestClient, release_id: int) -> None:
    data = picture(800, 600, "PNG")
    resp = client.put(
        f"/api/releases/{release_id}/artwork", content=data, headers={"content-type": "image/png"}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    h = artwork.content_hash(data)
    assert (body["width"], body["height"]) == (800, 600)
    assert body["urls"] == {str(b): f"/api/artwork/{h}/{b}.webp" for b in (64, 300, 600)}
    assert body["jpeg"] == {str(b): f"/api/artwork/{h}/{b}.jpg" for b in (64, 300, 600)}
    assert _release_artwork(client, release_id) == body["id"]
    for url, fmt, ctype in [
        (body["urls"]["300"], "WEBP", "image/webp"),
        (body["jpeg"]["600"], "JPEG", "image/jpeg"),
    ]:
        got = client.get(url, headers={"Authorization": ""})  # public: no sign-in
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == ctype
        assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert got.headers["etag"].startswith('"') and "accept-ranges" not in got.headers
        im = Image.open(io.BytesIO(got.content))
        assert im.format == fmt and max(im.size) == int(url.rsplit("/", 1)[1].split(".")[0])
        again = client.get(url, headers={"Authorization": "", "If-None-Match": got.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        head = client.head(url, headers={"Authorization": ""})
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(got.content))


def test_a_multipart_upload_works_too_and_the_same_image_is_stored_once(
    client: TestClient, release_id: int
) -> None:
    data = picture(400, 400, "JPEG")
    first = client.put(f"/api/releases/{release_id}/artwork", files={"file": ("c.jpg", data, "image/jpeg")})
    assert first.status_code == 200, first.text
    objects = _objects(client)
    second = client.put(f"/api/releases/{release_id}/artwork", content=data)
    assert second.status_code == 200 and second.json() == first.json()
    assert _objects(client) == objects


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (picture(500, 500, "PNG")[:-60], "corrupt or truncated"),
        (b"GIF89a but not really", "corrupt"),
        (b"just some text", "not an image in an accepted format"),
        (picture(20, 20, "TIFF"), "not an image in an accepted format"),
        (b"", "empty"),
    ],
)
def test_a_refused_image_is_422_with_its_reason_and_changes_nothing(
    client: TestClient, release_id: int, data: bytes, needle: str
) -> None:
    good = client.put(f"/api/releases/{release_id}/artwork", content=picture(300, 300, "PNG"))
    before, objects = _release_artwork(client, release_id), _objects(client)
    resp = client.put(f"/api/releases/{release_id}/artwork", content=data)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"] == "invalid_input" and needle in resp.json()["reason"]
    assert _release_artwork(client, release_id) == before == good.json()["id"]
    assert _objects(client) == objects


def test_a_picture_over_the_size_limit_is_cut_off_with_413(client: TestClient, release_id: int) -> None:
    big = picture(10, 10, "PNG") + b"\0" * artwork.MAX_INPUT_BYTES

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        for i in range(0, len(big), 1 << 20):
            yield big[i : i + (1 << 20)]

    for kwargs in ({"content": big}, {"content": chunks()}, {"files": {"file": ("big.png", big)}}):
        resp = client.put(f"/api/releases/{release_id}/artwork", **kwargs)  # type: ignore[arg-type]
        assert resp.status_code == 413, resp.text
        assert resp.json()["error"] == "upload_rejected"
    assert _release_artwork(client, release_id) is None and _objects(client) == []


def test_only_an_admin_may_set_a_cover_of_a_release_that_exists(client: TestClient, release_id: int) -> None:
    data = picture(100, 100, "PNG")
    listener = create_user(_state(client).c.sessions, email="fan@example.org")
    resp = client.put(
        f"/api/releases/{release_id}/artwork", content=data, headers={"Authorization": f"Bearer {listener}"}
    )
    assert resp.status_code == 403 and resp.json()["error"] == "forbidden"
    anonymous = client.put(f"/api/releases/{release_id}/artwork", content=data, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    missing = client.put("/api/releases/999999/artwork", content=data)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert client.put("/api/releases/abc/artwork", content=data).status_code == 422
    assert _release_artwork(client, release_id) is None and _objects(client) == []


def test_only_names_of_rendered_variants_are_served(client: TestClient, release_id: int) -> None:
    data = picture(700, 700, "PNG")
    assert client.put(f"/api/releases/{release_id}/artwork", content=data).status_code == 200
    h = artwork.content_hash(data)
    assert client.get(f"/api/artwork/{h}/600.webp").status_code == 200
    for path in [
        f"/api/artwork/{h}/1200.webp",  # a box larger than the original was never rendered
        f"/api/artwork/{h}/original.png",  # the original (it may hold EXIF, GPS) is never served
        f"/api/artwork/{h}/600.png",
        f"/api/artwork/{h}/601.webp",
        f"/api/artwork/{h}/0600.webp",
        f"/api/artwork/{h.upper()}/600.webp",
        f"/api/artwork/{'0' * 64}/600.webp",
        f"/api/artwork/{h}/..%2F..%2F..%2Fcadenza.db",
        f"/api/artwork/..%2F{h}/600.webp",
        "/api/artwork/../../etc/passwd",
        f"/api/artwork/{h}/600.webp%00.png",
    ]:
        resp = client.get(path, headers={"Authorization": ""})
        assert resp.status_code == 404, (path, resp.status_code, resp.text)


def test_catalog_answers_carry_the_cover(client: TestClient, release_id: int) -> None:
    """A release's cover shows on the release, on its tracks without their own, and on its artist."""
    with transaction(_state(client).c.sessions) as s:
        artist = Artist(name="Dawn Choir")
        s.add(artist)
        s.flush()
        s.get_one(Release, release_id).artist_id = artist.id
        track = Track(title="Morning", status=TrackStatus.ready, release_id=release_id, source_checksum="0")
        s.add(track)
        s.flush()
        s.add(TrackArtist(track_id=track.id, artist_id=artist.id, position=0))
        track_id, artist_id = track.id, artist.id
    assert client.get(f"/api/tracks/{track_id}").json()["artwork"] is None
    body = client.put(f"/api/releases/{release_id}/artwork", content=picture(400, 400, "PNG")).json()
    release = client.get(f"/api/releases/{release_id}").json()
    assert release["artwork"] == body and release["tracks"][0]["artwork"] == body
    assert client.get(f"/api/tracks/{track_id}").json()["artwork"] == body
    assert [t["artwork"] for t in client.get("/api/tracks").json()] == [body]
    assert client.get(f"/api/artists/{artist_id}").json()["artwork"] == body
    assert [a["artwork"] for a in client.get("/api/artists").json()] == [body]
    assert [r["artwork"] for r in client.get("/api/releases").json()] == [body]
    for kind, q in [("track", "morning"), ("release", "first light"), ("artist", "dawn choir")]:
        hits = client.get("/api/search", params={"q": q, "type": kind}).json()["hits"]
        assert [h["artwork"] for h in hits] == [body], (kind, hits)
