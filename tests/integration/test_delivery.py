"""Delivery through the real HTTP stack: rights → signed URLs → HLS and progressive bytes."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import m3u8
import pytest
from sqlalchemy import Engine

from audio import make_audio
from cadenza.bootstrap import App, build_collaborators
from cadenza.cache import RefreshAhead
from cadenza.catalog.models import Track
from cadenza.db.base import utcnow
from cadenza.db.engine import transaction
from cadenza.ingest.service import accept_upload
from cadenza.rights import service as rights
from cadenza.web.app import create_app
from conftest import InlineRunner, create_user, make_settings
from livesrv import serve

DE, FR = "203.0.113.7", "198.51.100.9"


@pytest.fixture(scope="module")
def world(db: tuple[Engine, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A running server with one ready 20 s track (FLAC source), a listener and a hi-fi listener."""
    tmp = tmp_path_factory.mktemp("delivery")
    settings = make_settings(
        tmp / "data",
        db[1],
        signing={"start_ttl_sec": 3},
        delivery={
            "trusted_proxies": ["127.0.0.1/32"],
            "geo_overrides": {"127.0.0.1/32": "DE", "203.0.113.0/24": "DE", "198.51.100.0/24": "FR"},
        },
    )
    c = build_collaborators(settings, engine=db[0], run_migrations=False)
    source = make_audio(tmp / "song.flac", duration=20, seed=71)
    track = accept_upload(c, InlineRunner(c), path=source, filename="song.flac")
    other = accept_upload(
        c, InlineRunner(c), path=make_audio(tmp / "b.flac", duration=5, seed=72), filename="b.flac"
    )
    listener = create_user(c.sessions, email="fan@example.org")
    hifi = create_user(c.sessions, email="audiophile@example.org", tier="hifi")
    admin = create_user(c.sessions, email="label@example.org", role="admin")
    state = App(c=c, runner=InlineRunner(c))
    with serve(create_app(settings, wired=state)) as url:
        yield {
            "url": url,
            "c": c,
            "state": state,
            "track": track.id,
            "other": other.id,
            "fan": listener,
            "hifi": hifi,
            "admin": admin,
        }


def _set_rights(
    world: dict, track_id: int, *grants: tuple[str, str | None, timedelta | None], forget: bool = True
) -> None:
    """Rewrite a track's rights in the database directly (as another process would) and forget the
    server's cached copy, which would otherwise notice within its TTL."""
    from sqlalchemy import delete

    c = world["c"]
    from cadenza.rights.models import TrackRight

    with transaction(c.sessions) as s:
        s.execute(delete(TrackRight).where(TrackRight.track_id == track_id))
        holder = rights.get_or_create_holder(s, name="Label")
        for kind, territory, ttl in grants:
            expires = utcnow() + ttl if ttl is not None else None
            rights.grant(
                s,
                track_id=track_id,
                right_type=kind,
                territory=territory,
                holder_id=holder.id,
                expires_at=expires,
            )
    if forget:
        world["state"].track_media.clear()


def _stream(
    world: dict, *, token: str | None = None, ip: str | None = None, track: int | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or world['fan']}"}
    if ip:
        headers["X-Forwarded-For"] = ip
    return httpx.get(f"{world['url']}/api/tracks/{track or world['track']}/stream", headers=headers)


def test_rights_changed_by_another_process_apply_within_the_cache_ttl(world: dict) -> None:
    """The stream path reads rights from a refresh-ahead cache: a hot track is renewed in the background,
    and a revoke written by another process (no cache drop here) takes effect within the TTL."""
    state = world["state"]
    hot = state.track_media
    state.track_media = RefreshAhead(maxsize=100, ttl=1.0, load=state._load_track_media, name="test")
    try:
        _set_rights(world, world["track"], ("stream", None, None))
        assert _stream(world, ip=DE).status_code == 200
        _set_rights(world, world["track"], ("stream", "FR", None), forget=False)
        revoked = time.monotonic()
        statuses = []
        while time.monotonic() - revoked < 3:
            statuses.append(_stream(world, ip=DE).status_code)
            if statuses[-1] == 451:
                break
            time.sleep(0.02)
        assert statuses[-1] == 451, statuses
        assert time.monotonic() - revoked < 1.0 + 0.5  # the TTL, plus one reload
        assert set(statuses) <= {200, 451}
    finally:
        state.track_media.close()
        state.track_media = hot
        hot.clear()


@pytest.mark.parametrize(
    ("grants", "ip", "status"),
    [
        ([("stream", None, None)], DE, 200),
        ([("stream", "DE", None)], DE, 200),
        ([("stream", "FR", None)], DE, 451),
        ([("stream", "DE", None)], FR, 451),
        ([("stream", None, timedelta(hours=-1))], DE, 451),
        ([("stream", "DE", timedelta(hours=1))], DE, 200),
        ([("download", None, None)], DE, 451),
        ([], DE, 451),
    ],
    ids=[
        "worldwide",
        "exact",
        "other-territory",
        "from-other-country",
        "expired",
        "not-yet-expired",
        "download-only",
        "none",
    ],
)
def test_rights_matrix(world: dict, grants: list, ip: str, status: int) -> None:
    _set_rights(world, world["track"], *grants)
    resp = _stream(world, ip=ip)
    assert resp.status_code == status, resp.text
    if status == 451:
        assert resp.json()["error"] == "not_available"


def test_download_right_and_tier_decide_the_progressive_files(world: dict) -> None:
    _set_rights(world, world["track"], ("stream", None, None))
    body = _stream(world).json()
    assert body["mp3_url"] is None and body["flac_url"] is None and body["hls_url"]
    _set_rights(world, world["track"], ("stream", None, None), ("download", "DE", None))
    body = _stream(world).json()
    assert body["mp3_url"] and body["flac_url"] is None
    assert body["territory"] == "DE" and body["session_id"]
    assert _stream(world, ip=FR).json()["mp3_url"] is None
    hifi = _stream(world, token=world["hifi"]).json()
    assert hifi["flac_url"] and hifi["flac_url"].endswith("hifi.flac")


def test_stream_needs_a_user_and_a_ready_track(world: dict) -> None:
    assert httpx.get(f"{world['url']}/api/tracks/{world['track']}/stream").status_code == 401
    bad = httpx.get(
        f"{world['url']}/api/tracks/{world['track']}/stream", headers={"Authorization": "Bearer nope"}
    )
    assert bad.status_code == 401
    assert _stream(world, track=987654).status_code == 404
    assert _stream(world, track=2**63 - 1).status_code == 404


@pytest.mark.parametrize(
    "bad_id", ["0", "-1", "abc", "1.5", "9223372036854775808", "99999999999999999999", "١٢"]
)
def test_stream_refuses_a_malformed_track_id_with_a_reason(world: dict, bad_id: str) -> None:
    r = httpx.get(
        f"{world['url']}/api/tracks/{bad_id}/stream", headers={"Authorization": f"Bearer {world['fan']}"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_input" and "track_id" in r.json()["reason"]


def test_ffmpeg_plays_the_signed_master_over_http(world: dict, tmp_path: Path) -> None:
    _set_rights(world, world["track"], ("stream", None, None))
    grant = _stream(world).json()
    url = world["url"] + grant["hls_url"]
    proc = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-i",
            url,
            "-map",
            "0:a",
            "-f",
            "null",
            "-",
            "-map",
            "0:a:0",
            str(tmp_path / "out.wav"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            str(tmp_path / "out.wav"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert abs(float(probe.stdout) - 20) < 0.2


def test_playback_outlives_the_start_token_but_a_copied_master_url_does_not(world: dict) -> None:
    _set_rights(world, world["track"], ("stream", None, None))
    grant = _stream(world).json()
    master = httpx.get(world["url"] + grant["hls_url"])
    assert master.status_code == 200
    assert master.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert master.headers["cache-control"].startswith("private")
    variant_path = m3u8.loads(master.text).playlists[0].uri
    time.sleep(3.5)  # the 3 s start token is now dead
    assert httpx.get(world["url"] + grant["hls_url"]).status_code == 403
    variant = httpx.get(world["url"] + variant_path)
    assert variant.status_code == 200, variant.text
    assert variant.headers["cache-control"] == "public, max-age=10"
    playlist = m3u8.loads(variant.text, uri=world["url"] + variant_path)
    base = variant_path.rsplit("/", 1)[0]
    init = httpx.get(f"{world['url']}{base}/{playlist.segment_map[0].uri}")
    assert init.status_code == 200 and init.headers["content-type"] == "audio/mp4"
    segment = httpx.get(f"{world['url']}{base}/{playlist.segments[-1].uri}")
    assert segment.status_code == 200
    assert segment.headers["cache-control"] == "public, max-age=31536000, immutable"
    # the same URL from another address is refused: tokens are bound to the client
    moved = httpx.get(f"{world['url']}{base}/{playlist.segments[0].uri}", headers={"X-Forwarded-For": FR})
    assert moved.status_code == 403


def test_a_token_for_one_track_never_opens_another(world: dict) -> None:
    _set_rights(world, world["track"], ("stream", None, None))
    grant = _stream(world).json()
    master = httpx.get(world["url"] + grant["hls_url"])
    variant_path = m3u8.loads(master.text).playlists[0].uri
    token = variant_path.split("/")[2]
    with world["c"].sessions() as s:
        other = s.get(Track, world["other"])
        assert other is not None and other.media_prefix
        key = f"{other.media_prefix}/hls/aac_128/index.m3u8"
    assert httpx.get(f"{world['url']}/media/{token}/{key}").status_code == 403


@pytest.mark.parametrize(
    "suffix",
    ["../../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "..%2f..%2fetc%2fpasswd", "/etc/passwd", "a/../../b"],
)
def test_traversal_attempts_are_refused(world: dict, suffix: str) -> None:
    _set_rights(world, world["track"], ("stream", None, None))
    token = _stream(world).json()["hls_url"].split("/")[2]
    resp = httpx.get(f"{world['url']}/media/{token}/{suffix}")
    assert resp.status_code in {403, 404}
    assert "root:" not in resp.text


def test_progressive_download_speaks_http_ranges(world: dict) -> None:
    _set_rights(world, world["track"], ("stream", None, None), ("download", None, None))
    url = world["url"] + _stream(world).json()["mp3_url"]
    full = httpx.get(url)
    assert full.status_code == 200 and full.headers["content-type"] == "audio/mpeg"
    assert full.headers["accept-ranges"] == "bytes"
    size, data = len(full.content), full.content
    etag, modified = full.headers["etag"], full.headers["last-modified"]
    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    assert httpx.get(url, headers={"Range": "bytes=-500"}).content == data[-500:]
    assert httpx.get(url, headers={"Range": f"bytes={size - 10}-"}).content == data[-10:]
    multi = httpx.get(url, headers={"Range": "bytes=0-9,1000-1009"})
    assert multi.status_code == 206 and multi.headers["content-type"].startswith("multipart/byteranges")
    assert data[:10] in multi.content and data[1000:1010] in multi.content
    nope = httpx.get(url, headers={"Range": f"bytes={size + 10}-"})
    assert nope.status_code == 416 and nope.headers["content-range"] == f"bytes */{size}"
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert httpx.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    stale = httpx.get(url, headers={"Range": "bytes=0-9", "If-Range": '"changed"'})
    assert stale.status_code == 200 and len(stale.content) == size
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) == size


def test_origin_answers_only_with_the_secret(world: dict) -> None:
    with world["c"].sessions() as s:
        track = s.get(Track, world["track"])
        assert track is not None
        key = f"{track.media_prefix}/waveform.json"
    assert httpx.get(f"{world['url']}/origin/{key}").status_code == 403
    secret = world["c"].settings.origin_secret()
    resp = httpx.get(f"{world['url']}/origin/{key}", headers={"X-Cadenza-Origin": secret})
    assert resp.status_code == 200 and resp.json()["version"] == 2
    missing = httpx.get(f"{world['url']}/origin/tracks/1/none.json", headers={"X-Cadenza-Origin": secret})
    assert missing.status_code == 404


def test_symlink_out_of_the_store_is_not_followed(world: dict, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("root:x:0:0")
    root = world["c"].settings.storage.local_root
    (root / "tracks" / "evil").mkdir(parents=True, exist_ok=True)
    link = root / "tracks" / "evil" / "link.mp3"
    link.unlink(missing_ok=True)
    link.symlink_to(secret_file)
    origin_secret = world["c"].settings.origin_secret()
    resp = httpx.get(
        f"{world['url']}/origin/tracks/evil/link.mp3", headers={"X-Cadenza-Origin": origin_secret}
    )
    assert resp.status_code == 404 and "root:" not in resp.text
    link.unlink()


def test_rights_granted_and_revoked_through_the_api_apply_at_once(world: dict) -> None:
    _set_rights(world, world["track"])
    admin = {"Authorization": f"Bearer {world['admin']}"}
    assert _stream(world).status_code == 451  # and the server now caches "no rights"
    made = httpx.post(
        f"{world['url']}/api/tracks/{world['track']}/rights",
        json={"right_type": "stream", "territory": "DE", "holder": "Label", "share_pct": "50"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    assert made.json()["territory"] == "DE" and made.json()["share_pct"] == "50.00"
    assert _stream(world).status_code == 200
    listed = httpx.get(f"{world['url']}/api/tracks/{world['track']}/rights", headers=admin).json()
    assert [r["id"] for r in listed] == [made.json()["id"]]
    gone = httpx.delete(f"{world['url']}/api/rights/{made.json()['id']}", headers=admin)
    assert gone.status_code == 204
    assert _stream(world).status_code == 451
    bad = httpx.post(
        f"{world['url']}/api/tracks/{world['track']}/rights",
        json={"right_type": "stream", "territory": "Germany", "holder": "Label"},
        headers=admin,
    )
    assert bad.status_code == 422 and "ISO 3166" in bad.json()["reason"]
    fan = {"Authorization": f"Bearer {world['fan']}"}
    assert httpx.get(f"{world['url']}/api/tracks/{world['track']}/rights", headers=fan).status_code == 403


def test_a_stream_opens_a_playback_session_with_a_start_event(world: dict) -> None:
    from sqlalchemy import select

    from cadenza.royalties.models import PlaybackEvent, PlaybackSession

    _set_rights(world, world["track"], ("stream", None, None))
    grant = _stream(world, ip=FR).json()
    world["state"].recorder.flush()
    with world["c"].sessions() as s:
        session = s.get(PlaybackSession, grant["session_id"])
        assert session is not None and session.track_id == world["track"] and session.territory == "FR"
        kinds = s.scalars(select(PlaybackEvent.kind).where(PlaybackEvent.session_id == grant["session_id"]))
        assert list(kinds) == ["start"]


def test_download_redirects_to_a_signed_file_for_those_allowed(world: dict) -> None:
    _set_rights(world, world["track"], ("stream", None, None), ("download", "DE", None))
    url = f"{world['url']}/api/tracks/{world['track']}/download"
    fan = {"Authorization": f"Bearer {world['fan']}"}
    resp = httpx.get(url, headers=fan)
    assert resp.status_code == 307 and resp.headers["location"].startswith("/media/")
    mp3 = httpx.get(world["url"] + resp.headers["location"])
    assert (
        mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg" and len(mp3.content) > 10_000
    )
    assert (
        httpx.get(url, headers={**fan, "X-Forwarded-For": FR}).status_code == 451
    )  # no download right in FR
    assert httpx.get(f"{url}?quality=flac", headers=fan).status_code == 403  # not hi-fi
    hifi = httpx.get(f"{url}?quality=flac", headers={"Authorization": f"Bearer {world['hifi']}"})
    assert hifi.status_code == 307
    assert httpx.get(world["url"] + hifi.headers["location"]).content[:4] == b"fLaC"
    assert httpx.get(f"{url}?quality=wav", headers=fan).status_code == 422


def test_media_and_api_are_readable_from_another_origin(world: dict) -> None:
    """The embedded server (Python moving the bytes) sends the same CORS headers as the nginx edge."""
    _set_rights(world, world["track"], ("stream", None, None), ("download", None, None))
    page = "https://player.example.net"
    pre = httpx.options(
        f"{world['url']}/api/tracks/{world['track']}/stream",
        headers={
            "Origin": page,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] in ("*", page)
    grant = _stream(world).json()
    for url in (grant["hls_url"], grant["mp3_url"], grant["waveform_url"]):
        r = httpx.get(world["url"] + url, headers={"Origin": page, "Range": "bytes=0-9"})
        assert r.status_code in (200, 206), (url, r.status_code)
        assert r.headers["access-control-allow-origin"] == "*"
    assert "content-range" in r.headers["access-control-expose-headers"].lower()
    denied = httpx.get(world["url"] + grant["mp3_url"].replace("~0~", "~1~"), headers={"Origin": page})
    assert denied.status_code == 403 and denied.headers["access-control-allow-origin"] == "*"


def test_stream_answers_503_when_playback_cannot_be_recorded(world: dict) -> None:
    """A stream that cannot be accounted for is not started: 503 with Retry-After, not a hang or a 500."""
    from cadenza.royalties.recorder import SessionRecorder

    _set_rights(world, world["track"], ("stream", None, None))
    state = world["state"]
    working = state.recorder
    state.recorder = SessionRecorder(state.c.sessions, interval=3600, max_pending=0)
    try:
        r = _stream(world)
    finally:
        state.recorder = working
    assert r.status_code == 503 and r.headers["retry-after"].isdigit()
    assert r.json()["error"] == "unavailable" and "try again" in r.json()["reason"]
    assert _stream(world).status_code == 200
