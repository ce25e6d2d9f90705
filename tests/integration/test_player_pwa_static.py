"""The web player's offline files as the app serves them: the service worker at /sw.js revalidated on
every load (an immutable worker would pin an old build forever) and allowed the scope `/`, the web app
manifest with its media type, the icons; nothing outside the build; a 404, not a 500, without them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cadenza.bootstrap import App, build_collaborators
from cadenza.web.app import create_app
from conftest import IdleRunner, make_settings, make_test_engine


@pytest.fixture(scope="module")
def wired(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    tmp = tmp_path_factory.mktemp("pwa-static")
    engine, url, _ = make_test_engine("sqlite", tmp)
    c = build_collaborators(make_settings(tmp / "data", url), engine=engine, run_migrations=False)
    yield App(c=c, runner=IdleRunner())
    engine.dispose()


@pytest.fixture
def build(tmp_path: Path) -> Path:
    (tmp_path / "icons").mkdir()
    (tmp_path / "index.html").write_text('<!doctype html><link rel="manifest" href="/manifest.webmanifest">')
    (tmp_path / "sw.js").write_text("self.addEventListener('fetch', () => {})")
    (tmp_path / "manifest.webmanifest").write_text('{"name": "Cadenza", "start_url": "/"}')
    (tmp_path / "icons" / "icon-192.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "secret.txt").write_text("not an icon")
    return tmp_path


def _client(app: App, static_dir: Path) -> TestClient:
    return TestClient(create_app(app.c.settings, wired=app, static_dir=static_dir))


def test_the_service_worker_is_revalidated_on_every_load_and_may_control_the_whole_app(
    wired: App, build: Path
) -> None:
    resp = _client(wired, build).get("/sw.js")
    assert resp.status_code == 200 and "addEventListener" in resp.text
    assert resp.headers["content-type"].startswith("text/javascript")
    assert resp.headers["cache-control"] == "no-cache"
    assert "immutable" not in resp.headers["cache-control"]
    assert resp.headers["service-worker-allowed"] == "/"


def test_the_web_app_manifest_has_its_media_type_and_is_revalidated(wired: App, build: Path) -> None:
    resp = _client(wired, build).get("/manifest.webmanifest")
    assert resp.status_code == 200 and resp.json()["start_url"] == "/"
    assert resp.headers["content-type"] == "application/manifest+json"
    assert resp.headers["cache-control"] == "no-cache"


def test_icons_are_served_for_a_day(wired: App, build: Path) -> None:
    resp = _client(wired, build).get("/icons/icon-192.png")
    assert resp.status_code == 200 and resp.content.startswith(b"\x89PNG")
    assert resp.headers["content-type"] == "image/png"
    assert resp.headers["cache-control"] == "public, max-age=86400"


@pytest.mark.parametrize("name", ["missing.png", "..%2Fsecret.txt", "%00.png"])
def test_nothing_outside_the_icons_directory_is_served(wired: App, build: Path, name: str) -> None:
    resp = _client(wired, build).get(f"/icons/{name}")
    assert resp.status_code == 404 and resp.json()["reason"]
    assert "not an icon" not in resp.text


def test_without_a_build_the_offline_files_are_a_clear_404(wired: App, tmp_path: Path) -> None:
    client = _client(wired, tmp_path / "nothing-built")
    for path in ("/sw.js", "/manifest.webmanifest"):
        resp = client.get(path)
        assert resp.status_code == 404 and "build" in resp.json()["reason"]


@pytest.fixture
def packed(build: Path) -> Path:
    (build / "assets").mkdir()
    (build / "assets" / "index-Ab1_x.js").write_text("console.log('player')")
    (build / "assets" / "index-Ab1_x.js.br").write_bytes(b"brotli bytes")
    (build / "assets" / "index-Ab1_x.js.gz").write_bytes(b"gzip bytes")
    return build


@pytest.mark.parametrize(
    ("accept", "encoding", "body"),
    [
        ("gzip, deflate, br, zstd", "br", b"brotli bytes"),
        ("gzip", "gzip", b"gzip bytes"),
        ("br;q=0, gzip;q=0.5", "gzip", b"gzip bytes"),
        ("identity", None, b"console.log('player')"),
    ],
)
def test_assets_go_precompressed_to_browsers_that_accept_it(
    wired: App, packed: Path, accept: str, encoding: str | None, body: bytes
) -> None:
    client = _client(wired, packed)
    with client.stream("GET", "/assets/index-Ab1_x.js", headers={"accept-encoding": accept}) as resp:
        raw = b"".join(resp.iter_raw())  # the bytes on the wire, not decoded
    assert resp.status_code == 200 and raw == body
    assert resp.headers.get("content-encoding") == encoding
    assert resp.headers["vary"] == "Accept-Encoding"
    assert "javascript" in resp.headers["content-type"]
    assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_a_compressed_copy_cannot_be_asked_for_by_name(wired: App, packed: Path) -> None:
    assert _client(wired, packed).get("/assets/index-Ab1_x.js.br").status_code == 404
