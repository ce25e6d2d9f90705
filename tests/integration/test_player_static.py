"""The web player's files as the app serves them: the shell revalidated on every load, hashed assets
cached for a year, no path outside the build, and a clear 503 (never a 500) when nothing is built."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cadenza.bootstrap import App, build_collaborators
from cadenza.web.app import create_app
from conftest import IdleRunner, make_settings, make_test_engine


@pytest.fixture(scope="module")
def wired(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, Path]]:
    tmp = tmp_path_factory.mktemp("static")
    engine, url, _ = make_test_engine("sqlite", tmp)
    c = build_collaborators(make_settings(tmp / "data", url), engine=engine, run_migrations=False)
    yield App(c=c, runner=IdleRunner()), tmp
    engine.dispose()


def _client(wired: tuple[App, Path], static_dir: Path) -> TestClient:
    app_state, _ = wired
    return TestClient(create_app(app_state.c.settings, wired=app_state, static_dir=static_dir))


@pytest.fixture
def build(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<!doctype html><script src="/assets/index-Ab1_x.js"></script>')
    (tmp_path / "assets" / "index-Ab1_x.js").write_text("console.log('player')")
    (tmp_path / "secret.txt").write_text("not an asset")
    return tmp_path


def test_the_shell_is_served_at_the_root_and_revalidated_on_every_load(wired, build: Path) -> None:
    resp = _client(wired, build).get("/")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert resp.headers["cache-control"] == "no-cache"
    assert "/assets/index-Ab1_x.js" in resp.text


def test_hashed_assets_are_cached_for_a_year_and_never_revalidated(wired, build: Path) -> None:
    resp = _client(wired, build).get("/assets/index-Ab1_x.js")
    assert resp.status_code == 200 and resp.text == "console.log('player')"
    assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in resp.headers["content-type"]


@pytest.mark.parametrize("name", ["missing-123.js", "..%2Fsecret.txt", "..%2F..%2Findex.html", "%00.js"])
def test_nothing_outside_the_assets_directory_is_served(wired, build: Path, name: str) -> None:
    resp = _client(wired, build).get(f"/assets/{name}")
    assert resp.status_code == 404 and resp.json()["reason"]  # a decoded slash matches no route at all
    assert "not an asset" not in resp.text


def test_without_a_build_the_root_says_to_run_the_setup(wired, tmp_path: Path) -> None:
    resp = _client(wired, tmp_path / "nothing-built").get("/")
    assert resp.status_code == 503
    assert "scripts/setup.sh" in resp.text and resp.headers["content-type"].startswith("text/html")
    assert resp.headers["cache-control"] == "no-store"


def test_the_package_build_is_what_the_app_serves_by_default(wired) -> None:
    from cadenza.web import static

    if not (static.BUILT / "index.html").is_file():
        pytest.skip("the player is not built (scripts/setup.sh builds it)")
    app_state, _ = wired
    client = TestClient(create_app(app_state.c.settings, wired=app_state))
    page = client.get("/")
    assert page.status_code == 200 and '<div id="app">' in page.text
    for src in re.findall(r'(/assets/[^"]+)"', page.text):
        assert client.get(src).headers["cache-control"].endswith("immutable")
