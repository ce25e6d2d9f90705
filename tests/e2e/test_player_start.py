"""A play's start in the browser (click-to-first-audio, bench/player.py measures it): the stream grant
carries what the engine starts from (`?inline=start`), so the one media request a play makes before its
audio is the lightest level's first segment; a pointer resting on the Play button hands the click its
grant and that segment, so the click asks for neither again; and a first segment appended as it arrives,
on an emulated 4G link, plays without a gap into the next one."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from player_world import Upload, cadenza_site, signed_in_page, start_tap, summary, tone
from playwright.sync_api import Page, expect
from start_probe import CLICK_PROBE, FOUR_G

from audio import make_audio

RATE = 44_100
# The API and media requests of the page so far, in the order they started, relative to the click.
REQUESTS = """() => performance.getEntriesByType('resource')
  .map((e) => ({ url: new URL(e.name), start: e.startTime - (window.__click ?? Infinity) }))
  .filter((e) => e.url.pathname.startsWith('/api/tracks/') || e.url.pathname.startsWith('/media/'))
  .sort((a, b) => a.start - b.start)
  .map((e) => ({ path: e.url.pathname + e.url.search, start: e.start }))"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("start")
    uploads = [
        Upload(make_audio(tmp / "a.flac", duration=20, seed=31), "Start Tune A"),
        Upload(make_audio(tmp / "b.flac", duration=20, seed=32), "Start Tune B"),
        Upload(tone(tmp / "tone.flac", start_sample=0, samples=14 * RATE), "Start Tone"),
    ]
    with cadenza_site(tmp, uploads) as world:
        yield world


@pytest.fixture
def page(site: dict) -> Iterator[Page]:
    with signed_in_page(site["base"], on_tracks=True) as p:
        yield p


def _media(requests: list[dict]) -> list[str]:
    return [r["path"] for r in requests if r["path"].startswith("/media/")]


def _grants(requests: list[dict]) -> list[str]:
    return [r["path"] for r in requests if re.fullmatch(r"/api/tracks/\d+/stream(\?.*)?", r["path"])]


def _first_segment(path: str) -> bool:
    return "/hls/aac_128/" in path and path.endswith(".m4s")


def test_a_tap_asks_for_the_grant_then_the_first_segment_and_nothing_between(page: Page) -> None:
    page.evaluate(CLICK_PROBE)
    page.get_by_role("button", name="Play Start Tune A", exact=True).dispatch_event("click")  # no hover
    page.wait_for_function("document.querySelector('audio').currentTime > 0.5", timeout=20_000)
    requests = page.evaluate(REQUESTS)
    grants = _grants(requests)
    assert len(grants) == 1 and grants[0].endswith("/stream?inline=start"), requests
    media = _media(requests)
    # the master, the level playlist and the init section came with the grant: never asked for
    assert _first_segment(media[0]), media
    again = [p for p in media if p.endswith("master.m3u8") or ("/aac_128/" in p and not p.endswith(".m4s"))]
    assert not again, media
    assert media.count(media[0]) == 1
    expect(page.locator(".quality")).to_have_text("aac_128")  # the start is on the lightest level
    assert page.evaluate("window.__playing !== null && document.querySelector('audio').error === null")
    assert not page.errors  # type: ignore[attr-defined]


def test_a_hover_hands_the_click_its_grant_and_first_segment(page: Page) -> None:
    page.evaluate(CLICK_PROBE)
    button = page.get_by_role("button", name="Play Start Tune B", exact=True)
    button.hover()
    # the hover's grant and first segment have arrived (a resource entry is written when the body is in)
    page.wait_for_function(
        "performance.getEntriesByType('resource')"
        ".some((e) => e.name.includes('/aac_128/') && e.name.endsWith('.m4s'))"
    )
    button.click()
    page.wait_for_function("document.querySelector('audio').currentTime > 0.5", timeout=20_000)
    requests = page.evaluate(REQUESTS)
    before = [r for r in requests if r["start"] < 0]
    after = [r for r in requests if r["start"] >= 0]
    assert len(_grants(before)) == 1 and _grants(before)[0].endswith("?inline=start"), requests
    hovered = _media(before)
    assert len(hovered) == 1 and _first_segment(hovered[0]), requests
    assert _grants(after) == [], requests  # the click played on the hover's grant
    assert hovered[0] not in _media(after), requests  # and on its bytes: not fetched again
    assert page.evaluate("document.querySelector('audio').error === null")
    assert not page.errors  # type: ignore[attr-defined]


def test_a_first_segment_appended_as_it_arrives_on_4g_plays_without_a_gap(page: Page) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", FOUR_G)
    page.evaluate(CLICK_PROBE)
    page.get_by_role("button", name="Play Start Tone", exact=True).dispatch_event("click")
    start_tap(page)  # the graph exists from the click on: the capture begins a moment after it
    tapped_at = float(page.evaluate("document.querySelector('audio').currentTime"))
    # past the first 6 s segment into the second, fetched on the level the measured throughput allows
    page.wait_for_function("document.querySelector('audio').currentTime > 8", timeout=30_000)
    until = float(page.evaluate("document.querySelector('audio').currentTime"))
    heard = summary(page)
    print(f"4G start: {heard}, capture from {tapped_at:.2f} s to {until:.2f} s")
    # the capture holds most of the first segment, appended as it arrived, and the step to the second;
    # all the media clock played in it was heard, without a gap
    assert tapped_at < 3.0, tapped_at
    assert heard["seconds"] > until - tapped_at - 0.5 and heard["gapMs"] < 5.0, (heard, tapped_at, until)
    assert page.evaluate("document.querySelector('audio').error === null")
    assert not page.errors  # type: ignore[attr-defined]
