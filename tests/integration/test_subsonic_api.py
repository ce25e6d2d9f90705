"""The OpenSubsonic API at /rest/, driven by a real client library (py-opensonic, sync) against a real
server on loopback, on SQLite and PostgreSQL; and the envelope checked with raw HTTP in XML and JSON."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from libopensonic import Connection, errors

from cadenza.catalog.models import Track
from cadenza.db.engine import transaction
from cadenza.royalties import counting
from cadenza.web.app import routes_of
from cadenza.web.subsonic.registry import METHODS
from conftest import create_user
from subsonic_world import (  # noqa: F401 (the fixtures)
    NS,
    as_json,
    by_key_fixture,
    client,
    from_json,
    from_xml,
    raw,
    world_fixture,
)

# --- authentication -------------------------------------------------------------------------------------


def test_api_key_signs_in(by_key: Connection) -> None:
    assert by_key.ping() is True
    names = {e.name for e in by_key.get_open_subsonic_extensions()}
    assert "apiKeyAuthentication" in names


def test_token_and_salt_sign_in_with_the_app_password(world: dict) -> None:
    conn = client(world, username=world["keys"]["username"], password=world["keys"]["app_password"])
    try:
        assert conn.ping() is True
        assert conn.get_user("fan@example.org").username == "fan@example.org"
    finally:
        conn.cleanup()
    legacy = client(
        world, username="fan@example.org", password=world["keys"]["app_password"], legacy_auth=True
    )
    try:
        assert legacy.ping() is True  # p=enc:<hex>
    finally:
        legacy.cleanup()


def test_the_account_password_is_not_a_subsonic_password(world: dict) -> None:
    conn = client(world, username="fan@example.org", password="correct horse battery")
    try:
        with pytest.raises(errors.SonicError) as caught:
            conn.ping()
        assert caught.value.args and "wrong username or app password" in str(caught.value)
    finally:
        conn.cleanup()
    assert (
        as_json(world, "ping", apiKey="", u="fan@example.org", p="correct horse battery")["error"]["code"]
        == 43
    )


def test_wrong_credentials_are_code_40_and_a_wrong_key_44(world: dict) -> None:
    url = f"{world['url']}/rest/ping.view"
    salt = "s1"
    token = hashlib.md5(b"not-the-password" + salt.encode()).hexdigest()
    wrong = httpx.get(url, params={"u": "fan@example.org", "t": token, "s": salt, "f": "json"}).json()
    assert (
        wrong["subsonic-response"]["status"] == "failed" and wrong["subsonic-response"]["error"]["code"] == 40
    )
    bad_key = httpx.get(url, params={"apiKey": "nope", "f": "json"}).json()["subsonic-response"]
    assert bad_key["error"]["code"] == 44
    both = httpx.get(url, params={"apiKey": "x", "u": "fan@example.org", "p": "y", "f": "json"}).json()
    assert both["subsonic-response"]["error"]["code"] == 43


def test_a_revoked_key_stops_working(world: dict) -> None:
    headers = {"Authorization": f"Bearer {world['other']}"}
    made = httpx.post(f"{world['url']}/api/me/subsonic-keys", headers=headers, json={}).json()
    assert as_json(world, "ping", apiKey=made["api_key"])["status"] == "ok"
    listed = httpx.get(f"{world['url']}/api/me/subsonic-keys", headers=headers).json()
    assert [k["id"] for k in listed] == [made["id"]] and "api_key" not in listed[0]
    assert (
        httpx.delete(f"{world['url']}/api/me/subsonic-keys/{made['id']}", headers=headers).status_code == 204
    )
    assert as_json(world, "ping", apiKey=made["api_key"])["error"]["code"] == 44
    # another listener cannot revoke the fan's key
    theirs = httpx.delete(f"{world['url']}/api/me/subsonic-keys/{world['keys']['id']}", headers=headers)
    assert theirs.status_code == 404


def test_app_passwords_are_stored_encrypted_and_api_keys_hashed(world: dict) -> None:
    from sqlalchemy import select

    from cadenza.accounts.subsonic_credentials import SubsonicCredential

    with world["c"].sessions() as s:
        rows = s.execute(select(SubsonicCredential.api_key_hash, SubsonicCredential.app_password_enc)).all()
    stored = json.dumps([list(r) for r in rows])
    assert world["keys"]["api_key"] not in stored and world["keys"]["app_password"] not in stored


def test_every_method_but_the_extension_list_refuses_an_anonymous_caller(world: dict) -> None:
    """Authentication on by default, for the Subsonic surface: its one route declares its own security
    (so the app's start-up check accepts it), and every method answers 'failed' without credentials."""
    [rest] = [r for r in routes_of(world["app"]) if r.path.startswith("/rest/")]
    assert rest.path == "/rest/{name}" and rest.authenticated and not rest.public
    assert len(METHODS) >= 30
    for name in sorted(METHODS):
        for suffix in ("", ".view"):
            for verb in ("GET", "POST"):
                resp = httpx.request(verb, f"{world['url']}/rest/{name}{suffix}", params={"f": "json"})
                assert resp.status_code == 200, name
                body = resp.json()["subsonic-response"]
                if name == "getOpenSubsonicExtensions":
                    assert body["status"] == "ok"
                    continue
                assert body["status"] == "failed" and body["error"]["code"] in (10, 40), (verb, name, body)
    unknown = httpx.get(f"{world['url']}/rest/noSuchMethod", params={"f": "json"})
    assert unknown.status_code == 404 and unknown.json()["subsonic-response"]["error"]["code"] == 70
    as_xml = httpx.get(f"{world['url']}/rest/noSuchMethod")
    assert as_xml.status_code == 404 and as_xml.text.startswith("<?xml")


# --- envelope -------------------------------------------------------------------------------------------


def test_xml_and_json_carry_the_same_envelope(world: dict) -> None:
    root = ET.fromstring(raw(world, "getAlbumList2.view", type="alphabeticalByName").content)
    assert root.tag == f"{NS}subsonic-response"
    assert root.attrib == {
        "status": "ok", "version": "1.16.1", "type": "cadenza", "serverVersion": root.attrib["serverVersion"],
        "openSubsonic": "true",
    }  # fmt: skip
    xml_albums = [a.attrib for a in root.iter(f"{NS}album")]
    body = as_json(world, "getAlbumList2", type="alphabeticalByName")
    assert body["openSubsonic"] is True and body["type"] == "cadenza"
    json_albums = body["albumList2"]["album"]
    assert [a["id"] for a in json_albums] == [a["id"] for a in xml_albums] and len(json_albums) == 1
    assert {
        k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in json_albums[0].items()
    } == xml_albums[0]


def test_jsonp_wraps_the_json_in_the_callback(world: dict) -> None:
    text = raw(world, "ping", f="jsonp", callback="cb_1").text
    assert text.startswith("cb_1(") and text.endswith(");")
    assert json.loads(text[5:-2])["subsonic-response"]["status"] == "ok"


def test_post_form_and_view_suffix_work_like_get(world: dict) -> None:
    got = raw(world, "getArtists.view", post=True, f="json").json()["subsonic-response"]
    assert got["status"] == "ok" and got["artists"]["index"][0]["artist"][0]["name"] == "Ada Lovelace"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, 10),
        ({"id": "\x00"}, 10),
        ({"id": "tr-99999999"}, 70),
        ({"id": "tr-" + "9" * 30}, 70),
        ({"id": "al-1"}, 70),
        ({"id": "garbage"}, 70),
    ],
)
def test_bad_input_is_a_failed_response_never_a_5xx(world: dict, params: dict, code: int) -> None:
    body = as_json(world, "getSong", **params)
    assert body["status"] == "failed" and body["error"]["code"] == code and body["error"]["message"]


def test_bad_numbers_are_error_10(world: dict) -> None:
    for value in ("-1", "1e3", "99999999999999999999", "²", "NaN"):
        body = as_json(world, "getAlbumList2", type="newest", size=value)
        assert body["error"]["code"] == 10, value


# --- browse, search, media, library through the client -----------------------------------------------


def test_browse_artists_album_song(by_key: Connection, world: dict) -> None:
    artists = by_key.get_artists()
    ada = next(a for i in artists.index for a in i.artist if a.name == "Ada Lovelace")
    assert ada.album_count == 1
    artist = by_key.get_artist(ada.id)
    album = by_key.get_album(artist.album[0].id)
    assert album.name == "Engines" and album.song_count == 2 and album.year == 2024
    assert [s.title for s in album.song] == ["Morning Song", "Evening Waltz"]
    song = by_key.get_song(album.song[0].id)
    assert song.title == "Morning Song" and song.album_id == album.id and song.artist_id == ada.id


def test_search3_finds_by_words_and_an_empty_query_lists_everything(by_key: Connection) -> None:
    found = by_key.search3("evening")
    assert [s.title for s in found.song] == ["Evening Waltz"]
    everything = by_key.search3("", song_count=1, song_offset=1)
    assert len(everything.song) == 1
    assert {s.title for s in by_key.search3("", song_count=500).song} == {"Morning Song", "Evening Waltz"}


def test_stream_gives_audio_that_ffmpeg_decodes(by_key: Connection, world: dict, tmp_path: Path) -> None:
    sid = f"tr-{world['tracks'][0]}"
    resp = by_key.stream(sid)
    data = asyncio.run_coroutine_threadsafe(resp.read(), by_key._loop).result()
    out = tmp_path / "s.mp3"
    out.write_bytes(data)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of", "json", str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    streams = json.loads(probe.stdout)["streams"]
    assert streams and streams[0]["codec_type"] == "audio" and streams[0]["codec_name"] == "mp3"


def test_a_listener_outside_the_tracks_territory_is_refused_with_a_clear_message(
    by_key: Connection, world: dict
) -> None:
    with pytest.raises(errors.SonicError) as caught:
        by_key.stream(f"tr-{world['tracks'][1]}")
    assert "not available in your territory" in str(caught.value)
    body = as_json(world, "stream", id=f"tr-{world['tracks'][1]}")
    assert body["error"]["code"] == 50


def test_star_and_unstar(by_key: Connection, world: dict) -> None:
    sid = f"tr-{world['tracks'][0]}"
    assert by_key.star(sids=[sid]) is True
    starred = by_key.get_starred2()
    assert [s.id for s in starred.song] == [sid] and starred.song[0].starred is not None
    assert by_key.unstar(sids=[sid]) is True
    assert not by_key.get_starred2().song


def test_rating(by_key: Connection, world: dict) -> None:
    sid = f"tr-{world['tracks'][0]}"
    assert by_key.set_rating(sid, 4) is True
    assert by_key.get_song(sid).user_rating == 4


def test_playlists_round_trip(by_key: Connection, world: dict) -> None:
    a, b = (f"tr-{t}" for t in world["tracks"])
    assert by_key.create_playlist(name="Road trip", song_ids=[a, b]) is True
    made = next(p for p in by_key.get_playlists() if p.name == "Road trip")
    assert [e.id for e in by_key.get_playlist(made.id).entry] == [a, b]
    assert by_key.update_playlist(made.id, name="Road trip 2", song_indices_to_remove=[0]) is True
    again = by_key.get_playlist(made.id)
    assert again.name == "Road trip 2" and [e.id for e in again.entry] == [b]
    assert by_key.delete_playlist(made.id) is True
    assert as_json(world, "getPlaylist", id=made.id)["error"]["code"] == 70


def test_another_listeners_playlist_is_not_found(world: dict) -> None:
    made = as_json(world, "createPlaylist", name="Mine")["playlist"]
    other = httpx.post(
        f"{world['url']}/api/me/subsonic-keys", headers={"Authorization": f"Bearer {world['other']}"}, json={}
    ).json()
    theirs = as_json(world, "deletePlaylist", id=made["id"], apiKey=other["api_key"])
    assert theirs["status"] == "failed" and theirs["error"]["code"] == 70
    assert as_json(world, "getPlaylist", id=made["id"])["status"] == "ok"


def test_cover_art_redirects_to_the_nearest_rendered_size(by_key: Connection, world: dict) -> None:
    album = as_json(world, "getAlbumList2", type="newest")["albumList2"]["album"][0]
    key = world["keys"]["api_key"]
    for size, box in (("100", "300"), ("300", "300"), ("5000", "600"), (None, "600")):
        params = {"apiKey": key, "id": album["coverArt"], **({"size": size} if size else {})}
        resp = httpx.get(f"{world['url']}/rest/getCoverArt", params=params)
        assert resp.status_code == 302 and resp.headers["location"].endswith(f"/{box}.jpg"), (size, resp.text)
        image = httpx.get(f"{world['url']}{resp.headers['location']}")
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    data = asyncio.run_coroutine_threadsafe(
        by_key.get_cover_art(album["coverArt"], size=64).read(), by_key._loop
    ).result()
    assert data[:3] == b"\xff\xd8\xff"  # JPEG, through the client (which follows the redirect)
    assert as_json(world, "getCoverArt", id="tr-99999")["error"]["code"] == 70


def test_album_lists_of_every_type_answer(world: dict) -> None:
    for kind in ("newest", "alphabeticalByName", "alphabeticalByArtist", "random", "frequent", "recent",
                 "starred", "highest"):  # fmt: skip
        body = as_json(world, "getAlbumList2", type=kind, size="5")
        assert body["status"] == "ok", (kind, body)
    assert (
        len(
            as_json(world, "getAlbumList2", type="byYear", fromYear="2020", toYear="2025")["albumList2"][
                "album"
            ]
        )
        == 1
    )
    assert not as_json(world, "getAlbumList2", type="byYear", fromYear="1990", toYear="1999")["albumList2"][
        "album"
    ]
    assert len(as_json(world, "getAlbumList2", type="byGenre", genre="Ambient")["albumList2"]["album"]) == 1
    assert as_json(world, "getAlbumList2", type="sideways")["error"]["code"] == 10


def test_indexes_and_directories_walk_artist_album_song(world: dict) -> None:
    index = as_json(world, "getIndexes")["indexes"]["index"]
    artist = index[0]["artist"][0]
    assert index[0]["name"] == "A" and artist["name"] == "Ada Lovelace"
    folder = as_json(world, "getMusicDirectory", id=artist["id"])["directory"]
    album = folder["child"][0]
    assert album["isDir"] is True and album["title"] == "Engines"
    songs = as_json(world, "getMusicDirectory", id=album["id"])["directory"]["child"]
    assert [s["title"] for s in songs] == ["Morning Song", "Evening Waltz"]


def test_play_queue_round_trip(world: dict) -> None:
    a, b = (f"tr-{t}" for t in world["tracks"])
    key = world["keys"]["api_key"]
    saved = httpx.get(
        f"{world['url']}/rest/savePlayQueue",
        params=[("apiKey", key), ("f", "json"), ("id", a), ("id", b), ("current", b), ("position", "1500")],
    ).json()["subsonic-response"]
    assert saved["status"] == "ok", saved
    queue = as_json(world, "getPlayQueue")["playQueue"]
    assert [e["id"] for e in queue["entry"]] == [a, b] and queue["current"] == b and queue["position"] == 1500


def test_a_scrobble_credits_the_streamed_session_by_wall_time_only(world: dict) -> None:
    """A scrobble right after the stream started claims only the seconds since the stream began, and
    the counting rules credit no more: it is not a play. Repeating it stores nothing."""
    from sqlalchemy import select

    from cadenza.royalties.models import PlaybackEvent, PlaybackSession

    track = world["tracks"][0]
    key = world["keys"]["api_key"]
    resp = httpx.get(f"{world['url']}/rest/stream", params={"apiKey": key, "id": f"tr-{track}"})
    assert resp.status_code == 302
    for _ in range(2):
        assert as_json(world, "scrobble", id=f"tr-{track}", submission="true")["status"] == "ok"
    c = world["c"]
    with c.sessions() as s:
        session_id = s.scalar(
            select(PlaybackSession.id)
            .where(PlaybackSession.track_id == track)
            .order_by(PlaybackSession.started_at.desc())
        )
        events = s.execute(
            select(PlaybackEvent.kind, PlaybackEvent.elapsed_ms, PlaybackEvent.played_ms).where(
                PlaybackEvent.session_id == session_id
            )
        ).all()
    stops = [e for e in events if e.kind == "stop"]
    assert len(stops) == 1 and stops[0].played_ms <= stops[0].elapsed_ms + 1  # no more than wall time claimed
    rules = world["app"].state.cadenza.royalty_rules
    credited = counting.credit_ms(
        [(e.elapsed_ms, e.played_ms) for e in events], rules=rules, duration_sec=6.0
    )
    assert credited <= stops[0].elapsed_ms + rules.tolerance_ms < 6000  # wall time since the stream began
    assert not counting.is_stream(credited, rules)
    playing = as_json(world, "getNowPlaying")["nowPlaying"]["entry"]
    assert [e["id"] for e in playing] == [f"tr-{track}"] and playing[0]["username"] == "fan@example.org"
    assert as_json(world, "scrobble", id="tr-99999")["error"]["code"] == 70
    assert as_json(world, "scrobble")["error"]["code"] == 10


def test_failed_attempts_are_rate_limited(world: dict) -> None:
    url = f"{world['url']}/rest/ping"
    for _ in range(5):
        httpx.get(url, params={"u": "victim@example.org", "p": "guess", "f": "json"})
    body = httpx.get(url, params={"u": "victim@example.org", "p": "guess", "f": "json"}).json()[
        "subsonic-response"
    ]
    assert body["error"]["code"] == 40 and "too many" in body["error"]["message"]


HOSTILE = [
    "\x00", "a\x00b", "\x1b[31m", "\u00b2", "\uff11\uff12", "-1", "NaN", "1e309", str(2**64), "x" * 70_000,
    "", "tr-0", "al-" + "9" * 25, "enc:zz",
]  # fmt: skip
PARAMS = [
    "id", "query", "type", "size", "offset", "name", "songId", "playlistId", "format", "maxBitRate",
    "username", "rating", "submission", "albumId", "artistId", "songIndexToRemove", "public", "position",
    "current", "genre", "fromYear", "songCount", "callback", "mediaId", "mediaType", "positionMs", "state",
    "playbackRate", "ignoreScrobble", "artist", "title", "count", "comment",
]  # fmt: skip


def test_no_input_makes_a_5xx_or_an_unexpected_error(world: dict) -> None:
    """Every method, each parameter it may read poisoned with what broke servers before: an HTTP 200 with
    an 'ok' or a 'failed' envelope whose code is one of the spec's, never a 5xx or code 0 (unexpected)."""
    key = world["keys"]["api_key"]
    with httpx.Client(base_url=world["url"]) as client:
        for name in sorted(METHODS):
            if name in ("stream", "download", "getCoverArt"):
                continue  # their success is a redirect; their refusals go through the same envelope
            for value in HOSTILE:
                params = {p: value for p in PARAMS} | {"apiKey": key, "f": "json"}
                resp = client.post(f"/rest/{name}", data=params)  # a form: no URL length limit
                assert resp.status_code == 200, (name, value[:20], resp.text[:200])
                body = resp.json()["subsonic-response"]
                assert body["status"] == "ok" or body["error"]["code"] in (10, 40, 44, 50, 70), (
                    name,
                    value[:20],
                    body,
                )


def test_genres_random_songs_songs_by_genre_and_token_info(world: dict) -> None:
    genres = as_json(world, "getGenres")["genres"]["genre"]
    assert genres == [{"songCount": 2, "albumCount": 1, "value": "Ambient"}]
    root = ET.fromstring(raw(world, "getGenres").content)
    genre = root.find(f"{NS}genres/{NS}genre")
    assert genre is not None and genre.text == "Ambient" and genre.attrib["songCount"] == "2"
    assert len(as_json(world, "getRandomSongs", size="5")["randomSongs"]["song"]) == 2
    assert not as_json(world, "getRandomSongs", fromYear="1990", toYear="1991")["randomSongs"].get("song")
    by_genre = as_json(world, "getSongsByGenre", genre="Ambient", count="1", offset="1")["songsByGenre"][
        "song"
    ]
    assert [s["title"] for s in by_genre] == ["Morning Song"]
    assert as_json(world, "tokenInfo")["tokenInfo"] == {"username": "fan@example.org"}


def test_xml_and_json_carry_the_same_data_for_every_reading_method(world: dict) -> None:
    a, _b = (f"tr-{t}" for t in world["tracks"])
    album = as_json(world, "getSong", id=a)["song"]["albumId"]
    artist = as_json(world, "getSong", id=a)["song"]["artistId"]
    as_json(world, "star", id=a)
    as_json(world, "createPlaylist", name="Same", songId=a)
    calls = [
        ("getLicense", {}), ("getOpenSubsonicExtensions", {}), ("tokenInfo", {}), ("getMusicFolders", {}),
        ("getUser", {"username": "fan@example.org"}), ("getArtists", {}), ("getIndexes", {}),
        ("getArtist", {"id": artist}), ("getAlbum", {"id": album}), ("getSong", {"id": a}),
        ("getMusicDirectory", {"id": album}), ("getMusicDirectory", {"id": artist}), ("getGenres", {}),
        ("search3", {"query": "morning"}), ("search3", {"query": ""}), ("getStarred2", {}),
        ("getAlbumList2", {"type": "alphabeticalByName"}), ("getSongsByGenre", {"genre": "Ambient"}),
        ("getPlaylists", {}), ("getPlayQueue", {}), ("getSong", {"id": "tr-0"}),
    ]  # fmt: skip
    for name, params in calls:
        xml = from_xml(ET.fromstring(raw(world, name, **params).content))
        data = raw(world, name, f="json", **params).json()["subsonic-response"]
        assert xml == from_json(data), name


def test_a_hifi_listener_asking_for_raw_gets_the_flac_and_others_the_mp3(world: dict) -> None:
    hifi = create_user(world["c"].sessions, email="audiophile@example.org", tier="hifi")
    made = httpx.post(
        f"{world['url']}/api/me/subsonic-keys", headers={"Authorization": f"Bearer {hifi}"}, json={}
    ).json()
    track = f"tr-{world['tracks'][0]}"
    for key, fmt, suffix in (
        (made["api_key"], "raw", ".flac"),
        (made["api_key"], "mp3", ".mp3"),
        (world["keys"]["api_key"], "raw", ".mp3"),  # FLAC is for the hi-fi tier
    ):
        resp = httpx.get(f"{world['url']}/rest/stream", params={"apiKey": key, "id": track, "format": fmt})
        assert resp.status_code == 302 and resp.headers["location"].split("?")[0].endswith(suffix), (
            fmt,
            suffix,
        )
    low = httpx.get(
        f"{world['url']}/rest/stream", params={"apiKey": made["api_key"], "id": track, "maxBitRate": "128"}
    )
    assert ".m3u8" in low.headers["location"]  # below 320 only the HLS renditions fit


# --- enrichment: lyrics and ReplayGain ----------------------------------------------------------------


def test_lyrics_by_song_id_and_replay_gain(world: dict) -> None:
    """songLyrics from the catalog's stored lines (synced ms), and replayGain from the ingest's EBU R128
    figures (ReplayGain 2.0: gain = -18 - LUFS), the same numbers the REST API gives."""
    from cadenza.catalog import lrc
    from cadenza.catalog import lyrics as catalog_lyrics
    from cadenza.catalog.loudness import replaygain_gain

    track = world["tracks"][0]
    sid = f"tr-{track}"
    assert as_json(world, "getLyricsBySongId", id=sid)["lyricsList"] == {"structuredLyrics": []}
    text = "[la:en]\n[00:01.50]Engines hum\n[00:03.25]Morning comes\n"
    with transaction(world["c"].sessions) as s:
        catalog_lyrics.attach(s, track_id=track, lyrics=lrc.parse(text))
    [found] = as_json(world, "getLyricsBySongId", id=sid)["lyricsList"]["structuredLyrics"]
    assert found["synced"] is True and found["lang"] == "en" and found["displayTitle"] == "Morning Song"
    assert found["line"] == [
        {"start": 1500, "value": "Engines hum"},
        {"start": 3250, "value": "Morning comes"},
    ]
    xml = ET.fromstring(raw(world, "getLyricsBySongId", id=sid).content)
    ns = "{http://subsonic.org/restapi}"
    lines = xml.findall(f"{ns}lyricsList/{ns}structuredLyrics/{ns}line")
    assert [(e.get("start"), e.text) for e in lines] == [("1500", "Engines hum"), ("3250", "Morning comes")]
    assert as_json(world, "getLyricsBySongId", id="tr-999999")["error"]["code"] == 70
    names = {e["name"] for e in as_json(world, "getOpenSubsonicExtensions")["openSubsonicExtensions"]}
    assert "songLyrics" in names

    song = as_json(world, "getSong", id=sid)["song"]
    with world["c"].sessions() as s:
        t = s.get(Track, track)
        assert t is not None and t.loudness_lufs is not None
        expected = round(replaygain_gain(t.loudness_lufs), 2)  # type: ignore[arg-type]
    assert song["replayGain"]["trackGain"] == expected
    assert 0 < song["replayGain"]["trackPeak"] <= 2 and "albumGain" in song["replayGain"]
