"""dash.js in Debian's chromium plays Cadenza's signed MPDs: the AAC ladder for everyone, lossless (FLAC in
fMP4, `fLaC`) with the AAC ladder for a hi-fi listener, switching between them while it plays."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from audio import make_audio
from cadenza.bootstrap import App, build_collaborators
from cadenza.db.engine import make_engine, transaction
from cadenza.ingest import repackage
from cadenza.ingest.service import accept_upload
from cadenza.protection import service as protection
from cadenza.rights import service as rights
from cadenza.web.app import create_app
from conftest import InlineRunner, create_user, make_settings
from e2e import dashpage
from livesrv import serve

dashpage.skip_unless_ready()

from playwright.sync_api import Page, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("dashplay")
    url = f"sqlite:///{tmp / 'data' / 'cadenza.db'}"
    settings = make_settings(tmp / "data", url)
    c = build_collaborators(settings, engine=make_engine(url))
    track = accept_upload(
        c, InlineRunner(c), path=make_audio(tmp / "s.flac", duration=30, seed=91), filename="s.flac"
    )
    locked = accept_upload(
        c, InlineRunner(c), path=make_audio(tmp / "p.flac", duration=30, seed=92), filename="p.flac"
    )
    with transaction(c.sessions) as s:
        rights.grant(s, track_id=track.id, right_type="stream")
        rights.grant(s, track_id=locked.id, right_type="stream")
        protection.set_policy(s, track_id=locked.id, protected=True, by_user=None)
    assert repackage.repackage_track(c, track_id=locked.id).action == "copied"
    fan = create_user(c.sessions, email="fan@example.org")
    hifi = create_user(c.sessions, email="hifi@example.org", tier="hifi")
    state = App(c=c, runner=InlineRunner(c))
    with serve(create_app(settings, wired=state)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=dashpage.CHROMIUM, headless=True, args=dashpage.ARGS)
        try:
            yield {
                "base": base,
                "track": track.id,
                "locked": locked.id,
                "fan": fan,
                "hifi": hifi,
                "browser": browser,
                "c": c,
                "state": state,
            }
        finally:
            browser.close()


@pytest.fixture
def page(site: dict) -> Iterator[Page]:
    context = site["browser"].new_context()
    page = dashpage.open_page(context, site["base"])
    page.set_default_timeout(20_000)
    yield page
    context.close()


def _grant(site: dict, token: str, track: int | None = None) -> dict:
    r = httpx.get(
        f"{site['base']}/api/tracks/{track or site['track']}/stream",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    return r.json()


def _time(page: Page) -> float:
    return float(page.evaluate("document.getElementById('a').currentTime"))


def _plays_past(page: Page, seconds: float, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _time(page) > seconds:
            return
        time.sleep(0.1)
    failures = page.evaluate("window.failures")
    raise AssertionError(f"currentTime stuck at {_time(page)} (dash.js errors: {failures})")


def test_dashjs_plays_the_aac_ladder_from_the_signed_mpd(site: dict, page: Page) -> None:
    play_url = site["base"] + _grant(site, site["fan"])["dash_url"]
    dashpage.play(page, play_url)
    _plays_past(page, 2.0)
    bitrates = page.evaluate("window.player.getBitrateInfoListFor('audio').map(b => b.bitrate)")
    assert len(bitrates) == 3 and all(b < 400_000 for b in bitrates)
    assert page.evaluate("window.failures") == []


def test_dashjs_plays_lossless_for_a_hifi_listener_and_switches_to_aac(site: dict, page: Page) -> None:
    """The hi-fi MPD offers FLAC and AAC as two switchable adaptation sets; dash.js starts on the
    lossless one (the highest bit rate) and changes codec in the middle of playback when asked."""
    dashpage.play(page, site["base"] + _grant(site, site["hifi"])["hifi_dash_url"])
    _plays_past(page, 1.0)
    codecs = page.evaluate("window.player.getTracksFor('audio').map(t => t.codec)")
    assert len(codecs) == 2 and any("fLaC" in c for c in codecs) and any("mp4a.40.2" in c for c in codecs)
    assert "fLaC" in page.evaluate("window.player.getCurrentTrackFor('audio').codec")
    page.evaluate("""() => {
        const aac = window.player.getTracksFor('audio').find(t => t.codec.includes('mp4a'));
        window.player.setCurrentTrack(aac);
    }""")
    switched_at = _time(page)
    _plays_past(page, switched_at + 6.0, timeout=30)
    assert "mp4a.40.2" in page.evaluate("window.player.getCurrentTrackFor('audio').codec")
    assert page.evaluate("window.failures") == []


def _clearkey(site: dict, grant: dict, token: str) -> dict:
    """dash.js protection data: the Clear Key CDM posts its request to Cadenza's licence URL."""
    return {
        "org.w3.clearkey": {
            "serverURL": site["base"] + grant["licence_url"],
            "httpRequestHeaders": {"Authorization": f"Bearer {token}"},
        }
    }


@pytest.mark.parametrize("tier", ["fan", "hifi"])
def test_dashjs_plays_the_encrypted_stream_through_eme_clear_key(site: dict, page: Page, tier: str) -> None:
    licences: list[int] = []
    page.on("response", lambda r: licences.append(r.status) if "/licence" in r.url else None)
    grant = _grant(site, site[tier], site["locked"])
    url = grant["hifi_dash_url"] if tier == "hifi" else grant["dash_url"]
    dashpage.play(page, site["base"] + url, _clearkey(site, grant, site[tier]))
    _plays_past(page, 3.0)
    assert licences and set(licences) == {200}
    expected = "fLaC" if tier == "hifi" else "mp4a.40.2"  # lossless encrypted too, for the hi-fi tier
    assert expected in page.evaluate("window.player.getCurrentTrackFor('audio').codec")
    assert page.evaluate("window.failures") == []


def test_without_a_licence_key_the_encrypted_stream_does_not_play(site: dict, page: Page) -> None:
    grant = _grant(site, site["fan"], site["locked"])
    dashpage.play(page, site["base"] + grant["dash_url"])  # no protection data: no licence server
    time.sleep(4)
    assert _time(page) == 0.0


def _licence_traffic(page: Page) -> dict[str, list[object]]:
    """Every licence request the page sends, the statuses it gets back and the requests that failed
    below HTTP (a reset connection shows there, not as a response)."""
    seen: dict[str, list[object]] = {"sent": [], "statuses": [], "failed": []}
    page.on("request", lambda r: seen["sent"].append(r.method) if "/licence" in r.url else None)
    page.on("response", lambda r: seen["statuses"].append(r.status) if "/licence" in r.url else None)
    page.on("requestfailed", lambda r: seen["failed"].append(r.failure) if "/licence" in r.url else None)
    return seen


def test_a_revoked_right_gets_451_from_the_licence_and_playback_never_starts(site: dict, page: Page) -> None:
    """The waits go through Playwright (`expect_response`, `wait_for_timeout`): its sync API delivers
    page events only while the test is inside one of its calls, so a `time.sleep` loop never saw the
    licence response (this test's earlier xfail: dash.js had got its 451 all along)."""
    from sqlalchemy import delete

    from cadenza.rights.models import TrackRight

    grant = _grant(site, site["fan"], site["locked"])  # granted while the right was live
    with transaction(site["c"].sessions) as s:
        s.execute(delete(TrackRight).where(TrackRight.track_id == site["locked"]))
    site["state"].track_media.clear()
    seen = _licence_traffic(page)
    try:
        with page.expect_response(lambda r: "/licence" in r.url, timeout=30_000) as first:
            dashpage.play(page, site["base"] + grant["dash_url"], _clearkey(site, grant, site["fan"]))
        assert first.value.status == 451
        # dash.js retries a refused licence, then gives up with a licenser error naming the status
        page.wait_for_function("window.failures.some((f) => f.includes('(451)'))", timeout=30_000)
        page.wait_for_timeout(1_000)
        why = f"{seen}, dash.js: {page.evaluate('window.trace')}, errors: {page.evaluate('window.failures')}"
        assert seen["sent"] and seen["failed"] == [], why
        assert set(seen["statuses"]) == {451} and len(seen["statuses"]) == len(seen["sent"]), why
        assert _time(page) == 0.0
    finally:
        with transaction(site["c"].sessions) as s:
            rights.grant(s, track_id=site["locked"], right_type="stream")
        site["state"].track_media.clear()


@pytest.mark.skipif(not dashpage.HLSJS.is_file(), reason="hls.js is not installed (player/node_modules)")
def test_hlsjs_plays_the_same_encrypted_segments_through_eme_clear_key(site: dict, page: Page) -> None:
    """The protected HLS playlists list the very files of the MPD, declared SAMPLE-AES-CTR (cenc) with
    the Clear Key key format: hls.js gets the key from the same licence endpoint."""
    licences: list[int] = []
    page.on("response", lambda r: licences.append(r.status) if "/licence" in r.url else None)
    grant = _grant(site, site["fan"], site["locked"])
    bearer = site["fan"]
    page.evaluate(
        "([u, l, b]) => window.playHls(u, l, b)",
        [site["base"] + grant["hls_url"], site["base"] + grant["licence_url"], bearer],
    )
    _plays_past(page, 3.0)
    assert licences and set(licences) == {200}
    assert page.evaluate("window.failures") == []
