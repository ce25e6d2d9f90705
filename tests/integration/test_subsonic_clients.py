"""What a new user's app does first, through three client libraries against a live server, on SQLite and
PostgreSQL: py-opensonic (sync, with an API key), py-opensonic's AsyncConnection (async, with the app
password as token+salt) and py-sonic (`libsonic`, the older library behind many scripts and plugins,
token+salt). Each signs in, then makes the start-up calls of Symfonium, DSub, Feishin, Supersonic and
Amperfy (scan status, folders, artists, genres, radio, podcasts, shares, bookmarks, playlists, starred,
album lists, a full sync with an empty search, artist info, top and similar songs, now playing): every
one must succeed and show the catalog's real data."""

from __future__ import annotations

import asyncio

from libopensonic import Connection
from libopensonic._async.connection import AsyncConnection
from libsonic import Connection as LegacyConnection

from subsonic_world import by_key_fixture, world_fixture  # noqa: F401 (the fixtures)

TITLES = {"Morning Song", "Evening Waltz"}


def test_py_opensonic_sync_start_up(by_key: Connection, world: dict) -> None:
    assert by_key.ping() and by_key.get_license()["license"]["valid"] is True  # the raw answer
    assert by_key.get_scan_status().count == 2
    # (get_music_folders is left out: py-opensonic 10.4 iterates over the keys of the spec's
    # {"musicFolders": {"musicFolder": [...]}} and fails on every server that follows the spec)
    artists = by_key.get_artists()
    ada = next(a for i in artists.index for a in i.artist if a.name == "Ada Lovelace")
    assert {g.value for g in by_key.get_genres()} == {"Ambient"}
    assert by_key.get_internet_radio_stations() == [] and by_key.get_podcasts() == []
    assert by_key.get_shares() == [] and by_key.get_bookmarks() == []
    assert by_key.get_playlists() is not None and by_key.get_starred2() is not None
    assert [a.name for a in by_key.get_album_list2("newest")] == ["Engines"]
    synced = by_key.search3("", artist_count=500, album_count=500, song_count=500)
    assert {s.title for s in synced.song} == TITLES and [a.name for a in synced.album] == ["Engines"]
    assert by_key.get_artist_info2(ada.id) is not None
    assert {s.title for s in by_key.get_top_songs("Ada Lovelace")} == TITLES
    assert {s.title for s in by_key.get_similar_songs2(ada.id)} == TITLES
    assert by_key.get_now_playing() is not None and by_key.get_play_queue().entry in (None, [])


def test_py_opensonic_async_start_up(world: dict) -> None:
    host, port = world["url"].rsplit(":", 1)

    async def tour() -> dict:
        conn = AsyncConnection(
            host, port=int(port), username=world["keys"]["username"], password=world["keys"]["app_password"],
            app_name="tests-async",
        )  # fmt: skip
        try:
            assert await conn.ping()
            user = await conn.get_user(world["keys"]["username"])
            artists = await conn.get_artists()
            album = (await conn.get_album_list2("alphabeticalByName"))[0]
            full = await conn.get_album(album.id)
            found = await conn.search3("waltz")
            radio = await conn.get_internet_radio_stations()
            return {
                "user": user.username, "artists": [a.name for i in artists.index for a in i.artist],
                "songs": [s.title for s in full.song], "found": [s.title for s in found.song], "radio": radio,
            }  # fmt: skip
        finally:
            await conn.cleanup()

    seen = asyncio.run(tour())
    assert seen["user"] == "fan@example.org" and seen["artists"] == ["Ada Lovelace"]
    assert seen["songs"] == ["Morning Song", "Evening Waltz"] and seen["found"] == ["Evening Waltz"]
    assert seen["radio"] == []


def test_py_sonic_start_up(world: dict) -> None:
    host, port = world["url"].rsplit(":", 1)
    conn = LegacyConnection(
        host, username=world["keys"]["username"], password=world["keys"]["app_password"], port=int(port),
        appName="tests-libsonic",
    )  # fmt: skip
    assert conn.ping() is True
    assert conn.getLicense()["license"]["valid"] is True
    assert conn.getScanStatus()["scanStatus"]["scanning"] is False
    index = conn.getIndexes()["indexes"]["index"]
    assert index[0]["artist"][0]["name"] == "Ada Lovelace"
    albums = conn.getAlbumList2("newest")["albumList2"]["album"]
    assert [a["name"] for a in albums] == ["Engines"]
    songs = conn.getAlbum(albums[0]["id"])["album"]["song"]
    assert {s["title"] for s in songs} == TITLES
    synced = conn.search3("", artistCount=500, albumCount=500, songCount=500)["searchResult3"]
    assert {s["title"] for s in synced["song"]} == TITLES
    assert conn.getInternetRadioStations()["status"] == "ok" and conn.getPodcasts()["status"] == "ok"
    assert conn.getBookmarks()["status"] == "ok" and conn.getStarred()["status"] == "ok"
    top = conn.getTopSongs("Ada Lovelace")["topSongs"]["song"]
    assert {s["title"] for s in top} == TITLES
