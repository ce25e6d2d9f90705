"""Protected tracks in Cadenza's own player: the engine appends the encrypted CMAF segments its HLS
playlists list (cenc, the same files as the DASH MPD) and the browser's Clear Key CDM decrypts them with
the key from the grant's licence URL (EME), with the same controls, waveform and reporting as a clear
track; a refused licence says so in the listener's words."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from player_world import Upload, cadenza_site, signed_in_page, start_tap, summary
from playwright.sync_api import Page, Route, expect
from sqlalchemy import delete, select

from audio import make_audio
from cadenza.db.engine import transaction
from cadenza.ingest import repackage
from cadenza.protection import service as protection
from cadenza.rights import service as rights
from cadenza.rights.models import TrackRight
from cadenza.royalties.models import PlaybackEvent

LOCKED, OPEN = "Locked Room", "Open Door"
REFUSED = "Not available in your country: the licence for this protected track was refused."


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("protected")
    uploads = [
        Upload(make_audio(tmp / "p.flac", duration=8, seed=71), LOCKED, "The Vault", "Keys", 1),
        Upload(make_audio(tmp / "c.flac", duration=8, seed=72), OPEN, "The Vault", "Keys", 2),
    ]
    with cadenza_site(tmp, uploads) as world:
        c, locked = world["c"], world["ids"][0]
        with transaction(c.sessions) as s:
            protection.set_policy(s, track_id=locked, protected=True, by_user=None)
        assert repackage.repackage_track(c, track_id=locked).action == "copied"  # published encrypted
        world["state"].track_media.clear()
        yield world


@pytest.fixture
def page(site: dict) -> Iterator[Page]:
    with signed_in_page(site["base"], on_tracks=True) as p:
        yield p


def _licences(page: Page) -> list[int]:
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "/licence" in r.url else None)
    return statuses


def _kinds(site: dict, track_id: int) -> set[str]:
    with site["sessions"]() as s:
        return {e.kind for e in s.scalars(select(PlaybackEvent).where(PlaybackEvent.track_id == track_id))}


def test_a_protected_track_plays_through_clear_key_with_one_licence(page: Page, site: dict) -> None:
    licences = _licences(page)
    inits: set[str] = set()  # the levels' init segments fetched (each appended before its level)
    page.on("request", lambda r: inits.add(r.url) if r.url.split("?")[0].endswith(".mp4") else None)
    grants: list[dict] = []
    page.on(
        "response",
        lambda r: (
            grants.append(r.json())
            if r.url.split("?")[0].endswith(f"/api/tracks/{site['ids'][0]}/stream")
            else None
        ),
    )
    page.get_by_role("button", name=f"Play {LOCKED}", exact=True).first.click()
    start_tap(page)
    page.wait_for_function("document.querySelector('audio').currentTime > 3", timeout=20_000)
    assert page.evaluate("document.querySelector('audio').error") is None
    assert grants and grants[0]["licence_url"]  # the server says it is protected
    # One licence, though every level's init segment carries the pssh and several were appended (the
    # engine starts on the lightest level and moves up).
    assert licences == [200] and len(inits) >= 2, (licences, inits)
    heard = summary(page)
    assert heard["rmsDb"] > -40, heard  # decrypted sound, not silence

    # The same controls, waveform and reporting as a clear track.
    expect(page.locator(".now-title")).to_have_text(LOCKED)
    page.wait_for_function("document.querySelector('.waveform').getAttribute('aria-valuemax') > 0")
    page.get_by_role("button", name="Pause", exact=True).click()
    page.wait_for_function("document.querySelector('audio').paused")
    expect(page.locator(".notice")).to_be_hidden()
    end = time.monotonic() + 10
    while not {"start", "pause"} <= _kinds(site, site["ids"][0]) and time.monotonic() < end:
        time.sleep(0.2)
    assert {"start", "pause"} <= _kinds(site, site["ids"][0])  # the royalty report, as for any track

    # Not joined gaplessly to the clear track after it, but the queue moves on to it.
    page.get_by_role("button", name="Play", exact=True).click()
    expect(page.locator(".now-title")).to_have_text(OPEN, timeout=20_000)
    page.wait_for_function("document.querySelector('audio').currentTime > 1", timeout=20_000)
    assert licences == [200]
    assert not page.errors  # type: ignore[attr-defined]


def test_a_listener_whose_licence_is_refused_is_told_so(page: Page, site: dict) -> None:
    """The right is revoked after the grant was issued (between the click and the CDM's licence
    request): the licence endpoint refuses the key (451), and the player says so instead of waiting."""
    locked = site["ids"][0]
    licences = _licences(page)

    def revoke_then_ask(route: Route) -> None:
        with transaction(site["sessions"]) as s:
            s.execute(delete(TrackRight).where(TrackRight.track_id == locked))
        site["state"].track_media.clear()
        route.continue_()

    page.route(re.compile(r"/api/tracks/\d+/licence\?"), revoke_then_ask)
    page.evaluate("""() => { window.__played = 0;
        document.querySelector('audio').addEventListener('playing', () => window.__played++); }""")
    try:
        page.get_by_role("button", name=f"Play {LOCKED}", exact=True).first.click()
        expect(page.locator(".notice")).to_have_text(REFUSED, timeout=20_000)
        assert licences == [451]
        assert page.evaluate("window.__played") == 0  # not a moment of it played
        assert page.evaluate("document.querySelector('audio').paused")
        expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    finally:
        with transaction(site["sessions"]) as s:
            rights.grant(s, track_id=locked, right_type="stream")
        site["state"].track_media.clear()
