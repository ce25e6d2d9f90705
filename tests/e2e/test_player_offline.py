"""The web player offline, in Debian's chromium against a real Cadenza server on loopback: the app is an
installable PWA whose service worker brings the shell back on an offline reload; a downloaded playlist
plays with the network off, counts toward storage and can be removed; a renewed stream token still finds
the downloaded bytes while the server keeps refusing unsigned requests; listening done offline is sent
when the network returns and counted (30-second rule); a network loss mid-track shows and recovers; a
track not licensed in the listener's country says so."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select
from test_player import ARGS, CHROMIUM, EMAIL, PASSWORD, _wait_for

from audio import make_audio
from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog.models import Track
from cadenza.catalog.service import TrackMetadata
from cadenza.config import Royalties
from cadenza.db.engine import make_engine, transaction
from cadenza.ingest.service import accept_upload
from cadenza.rights import service as rights
from cadenza.royalties import rollups
from cadenza.royalties.models import PlaybackEvent
from cadenza.web.app import create_app
from conftest import InlineRunner, create_user, make_settings
from livesrv import serve

from playwright.sync_api import BrowserContext, Page, expect, sync_playwright  # isort: skip
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError  # isort: skip

# The server allows credit up to twice the wall clock, so the tests may play at 2x: the player reports
# the seconds of music heard and its playback rate, and the server checks them against its own clock.
RULES = Royalties(max_playback_rate=2.0)
TERRITORY = "DE"  # what the server's geo lookup says for 127.0.0.1 here


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("player-offline")
    url = f"sqlite:///{tmp / 'data' / 'cadenza.db'}"
    settings = make_settings(
        tmp / "data", url, delivery={"geo_overrides": {"127.0.0.1": TERRITORY}}, royalties=RULES
    )
    engine = make_engine(url)
    c = build_collaborators(settings, engine=engine)
    runner = InlineRunner(c)

    def upload(title: str, seconds: float, seed: int, release: str | None = None) -> int:
        path = make_audio(tmp / f"{seed}.flac", duration=seconds, seed=seed)
        meta = TrackMetadata(title=title, artists=["The Travellers"], release_title=release)
        return accept_upload(c, runner, path=path, filename=f"{seed}.flac", overrides=meta).id

    ids = {
        "one": upload("Harbour Lights", 40, 31, "Travel Pack"),
        "two": upload("Night Ferry", 40, 32, "Travel Pack"),
        "long": upload("Long Road", 90, 33),
        "elsewhere": upload("Only In Japan", 4, 34),
    }
    with transaction(c.sessions) as s:
        for key in ("one", "two", "long"):
            rights.grant(s, track_id=ids[key], right_type="stream")
        rights.grant(s, track_id=ids["elsewhere"], right_type="stream", territory="JP")
    create_user(c.sessions, email=EMAIL)
    with serve(create_app(settings, wired=App(c=c, runner=runner))) as base:
        token = httpx.post(f"{base}/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
        auth = {"authorization": f"Bearer {token.json()['access_token']}"}
        playlist = httpx.post(f"{base}/api/playlists", json={"name": "Road Trip"}, headers=auth).json()
        added = httpx.post(
            f"{base}/api/playlists/{playlist['id']}/tracks",
            json={"track_ids": [ids["one"], ids["two"]]},
            headers=auth,
        )
        assert added.status_code == 201, added.text
        yield {
            "base": base,
            "ids": ids,
            "playlist": playlist["id"],
            "c": c,
            "engine": engine,
            "auth": auth,
            "start_ttl": settings.signing.start_ttl_sec,
        }


@pytest.fixture(scope="module")
def browser_context(site: dict) -> Iterator[BrowserContext]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 760})
        yield context
        context.close()
        browser.close()


@pytest.fixture(scope="module")
def page(browser_context: BrowserContext, site: dict) -> Iterator[Page]:
    page = browser_context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site["base"] + "/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="New tracks")).to_be_visible()
    page.errors = errors  # type: ignore[attr-defined]
    yield page


def _audio(page: Page, prop: str) -> float:
    return float(page.evaluate(f"document.querySelector('audio').{prop}"))


def _events(site: dict, track_id: int) -> list[PlaybackEvent]:
    with site["c"].sessions() as s:
        rows = s.scalars(select(PlaybackEvent).where(PlaybackEvent.track_id == track_id))
        return sorted(rows, key=lambda e: e.occurred_at)


def _play_count(site: dict, track_id: int) -> int:
    rollups.refresh(site["engine"], rules=RULES)
    with site["c"].sessions() as s:
        return int(s.scalar(select(Track.play_count).where(Track.id == track_id)) or 0)


def _play_past(page: Page, seconds: float, *, rate: float = 1.0) -> None:
    page.wait_for_function("!document.querySelector('audio').paused")
    page.evaluate(f"document.querySelector('audio').playbackRate = {rate}")
    page.wait_for_function(f"document.querySelector('audio').currentTime > {seconds}", timeout=60_000)


# The element waiting for data at the end of what it has (not paused; within a second of the end: 55 ms
# on an idle machine, and a decoder may hold back a little more on a loaded one).
STALLED = """(a => a.readyState < 3 && !a.paused && a.buffered.length > 0
  && a.currentTime > a.buffered.end(a.buffered.length - 1) - 1)(document.querySelector('audio'))"""
MEDIA_STATE = """(a => ({ time: a.currentTime, readyState: a.readyState, paused: a.paused,
  error: a.error?.code, rate: a.playbackRate,
  buffered: [...Array(a.buffered.length).keys()].map((i) => [a.buffered.start(i), a.buffered.end(i)]) }))(
  document.querySelector('audio'))"""


def _outbox(page: Page) -> list[dict]:
    return json.loads(page.evaluate("localStorage.getItem('cadenza.outbox') || '[]'"))


def test_the_app_is_installable_its_worker_is_revalidated_and_scoped_to_the_root(
    page: Page, site: dict
) -> None:
    manifest_href = page.locator("link[rel=manifest]").get_attribute("href")
    assert manifest_href == "/manifest.webmanifest"
    manifest = httpx.get(site["base"] + manifest_href)
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["start_url"] == "/" and body["display"] == "standalone" and body["name"] == "Cadenza"
    sizes = {i["sizes"] for i in body["icons"] if i["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes  # what Chromium requires to offer installation
    for icon in body["icons"]:
        assert httpx.get(site["base"] + icon["src"]).content[:8] == b"\x89PNG\r\n\x1a\n"

    worker = httpx.get(site["base"] + "/sw.js")
    assert worker.status_code == 200 and "javascript" in worker.headers["content-type"]
    assert worker.headers["cache-control"] == "no-cache"  # never immutable: updates must be seen
    assert worker.headers["service-worker-allowed"] == "/"
    scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
    assert scope == site["base"] + "/"
    page.wait_for_function("navigator.serviceWorker.controller !== null")


def test_a_reload_without_network_still_shows_the_app(page: Page, browser_context: BrowserContext) -> None:
    browser_context.set_offline(True)
    try:
        page.reload()
        expect(page.locator(".brand")).to_have_text("Cadenza")  # the shell, from the precache
        expect(page.locator(".offline-badge")).to_be_visible()
    finally:
        browser_context.set_offline(False)
    page.reload()
    expect(page.get_by_role("heading", name="New tracks")).to_be_visible()


def test_a_downloaded_playlist_plays_offline_after_a_reload_and_its_listening_is_counted_later(
    page: Page, site: dict, browser_context: BrowserContext
) -> None:
    page.goto(f"{site['base']}/#/playlist/{site['playlist']}")
    expect(page.get_by_role("heading", name="Road Trip")).to_be_visible()
    page.get_by_role("button", name="Download Road Trip").click()
    expect(page.locator("[data-download='playlist:{}']".format(site["playlist"]))).to_have_text(
        "Downloaded", timeout=60_000
    )
    page.goto(site["base"] + "/#/downloads")
    item = page.locator(".download-item", has_text="Road Trip")
    expect(item).to_contain_text("aac_128".replace("aac_", "") + " kbps")
    size = re.search(r"([\d.]+) (kB|MB)", item.locator("h2 small").inner_text())
    assert size and float(size.group(1)) > 0  # its bytes, counted per item
    expect(page.locator(".storage-usage")).to_contain_text("this site uses")
    stored = page.evaluate(
        "caches.open('cadenza-media-v1').then((c) => c.keys()).then((k) => k.map((r) => r.url))"
    )
    assert any(u.endswith(".m4s") for u in stored) and not any("~" in u for u in stored)  # no token

    browser_context.set_offline(True)
    offline_from = datetime.now(UTC)
    try:
        page.reload()
        expect(page.locator(".offline-badge")).to_be_visible()
        expect(page.get_by_role("heading", name="Downloads")).to_be_visible()
        item = page.locator(".download-item", has_text="Road Trip")
        item.get_by_role("button", name="Play Harbour Lights", exact=True).click()
        expect(page.locator(".now-title")).to_have_text("Harbour Lights")
        page.wait_for_function("document.querySelector('audio').currentTime > 5", timeout=20_000)
        assert page.evaluate("document.querySelector('audio').error") is None
        # Keep listening (at 2x) past the 30 seconds that make a stream, then stop.
        _play_past(page, 33, rate=2.0)
        page.get_by_role("button", name="Pause", exact=True).click()
        assert _wait_for(lambda: "pause" in {e["kind"] for e in _outbox(page)}), _outbox(page)
        queued = _outbox(page)
        assert "start" in {e["kind"] for e in queued}
        assert sum(e.get("seconds_played", 0) for e in queued) > 30
        assert not [e for e in _events(site, site["ids"]["one"]) if e.kind == "pause"]
        assert _play_count(site, site["ids"]["one"]) == 0
    finally:
        browser_context.set_offline(False)

    page.evaluate("window.dispatchEvent(new Event('online'))")  # what the browser fires on reconnect
    assert _wait_for(lambda: not _outbox(page), timeout=15), _outbox(page)
    events = _events(site, site["ids"]["one"])
    paused = [e for e in events if e.kind == "pause"]
    assert paused, [e.kind for e in events]
    # The events keep the time they happened, not the time they were delivered.
    assert offline_from <= paused[-1].occurred_at.replace(tzinfo=UTC) <= datetime.now(UTC)
    assert _play_count(site, site["ids"]["one"]) == 1


def test_a_renewed_token_finds_the_downloaded_bytes_and_the_server_still_refuses_unsigned_media(
    page: Page, site: dict
) -> None:
    kept = page.evaluate("JSON.parse(localStorage.getItem('cadenza.downloads')).tracks")
    old = kept[str(site["ids"]["two"])]["grant"]["hls_url"]
    # A token is a signature over the key, the client and the expiry second: a grant asked for in the same
    # second as the kept one (the reconnect renews kept grants) is rightly the same URL. Let a second pass.
    issued = kept[str(site["ids"]["two"])]["grant"]["expires_at"] - site["start_ttl"]
    while time.time() < issued + 1.05:
        time.sleep(0.05)
    from_worker: list[str] = []
    from_network: list[str] = []

    def seen(resp) -> None:  # type: ignore[no-untyped-def]
        if "/media/" in resp.url:
            (from_worker if resp.from_service_worker else from_network).append(resp.url)

    page.goto(site["base"] + "/#/downloads")
    # A fresh page: the gapless engine may still hold this track prefetched (on the download's grant) from
    # the previous test's playback, and would rightly play that instead of asking for a new grant.
    page.reload()
    page.on("response", seen)
    item = page.locator(".download-item", has_text="Road Trip")
    item.get_by_role("button", name="Play Night Ferry", exact=True).click()
    page.wait_for_function("document.querySelector('audio').currentTime > 2")
    page.get_by_role("button", name="Pause", exact=True).click()
    page.remove_listener("response", seen)

    master = [u for u in from_worker if u.endswith("/master.m3u8")]
    assert master and master[0] != site["base"] + old  # a new token ...
    assert any(u.endswith(".m4s") for u in from_worker)  # ... and the stored segments answered it
    assert not any(u.endswith(".m4s") for u in from_network)

    token, key = re.fullmatch(r"/media/([^/]+)/(.+)", old).groups()  # type: ignore[union-attr]
    assert httpx.get(f"{site['base']}/media/{key}").status_code in (403, 404)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert httpx.get(f"{site['base']}/media/{forged}/{key}").status_code == 403
    assert httpx.get(f"{site['base']}{old}").status_code == 200  # the signed URL itself works


def test_removing_a_download_frees_its_storage(page: Page, site: dict) -> None:
    page.goto(site["base"] + "/#/downloads")
    page.get_by_role("button", name="Remove Road Trip").click()
    expect(page.locator(".download-item")).to_have_count(0)
    expect(page.locator(".storage-usage")).to_contain_text("Downloads: 0 B")
    left = page.evaluate("caches.open('cadenza-media-v1').then((c) => c.keys()).then((k) => k.length)")
    assert left == 0
    page.goto(f"{site['base']}/#/playlist/{site['playlist']}")
    expect(page.get_by_role("button", name="Download Road Trip")).to_have_text("Download")


def test_a_stream_is_counted_after_30_seconds_of_playback(page: Page, site: dict) -> None:
    long = site["ids"]["long"]
    page.goto(site["base"] + "/#/tracks")
    page.get_by_role("button", name="Play Long Road", exact=True).click()
    _play_past(page, 20, rate=2.0)
    page.get_by_role("button", name="Pause", exact=True).click()
    assert _wait_for(lambda: any(e.kind == "pause" for e in _events(site, long)))
    assert _play_count(site, long) == 0  # 20 s heard: not yet a stream
    page.get_by_role("button", name="Play", exact=True).click()
    _play_past(page, 33, rate=2.0)
    page.get_by_role("button", name="Pause", exact=True).click()
    page.wait_for_function("document.querySelector('audio').paused")
    # Played from 0 with no seek: the music heard is where it paused (33 s and the click's lag at 2x).
    paused_at = _audio(page, "currentTime")
    assert _wait_for(lambda: len([e for e in _events(site, long) if e.kind == "pause"]) >= 2)
    heard = sum(e.seconds_played for e in _events(site, long))
    assert heard > 30 and abs(heard - paused_at) < 1.0, (heard, paused_at)  # not the wall clock (half)
    assert {e.playback_rate for e in _events(site, long) if e.kind == "pause"} == {2.0}
    assert _play_count(site, long) == 1


def test_a_network_loss_mid_track_is_shown_and_playback_resumes(
    page: Page, site: dict, browser_context: BrowserContext
) -> None:
    # hls.js buffers a whole audio track within a second on loopback, so the loss must come before
    # that: after two segments every further one fails as it would offline, until the network returns.
    lost = {"yes": True, "passed": 0, "refused": 0}

    def segments(route) -> None:  # type: ignore[no-untyped-def]
        if lost["yes"] and lost["passed"] >= 2:
            lost["refused"] += 1
            route.abort("internetdisconnected")
        else:
            lost["passed"] += 1
            route.continue_()

    browser_context.route(re.compile(r".*/media/.*\.m4s$"), segments)  # the worker's fetches too
    try:
        page.goto(site["base"] + "/#/tracks")
        page.get_by_role("button", name="Play Long Road", exact=True).click()
        _play_past(page, 1, rate=2.0)
        browser_context.set_offline(True)
        # The stall is the playhead waiting at the end of what came through. The engine asks for a segment
        # only once the one before is appended, so after a refusal everything that passed is buffered; a
        # wait elsewhere (a segment still on its way, a starved decoder at 2x: seen at 6.6 s of a buffer
        # reaching 11.9 s on a loaded machine) is not the loss, and playback rightly goes on from it.
        deadline = time.monotonic() + 30
        while not lost["refused"] and time.monotonic() < deadline:
            page.wait_for_timeout(50)  # the route's handler runs while Playwright waits
        assert lost["refused"], "no segment was asked for after the two that passed"
        try:
            page.wait_for_function(STALLED, timeout=30_000)
        except PlaywrightTimeoutError:
            raise AssertionError(f"no stall at the buffer's end: {page.evaluate(MEDIA_STATE)}") from None
        stalled_at = _audio(page, "currentTime")
        end = float(page.evaluate("(b => b.end(b.length - 1))(document.querySelector('audio').buffered)"))
        assert stalled_at < 13  # two 6-second segments, then nothing to play
        expect(page.locator(".offline-badge")).to_have_text(
            "Offline: playback resumes when the network returns"
        )
        # A second later: still waiting, and nothing played past what came through.
        page.wait_for_timeout(1000)
        later = page.evaluate(MEDIA_STATE)
        assert later["readyState"] < 3 and not later["paused"] and later["time"] <= end + 0.05, (end, later)
    finally:
        lost["yes"] = False
        browser_context.set_offline(False)
    expect(page.locator(".offline-badge")).to_be_hidden()
    page.wait_for_function(f"document.querySelector('audio').currentTime > {stalled_at + 3}", timeout=30_000)
    assert page.evaluate("document.querySelector('audio').error") is None
    browser_context.unroute(re.compile(r".*/media/.*\.m4s$"))
    page.get_by_role("button", name="Pause", exact=True).click()


def test_a_track_not_licensed_in_this_country_says_so(page: Page, site: dict) -> None:
    page.goto(site["base"] + "/#/tracks")
    row = page.locator(f"[data-track-id='{site['ids']['elsewhere']}'] .track-title")
    if not row.count():
        resp = httpx.get(f"{site['base']}/api/tracks/{site['ids']['elsewhere']}/stream", headers=site["auth"])
        pytest.fail(f"the catalog hides the track; its stream answers {resp.status_code}")
    row.click()
    expect(page.locator(".notice")).to_have_text("Not available in your country.")
    time.sleep(0.2)
    assert not page.errors  # type: ignore[attr-defined]
