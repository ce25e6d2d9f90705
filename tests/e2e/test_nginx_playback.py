"""A real ingested track played by ffmpeg through nginx: Python signs and rewrites the master, the edge
checks every other request in njs and serves it (from the local store, then through the shield)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from audio import make_audio
from cadenza.bootstrap import App, build_collaborators
from cadenza.db.engine import make_engine, transaction
from cadenza.ingest.service import accept_upload
from cadenza.rights import service as rights
from cadenza.web.app import create_app
from conftest import InlineRunner, create_user, make_settings
from e2e import nginx_fixture
from e2e.nginx_fixture import start_nginx
from livesrv import serve

if reason := nginx_fixture.missing():
    pytest.skip(reason, allow_module_level=True)

KEYS = {"edge1": "edge-playback-secret"}
ORIGIN = "edge-playback-origin"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("playback")
    data = tmp / "data"
    url = f"sqlite:///{data / 'cadenza.db'}"
    settings = make_settings(
        data,
        url,
        signing={"keys": KEYS, "active_key": "edge1"},
        delivery={"origin_secret": ORIGIN, "trusted_proxies": ["127.0.0.1/32"]},
    )
    c = build_collaborators(settings, engine=make_engine(url))
    track = accept_upload(
        c, InlineRunner(c), path=make_audio(tmp / "t.flac", duration=15, seed=33), filename="t.flac"
    )
    with transaction(c.sessions) as s:
        rights.grant(s, track_id=track.id, right_type="stream")
        rights.grant(s, track_id=track.id, right_type="download")
    token = create_user(c.sessions, email="edge@example.org")
    with serve(create_app(settings, wired=App(c=c, runner=InlineRunner(c)))) as app_url:
        edges = {
            "disk": start_nginx(tmp / "disk", upstream=app_url, keys=KEYS, origin_secret=ORIGIN,
                                media_root=settings.storage.local_root),
            "shield": start_nginx(tmp / "shield", upstream=app_url, keys=KEYS, origin_secret=ORIGIN),
        }  # fmt: skip
        try:
            yield {"edges": edges, "track": track.id, "token": token, "settings": settings}
        finally:
            for edge in edges.values():
                edge.stop()


@pytest.mark.parametrize("source", ["disk", "shield"])
def test_ffmpeg_plays_a_track_through_the_edge(site: dict, source: str, tmp_path: Path) -> None:
    edge = site["edges"][source]
    grant = httpx.get(
        f"{edge.url}/api/tracks/{site['track']}/stream", headers={"Authorization": f"Bearer {site['token']}"}
    )
    assert grant.status_code == 200, grant.text
    out = tmp_path / "out.wav"
    proc = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", edge.url + grant.json()["hls_url"],
         "-map", "0:a", "-f", "null", "-", "-map", "0:a:0", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    seconds = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(out)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert abs(float(seconds) - 15) < 0.2
    media = [
        line for line in edge.access_log().splitlines() if "GET /media/" in line and "master.m3u8" not in line
    ]
    assert media and all(('" 200 ' in line or '" 206 ' in line) for line in media)  # all let through
    # where the bytes came from: nginx's own read of the store, or the shield in front of the origin
    caches = {line.split("cache=")[1].split()[0] for line in media}
    assert caches == {"-"} if source == "disk" else caches <= {"MISS", "HIT", "EXPIRED"} and "MISS" in caches


@pytest.mark.parametrize("source", ["disk", "shield"])
def test_a_download_authorized_by_python_is_moved_by_nginx(site: dict, source: str) -> None:
    edge, settings = site["edges"][source], site["settings"]
    settings.delivery.mode = "x-accel"
    try:
        resp = httpx.get(
            f"{edge.url}/api/tracks/{site['track']}/download",
            headers={"Authorization": f"Bearer {site['token']}", "Range": "bytes=0-2"},
        )
    finally:
        settings.delivery.mode = "direct"
    assert resp.status_code == 206, resp.text
    assert len(resp.content) == 3 and (
        resp.content == b"ID3" or resp.content[0] == 0xFF
    )  # an MP3's first bytes
    assert resp.headers["content-disposition"] == f'attachment; filename="track-{site["track"]}.mp3"'
    assert resp.headers["cache-control"] == "private, no-store"


@pytest.mark.parametrize("source", ["disk", "shield"])
def test_a_page_on_another_origin_can_play_through_the_edge(site: dict, source: str) -> None:
    """CORS, as hls.js on another host needs it: the API answers preflights, and every media response
    (Python's master playlist, nginx's own reads, the shield's, a refusal) lets the page read it."""
    import m3u8

    edge, page = site["edges"][source], "https://player.example.net"
    api = f"{edge.url}/api/tracks/{site['track']}/stream"
    pre = httpx.options(
        api,
        headers={
            "Origin": page,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert pre.status_code == 200, pre.text
    assert pre.headers["access-control-allow-origin"] in ("*", page)
    assert "authorization" in pre.headers["access-control-allow-headers"].lower()
    grant = httpx.get(api, headers={"Authorization": f"Bearer {site['token']}", "Origin": page})
    assert grant.status_code == 200 and grant.headers["access-control-allow-origin"] == "*"

    def fetch(url: str) -> httpx.Response:
        r = httpx.get(url, headers={"Origin": page})
        assert r.headers.get("access-control-allow-origin") == "*", (url, r.status_code, r.headers)
        return r

    master_url = edge.url + grant.json()["hls_url"]
    master = fetch(master_url)
    variant_url = str(httpx.URL(master_url).join(m3u8.loads(master.text).playlists[0].uri))
    variant = m3u8.loads(fetch(variant_url).text)
    segment = fetch(str(httpx.URL(variant_url).join(variant.segments[0].uri)))
    assert segment.status_code == 200 and len(segment.content) > 1000
    assert "content-range" in segment.headers["access-control-expose-headers"].lower()
    refused = fetch(variant_url.replace("/hls/", "/hls/x"))  # the token does not cover that path
    assert refused.status_code in (403, 404)
