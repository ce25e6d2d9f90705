"""Every Subsonic method's XML answer is valid against the Subsonic 1.16.1 schema with the OpenSubsonic
additions (tests/subsonic/opensubsonic.xsd), and its JSON answer carries the same data, on SQLite and
PostgreSQL. The table below names a call for every registered method: a method added without one fails
`test_every_method_is_covered`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from lxml import etree

from cadenza.web.subsonic.registry import METHODS
from subsonic_world import as_json, from_json, from_xml, world_fixture  # noqa: F401 (the fixture)

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "subsonic" / "opensubsonic.xsd")))
REDIRECTS = {"stream", "download", "getCoverArt"}  # their success is a 302; their failures are checked


@dataclass(frozen=True)
class Case:
    method: str
    params: Callable[[dict], dict[str, str]] = lambda w: {}  # made anew for each format's call
    before: Callable[[dict], object] | None = None  # run before each format's call (state it needs)
    unordered: bool = False  # random order: lists compared as sets
    varying: frozenset[str] = field(default_factory=frozenset)  # values that differ call to call


def _song(w: dict) -> str:
    return f"tr-{w['tracks'][0]}"


def _album(w: dict) -> str:
    return as_json(w, "getSong", id=_song(w))["song"]["albumId"]


def _artist(w: dict) -> str:
    return as_json(w, "getSong", id=_song(w))["song"]["artistId"]


def _playlist(w: dict) -> str:
    return as_json(w, "createPlaylist", name="For a test", songId=_song(w))["playlist"]["id"]


def _bookmark(w: dict) -> None:
    as_json(w, "createBookmark", id=_song(w), position="1234", comment="here")


def _stream(w: dict) -> None:
    resp = httpx.get(f"{w['url']}/rest/stream", params={"apiKey": w["keys"]["api_key"], "id": _song(w)})
    assert resp.status_code == 302


STAMPS = frozenset({"created", "changed"})
CASES = [
    Case("ping"), Case("getLicense"), Case("getOpenSubsonicExtensions"), Case("tokenInfo"),
    Case("getMusicFolders"), Case("getUser", lambda w: {"username": "fan@example.org"}),
    Case("getArtists"), Case("getIndexes"), Case("getGenres"),
    Case("getArtist", lambda w: {"id": _artist(w)}), Case("getAlbum", lambda w: {"id": _album(w)}),
    Case("getSong", lambda w: {"id": _song(w)}),
    Case("getMusicDirectory", lambda w: {"id": _album(w)}),
    Case("getMusicDirectory", lambda w: {"id": _artist(w)}),
    Case("getRandomSongs", unordered=True),
    Case("getSongsByGenre", lambda w: {"genre": "Ambient"}),
    Case("getAlbumList2", lambda w: {"type": "alphabeticalByName"}),
    Case("getAlbumList", lambda w: {"type": "newest"}),
    Case("search3", lambda w: {"query": "morning"}), Case("search3", lambda w: {"query": ""}),
    Case("search2", lambda w: {"query": "ada"}), Case("search2", lambda w: {"query": ""}),
    Case("star", lambda w: {"id": _song(w), "albumId": _album(w), "artistId": _artist(w)}),
    Case("getStarred2"), Case("getStarred"),
    Case("unstar", lambda w: {"albumId": _album(w)}),
    Case("setRating", lambda w: {"id": _song(w), "rating": "4"}),
    Case("createPlaylist", lambda w: {"name": "Same", "songId": _song(w)}, varying=STAMPS | {"id"}),
    Case("getPlaylists"), Case("getPlaylist", lambda w: {"id": _playlist(w)}, varying=STAMPS | {"id"}),
    Case("updatePlaylist", lambda w: {"playlistId": _playlist(w), "name": "Renamed"}),
    Case("deletePlaylist", lambda w: {"id": _playlist(w)}),
    Case("savePlayQueue", lambda w: {"id": _song(w), "current": _song(w), "position": "10"}),
    Case("getPlayQueue"),
    Case("scrobble", lambda w: {"id": _song(w), "submission": "false"}),
    Case("reportPlayback", lambda w: {"mediaId": _song(w), "mediaType": "song", "positionMs": "0",
                                      "state": "playing"}, before=_stream),
    Case("getNowPlaying", before=_stream),
    Case("getLyricsBySongId", lambda w: {"id": _song(w)}),
    Case("getLyrics", lambda w: {"artist": "Ada Lovelace", "title": "Morning Song"}),
    Case("createBookmark", lambda w: {"id": _song(w), "position": "5000"}),
    Case("getBookmarks", before=_bookmark, varying=STAMPS),
    Case("deleteBookmark", lambda w: {"id": _song(w)}, before=_bookmark),
    Case("getTopSongs", lambda w: {"artist": "Ada Lovelace"}),
    Case("getSimilarSongs", lambda w: {"id": _song(w)}, unordered=True),
    Case("getSimilarSongs2", lambda w: {"id": _artist(w)}, unordered=True),
    Case("getArtistInfo", lambda w: {"id": _artist(w)}), Case("getArtistInfo2", lambda w: {"id": _artist(w)}),
    Case("getAlbumInfo", lambda w: {"id": _album(w)}), Case("getAlbumInfo2", lambda w: {"id": _album(w)}),
    Case("getScanStatus"), Case("startScan"), Case("getInternetRadioStations"), Case("getPodcasts"),
    Case("getNewestPodcasts"), Case("getShares"),
    Case("getAvatar", lambda w: {"username": "fan@example.org"}),
    # failures are answers too: missing parameter, unknown id, refused (outside the territory)
    Case("getSong"), Case("getAlbum", lambda w: {"id": "al-999999"}),
    Case("stream", lambda w: {"id": f"tr-{w['tracks'][1]}"}), Case("download", lambda w: {"id": "tr-999999"}),
    Case("getCoverArt", lambda w: {"id": "zz-1"}),
]  # fmt: skip


def test_every_method_is_covered() -> None:
    assert {c.method for c in CASES} == set(METHODS)


def _call(world: dict, case: Case, fmt: str) -> httpx.Response:
    if case.before:
        case.before(world)
    params = {"apiKey": world["keys"]["api_key"], "f": fmt, **case.params(world)}
    resp = httpx.get(f"{world['url']}/rest/{case.method}", params=params)
    assert resp.status_code == 200, (case.method, resp.status_code, resp.text[:300])
    return resp


def _normal(value: object, case: Case) -> object:
    """Values that may differ between two calls blanked, and random lists sorted."""
    if isinstance(value, dict):
        return {k: "*" if k in case.varying else _normal(v, case) for k, v in value.items()}
    if isinstance(value, list):
        items = [_normal(v, case) for v in value]
        return sorted(items, key=repr) if case.unordered else items
    return value


@pytest.mark.parametrize("case", CASES, ids=[f"{c.method}-{i}" for i, c in enumerate(CASES)])
def test_xml_is_valid_and_json_carries_the_same_data(world: dict, case: Case) -> None:
    xml = _call(world, case, "xml")
    doc = etree.fromstring(xml.content)
    assert SCHEMA.validate(doc), (case.method, [str(e) for e in SCHEMA.error_log][:5])
    data = _call(world, case, "json").json()["subsonic-response"]
    assert data["openSubsonic"] is True and data["status"] == doc.get("status")
    if case.method == "getCoverArt":
        assert data["error"]["code"] == 70
    assert _normal(from_xml(ET.fromstring(xml.content)), case) == _normal(from_json(data), case), case.method


def test_a_schema_violation_is_caught() -> None:
    """The check has teeth: a song without its required title, or a rating of 9, is refused."""
    bad = (
        b'<subsonic-response xmlns="http://subsonic.org/restapi" status="ok" version="1.16.1">'
        b'<song id="tr-1" isDir="false"/></subsonic-response>'
    )
    assert not SCHEMA.validate(etree.fromstring(bad))
    worse = bad.replace(b'isDir="false"', b'isDir="false" title="x" userRating="9"')
    assert not SCHEMA.validate(etree.fromstring(worse))
    assert SCHEMA.validate(etree.fromstring(worse.replace(b' userRating="9"', b"")))
