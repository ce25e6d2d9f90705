"""The player's controls beyond the buttons, in the browser: the Media Session (what a lock screen and
media keys see), the keyboard shortcuts and their help dialog, and the waveform as a slider that can be
dragged and driven by keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from player_world import Upload, cadenza_site, signed_in_page
from playwright.sync_api import Page, expect

from audio import make_audio
from cadenza.catalog import artwork
from images import picture


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("controls")
    uploads = [
        Upload(
            make_audio(tmp / "a.flac", duration=30, seed=31), "Night Drive", "Neon Owls", "After Hours", 1
        ),
        Upload(
            make_audio(tmp / "b.flac", duration=12, seed=32), "Tail Lights", "Neon Owls", "After Hours", 2
        ),
    ]
    with cadenza_site(tmp, uploads) as world:
        c = world["c"]
        with c.sessions() as s:
            from cadenza.catalog.models import Track

            release_id = s.get(Track, world["ids"][0]).release_id
        artwork.upload_release_artwork(
            c.sessions, store=c.store, release_id=release_id, data=picture(600, 600, "PNG")
        )
        yield world


@pytest.fixture(scope="module")
def page(site: dict) -> Iterator[Page]:
    with signed_in_page(site["base"]) as p:
        p.goto(site["base"] + "/#/tracks")
        expect(p.get_by_role("heading", name="Tracks", exact=True, level=1)).to_be_visible()
        p.get_by_role("button", name="Play Night Drive", exact=True).first.click()
        p.wait_for_function("document.querySelector('audio').currentTime > 1", timeout=20_000)
        yield p


def _time(page: Page) -> float:
    return float(page.evaluate("document.querySelector('audio').currentTime"))


def _position(page: Page) -> float:
    return float(page.locator(".waveform").get_attribute("aria-valuenow") or "nan")


def test_the_media_session_names_the_track_for_the_lock_screen(page: Page) -> None:
    meta = page.evaluate(
        """() => { const m = navigator.mediaSession.metadata;
                   return { title: m.title, artist: m.artist, album: m.album, art: m.artwork.length,
                            state: navigator.mediaSession.playbackState }; }"""
    )
    assert meta == {"title": "Night Drive", "artist": "Neon Owls", "album": "After Hours", "art": meta["art"],
                    "state": "playing"}  # fmt: skip
    assert meta["art"] >= 1  # the release's cover, in the server's rendered sizes


def test_keyboard_shortcuts_are_listed_by_question_mark_and_work(page: Page) -> None:
    page.locator("body").click(position={"x": 5, "y": 5})  # the focus on no field
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    for does in ("Play or pause", "Next track", "Mute or unmute", "Forward 5 seconds"):
        expect(dialog.get_by_text(does, exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.keyboard.press(" ")
    page.wait_for_function("document.querySelector('audio').paused")
    # the element's paused flag turns at once; the store (and with it the lock screen's state) follows
    # on the "pause" event, a task later: wait for it rather than read it in between
    page.wait_for_function("navigator.mediaSession.playbackState === 'paused'")
    page.keyboard.press(" ")
    page.wait_for_function("!document.querySelector('audio').paused")
    page.wait_for_function("navigator.mediaSession.playbackState === 'playing'")

    page.keyboard.press("m")
    assert page.evaluate("document.querySelector('audio').muted") is True
    page.keyboard.press("m")
    assert page.evaluate("document.querySelector('audio').muted") is False

    before = _position(page)
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        f"Number(document.querySelector('.waveform').getAttribute('aria-valuenow')) >= {before + 4}"
    )

    page.keyboard.press("j")
    expect(page.locator(".now-title")).to_have_text("Tail Lights")
    # At the start of a track "k" goes to the one before (past 3 s it restarts the track): held at the
    # start, paused, so that a loaded machine's delay between the two presses cannot move it past 3 s.
    page.wait_for_function(  # the new track playing (not the last one's tail while its grant is fetched)
        "!document.querySelector('audio').paused && window.cadenza.player.position() < 3", timeout=20_000
    )
    page.keyboard.press(" ")
    page.wait_for_function("document.querySelector('audio').paused")
    page.evaluate("window.cadenza.player.seek(0.5)")
    page.wait_for_function("Number(document.querySelector('.waveform').getAttribute('aria-valuenow')) <= 1")
    page.keyboard.press("k")
    expect(page.locator(".now-title")).to_have_text("Night Drive")
    page.wait_for_function("document.querySelector('audio').currentTime > 0.5", timeout=20_000)


def test_space_right_after_closing_the_help_plays_and_pauses_wherever_it_was_opened(page: Page) -> None:
    """Escape is followed at once by Space (no wait for anything in between): the help's closing must
    already be known to the shortcuts, and the focus given back must not be a button that Space would
    press instead (the help's own "?" button, opened with the mouse; a track's Play button)."""
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    # a known start whatever the earlier tests left (the two-track queue may have run out under load)
    page.get_by_role("button", name="Play Night Drive", exact=True).first.click()
    page.wait_for_function(
        "!document.querySelector('audio').paused && document.querySelector('audio').currentTime > 0.2",
        timeout=20_000,
    )
    for opener in ("help button", "track button"):
        # From the start of whatever plays (a 30 s track may have ended since the module's first test):
        # the title must be the same after the two presses of Space, which only pause and play.
        page.evaluate("window.cadenza.player.seek(0)")
        title = page.locator(".now-title").inner_text()
        if opener == "help button":
            page.get_by_role("button", name="Keyboard shortcuts").click()
        else:
            page.get_by_role("button", name="Play Night Drive", exact=True).first.focus()
            page.keyboard.press("?")
        expect(dialog).to_be_visible()
        page.keyboard.press("Escape")
        page.keyboard.press(" ")
        page.wait_for_function("document.querySelector('audio').paused")
        expect(dialog).to_be_hidden()
        page.keyboard.press(" ")
        page.wait_for_function("!document.querySelector('audio').paused")
        expect(page.locator(".now-title")).to_have_text(title)


def test_the_waveform_is_a_slider_for_keys_and_a_drag(page: Page) -> None:
    slider = page.get_by_role("slider", name="Seek")
    expect(slider).to_have_attribute("aria-valuemax", "30")
    # Paused: End puts the playhead a second from the end, which a loaded page may let play out (and
    # the queue move on) before the next key; seeking by keys and drag works the same paused.
    page.get_by_role("button", name="Pause", exact=True).click()
    page.wait_for_function("document.querySelector('audio').paused")
    slider.focus()
    page.keyboard.press("End")
    page.wait_for_function("Number(document.querySelector('.waveform').getAttribute('aria-valuenow')) >= 28")
    page.keyboard.press("Home")
    page.wait_for_function("Number(document.querySelector('.waveform').getAttribute('aria-valuenow')) <= 1")
    page.keyboard.press("PageUp")
    page.wait_for_function(
        "Number(document.querySelector('.waveform').getAttribute('aria-valuenow')) >= 29 - 1"
    )
    # ... PageUp is 30 s: clamped to the end of this 30 s track
    page.keyboard.press("Home")
    assert "of 0:30" in (slider.get_attribute("aria-valuetext") or "")

    box = slider.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.1, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.4, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=5)
    page.mouse.up()
    page.wait_for_function("!document.querySelector('audio').seeking")
    assert abs(_time(page) - 21) < 1.5  # released at 70 % of 30 s
    assert not page.errors  # type: ignore[attr-defined]
