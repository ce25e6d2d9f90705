"""A protected track outside the web player, on SQLite and PostgreSQL: a Subsonic app (py-opensonic, the
client library the Subsonic suite uses) still sees it listed but is refused its stream and download with
error 50 and a message naming the web player (never the encrypted bytes, never a 5xx); the REST API
hands out no clear file of it (no `mp3_url`/`flac_url`, download 403), also in the window between the
administrator's decision and `cadenza repackage`."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import httpx
import pytest
from libopensonic import Connection, errors
from sqlalchemy import func, select

from audio import make_audio
from cadenza.catalog.service import TrackMetadata
from cadenza.ingest import repackage
from cadenza.ingest.service import accept_upload
from cadenza.royalties.models import PlaybackSession
from conftest import InlineRunner, create_user
from subsonic_world import _grant, as_json, by_key_fixture, raw, world_fixture  # noqa: F401 (the fixtures)

PROTECTED_MESSAGE = "play it in Cadenza's web player"


@pytest.fixture(scope="module")
def vault(world: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two more tracks, each with worldwide stream and download rights, protected by an administrator
    through the API: `locked` repackaged (encrypted only), `pending` not yet (its clear MP3 still stored).
    `world["tracks"][0]` (stream and download in DE) stays clear."""
    c, tmp = world["c"], tmp_path_factory.mktemp("vault")
    made = {}
    for n, name in enumerate(["locked", "pending"], start=1):
        meta = TrackMetadata(
            title=f"Vault {name}", artists=["Ada Lovelace"], release_title="Vault",
            release_date=date(2025, 1, 1), genre="Ambient", track_number=n,
        )  # fmt: skip
        source = make_audio(tmp / f"{name}.flac", duration=6, seed=90 + n)
        made[name] = accept_upload(
            c, InlineRunner(c), path=source, filename=f"{name}.flac", overrides=meta
        ).id
        _grant(c, made[name], "stream", "download")
    admin = create_user(c.sessions, email="label@example.org", role="admin")
    state = world["app"].state.cadenza
    for tid in made.values():
        # a grant read before the decision: the policy must reach the cached delivery facts at once
        assert _rest_grant(world, tid)["mp3_url"] is not None
        r = httpx.put(
            f"{world['url']}/api/tracks/{tid}/protection",
            json={"protected": True},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert r.status_code == 200 and r.json()["protected"] is True, r.text
    assert repackage.repackage_track(c, track_id=made["locked"]).action == "copied"
    state.track_media.drop(made["locked"])  # repackaging runs in this process, outside the API
    return {**world, **made, "clear": world["tracks"][0], "admin": admin, "state": state}


def _rest_grant(world: dict, track_id: int) -> dict:
    r = httpx.get(f"{world['url']}/api/tracks/{track_id}/stream", headers=_auth(world["fan"]))
    assert r.status_code == 200, r.text
    return r.json()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _sessions_of(world: dict, track_id: int) -> int:
    world["state"].recorder.flush()
    with world["c"].sessions() as s:
        return int(
            s.scalar(
                select(func.count()).select_from(PlaybackSession).where(PlaybackSession.track_id == track_id)
            )
            or 0
        )


@pytest.mark.parametrize("which", ["locked", "pending"])
def test_a_subsonic_app_is_told_a_protected_track_needs_the_web_player(
    by_key: Connection, vault: dict, which: str
) -> None:
    sid = f"tr-{vault[which]}"
    sessions_before = _sessions_of(vault, vault[which])
    for call in (
        lambda: by_key.stream(sid),
        lambda: by_key.stream(sid, tformat="raw"),
        lambda: by_key.stream(sid, max_bit_rate=128),
        lambda: by_key.download(sid),
    ):
        with pytest.raises(errors.AuthError, match=PROTECTED_MESSAGE):  # code 50
            call()
    for method in ("stream", "download"):
        body = as_json(vault, method, id=sid)  # HTTP 200 with the Subsonic error, not a redirect
        assert body["status"] == "failed" and body["error"]["code"] == 50
        assert "protected" in body["error"]["message"]
        xml = raw(vault, method, id=sid)
        assert "location" not in xml.headers and xml.headers["content-type"].startswith("application/xml")
        assert b'code="50"' in xml.content and b"web player" in xml.content
    assert _sessions_of(vault, vault[which]) == sessions_before  # a refused stream opens no session


def test_a_protected_track_is_still_listed_for_subsonic_apps(by_key: Connection, vault: dict) -> None:
    song = by_key.get_song(f"tr-{vault['locked']}")
    assert song.title == "Vault locked"
    found = {s.title for s in by_key.search3("vault").song}
    assert found == {"Vault locked", "Vault pending"}
    album = by_key.get_album(song.album_id)
    assert [s.title for s in album.song] == ["Vault locked", "Vault pending"]


def test_a_clear_track_still_streams_and_downloads_for_subsonic_apps(
    by_key: Connection, vault: dict, tmp_path: Path
) -> None:
    sid = f"tr-{vault['clear']}"
    for resp in (by_key.stream(sid), by_key.download(sid)):
        data = asyncio.run_coroutine_threadsafe(resp.read(), by_key._loop).result()
        assert resp.status == 200 and data[:3] in (b"ID3", b"\xff\xfb")  # an MP3


def test_the_rest_api_hands_out_no_clear_file_of_a_protected_track(vault: dict) -> None:
    url = vault["url"]
    locked, pending, clear = (_rest_grant(vault, vault[k]) for k in ("locked", "pending", "clear"))
    # encrypted: no progressive file at all; played through the licence
    assert locked["mp3_url"] is None and locked["flac_url"] is None and locked["licence_url"]
    # protected, not repackaged yet: the clear HLS/DASH still plays, but no clear file is handed out
    assert pending["mp3_url"] is None and pending["flac_url"] is None and pending["licence_url"] is None
    assert pending["hls_url"] and pending["dash_url"]
    assert clear["mp3_url"] is not None  # the control: a download right gives the MP3
    for which in ("locked", "pending"):
        for quality in ("mp3_320", "flac"):
            r = httpx.get(
                f"{url}/api/tracks/{vault[which]}/download",
                params={"quality": quality},
                headers=_auth(vault["fan"]),
            )
            assert r.status_code == 403, (which, quality, r.text)
            assert "protected" in r.json()["reason"] and "web player" in r.json()["reason"]
            assert "location" not in r.headers
    r = httpx.get(f"{url}/api/tracks/{vault['clear']}/download", headers=_auth(vault["fan"]))
    assert r.status_code == 307 and httpx.get(url + r.headers["location"]).content[:3] in (
        b"ID3",
        b"\xff\xfb",
    )


def test_unprotecting_a_pending_track_gives_its_download_back_at_once(vault: dict) -> None:
    put = f"{vault['url']}/api/tracks/{vault['pending']}/protection"
    try:
        r = httpx.put(put, json={"protected": False}, headers=_auth(vault["admin"]))
        assert r.status_code == 200 and r.json()["protected"] is False
        assert _rest_grant(vault, vault["pending"])["mp3_url"] is not None  # the cache entry was dropped
    finally:
        r = httpx.put(put, json={"protected": True}, headers=_auth(vault["admin"]))
        assert r.status_code == 200
    assert _rest_grant(vault, vault["pending"])["mp3_url"] is None
