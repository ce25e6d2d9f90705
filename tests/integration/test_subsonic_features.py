"""The methods apps call at start-up and the listener data behind them, through py-opensonic and raw
HTTP, on SQLite and PostgreSQL: bookmarks (stored per listener), getNowPlaying (every listener, by
display name), reportPlayback (credited into the playback sessions like the web player's heartbeats),
top and similar songs from the catalog, and valid empty answers for what Cadenza does not have."""

from __future__ import annotations

import time

import httpx
import pytest
from libopensonic import Connection, errors
from sqlalchemy import select

from cadenza.royalties.models import PlaybackEvent, PlaybackSession
from subsonic_world import as_json, by_key_fixture, world_fixture  # noqa: F401 (the fixtures)


def _key_of(world: dict, bearer: str) -> str:
    made = httpx.post(
        f"{world['url']}/api/me/subsonic-keys", headers={"Authorization": f"Bearer {bearer}"}, json={}
    )
    assert made.status_code == 201
    return made.json()["api_key"]


def _stream(world: dict, key: str, track: int) -> None:
    resp = httpx.get(f"{world['url']}/rest/stream", params={"apiKey": key, "id": f"tr-{track}"})
    assert resp.status_code == 302, resp.text


# --- bookmarks ------------------------------------------------------------------------------------------


def test_bookmarks_are_stored_per_listener(by_key: Connection, world: dict) -> None:
    song = f"tr-{world['tracks'][0]}"
    assert by_key.create_bookmark(song, 2500, comment="the bridge") is True
    assert by_key.create_bookmark(song, 4000) is True  # the last save wins
    [mark] = by_key.get_bookmarks()
    assert mark.position == 4000 and mark.entry.id == song and mark.username == "fan@example.org"
    theirs = as_json(world, "getBookmarks", apiKey=_key_of(world, world["other"]))
    assert theirs["status"] == "ok" and not theirs["bookmarks"].get("bookmark")
    assert by_key.delete_bookmark(song) is True
    assert by_key.get_bookmarks() == []


@pytest.mark.parametrize(
    ("method", "params", "code"),
    [
        ("createBookmark", {"id": "tr-1"}, 10),  # no position
        ("createBookmark", {"position": "5"}, 10),  # no id
        ("createBookmark", {"id": "tr-999999", "position": "5"}, 70),
        ("createBookmark", {"id": "al-1", "position": "5"}, 70),
        ("createBookmark", {"id": "TRACK", "position": "-5"}, 10),
        ("deleteBookmark", {"id": "tr-999999"}, 70),
    ],
)
def test_bad_bookmarks_are_refused_and_change_nothing(
    world: dict, method: str, params: dict, code: int
) -> None:
    params = {k: (f"tr-{world['tracks'][0]}" if v == "TRACK" else v) for k, v in params.items()}
    body = as_json(world, method, **params)
    assert body["status"] == "failed" and body["error"]["code"] == code, body
    assert not as_json(world, "getBookmarks")["bookmarks"].get("bookmark")


# --- now playing ----------------------------------------------------------------------------------------


def test_now_playing_shows_every_listener_by_display_name_only(
    world: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_key = _key_of(world, world["other"])
    _stream(world, other_key, world["tracks"][0])
    entries = as_json(world, "getNowPlaying")["nowPlaying"]["entry"]
    theirs = [e for e in entries if e["username"] != "fan@example.org"]
    assert theirs and theirs[0]["id"] == f"tr-{world['tracks'][0]}"
    assert all("@" not in e["username"] for e in theirs)  # another listener's email is never shown
    settings = world["app"].state.cadenza.c.settings
    monkeypatch.setattr(settings.subsonic, "share_now_playing", False)
    entries = as_json(world, "getNowPlaying")["nowPlaying"].get("entry", [])
    assert all(e["username"] == "fan@example.org" for e in entries)


# --- reportPlayback -------------------------------------------------------------------------------------


def _events(world: dict, track: int) -> list:
    with world["c"].sessions() as s:
        session_id = s.scalar(
            select(PlaybackSession.id)
            .join(PlaybackEvent, PlaybackEvent.session_id == PlaybackSession.id)
            .where(PlaybackSession.track_id == track, PlaybackEvent.kind != "start")
            .order_by(PlaybackSession.started_at.desc())
            .limit(1)
        )
        return list(
            s.execute(
                select(PlaybackEvent.kind, PlaybackEvent.played_ms, PlaybackEvent.elapsed_ms)
                .where(PlaybackEvent.session_id == session_id)
                .order_by(PlaybackEvent.occurred_at, PlaybackEvent.id)
            )
        )


def test_report_playback_credits_playing_time_only(by_key: Connection, world: dict) -> None:
    """starting → playing credits the wall time between them; a pause credits nothing, and the time
    spent paused is not credited when playing resumes; every claim stays within wall time."""
    track = world["tracks"][0]
    song = f"tr-{track}"
    _stream(world, world["keys"]["api_key"], track)
    assert by_key.report_playback(song, "song", 0, "starting") is True
    time.sleep(1.2)
    assert by_key.report_playback(song, "song", 1200, "paused") is True
    time.sleep(1.0)
    assert by_key.report_playback(song, "song", 1200, "playing") is True
    assert by_key.report_playback(song, "song", 1300, "stopped", ignore_scrobble=True) is True
    kinds = [(e.kind, e.played_ms, e.elapsed_ms) for e in _events(world, track)]
    assert [k for k, _, _ in kinds] == ["start", "progress", "pause", "progress"], kinds
    _, starting, _ = kinds[1]
    _, paused, paused_at = kinds[2]
    _, resumed, _ = kinds[3]
    assert starting == 0 and 1100 <= paused <= paused_at  # what was played, within wall time
    assert resumed == 0  # the second spent paused is not playing time


@pytest.mark.parametrize(
    "params",
    [
        {"mediaType": "song", "positionMs": "0", "state": "playing"},
        {"mediaId": "TRACK", "mediaType": "song", "positionMs": "0", "state": "dancing"},
        {"mediaId": "TRACK", "mediaType": "song", "positionMs": "-1", "state": "playing"},
        {"mediaId": "TRACK", "mediaType": "song", "positionMs": "0", "state": "playing", "playbackRate": "x"},
        {"mediaId": "TRACK", "mediaType": "song", "positionMs": "9", "state": "playing", "playbackRate": "0"},
    ],
)
def test_bad_playback_reports_are_error_10_and_store_nothing(world: dict, params: dict) -> None:
    track = world["tracks"][0]
    before = len(_events(world, track))
    params = {k: (f"tr-{track}" if v == "TRACK" else v) for k, v in params.items()}
    body = as_json(world, "reportPlayback", **params)
    assert body["status"] == "failed" and body["error"]["code"] == 10, body
    assert len(_events(world, track)) == before
    assert as_json(world, "reportPlayback", mediaId="tr-999999", mediaType="song", positionMs="0",
                   state="playing")["error"]["code"] == 70  # fmt: skip


def test_extensions_list_playback_report(by_key: Connection) -> None:
    assert "playbackReport" in {e.name for e in by_key.get_open_subsonic_extensions()}


# --- discovery and start-up calls ----------------------------------------------------------------------


def test_top_and_similar_songs_come_from_the_catalog(by_key: Connection, world: dict) -> None:
    songs = {f"tr-{t}" for t in world["tracks"]}
    top = by_key.get_top_songs("ada lovelace")
    assert {s.id for s in top} == songs
    assert by_key.get_top_songs("Nobody At All") == []
    first = f"tr-{world['tracks'][0]}"
    similar = by_key.get_similar_songs(first)
    assert {s.id for s in similar} == songs - {first}  # the same artist's other song; never the seed
    artist = by_key.get_song(first).artist_id
    assert {s.id for s in by_key.get_similar_songs2(artist)} == songs
    assert by_key.get_artist_info2(artist) is not None
    with pytest.raises(errors.DataNotFoundError):
        by_key.get_artist_info2("ar-999999")


def test_what_cadenza_does_not_have_is_an_empty_list_not_an_error(by_key: Connection, world: dict) -> None:
    assert by_key.get_internet_radio_stations() == []
    assert by_key.get_podcasts() == []
    assert by_key.get_newest_podcasts() == []
    assert by_key.get_shares() == []
    status = by_key.get_scan_status()
    assert status.scanning is False and status.count == len(world["tracks"])
    assert as_json(world, "startScan")["error"]["code"] == 50  # listeners may not; nothing to scan anyway
    assert as_json(world, "getAvatar", username="fan@example.org")["error"]["code"] == 70


def test_folder_era_methods_answer_like_their_id3_versions(by_key: Connection, world: dict) -> None:
    # albums are folder `Child`s (the spec's albumList); py-opensonic's get_album_list parses them as
    # AlbumID3 and wants `name`, which a Child does not have, so this one is read as plain JSON
    albums = as_json(world, "getAlbumList", type="alphabeticalByName")["albumList"]["album"]
    assert [(a["title"], a["isDir"]) for a in albums] == [("Engines", True)]
    found = by_key.search2("morning")
    assert [s.title for s in found.song] == ["Morning Song"]
    everything = as_json(world, "search2", query="")["searchResult2"]
    assert len(everything["song"]) == 2 and everything["artist"][0]["name"] == "Ada Lovelace"
    assert as_json(world, "getStarred")["status"] == "ok"


def test_unknown_methods_are_a_failed_answer_in_the_asked_format(world: dict) -> None:
    for name in ("jukeboxControl", "getChatMessages", "createUser"):
        resp = httpx.get(f"{world['url']}/rest/{name}.view", params={"f": "json"})
        assert resp.status_code == 404
        assert resp.json()["subsonic-response"]["error"]["code"] == 70


def test_another_listeners_playlist_and_bookmark_cannot_be_touched(world: dict) -> None:
    song = f"tr-{world['tracks'][0]}"
    made = as_json(world, "createPlaylist", name="Only mine", songId=song)["playlist"]
    as_json(world, "createBookmark", id=song, position="777")
    intruder = _key_of(world, world["other"])
    for method, params in (
        ("updatePlaylist", {"playlistId": made["id"], "name": "Taken", "songIdToAdd": song}),
        ("updatePlaylist", {"playlistId": made["id"], "songIndexToRemove": "0"}),
        ("deletePlaylist", {"id": made["id"]}),
        ("getPlaylist", {"id": made["id"]}),
        ("deleteBookmark", {"id": song}),
    ):
        body = as_json(world, method, apiKey=intruder, **params)
        assert body["status"] == "failed" and body["error"]["code"] in (50, 70), (method, body)
    mine = as_json(world, "getPlaylist", id=made["id"])["playlist"]
    assert mine["name"] == "Only mine" and [e["id"] for e in mine["entry"]] == [song]
    [mark] = as_json(world, "getBookmarks")["bookmarks"]["bookmark"]
    assert mark["position"] == 777
    as_json(world, "deleteBookmark", id=song)
    as_json(world, "deletePlaylist", id=made["id"])
