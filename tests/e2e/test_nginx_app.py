"""The edge in front of the real app: the master playlist comes from Python (rewritten for this listener),
everything it points to is checked by njs and served from the shield through the app's /origin/ route."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from cadenza.delivery import signing
from cadenza.web.app import create_app
from conftest import make_settings
from e2e import nginx_fixture
from e2e.nginx_fixture import NginxProcess, start_nginx
from livesrv import serve

if reason := nginx_fixture.missing():
    pytest.skip(reason, allow_module_level=True)

KEYS = {"k1": "app-first-secret", "k2": "app-second-secret"}
KEYRING = signing.Keyring("k1", KEYS)
ORIGIN_SECRET = "app-origin-secret"
PREFIX = "tracks/1/feedbeef"
MASTER = f"{PREFIX}/hls/master.m3u8"
SEGMENTS = ["1111111111111111.m4s", "2222222222222222.m4s"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NginxProcess, str, dict[str, bytes]]]:
    """(edge, app URL, published objects): the app on SQLite with one published track version."""
    tmp = tmp_path_factory.mktemp("stack")
    data = tmp / "data"
    objects = {
        MASTER: b'#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=140000,CODECS="mp4a.40.2"\naac_128/index.m3u8\n',
        f"{PREFIX}/hls/aac_128/index.m3u8": (
            b'#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MAP:URI="0000000000000000.mp4"\n'
            + b"".join(b"#EXTINF:6.0,\n" + s.encode() + b"\n" for s in SEGMENTS)
            + b"#EXT-X-ENDLIST\n"
        ),
        f"{PREFIX}/hls/aac_128/0000000000000000.mp4": os.urandom(800),
        **{f"{PREFIX}/hls/aac_128/{s}": os.urandom(190_000) for s in SEGMENTS},
        f"{PREFIX}/download/mp3_320.mp3": os.urandom(1_500_000),
    }
    for key, body in objects.items():
        path = data / "media" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    settings = make_settings(
        data,
        f"sqlite:///{data / 'cadenza.db'}",
        signing={"keys": KEYS, "active_key": "k1"},
        delivery={"origin_secret": ORIGIN_SECRET, "trusted_proxies": ["127.0.0.1/32"]},
    )
    with serve(create_app(settings)) as app_url:
        edge = start_nginx(tmp / "edge", upstream=app_url, keys=KEYS, origin_secret=ORIGIN_SECRET)
        try:
            yield edge, app_url, objects
        finally:
            edge.stop()


def test_a_listener_plays_through_the_edge(stack: tuple[NginxProcess, str, dict[str, bytes]]) -> None:
    edge, _, objects = stack
    with httpx.Client(base_url=edge.url) as client:
        master = client.get(signing.signed_path(KEYRING, key=MASTER, depth=0, ttl=60, ip="127.0.0.1"))
        assert master.status_code == 200, master.text
        assert "X-Cache-Status" not in master.headers  # per-listener body: never cached at the edge
        assert master.headers["Cache-Control"].startswith("private")
        [variant_url] = [line for line in master.text.splitlines() if line.startswith("/media/")]
        variant = client.get(variant_url)
        assert variant.status_code == 200
        assert variant.headers["X-Cache-Status"] in ("MISS", "EXPIRED")
        assert variant.headers["Content-Type"] == "application/vnd.apple.mpegurl"
        # Relative segment URIs resolve under the variant's prefix token, as a player resolves them.
        base = variant_url.rsplit("/", 1)[0]
        for name in ["0000000000000000.mp4", *SEGMENTS]:
            first, again = client.get(f"{base}/{name}"), client.get(f"{base}/{name}")
            assert first.content == again.content == objects[f"{PREFIX}/hls/aac_128/{name}"]
            assert first.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert again.headers["X-Cache-Status"] == "HIT"
        ranged = client.get(f"{base}/{SEGMENTS[0]}", headers={"Range": "bytes=-100"})
        assert (
            ranged.status_code == 206
            and ranged.content == objects[f"{PREFIX}/hls/aac_128/{SEGMENTS[0]}"][-100:]
        )


def test_the_token_the_app_issued_is_bound_to_the_address_nginx_saw(
    stack: tuple[NginxProcess, str, dict[str, bytes]],
) -> None:
    edge, _, _ = stack
    with httpx.Client(base_url=edge.url) as client:
        foreign = signing.signed_path(KEYRING, key=MASTER, depth=0, ttl=60, ip="10.1.2.3")
        assert client.get(foreign).status_code == 403  # the app refuses (it sees nginx's X-Forwarded-For)
        segment = f"{PREFIX}/hls/aac_128/{SEGMENTS[0]}"
        foreign = signing.signed_path(KEYRING, key=segment, depth=3, ttl=60, ip="10.1.2.3")
        r = client.get(foreign, headers={"X-Forwarded-For": "10.1.2.3"})
        assert r.status_code == 403 and r.json()["reason"] == "bad signature"  # refused at the edge


def test_progressive_download_in_slices(stack: tuple[NginxProcess, str, dict[str, bytes]]) -> None:
    edge, _, objects = stack
    key = f"{PREFIX}/download/mp3_320.mp3"
    url = edge.url + signing.signed_path(KEYRING, key=key, depth=0, ttl=60, ip="127.0.0.1")
    r = httpx.get(url, headers={"Range": "bytes=1048000-1049999"})
    assert (r.status_code, r.headers["Content-Type"]) == (206, "audio/mpeg")
    assert r.content == objects[key][1048000:1050000]
    whole = httpx.get(url)
    assert whole.content == objects[key] and whole.headers["X-Cache-Status"] == "HIT"


def test_the_apps_origin_route_needs_the_secret_the_edge_sends(
    stack: tuple[NginxProcess, str, dict[str, bytes]],
) -> None:
    _, app_url, _ = stack
    assert httpx.get(f"{app_url}/origin/{MASTER}").status_code == 403
    r = httpx.get(f"{app_url}/origin/{MASTER}", headers={"X-Cadenza-Origin": ORIGIN_SECRET})
    assert r.status_code == 200


def test_with_the_media_store_on_its_disk_the_edge_reads_it_directly(
    stack: tuple[NginxProcess, str, dict[str, bytes]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, app_url, objects = stack
    media = next(tmp_path_factory.getbasetemp().glob("stack*/data/media"))
    assert (media / MASTER).is_file()
    local = start_nginx(
        tmp_path_factory.mktemp("local-edge"),
        upstream=app_url,
        keys=KEYS,
        origin_secret=ORIGIN_SECRET,
        media_root=media,
    )
    try:
        token = signing.sign(KEYRING, key=MASTER, depth=3, expires_at=2**31 - 1, ip="127.0.0.1")
        seg_key = f"{PREFIX}/hls/aac_128/{SEGMENTS[0]}"
        with httpx.Client(base_url=local.url) as client:
            seg = client.get(f"/media/{token}/{seg_key}")
            assert seg.status_code == 200 and seg.content == objects[seg_key]
            assert "X-Cache-Status" not in seg.headers  # from disk, not through the shield
            assert seg.headers["Content-Type"] == "audio/mp4"
            assert seg.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            part = client.get(f"/media/{token}/{seg_key}", headers={"Range": "bytes=10-19"})
            assert part.status_code == 206 and part.content == objects[seg_key][10:20]
            playlist = client.get(f"/media/{token}/{PREFIX}/hls/aac_128/index.m3u8")
            assert playlist.headers["Cache-Control"] == "public, max-age=10"
            assert playlist.headers["Content-Type"] == "application/vnd.apple.mpegurl"
            mp3 = client.get(f"/media/{token}/{PREFIX}/download/mp3_320.mp3", headers={"Range": "bytes=-100"})
            assert mp3.status_code == 206 and mp3.content == objects[f"{PREFIX}/download/mp3_320.mp3"][-100:]
            forged = client.get(f"/media/{token[:-1]}{'B' if token[-1] == 'A' else 'A'}/{seg_key}")
            assert forged.status_code == 403
            # not on this disk: the shield asks the origin (and says so)
            missing = client.get(f"/media/{token}/{PREFIX}/hls/aac_128/9999999999999999.m4s")
            assert missing.status_code == 404 and missing.headers.get("X-Cache-Status") in ("MISS", "EXPIRED")
    finally:
        local.stop()
