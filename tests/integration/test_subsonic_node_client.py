"""A new user's app, through a JavaScript client library: `subsonic-api` (npm, 3.3.x, a TypeScript Subsonic
and OpenSubsonic client for Node and browsers) drives the live server of `subsonic_world` from Node
(`tests/js/subsonic_tour.mjs`), on SQLite and PostgreSQL, signing in with the app password as token+salt
over GET and with the API key over form POST. What it changed (stars, rating, playlists, play queue, the
scrobble) is read back through the server with py-opensonic and the database, not from what Node printed;
the bytes it streamed are decoded with ffmpeg."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from libopensonic import Connection
from sqlalchemy import select

from cadenza.royalties.models import PlaybackEvent, PlaybackSession
from subsonic_world import by_key_fixture, world_fixture  # noqa: F401 (the fixtures)

JS_DIR = Path(__file__).resolve().parents[1] / "js"
TOUR = JS_DIR / "subsonic_tour.mjs"
TITLES = ["Morning Song", "Evening Waltz"]


def tour(world: dict, *args: str, out: Path | None = None) -> dict:
    """What `subsonic_tour.mjs` saw: its one JSON object. Node or the package missing fails loudly."""
    node = shutil.which("node")
    assert node, "node is missing: run scripts/setup.sh"
    package = JS_DIR / "node_modules" / "subsonic-api"
    assert package.is_dir(), "subsonic-api is missing: run scripts/setup.sh (npm ci in tests/js)"
    # --name=value: a key or password may start with "-", which parseArgs refuses as a separate value
    cmd = [node, str(TOUR), f"--url={world['url']}", *args, *([f"--out={out}"] if out else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def by_token(world: dict, *args: str, out: Path | None = None) -> dict:
    keys = world["keys"]
    return tour(world, f"--user={keys['username']}", f"--password={keys['app_password']}", *args, out=out)


def decoded_seconds(path: Path) -> float:
    """The length of the media in `path` once fully decoded (not the container's claim)."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is missing: run scripts/setup.sh"
    proc = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", "8000", "-"],
        capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0 and not proc.stderr, proc.stderr.decode()
    return len(proc.stdout) / 2 / 8000


def assert_the_catalog_seen(seen: dict, world: dict) -> None:
    songs = [f"tr-{t}" for t in world["tracks"]]
    assert seen["errors"] == [], seen["errors"]
    assert seen["ping"] == {"status": "ok", "version": "1.16.1", "type": "cadenza", "openSubsonic": True}
    assert seen["license"] is True
    assert {"apiKeyAuthentication", "formPost"} <= set(seen["extensions"])
    assert seen["user"] == {"username": "fan@example.org", "streamRole": True}
    assert [a["name"] for a in seen["artists"]] == ["Ada Lovelace"]
    lists = ["newest", "alphabeticalByName", "random", "byYear", "byGenre"]
    assert seen["albumLists"] == {kind: ["Engines"] for kind in lists}
    album = seen["album"]
    assert (album["name"], album["artist"], album["songCount"]) == ("Engines", "Ada Lovelace", 2)
    assert album["created"] is True  # the library revived it into a valid Date
    assert [(s["title"], s["track"], s["id"]) for s in album["songs"]] == [
        ("Morning Song", 1, songs[0]),
        ("Evening Waltz", 2, songs[1]),
    ]
    assert all(5 <= s["duration"] <= 7 for s in album["songs"]) and 10 <= album["duration"] <= 14
    song = {"id": songs[0], "title": "Morning Song", "album": "Engines", "albumId": album["id"]}
    assert seen["song"] == song
    # the sync reached every song, album and artist exactly once
    assert sorted(seen["sync"]["song"]) == sorted(songs)
    assert seen["sync"]["album"] == [album["id"]] and seen["sync"]["artist"] == [seen["artists"][0]["id"]]
    assert seen["search"] == {"songs": ["Evening Waltz"], "albums": []}
    # a method Cadenza leaves out is error 70 in JSON, the format asked in the query or the form body
    unknown = {"code": 70, "message": "unknown method 'getUsers.view'"}
    assert seen["getUsers"] == {"status": "failed", "error": unknown}


def assert_the_changes_made(seen: dict, world: dict, by_key: Connection, name: str) -> None:
    """What the tour changed, as the server now tells it (py-opensonic with the API key)."""
    first, second = (f"tr-{t}" for t in world["tracks"])
    assert seen["starredAlbums"] == ["Engines"] and seen["rated"] == {"userRating": 4, "starred": True}
    starred = by_key.get_starred2()
    assert [s.id for s in starred.song] == [first]
    assert [a.name for a in starred.album] == ["Engines"]
    assert [a.name for a in starred.artist] == ["Ada Lovelace"]
    assert by_key.get_song(first).user_rating == 4 and by_key.get_song(second).user_rating in (None, 0)

    assert seen["playlist"]["songs"] == TITLES and seen["playlist"]["songCount"] == 2
    assert seen["playlist"]["deleted"] is True and f"{name} (scratch)" in seen["playlist"]["listed"]
    assert f"{name} (scratch)" not in seen["playlist"]["after"]
    lists = {p.name: p for p in by_key.get_playlists()}
    assert name in lists and f"{name} (scratch)" not in lists
    assert [e.title for e in by_key.get_playlist(lists[name].id).entry] == TITLES

    # the library always sends c=subsonic-api: the queue names it as the device that saved it
    queue = {"songs": TITLES, "current": second, "position": 1234, "changedBy": "subsonic-api"}
    assert seen["playQueue"] == queue
    saved = by_key.get_play_queue()
    assert [e.id for e in saved.entry] == [first, second]
    assert (saved.current, saved.position) == (second, 1234)


def assert_streamed(seen: dict, world: dict, out: Path) -> None:
    """The streamable song's bytes decode to its length; the other is error 50 in JSON, not bytes."""
    first, second = seen["stream"]
    assert first["id"] == f"tr-{world['tracks'][0]}" and first["httpStatus"] == 200 and first["redirected"]
    assert first["contentType"] == "audio/mpeg" and first["bytes"] == out.stat().st_size > 0
    assert decoded_seconds(out) == pytest.approx(6.0, abs=0.2)
    assert second["httpStatus"] == 200 and "json" in second["contentType"] and second["error"]["code"] == 50
    assert seen["scrobble"] == "ok"
    with world["c"].sessions() as s:
        session_id = s.scalar(
            select(PlaybackSession.id)
            .where(PlaybackSession.track_id == world["tracks"][0])
            .order_by(PlaybackSession.started_at.desc())
            .limit(1)
        )
        kinds = s.scalars(select(PlaybackEvent.kind).where(PlaybackEvent.session_id == session_id)).all()
    assert "stop" in kinds  # the scrobble ended the session `stream` opened


def test_an_app_signed_in_with_token_and_salt_sees_and_changes_the_catalog(
    world: dict, by_key: Connection, tmp_path: Path
) -> None:
    out = tmp_path / "streamed"
    name = "Nöde tour & co + 100% ✓"  # parameter encoding: the library's URLSearchParams, in the query
    seen = by_token(world, f"--playlist={name}", "--page-size=1", out=out)
    assert seen["auth"] == "token+salt" and seen["post"] is False
    assert_the_catalog_seen(seen, world)
    assert seen["syncPages"] == 3  # pages of one: two songs, then the empty page that ends them
    assert_the_changes_made(seen, world, by_key, name)
    assert_streamed(seen, world, out)


def test_an_app_signed_in_with_an_api_key_over_form_post_does_the_same(
    world: dict, by_key: Connection, tmp_path: Path
) -> None:
    out = tmp_path / "streamed"
    name = "Nöde form & co + 100% ✓"  # in the form body
    seen = tour(world, f"--api-key={world['keys']['api_key']}", "--post", f"--playlist={name}", out=out)
    assert seen["auth"] == "apiKey" and seen["post"] is True
    assert seen["tokenInfo"] == {"username": "fan@example.org"}
    assert_the_catalog_seen(seen, world)
    assert seen["syncPages"] == 1  # one page of 500 holds the catalog
    assert_the_changes_made(seen, world, by_key, name)
    assert_streamed(seen, world, out)


def test_a_wrong_password_is_the_librarys_error_40_not_a_crash(world: dict) -> None:
    """The library resolves a failed answer (it does not throw): the app reads code 40 and stops there."""
    seen = tour(world, f"--user={world['keys']['username']}", "--password=not-the-app-password")
    assert seen["ping"]["status"] == "failed" and seen["ping"]["error"]["code"] == 40
    assert "user" not in seen and "stream" not in seen
    unknown_key = tour(world, "--api-key=not-a-key", "--post")
    assert unknown_key["ping"]["status"] == "failed" and unknown_key["ping"]["error"]["code"] == 44
