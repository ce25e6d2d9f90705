"""A Subsonic client's full sync (`search3` with an empty query, paged by offset) on SQLite and
PostgreSQL: every song the listener may see, once, in id order, with the same `Child` as getSong gives
(credits in credit order, the MP3 size, ReplayGain, stars and ratings), in XML valid against the schema
and JSON carrying the same data; a keyset continuation and an OFFSET give the same pages."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine

from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog import loudness
from cadenza.catalog.models import Artist, Release, Track, TrackArtist, TrackStatus, TrackVariant
from cadenza.db.engine import transaction
from cadenza.web.app import create_app
from conftest import IdleRunner, create_user, make_settings
from subsonic_world import from_json, from_xml

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "subsonic" / "opensubsonic.xsd")))
NS = "{http://subsonic.org/restapi}"


HOSTILE = 'Tom & "Jerry" <live>\tone\r\nline \u00fc \U0001f3b5'  # what XML must escape, and beyond ASCII


def _catalog(c) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Tracks of every kind a listing meets: credited to two artists whose credit order is not their id
    order, without release, credits or MP3, measured and unmeasured, and hidden ones (processing,
    failed, taken down) between the visible ones."""
    with transaction(c.sessions) as s:
        zed, amy, solo = Artist(name="Zed"), Artist(name="Amy"), Artist(name="Solo & <Sons>")
        s.add_all([zed, amy, solo])
        s.flush()
        light = Release(
            title="First Light", artist_id=amy.id, release_date=date(2019, 3, 4), loudness_lufs=-9.5,
            true_peak_dbtp=-0.3,
        )  # fmt: skip
        shadows, nothing = Release(title="Shadows", artist_id=zed.id), Release(title="Nothing")
        s.add_all([light, shadows, nothing])
        s.flush()
        made: dict[str, int] = {}
        specs = [
            ("duet", TrackStatus.ready, dict(release_id=light.id, track_number=1, genre="Pop")),
            ("bare", TrackStatus.ready, dict(duration_sec=None)),
            ("unfinished", TrackStatus.processing, {"release_id": shadows.id}),
            ("measured", TrackStatus.ready, dict(release_id=light.id, track_number=2, genre="Jazz",
                                                 play_count=7, loudness_lufs=-14.2, true_peak_dbtp=-1.0)),
            ("broken", TrackStatus.failed, {"release_id": shadows.id}),
            ("withdrawn", TrackStatus.taken_down, {}),
        ]  # fmt: skip
        specs += [(f"filler {n}", TrackStatus.ready, {"release_id": light.id, "track_number": 3 + n})
                  for n in range(5)]  # fmt: skip
        for title, status, extra in specs:
            shown = HOSTILE if title == "filler 0" else title.title()
            t = Track(title=shown, status=status, **{"duration_sec": 185.5, **extra})
            s.add(t)
            s.flush()
            made[title] = t.id
        credits = [("duet", amy, 0), ("duet", zed, 1), ("measured", solo, 0)]
        credits += [(f"filler {n}", zed, 0) for n in range(5)]
        s.add_all(TrackArtist(track_id=made[t], artist_id=a.id, position=p) for t, a, p in credits)
        s.add_all(
            TrackVariant(
                track_id=made[t], quality="mp3_320", codec="mp3", container="mp3", bitrate_kbps=320,
                storage_key=f"x/{t}.mp3", size_bytes=1000 + made[t], checksum="0" * 64,
            )
            for t in made
            if t != "bare"
        )  # fmt: skip
        made.update(zed=zed.id, amy=amy.id, solo=solo.id, release=light.id, shadows=shadows.id)
        return made


@pytest.fixture(scope="module", name="sync")
def sync_fixture(db: tuple[Engine, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    settings = make_settings(tmp_path_factory.mktemp("sync") / "data", db[1])
    c = build_collaborators(settings, engine=db[0], run_migrations=False)
    made = _catalog(c)
    fan = create_user(c.sessions, email="fan@example.org")
    boss = create_user(c.sessions, email="boss@example.org", role="admin")
    with TestClient(create_app(settings, wired=App(c=c, runner=IdleRunner()))) as client:
        keys = {}
        for who, token in (("fan", fan), ("boss", boss)):
            resp = client.post(
                "/api/me/subsonic-keys", headers={"Authorization": f"Bearer {token}"}, json={"label": "app"}
            )
            assert resp.status_code == 201, resp.text
            keys[who] = resp.json()["api_key"]
        yield {"client": client, "keys": keys, "made": made}


def _get(sync: dict, method: str, who: str = "fan", **params: str) -> bytes:
    resp = sync["client"].get(f"/rest/{method}", params={"apiKey": sync["keys"][who], **params})
    assert resp.status_code == 200, resp.text
    return resp.content


def _json(sync: dict, method: str, who: str = "fan", **params: str) -> dict:
    body = json.loads(_get(sync, method, who, f="json", **params))["subsonic-response"]
    assert body["status"] == "ok", body
    return body


def _page(sync: dict, offset: int, size: int, who: str = "fan", client_name: str = "app") -> list[dict]:
    """One sync page of songs only, checked in both formats: the XML valid against the schema and
    carrying the same data as the JSON."""
    params = {"query": "", "artistCount": "0", "albumCount": "0", "songCount": str(size),
              "songOffset": str(offset), "c": client_name}  # fmt: skip
    xml = _get(sync, "search3", who, **params)
    SCHEMA.assertValid(etree.fromstring(xml))
    data = _json(sync, "search3", who, **params)
    assert from_xml(ET.fromstring(xml)) == from_json(data)
    return list(data["searchResult3"].get("song", []))


def _walk(sync: dict, size: int, who: str = "fan", client_name: str = "app") -> list[list[dict]]:
    pages, offset = [], 0
    while True:
        page = _page(sync, offset, size, who, client_name)
        pages.append(page)
        offset += len(page)
        if len(page) < size:
            return pages


VISIBLE = ["duet", "bare", "measured"] + [f"filler {n}" for n in range(5)]
HIDDEN = ["unfinished", "broken", "withdrawn"]


def test_a_full_sync_gives_every_visible_song_once_in_id_order(sync: dict) -> None:
    made = sync["made"]
    pages = _walk(sync, 3)
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [s["id"] for p in pages for s in p] == [f"tr-{made[t]}" for t in VISIBLE]
    everyone = [s["id"] for p in _walk(sync, 4, who="boss") for s in p]  # an administrator sees all
    assert everyone == [f"tr-{i}" for i in sorted(made[t] for t in [*VISIBLE, *HIDDEN])]


def test_a_sync_page_song_is_the_song_getsong_gives(sync: dict) -> None:
    """The page's one statement and the by-id read give the same `Child`, field for field."""
    made = sync["made"]
    _json(sync, "star", id=f"tr-{made['measured']}")
    _json(sync, "setRating", id=f"tr-{made['duet']}", rating="4")
    try:
        songs = {s["id"]: s for p in _walk(sync, 5, client_name="other app") for s in p}
        for sid, song in songs.items():
            assert song == _json(sync, "getSong", id=sid)["song"], sid
        duet, bare, measured = (songs[f"tr-{made[t]}"] for t in ("duet", "bare", "measured"))
    finally:
        _json(sync, "unstar", id=f"tr-{made['measured']}")
        _json(sync, "setRating", id=f"tr-{made['duet']}", rating="0")
    al, amy = f"al-{made['release']}", f"ar-{made['amy']}"
    assert duet["artist"] == "Amy, Zed" and duet["artistId"] == amy  # credit order, not id order
    assert duet["album"] == "First Light" and duet["parent"] == duet["albumId"] == al
    assert (duet["year"], duet["track"], duet["genre"], duet["duration"]) == (2019, 1, "Pop", 186)
    assert duet["size"] == 1000 + made["duet"] and duet["userRating"] == 4 and "starred" not in duet
    assert duet["replayGain"] == {"albumGain": -8.5, "albumPeak": round(10 ** (-0.3 / 20), 6)}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", duet["created"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", measured["starred"])
    assert measured["playCount"] == 7 and measured["artist"] == "Solo & <Sons>"
    assert songs[f"tr-{made['filler 0']}"]["title"] == HOSTILE  # and the XML said the same (`_page`)
    assert measured["replayGain"]["trackGain"] == loudness.replaygain_gain(-14.2) == -3.8
    assert measured["replayGain"]["trackPeak"] == loudness.replaygain_peak(-1.0)
    for absent in ("artist", "artistId", "album", "albumId", "parent", "size", "year", "replayGain"):
        assert absent not in bare, absent
    assert bare["duration"] == 0 and bare["title"] == "Bare" and bare["coverArt"] == bare["id"]


def test_a_jump_to_an_offset_gives_the_same_page_as_a_walk(sync: dict) -> None:
    """A client that walked page by page continues after its last id (keyset); one that jumps, or
    another client, gets the page by OFFSET: the same songs."""
    walked = _walk(sync, 3, client_name="walker")
    for n, page in enumerate(walked):
        assert _page(sync, 3 * n, 3, client_name=f"jumper {n}") == page


def test_a_sync_page_never_shows_a_hidden_track_to_a_listener(sync: dict) -> None:
    made = sync["made"]
    hidden = {f"tr-{made[t]}" for t in HIDDEN}
    seen = {s["id"] for p in _walk(sync, 500) for s in p}
    assert not seen & hidden and len(seen) == len(VISIBLE)
    for sid in sorted(hidden):
        assert b'"code":70' in _get(sync, "getSong", f="json", id=sid)


def test_a_full_sync_pages_albums_as_getalbum_shows_them(sync: dict) -> None:
    """Albums a page at a time (one here): a listener's sync holds the albums with a track they may see,
    an administrator's also the one whose tracks are all unfinished; an album without tracks is in
    neither. Each is the album getAlbum gives (without its songs), in XML and JSON alike."""
    made = sync["made"]
    for who, expected in (("fan", ["release"]), ("boss", ["release", "shadows"])):
        albums, offset = [], 0
        while True:
            params = {"query": "", "artistCount": "0", "albumCount": "1", "songCount": "0",
                      "albumOffset": str(offset), "c": f"albums {who}"}  # fmt: skip
            xml = _get(sync, "search3", who, **params)
            SCHEMA.assertValid(etree.fromstring(xml))
            data = _json(sync, "search3", who, **params)
            assert from_xml(ET.fromstring(xml)) == from_json(data)
            got = data["searchResult3"].get("album", [])
            albums += got
            offset += len(got)
            if not got:
                break
        assert [a["id"] for a in albums] == [f"al-{made[k]}" for k in expected], who
        for album in albums:
            whole = _json(sync, "getAlbum", who, id=album["id"])["album"]
            assert album == {k: v for k, v in whole.items() if k != "song"}
    light = _json(sync, "search3", query="", albumCount="1", songCount="0", artistCount="0")
    assert light["searchResult3"]["album"][0]["songCount"] == len(VISIBLE) - 1  # "bare" has no album
