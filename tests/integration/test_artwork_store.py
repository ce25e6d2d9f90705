"""Artwork stored through the object store and the database (both backends): layout, dedupe, and the
references that API answers carry for tracks, releases and artists."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import Engine, func, select

from cadenza.bootstrap import build_collaborators
from cadenza.catalog import artwork
from cadenza.catalog.models import Artist, Artwork, Release, Track, TrackStatus
from cadenza.db.engine import transaction
from cadenza.errors import InvalidInput, NotFound
from cadenza.ingest.pipeline import Collaborators
from conftest import make_settings
from images import picture


@pytest.fixture
def c(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> Collaborators:
    return build_collaborators(make_settings(tmp_path / "data", db[1]), engine=engine, run_migrations=False)


def _objects(c: Collaborators) -> list[str]:
    return c.store.list("artwork")


def test_an_image_is_stored_under_its_content_hash(c: Collaborators) -> None:
    data = picture(700, 500, "JPEG")
    art = artwork.store_image(c.sessions, store=c.store, data=data)
    h = artwork.content_hash(data)
    assert art.sha256 == h and (art.width, art.height, art.mime) == (700, 500, "image/jpeg")
    assert art.size_bytes == len(data)
    assert art.variants == [
        {"size": 64, "width": 64, "height": 46},
        {"size": 300, "width": 300, "height": 214},
        {"size": 600, "width": 600, "height": 429},
    ]
    names = [f"{b}.{e}" for b in (64, 300, 600) for e in ("jpg", "webp")] + ["original.jpg"]
    assert _objects(c) == sorted(artwork.object_key(h, n) for n in names)
    with c.store.open(artwork.object_key(h, "original.jpg")) as fh:
        assert fh.read() == data  # the original as uploaded
    with c.store.open(artwork.object_key(h, "300.webp")) as fh:
        assert Image.open(fh).size == (300, 214)


def test_identical_images_share_one_row_and_one_set_of_objects(c: Collaborators) -> None:
    data = picture(400, 400, "PNG")
    first = artwork.store_image(c.sessions, store=c.store, data=data)
    objects = _objects(c)
    mtimes = [c.store.stat(k).mtime for k in objects]
    second = artwork.store_image(c.sessions, store=c.store, data=data)
    assert second.id == first.id
    assert _objects(c) == objects and [c.store.stat(k).mtime for k in objects] == mtimes  # not rewritten
    with c.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Artwork)) == 1
        # save() of an image prepared twice also finds the existing row
        again = artwork.save(s, store=c.store, prepared=artwork.prepare(data))
        assert again.id == first.id


def test_a_refused_image_stores_nothing(c: Collaborators) -> None:
    with pytest.raises(InvalidInput):
        artwork.store_image(c.sessions, store=c.store, data=picture(300, 300, "PNG")[:-60])
    assert _objects(c) == []
    with c.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Artwork)) == 0


def _catalog(c: Collaborators) -> dict[str, int]:
    with transaction(c.sessions) as s:
        ana, bo = Artist(name="Ana"), Artist(name="Bo")
        s.add_all([ana, bo])
        s.flush()
        old = Release(title="Old", artist_id=ana.id, release_date=date(2020, 1, 1))
        new = Release(title="New", artist_id=ana.id, release_date=date(2024, 1, 1))
        undated = Release(title="Undated", artist_id=ana.id)
        bare = Release(title="Bare", artist_id=bo.id)
        s.add_all([old, new, undated, bare])
        s.flush()
        tracks = {
            "own": Track(title="Own", release_id=old.id, status=TrackStatus.ready),
            "inherits": Track(title="Inherits", release_id=old.id, status=TrackStatus.ready),
            "none": Track(title="None", release_id=bare.id, status=TrackStatus.ready),
            "single": Track(title="Single", status=TrackStatus.ready),
        }
        s.add_all(tracks.values())
        s.flush()
        ids = {k: t.id for k, t in tracks.items()}
        ids |= {"ana": ana.id, "bo": bo.id, "old": old.id, "new": new.id, "undated": undated.id}
        return ids | {"bare": bare.id}


def test_references_follow_track_then_release_and_the_artists_latest_release(c: Collaborators) -> None:
    ids = _catalog(c)
    cover = artwork.store_image(c.sessions, store=c.store, data=picture(640, 640, "PNG"))
    own = artwork.store_image(c.sessions, store=c.store, data=picture(200, 100, "PNG"))
    latest = artwork.store_image(c.sessions, store=c.store, data=picture(1300, 1300, "JPEG"))
    undated = artwork.store_image(c.sessions, store=c.store, data=picture(90, 90, "GIF"))
    with transaction(c.sessions) as s:
        s.get_one(Release, ids["old"]).artwork_id = cover.id
        s.get_one(Release, ids["new"]).artwork_id = latest.id
        s.get_one(Release, ids["undated"]).artwork_id = undated.id
        artwork.attach_to_track(s, track_id=ids["own"], artwork_id=own.id)
    with c.sessions() as s:
        tracks = artwork.for_tracks(s, track_ids=[ids["own"], ids["inherits"], ids["none"], ids["single"]])
        assert {k: v.id for k, v in tracks.items()} == {ids["own"]: own.id, ids["inherits"]: cover.id}
        # an artist's picture is their latest dated release's, not the undated one
        assert {k: v.id for k, v in artwork.for_artists(s, artist_ids=[ids["ana"], ids["bo"]]).items()} == {
            ids["ana"]: latest.id
        }
        assert artwork.for_release(s, release_id=ids["bare"]) is None
        ref = artwork.for_track(s, track_id=ids["own"])
    assert ref is not None
    assert ref.as_dict() == {
        "id": own.id,
        "width": 200,
        "height": 100,
        "urls": {"64": f"/api/artwork/{own.sha256}/64.webp"},
        "jpeg": {"64": f"/api/artwork/{own.sha256}/64.jpg"},
    }
    big = artwork.ref_of(latest)
    assert list(big.urls) == ["64", "300", "600", "1200"]
    for url in [*big.urls.values(), *big.jpeg.values()]:
        sha, name = url.removeprefix(artwork.URL_ROOT + "/").split("/")
        key = artwork.variant_key(sha, name)
        assert key is not None and c.store.exists(key)  # every URL names a stored object


def test_a_release_takes_a_tracks_embedded_artwork_only_when_it_has_none(c: Collaborators) -> None:
    ids = _catalog(c)
    first = artwork.store_image(c.sessions, store=c.store, data=picture(100, 100, "PNG"))
    second = artwork.store_image(c.sessions, store=c.store, data=picture(120, 100, "PNG"))
    with transaction(c.sessions) as s:
        artwork.attach_to_track(s, track_id=ids["own"], artwork_id=first.id)
        artwork.attach_to_track(s, track_id=ids["inherits"], artwork_id=second.id)
    with c.sessions() as s:
        assert s.get_one(Release, ids["old"]).artwork_id == first.id
        assert s.get_one(Track, ids["inherits"]).artwork_id == second.id


def test_uploading_for_a_release_replaces_its_artwork(c: Collaborators) -> None:
    ids = _catalog(c)
    with pytest.raises(NotFound):
        artwork.upload_release_artwork(c.sessions, store=c.store, release_id=999_999, data=b"x")
    first = artwork.upload_release_artwork(
        c.sessions, store=c.store, release_id=ids["bare"], data=picture(300, 300, "PNG")
    )
    second = artwork.upload_release_artwork(
        c.sessions, store=c.store, release_id=ids["bare"], data=picture(301, 300, "PNG")
    )
    assert first.id != second.id
    with c.sessions() as s:
        assert s.get_one(Release, ids["bare"]).artwork_id == second.id
        assert artwork.for_track(s, track_id=ids["none"]) == second
