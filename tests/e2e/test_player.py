"""The web player in a real browser: Debian's chromium, driven by Playwright, against a real Cadenza
server on loopback with generated, ingested tracks. It proves that a listener can sign in, search, hear
a track through hls.js (the media clock advances on fetched HLS levels), see and click the waveform to
seek, and that the server stores the playback events (by fetch and by beacon), and that a track without
a right here says so in the listener's words."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from audio import make_audio
from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog import artwork
from cadenza.catalog.service import TrackMetadata
from cadenza.db.engine import make_engine, transaction
from cadenza.ingest.service import accept_upload
from cadenza.rights import service as rights
from cadenza.royalties.models import PlaybackEvent
from cadenza.web import static
from cadenza.web.app import create_app
from conftest import InlineRunner, create_user, make_settings
from images import picture
from livesrv import serve

CHROMIUM = os.environ.get("CADENZA_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
EMAIL, PASSWORD = "listener@example.org", "correct horse battery"

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - setup.sh installs it
    pytest.skip("playwright is not installed (scripts/setup.sh installs it)", allow_module_level=True)
if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
if not (static.BUILT / "index.html").is_file():
    pytest.skip("the web player is not built (scripts/setup.sh builds player/)", allow_module_level=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("player")
    url = f"sqlite:///{tmp / 'data' / 'cadenza.db'}"
    settings = make_settings(tmp / "data", url)
    c = build_collaborators(settings, engine=make_engine(url))
    runner = InlineRunner(c)
    song = accept_upload(
        c, runner, path=make_audio(tmp / "s.flac", duration=20, seed=12), filename="s.flac",
        overrides=TrackMetadata(title="Quokka Sunrise", artists=["The Marsupials"], release_title="Dawn"),
    )  # fmt: skip
    elsewhere = accept_upload(
        c, runner, path=make_audio(tmp / "j.flac", duration=4, seed=13), filename="j.flac",
        overrides=TrackMetadata(title="Only In Japan", artists=["Kyoto Strings"]),
    )  # fmt: skip
    artwork.upload_release_artwork(
        c.sessions, store=c.store, release_id=song.release_id, data=picture(600, 600, "PNG")
    )
    with transaction(c.sessions) as s:
        rights.grant(s, track_id=song.id, right_type="stream")
        rights.grant(s, track_id=elsewhere.id, right_type="stream", territory="JP")
    create_user(c.sessions, email=EMAIL)
    with serve(create_app(settings, wired=App(c=c, runner=runner))) as base:
        yield {"base": base, "song": song.id, "elsewhere": elsewhere.id, "sessions": c.sessions}


@pytest.fixture(scope="module")
def page(site: dict) -> Iterator[Page]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 760})
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(site["base"] + "/")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="New tracks")).to_be_visible()
        page.errors, page.requests = errors, requests  # type: ignore[attr-defined]
        yield page
        context.close()
        browser.close()


def _audio(page: Page, prop: str) -> float:
    return float(page.evaluate(f"document.querySelector('audio').{prop}"))


def _events(site: dict, track_id: int) -> list[PlaybackEvent]:
    with site["sessions"]() as s:
        return list(s.scalars(select(PlaybackEvent).where(PlaybackEvent.track_id == track_id)))


def _wait_for(check, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def test_search_as_you_type_finds_the_track_and_plays_it_through_hls(page: Page, site: dict) -> None:
    page.get_by_label("Search").press_sequentially("quok", delay=30)
    suggestion = page.locator(".suggestion[data-kind=track]", has_text="Quokka Sunrise")
    expect(suggestion).to_be_visible()
    expect(page.locator(".group-label", has_text="Tracks")).to_be_visible()
    page.get_by_label("Search").press("Enter")  # all results, grouped by kind
    results = page.locator(".search-results")
    expect(results.get_by_role("heading", name="Releases")).to_be_visible()
    expect(results.get_by_role("button", name="Play Quokka Sunrise", exact=True)).to_be_visible()
    page.get_by_label("Search").press_sequentially("k", delay=30)
    suggestion.click()

    expect(page.locator(".now-title")).to_have_text("Quokka Sunrise")
    cover = page.locator(".now-cover img.cover")  # the release's cover, from the server's rendered sizes
    expect(cover).to_have_attribute("src", re.compile(r"^/api/artwork/"))
    page.wait_for_function("document.querySelector('.now-cover img').naturalWidth > 0")
    page.wait_for_function("document.querySelector('audio').currentTime > 3", timeout=20_000)
    assert page.evaluate("document.querySelector('audio').error") is None
    assert not page.errors  # type: ignore[attr-defined]
    assert page.locator(".quality").inner_text().startswith("aac_")  # hls.js switched to a level
    fetched = page.requests  # type: ignore[attr-defined]
    # the grant carried the master, the lightest level's playlist and its init section (?inline=start)
    assert any(u.split("?")[0].endswith("/stream") and "inline=start" in u for u in fetched)
    assert any(u.split("?")[0].endswith("/index.m3u8") for u in fetched)  # a level climbed to
    assert any(".m4s" in u or ".mp4" in u for u in fetched)  # fMP4 segments


def test_the_waveform_is_drawn_from_the_peaks_and_a_click_seeks(page: Page, site: dict) -> None:
    page.wait_for_function("document.querySelector('.waveform').getAttribute('aria-valuemax') > 0")
    heights = page.evaluate(
        """() => {
          const c = document.querySelector('.waveform-canvas');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          const cols = new Set();
          let inked = 0;
          for (let x = 0; x < c.width; x++) {
            let h = 0;
            for (let y = 0; y < c.height; y++) if (d[(y * c.width + x) * 4 + 3] > 0) h++;
            if (h) { inked++; cols.add(h); }
          }
          return { inked, distinct: cols.size, width: c.width };
        }"""
    )
    assert heights["inked"] > heights["width"] / 2  # drawn across
    assert heights["distinct"] > 5  # bars of many heights: the peaks, not a flat progress line

    duration = _audio(page, "duration")
    box = page.locator(".waveform").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    page.wait_for_function("!document.querySelector('audio').seeking")
    assert abs(_audio(page, "currentTime") - duration / 2) < 1.5
    start = _audio(page, "currentTime")
    page.wait_for_function(f"document.querySelector('audio').currentTime > {start + 1}")


def test_the_server_stores_the_playback_events_by_fetch_and_by_beacon(page: Page, site: dict) -> None:
    page.get_by_role("button", name="Pause", exact=True).click()
    kinds = lambda: {e.kind for e in _events(site, site["song"])}  # noqa: E731
    assert _wait_for(lambda: {"start", "seek", "pause"} <= kinds()), kinds()
    played = sum(e.seconds_played for e in _events(site, site["song"]))
    assert 2 < played < 15  # what was heard, not the seek's jump

    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function("!document.querySelector('audio').paused")
    # a second heard on the media clock (a wall-clock sleep may hear less on a loaded machine)
    resumed = _audio(page, "currentTime")
    page.wait_for_function(f"document.querySelector('audio').currentTime > {resumed + 1}")
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide'))")  # a closing tab
    assert _wait_for(lambda: "progress" in kinds()), kinds()
    beaconed = [e for e in _events(site, site["song"]) if e.kind == "progress"]
    assert beaconed[-1].seconds_played > 0.5

    shots = Path(os.environ.get("CADENZA_SCREENSHOTS", "/tmp"))
    page.screenshot(path=str(shots / "cadenza-player.png"))


def test_the_queue_takes_play_next_and_add_and_clears_to_the_track_playing(page: Page, site: dict) -> None:
    # The search results the first test left have a "Tracks" heading (h2) and a "Play Quokka Sunrise" of
    # their own: wait for the Tracks screen's h1, or the click may play the one-track search list.
    page.goto(site["base"] + "/#/tracks")
    expect(page.get_by_role("heading", name="Tracks", exact=True, level=1)).to_be_visible()
    page.get_by_role("button", name="Play Quokka Sunrise", exact=True).click()
    expect(page.locator(".now-title")).to_have_text("Quokka Sunrise")
    page.get_by_role("button", name="Add Only In Japan to queue").click()
    page.get_by_role("button", name="Play Only In Japan next").click()
    page.get_by_role("button", name="Queue", exact=True).click()
    rows = page.locator(".queue-list li")
    # Playing from a list queues the list (id order: Quokka Sunrise, Only In Japan); play next goes
    # right after the track playing, add at the end.
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_have_class("playing")
    expect(rows.nth(0)).to_contain_text("Quokka Sunrise")
    expect(rows.nth(1)).to_contain_text("Only In Japan")
    page.locator(".queue-panel").get_by_role("button", name="Clear").click()
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("Quokka Sunrise")
    page.get_by_role("button", name="Close queue").click()
    page.get_by_role("button", name="Pause", exact=True).click()


def test_a_track_not_licensed_here_says_so(page: Page, site: dict) -> None:
    page.goto(site["base"] + "/#/tracks")
    expect(page.get_by_role("heading", name="Tracks", exact=True, level=1)).to_be_visible()
    row = page.locator(f"[data-track-id='{site['elsewhere']}'] .track-title")
    if not row.count():
        pytest.skip("the catalog hides tracks without a right here: no row to click")
    # from a track playing: what it played stops with it, not under the refused track's title
    page.get_by_role("button", name="Play Quokka Sunrise", exact=True).first.click()
    page.wait_for_function("document.querySelector('audio').currentTime > 0.5", timeout=20_000)
    row.click()
    expect(page.locator(".notice")).to_have_text("Not available in your country.")
    expect(page.locator(".now-title")).to_have_text("Only In Japan")
    page.wait_for_function("document.querySelector('audio').paused")
    at = page.evaluate("document.querySelector('audio').currentTime")
    page.wait_for_timeout(500)
    assert page.evaluate("document.querySelector('audio').currentTime") == at  # nothing plays on
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()
