"""The listener's library in the web player, in Debian's chromium through Playwright, against a real
Cadenza server on loopback with generated, ingested tracks: home and browsing with covers, a release
page, playlists (create, add from anywhere, edit, reorder by drag and by keyboard, unavailable entries
greyed and skipped, remove, delete), favourites and ratings, the queue (shuffle, repeat, reorder) saved
on one device and picked up on another, search as you type with covers, a 360 px phone, and axe-core
on the main screens. Screenshots of each screen are saved to the directory the first test prints."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from test_player import ARGS, CHROMIUM, EMAIL, PASSWORD

from audio import make_audio
from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog import artwork
from cadenza.catalog.service import TrackMetadata
from cadenza.db.engine import make_engine, reading, transaction
from cadenza.ingest.service import accept_upload
from cadenza.library.models import Playlist, PlaylistEntry, ReleaseMark, TrackMark
from cadenza.rights import service as rights
from cadenza.web.app import create_app
from conftest import InlineRunner, create_user, make_settings
from images import picture
from livesrv import serve

from playwright.sync_api import Browser, Page, expect, sync_playwright  # isort: skip  (test_player skips without it)

AXE = Path(__file__).resolve().parents[2] / "player" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("CADENZA_SCREENSHOTS") or tempfile.mkdtemp(prefix="cadenza-screens-"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A release of three tracks with a cover, a single by another artist, and a track licensed only in
    Japan (unavailable on loopback, which has no country)."""
    tmp = tmp_path_factory.mktemp("library")
    url = f"sqlite:///{tmp / 'data' / 'cadenza.db'}"
    settings = make_settings(tmp / "data", url)
    c = build_collaborators(settings, engine=make_engine(url))
    runner = InlineRunner(c)

    def ingest(title: str, artist: str, release: str, seconds: float, seed: int, number: int | None = None):  # type: ignore[no-untyped-def]
        path = make_audio(tmp / f"{seed}.flac", duration=seconds, seed=seed)
        meta = TrackMetadata(title=title, artists=[artist], release_title=release, track_number=number)
        return accept_upload(c, runner, path=path, filename=f"{seed}.flac", overrides=meta)

    dawn = [
        ingest("Wombat Morning", "The Marsupials", "Dawn Chorus", 14, 21, 1),
        ingest("Quokka Smile", "The Marsupials", "Dawn Chorus", 6, 22, 2),
        ingest("Platypus Dive", "The Marsupials", "Dawn Chorus", 6, 23, 3),
    ]
    single = ingest("Kiwi Night", "Aotearoa Trio", "Night Single", 6, 24, 1)
    japan = ingest("Tokyo Rain", "Kyoto Strings", "Far Away", 6, 25, 1)
    assert len({t.release_id for t in dawn}) == 1  # one release of three tracks
    artwork.upload_release_artwork(
        c.sessions, store=c.store, release_id=dawn[0].release_id, data=picture(600, 600, "PNG")
    )
    with transaction(c.sessions) as s:
        for t in [*dawn, single]:
            rights.grant(s, track_id=t.id, right_type="stream")
        rights.grant(s, track_id=japan.id, right_type="stream", territory="JP")
    create_user(c.sessions, email=EMAIL)
    print(f"\nscreenshots: {SHOTS}")
    with serve(create_app(settings, wired=App(c=c, runner=runner))) as base:
        yield {
            "base": base,
            "dawn": [t.id for t in dawn],
            "release": dawn[0].release_id,
            "single": single.id,
            "japan": japan.id,
            "sessions": c.sessions,
        }


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def _sign_in(browser: Browser, site: dict, width: int = 1200, height: int = 800) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(site["base"] + "/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="New releases")).to_be_visible()
    return page


@pytest.fixture(scope="module")
def page(browser: Browser, site: dict) -> Iterator[Page]:
    p = _sign_in(browser, site)
    yield p
    assert not p.errors  # type: ignore[attr-defined]
    p.context.close()


# To another screen of the app, returning once the app has taken the new address: it changes screens on
# the hashchange, a task after the address changes (and after `page.goto` of a fragment returns).
GO = """(url) => new Promise((resolve) => {
  if (location.href === url) return resolve();
  window.addEventListener('hashchange', () => resolve(), { once: true });
  location.href = url;
})"""


def _go(page: Page, site: dict, hash_: str, heading: str) -> None:
    """Show `#/hash_` and wait for its screen: the screen before may have a heading of the same name (the
    favourites' and the search results' "Tracks"), which must not pass for the new one."""
    page.evaluate(GO, f"{site['base']}/#/{hash_}")
    page.wait_for_function("!document.querySelector('#content').hasAttribute('aria-busy')")
    expect(page.get_by_role("heading", name=heading, exact=True).first).to_be_visible()


def _listings_asked(page: Page) -> list[str]:
    """The catalogue listings (releases, artists) the page asks for from now on."""
    asked: list[str] = []
    listing = re.compile(r"/api/(releases|artists)(\?|$)")
    page.on("request", lambda r: asked.append(r.url) if listing.search(r.url) else None)
    return asked


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _wait_for(check, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def _entries(site: dict, name: str) -> list[int]:
    """A playlist's track ids in playlist order, as the server keeps them."""
    with reading(site["sessions"]) as s:
        pid = s.scalar(select(Playlist.id).where(Playlist.name == name))
        q = select(PlaylistEntry.track_id).where(PlaylistEntry.playlist_id == pid)
        return list(s.scalars(q.order_by(PlaylistEntry.position)))


def _api(page: Page, method: str, path: str, body: object | None = None) -> object:
    """Call the API as the page's listener (its token), e.g. to read what the server saved."""
    return page.evaluate(
        """async ([method, path, body]) => {
          const r = await fetch(path, { method, headers: { authorization: 'Bearer ' +
            localStorage.getItem('cadenza.token'), 'content-type': 'application/json' },
            body: body === null ? undefined : JSON.stringify(body) });
          return r.status === 204 ? null : r.json();
        }""",
        [method, path, body],
    )


def test_home_shows_recently_played_new_releases_and_playlists_with_lazy_covers(
    page: Page, site: dict
) -> None:
    _go(page, site, "", "New releases")
    tiles = page.get_by_role("list", name="New releases").get_by_role("listitem")
    expect(tiles).to_have_count(3)
    cover = page.get_by_role("list", name="New releases").locator("img.cover").first
    expect(cover).to_have_attribute("loading", "lazy")
    srcset = cover.get_attribute("srcset") or ""
    assert len(re.findall(r"/api/artwork/\S+ \d+w", srcset)) >= 2  # the server's sizes, the browser picks
    page.wait_for_function("document.querySelector('.tiles img.cover').naturalWidth > 0")
    expect(page.get_by_role("heading", name="Your playlists")).to_be_visible()
    _shot(page, "home")


def test_a_release_page_lists_its_tracks_with_the_total_and_plays_shuffles_and_queues_them(
    page: Page, site: dict
) -> None:
    _go(page, site, f"release/{site['release']}", "Dawn Chorus")
    expect(page.locator(".hero .total")).to_have_text(" · 3 tracks · 0:26")
    rows = page.get_by_role("list", name="Tracks of Dawn Chorus").locator("li")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Wombat Morning")

    page.get_by_role("button", name="Play Dawn Chorus").click()
    expect(page.locator(".now-title")).to_have_text("Wombat Morning")
    page.get_by_role("button", name="Queue", exact=True).click()
    queue = page.get_by_role("list", name="Queued tracks").locator("li")
    expect(queue).to_have_count(3)
    page.get_by_role("button", name="Add Dawn Chorus to queue").click()
    expect(queue).to_have_count(6)
    page.locator(".queue-panel").get_by_role("button", name="Clear").click()
    expect(queue).to_have_count(1)

    page.get_by_role("button", name="Shuffle Dawn Chorus").click()
    expect(queue).to_have_count(3)
    expect(page.get_by_role("button", name="Shuffle", exact=True)).to_have_attribute("aria-pressed", "true")
    titles = {queue.nth(i).locator(".title").inner_text() for i in range(3)}
    assert titles == {"Wombat Morning", "Quokka Smile", "Platypus Dive"}
    page.get_by_role("button", name="Shuffle", exact=True).click()  # off: the release's order again
    expect(queue.nth(0)).to_contain_text("Wombat Morning")
    expect(queue.nth(2)).to_contain_text("Platypus Dive")
    _shot(page, "release-and-queue")
    page.get_by_role("button", name="Close queue").click()
    page.get_by_role("button", name="Pause", exact=True).click()


def test_favourites_and_ratings_by_mouse_and_keyboard_reach_the_server_and_the_favourites_screen(
    page: Page, site: dict
) -> None:
    _go(page, site, f"release/{site['release']}", "Dawn Chorus")
    heart = page.get_by_role("button", name="Favourite Dawn Chorus")
    heart.click()
    expect(heart).to_have_attribute("aria-pressed", "true")
    track_heart = page.get_by_role("button", name="Favourite Quokka Smile")
    track_heart.click()
    expect(track_heart).to_have_attribute("aria-pressed", "true")

    # Stars are a radio group: Tab lands on one star, the arrows set the rating.
    stars = page.get_by_role("radiogroup", name="Rate Wombat Morning")
    stars.get_by_role("radio", name="1 star", exact=True).focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(stars.get_by_role("radio", name="4 stars")).to_have_attribute("aria-checked", "true")
    expect(stars.get_by_role("radio", name="4 stars")).to_be_focused()
    page.get_by_role("radiogroup", name="Rate Dawn Chorus").get_by_role("radio", name="5 stars").click()

    def marks() -> tuple:
        with reading(site["sessions"]) as s:
            return (
                {(m.track_id, m.starred_at is not None, m.rating) for m in s.scalars(select(TrackMark))},
                {(m.release_id, m.starred_at is not None, m.rating) for m in s.scalars(select(ReleaseMark))},
            )

    wombat, quokka = site["dawn"][0], site["dawn"][1]
    want = ({(wombat, False, 4), (quokka, True, None)}, {(site["release"], True, 5)})
    assert _wait_for(lambda: marks() == want), marks()

    asked = _listings_asked(page)
    _go(page, site, "favourites", "Favourites")
    expect(page.get_by_role("list", name="Favourite tracks").locator("li")).to_have_count(1)
    expect(page.get_by_role("list", name="Favourite tracks")).to_contain_text("Quokka Smile")
    expect(page.get_by_role("list", name="Favourite releases")).to_contain_text("Dawn Chorus")
    # Covers come with the favourites themselves: no catalogue listing is fetched to find them.
    expect(page.get_by_role("list", name="Favourite tracks").locator("img.cover")).to_have_count(1)
    expect(page.get_by_role("list", name="Favourite releases").locator("img.cover")).to_have_count(1)
    assert asked == [], asked
    _shot(page, "favourites")
    # The same heart everywhere: unstarring here shows on the release page too.
    page.get_by_role("list", name="Favourite tracks").get_by_role(
        "button", name="Favourite Quokka Smile"
    ).click()
    _go(page, site, f"release/{site['release']}", "Dawn Chorus")
    expect(page.get_by_role("button", name="Favourite Quokka Smile")).to_have_attribute(
        "aria-pressed", "false"
    )


def test_playlists_are_made_filled_from_anywhere_edited_reordered_and_deleted(page: Page, site: dict) -> None:
    wombat, quokka, platypus = site["dawn"]
    _go(page, site, "playlists", "Playlists")
    page.get_by_label("Playlist name").fill("Road Trip")
    page.get_by_role("button", name="Create playlist").click()
    expect(page.get_by_role("heading", name="Road Trip")).to_be_visible()
    expect(page.get_by_text("This playlist is empty")).to_be_visible()

    # A whole release into a new playlist and the existing one at once, from the release page.
    _go(page, site, f"release/{site['release']}", "Dawn Chorus")
    page.get_by_role("button", name="Add Dawn Chorus to playlist").click()
    dialog = page.get_by_role("dialog", name="Add 3 tracks to playlist")
    dialog.get_by_label("Road Trip").check()
    dialog.get_by_label("New playlist name").fill("Morning")
    dialog.get_by_role("button", name="Add").click()
    expect(dialog).to_be_hidden()
    assert _entries(site, "Road Trip") == [wombat, quokka, platypus]
    assert _entries(site, "Morning") == [wombat, quokka, platypus]

    # One track from its row menu (a right-click opens the same menu), from another screen.
    _go(page, site, "tracks", "Tracks")
    page.locator(f"[data-track-id='{site['japan']}'] .track-title").click(button="right")
    page.get_by_role("menuitem", name="Add to playlist…").click()
    page.get_by_role("dialog").get_by_label("Road Trip").check()
    page.get_by_role("dialog").get_by_role("button", name="Add").click()
    assert _wait_for(lambda: _entries(site, "Road Trip") == [wombat, quokka, platypus, site["japan"]])

    road = page.get_by_role("link", name="Road Trip")
    _go(page, site, "playlists", "Playlists")
    asked = _listings_asked(page)
    road.first.click()
    expect(page.get_by_role("heading", name="Road Trip")).to_be_visible()
    rows = page.get_by_role("list", name="Tracks of Road Trip").locator("li")
    expect(rows).to_have_count(4)
    expect(rows.nth(0).locator("img.cover")).to_have_count(1)  # the entry's own artwork
    assert asked == [], asked
    # Not licensed here: greyed, says so, cannot be started.
    expect(rows.nth(3)).to_have_class(re.compile(r"\bunavailable\b"))
    expect(rows.nth(3).get_by_role("button", name="Tokyo Rain, unavailable")).to_have_attribute(
        "aria-disabled", "true"
    )

    # Rename, describe, publish.
    page.get_by_role("button", name="Edit", exact=True).click()
    form = page.get_by_role("form", name="Edit playlist")
    form.get_by_label("Playlist name").fill("Road Trip 2027")
    form.get_by_label("Description").fill("For the long drive north")
    form.get_by_label("Public").check()
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Road Trip 2027")).to_be_visible()
    expect(page.locator(".badge")).to_have_text("Public")
    with reading(site["sessions"]) as s:
        saved = s.scalars(select(Playlist).where(Playlist.name == "Road Trip 2027")).one()
        assert (saved.description, saved.public) == ("For the long drive north", True)

    # Reorder by keyboard: the focus stays on the moved row's button.
    rows = page.get_by_role("list", name="Tracks of Road Trip 2027").locator("li")
    page.get_by_role("button", name="Move Wombat Morning down").focus()
    page.keyboard.press("Enter")
    expect(rows.nth(1)).to_contain_text("Wombat Morning")
    expect(page.get_by_role("button", name="Move Wombat Morning down")).to_be_focused()
    assert _wait_for(lambda: _entries(site, "Road Trip 2027") == [quokka, wombat, platypus, site["japan"]])
    # Reorder by dragging: Platypus Dive dropped on the top half of the first row.
    rows.nth(2).drag_to(rows.nth(0), target_position={"x": 200, "y": 4})
    expect(rows.nth(0)).to_contain_text("Platypus Dive")
    assert _wait_for(lambda: _entries(site, "Road Trip 2027") == [platypus, quokka, wombat, site["japan"]])
    _shot(page, "playlist")

    # The player skips what cannot be played: next after the last playable entry is the end here,
    # and playing the playlist from Wombat Morning with repeat all wraps past Tokyo Rain to the top.
    rows.nth(2).get_by_role("button", name="Play Wombat Morning", exact=True).click()
    expect(page.locator(".now-title")).to_have_text("Wombat Morning")
    page.get_by_role("button", name="Queue", exact=True).click()
    page.get_by_role("button", name="Repeat: off").click()
    expect(page.get_by_role("button", name="Repeat: all")).to_be_visible()
    page.get_by_role("button", name="Next", exact=True).click()
    expect(page.locator(".now-title")).to_have_text("Platypus Dive")
    page.get_by_role("button", name="Repeat: all").click()  # → one
    page.get_by_role("button", name="Repeat: one").click()  # → off
    page.get_by_role("button", name="Close queue").click()

    # Remove an entry, then delete the playlist.
    rows.nth(1).get_by_role("button", name="More for Quokka Smile").click()
    page.get_by_role("menuitem", name="Remove from playlist").click()
    assert _wait_for(lambda: _entries(site, "Road Trip 2027") == [platypus, wombat, site["japan"]])
    expect(page.get_by_role("list", name="Tracks of Road Trip 2027").locator("li")).to_have_count(3)
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_role("heading", name="Playlists", exact=True)).to_be_visible()
    assert _wait_for(lambda: _entries(site, "Road Trip 2027") == [])
    page.get_by_role("button", name="Pause", exact=True).click()


def test_the_queue_moves_by_drag_and_keyboard_and_follows_the_listener_to_another_device(
    browser: Browser, site: dict
) -> None:
    wombat, quokka, platypus = site["dawn"]
    first = _sign_in(browser, site)
    _go(first, site, f"release/{site['release']}", "Dawn Chorus")
    first.get_by_role("button", name="Play Dawn Chorus").click()
    first.get_by_role("button", name="Queue", exact=True).click()
    queue = first.get_by_role("list", name="Queued tracks").locator("li")
    expect(queue).to_have_count(3)
    first.wait_for_function("document.querySelector('audio').currentTime > 0.2")  # Wombat Morning plays
    # Keyboard: Platypus Dive up one; drag: Quokka Smile dropped below the last row.
    first.get_by_role("button", name="Move Platypus Dive up").click()
    expect(queue.nth(1)).to_contain_text("Platypus Dive")
    queue.nth(2).drag_to(queue.nth(0), target_position={"x": 100, "y": 2})
    expect(queue.nth(0)).to_contain_text("Quokka Smile")
    rows_now = (
        "[...document.querySelectorAll('.queue-list li')].map(li => li.className + ':' + li.textContent)"
    )
    try:
        expect(queue.nth(1)).to_have_class("playing")  # Wombat Morning still playing, now second
    except AssertionError:
        raise AssertionError(f"queue after the drag: {first.evaluate(rows_now)}") from None
    # Play on: the track playing (Wombat Morning, 14 s) to past 5 s, then pause.
    first.wait_for_function("document.querySelector('audio').currentTime > 5.5", timeout=20_000)
    first.get_by_role("button", name="Pause", exact=True).click()
    paused_at = float(first.evaluate("document.querySelector('audio').currentTime"))

    def saved() -> dict:
        return _api(first, "GET", "/api/me/queue")  # type: ignore[return-value]

    ok = _wait_for(lambda: (q := saved())["current_index"] == 1 and q["position_ms"] >= 5000)
    assert ok, json.dumps(saved())
    assert [e["track"]["id"] for e in saved()["entries"]] == [quokka, wombat, platypus]

    # Another device, the same listener: the queue, the track and the position are picked up.
    second = _sign_in(browser, site, 1000, 760)
    expect(second.locator(".now-title")).to_have_text("Wombat Morning")
    second.get_by_role("button", name="Queue", exact=True).click()
    restored = second.get_by_role("list", name="Queued tracks").locator("li")
    expect(restored).to_have_count(3)
    expect(restored.nth(0)).to_contain_text("Quokka Smile")
    expect(restored.nth(1)).to_have_class("playing")
    expect(second.locator(".elapsed")).to_have_text(f"0:{int(paused_at):02d}")
    second.get_by_role("button", name="Play", exact=True).click()
    second.wait_for_function(f"document.querySelector('audio').currentTime > {paused_at - 0.5}")
    assert float(second.evaluate("document.querySelector('audio').currentTime")) < paused_at + 5
    second.get_by_role("button", name="Pause", exact=True).click()
    assert not first.errors and not second.errors  # type: ignore[attr-defined]
    first.context.close()
    second.context.close()


def test_search_as_you_type_groups_suggestions_by_kind_with_covers_and_the_keyboard_opens_one(
    page: Page, site: dict
) -> None:
    _go(page, site, "", "New releases")
    box = page.get_by_role("combobox", name="Search")
    box.press_sequentially("dawn", delay=40)
    listbox = page.get_by_role("listbox", name="Suggestions")
    expect(listbox.get_by_role("group", name="Releases")).to_be_visible()
    release = listbox.get_by_role("option", name="Dawn Chorus")
    expect(release.locator("img.cover")).to_have_attribute("src", re.compile(r"^/api/artwork/"))
    _shot(page, "search-suggestions")
    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", re.compile("suggestion-"))
    box.fill("")
    box.press_sequentially("marsupials", delay=30)
    expect(listbox).to_be_visible()
    box.press("Enter")  # nothing chosen: all results
    results = page.locator(".search-results")
    expect(results.get_by_role("heading", name="Tracks")).to_be_visible()
    expect(results.get_by_role("list", name="Matching releases")).to_contain_text("Dawn Chorus")
    expect(results.get_by_role("list", name="Matching releases").locator("img.cover")).to_have_count(1)
    _shot(page, "search")


def test_a_360_px_phone_has_no_sideways_scroll_and_a_usable_player_bar(browser: Browser, site: dict) -> None:
    phone = _sign_in(browser, site, 360, 740)
    for hash_, heading in [
        ("", "New releases"),
        (f"release/{site['release']}", "Dawn Chorus"),
        ("playlists", "Playlists"),
        ("favourites", "Favourites"),
        ("tracks", "Tracks"),
    ]:
        _go(phone, site, hash_, heading)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"#{hash_} is {width} px wide"
    _go(phone, site, f"release/{site['release']}", "Dawn Chorus")
    _shot(phone, "phone-release")
    phone.get_by_role("button", name="Play Platypus Dive", exact=True).click()
    play = phone.get_by_role("button", name="Pause", exact=True)
    expect(play).to_be_in_viewport()
    box = play.bounding_box()
    assert box and box["width"] >= 24 and box["height"] >= 24 and box["x"] + box["width"] <= 360
    play.click()
    expect(phone.get_by_role("button", name="Play", exact=True)).to_be_visible()
    phone.get_by_role("button", name="Queue", exact=True).click()
    expect(phone.get_by_role("button", name="Close queue")).to_be_in_viewport()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    _shot(phone, "phone-queue")
    phone.context.close()


@pytest.mark.parametrize("screen", ["home", "search", "release", "playlist", "favourites", "queue"])
def test_axe_finds_no_serious_or_critical_violation(browser: Browser, site: dict, screen: str) -> None:
    page = _sign_in(browser, site)
    if screen == "playlist":
        made = _api(page, "POST", "/api/playlists", {"name": "Axe Mix", "description": "checked"})
        pid = made["id"]  # type: ignore[index]
        _api(page, "POST", f"/api/playlists/{pid}/tracks", {"track_ids": [*site["dawn"], site["japan"]]})
        _go(page, site, f"playlist/{pid}", "Axe Mix")
    elif screen == "search":
        _go(page, site, "search?q=marsupials", "Results for “marsupials”")
    elif screen in ("release", "queue"):
        _go(page, site, f"release/{site['release']}", "Dawn Chorus")
        if screen == "queue":
            page.get_by_role("button", name="Play Dawn Chorus").click()
            page.get_by_role("button", name="Queue", exact=True).click()
            expect(page.get_by_role("list", name="Queued tracks").locator("li")).to_have_count(3)
            page.get_by_role("button", name="Pause", exact=True).click()
    elif screen == "favourites":
        _go(page, site, "favourites", "Favourites")
    else:
        _go(page, site, "", "New releases")
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("axe.run(document, { resultTypes: ['violations'] })")
    bad = [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["html"][:120] for n in v["nodes"][:3]],
        }
        for v in found["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, json.dumps(bad, indent=1)
    _shot(page, f"axe-{screen}")
    page.context.close()
