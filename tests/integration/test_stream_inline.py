"""The stream grant's start pieces (`?inline=start`, delivery/start.py) through the real HTTP stack: they
are what the signed URLs answer and what the store holds, every URL in them is a signed /media/ URL
bound to the listener, and they are read from the store once per media version."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import httpx
import m3u8
import pytest
from sqlalchemy import Engine

from audio import make_audio
from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog.models import Track
from cadenza.db.engine import transaction
from cadenza.ingest.service import accept_upload
from cadenza.rights import service as rights
from cadenza.web.app import create_app
from conftest import InlineRunner, create_user, make_settings
from livesrv import serve

FR = "198.51.100.9"
TOKEN = re.compile(r"^/media/[A-Za-z0-9_-]+~\d+~\d+~[A-Za-z0-9_-]{43}/tracks/\d+/")


@pytest.fixture(scope="module")
def world(db: tuple[Engine, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A running server with two ready tracks (20 s and 5 s, FLAC sources) anyone may stream."""
    tmp = tmp_path_factory.mktemp("inline")
    settings = make_settings(
        tmp / "data",
        db[1],
        delivery={"trusted_proxies": ["127.0.0.1/32"], "geo_overrides": {"127.0.0.1/32": "DE"}},
    )
    c = build_collaborators(settings, engine=db[0], run_migrations=False)
    ids = []
    for seed, duration in ((81, 20), (82, 5)):
        src = make_audio(tmp / f"{seed}.flac", duration=duration, seed=seed)
        ids.append(accept_upload(c, InlineRunner(c), path=src, filename=src.name).id)
    with transaction(c.sessions) as s:
        for track_id in ids:
            rights.grant(s, track_id=track_id, right_type="stream")
    fan = create_user(c.sessions, email="inline@example.org")
    state = App(c=c, runner=InlineRunner(c))
    with serve(create_app(settings, wired=state)) as url:
        yield {"url": url, "c": c, "state": state, "tracks": ids, "fan": fan}


def _grant(world: dict, track_id: int, query: str = "?inline=start") -> httpx.Response:
    return httpx.get(
        f"{world['url']}/api/tracks/{track_id}/stream{query}",
        headers={"Authorization": f"Bearer {world['fan']}"},
    )


def _stored(world: dict, key: str) -> bytes:
    store = world["c"].store
    return b"".join(store.read_range(key, 0, store.size(key) - 1))


def _prefix(world: dict, track_id: int) -> str:
    with world["c"].sessions() as s:
        track = s.get(Track, track_id)
        assert track is not None and track.media_prefix
        return track.media_prefix


def _unsigned(text: str) -> str:
    return re.sub(r"/media/[^/]+/", "/media/T/", text)


def test_the_start_pieces_are_what_the_signed_urls_answer_and_the_store_holds(world: dict) -> None:
    track_id = world["tracks"][0]
    resp = _grant(world, track_id)
    assert resp.status_code == 200, resp.text
    grant = resp.json()
    start = grant["start"]
    base = world["url"]

    # the master: the same text as its signed URL answers, token aside (each answer signs anew)
    master = httpx.get(base + grant["hls_url"])
    assert master.status_code == 200
    assert _unsigned(start["master"]) == _unsigned(master.text)
    variants = m3u8.loads(start["master"]).playlists
    assert len(variants) == 3
    lightest = min(variants, key=lambda v: v.stream_info.bandwidth)
    assert start["level_url"] == lightest.uri
    assert "/hls/aac_128/" in start["level_url"]

    # the level playlist: what the level URL answers and what the store holds
    level = httpx.get(base + start["level_url"])
    assert level.status_code == 200
    assert start["level"] == level.text
    level_key = start["level_url"].split("/", 3)[3]
    assert start["level"] == _stored(world, level_key).decode()

    # the init section: byte for byte what its signed URL answers and the store holds
    init_uri = m3u8.loads(start["level"]).segment_map[0].uri
    init_url = start["level_url"].rsplit("/", 1)[0] + "/" + init_uri
    init = httpx.get(base + init_url)
    assert init.status_code == 200 and init.headers["content-type"] == "audio/mp4"
    inlined = base64.b64decode(start["init"], validate=True)
    assert inlined == init.content == _stored(world, init_url.split("/", 3)[3])
    assert b"ftyp" in inlined[:8] and b"moov" in inlined

    # the first segment, the player's next request, is a signed /media/ URL that answers
    first = m3u8.loads(start["level"]).segments[0].uri
    segment = httpx.get(base + start["level_url"].rsplit("/", 1)[0] + "/" + first)
    assert segment.status_code == 200 and len(segment.content) > 1000


def test_every_url_in_the_start_pieces_is_signed_for_this_listener_only(world: dict) -> None:
    grant = _grant(world, world["tracks"][0]).json()
    start = grant["start"]
    uris = [line for line in start["master"].splitlines() if line and not line.startswith("#")]
    assert uris and all(TOKEN.match(u) for u in uris)
    assert start["level_url"] in uris
    assert all(not line or line.startswith("#") or "/" not in line for line in start["level"].splitlines())
    # bound to the listener's address: the same URL from elsewhere is refused
    moved = httpx.get(world["url"] + start["level_url"], headers={"X-Forwarded-For": FR})
    assert moved.status_code == 403
    # and to this track's media: a bad signature opens nothing
    sig = start["level_url"].split("/")[2].split("~")[3]
    forged = start["level_url"].replace(sig, ("A" if sig[0] != "A" else "B") + sig[1:])
    assert httpx.get(world["url"] + forged).status_code == 403


def test_a_grant_without_the_query_carries_no_start_pieces(world: dict) -> None:
    track_id = world["tracks"][0]
    plain = _grant(world, track_id, "").json()
    assert plain["start"] is None
    inline = _grant(world, track_id).json()
    assert set(plain) == set(inline)
    assert len(_grant(world, track_id, "").content) < len(_grant(world, track_id).content) - 500


@pytest.mark.parametrize("query", ["?inline=all", "?inline=", "?inline=start&inline=start"])
def test_an_unknown_inline_value_is_refused_with_a_reason(world: dict, query: str) -> None:
    resp = _grant(world, world["tracks"][0], query)
    assert resp.status_code == 422
    assert "inline" in resp.json()["reason"]


def test_the_start_pieces_are_read_from_the_store_once_per_media_version(world: dict) -> None:
    track_id = world["tracks"][1]
    first = _grant(world, track_id).json()["start"]
    assert first is not None
    # the stored master goes away: a second read would find nothing, the grant still carries the pieces
    master_key = f"{_prefix(world, track_id)}/hls/master.m3u8"
    kept = _stored(world, master_key)
    world["c"].store.delete(master_key)
    try:
        again = _grant(world, track_id).json()["start"]
    finally:
        world["c"].store.put_bytes(master_key, kept)
    assert again is not None
    assert (again["level"], again["init"]) == (first["level"], first["init"])
    assert _unsigned(again["master"]) == _unsigned(first["master"])
