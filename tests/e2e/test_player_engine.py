"""The playback engine in the browser, beyond the join (test_player_gapless.py): loudness normalisation
heard in the page, adaptive bit rate under an emulated slow network and a pinned quality, and a signed
URL that expires in the middle of a track, renewed without a gap."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import m3u8
import pytest
from player_world import Upload, cadenza_site, signed_in_page, start_tap, summary, tone
from playwright.sync_api import Page, expect

from audio import make_audio

RATE = 44_100


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("engine")
    uploads = [
        # -6 dBFS peaks: far louder than ReplayGain's -18 LUFS, so normalisation turns it down by ~12 dB
        Upload(tone(tmp / "loud.flac", start_sample=0, samples=12 * RATE, frequency=1000, volume_db=12),
               "Loud Tone"),
        # long enough that a seek can always land where nothing is buffered (12 s ahead, 30 s behind)
        Upload(make_audio(tmp / "tune.flac", duration=90, seed=21), "Long Tune"),
        Upload(tone(tmp / "long.flac", start_sample=0, samples=20 * RATE), "Renewal Tone"),
    ]  # fmt: skip
    # Tokens for segments live exactly the track's duration (the least the settings allow), so a pause
    # in the middle of a track outlives them.
    with cadenza_site(
        tmp, uploads, ingest={"hls_segment_sec": 2.0},
        delivery={"playback_ttl_factor": 1.0, "playback_ttl_margin_sec": 0},
    ) as world:  # fmt: skip
        yield world


@pytest.fixture
def page(site: dict) -> Iterator[Page]:
    with signed_in_page(site["base"]) as p:
        requests: list[str] = []
        p.on("request", lambda r: requests.append(r.url))
        p.requests = requests  # type: ignore[attr-defined]
        yield p


def _play(page: Page, site: dict, title: str) -> None:
    page.goto(site["base"] + "/#/tracks")
    expect(page.get_by_role("heading", name="Tracks", exact=True, level=1)).to_be_visible()
    page.get_by_role("button", name=f"Play {title}", exact=True).first.click()
    expect(page.locator(".now-title")).to_have_text(title)
    page.wait_for_function("document.querySelector('audio').currentTime > 0.5", timeout=20_000)


def _api(page: Page, site: dict, path: str) -> dict:
    token = page.evaluate("localStorage.getItem('cadenza.token')")
    return httpx.get(site["base"] + path, headers={"authorization": f"Bearer {token}"}).json()


def _level(page: Page, seconds: float = 1.5) -> float:
    start_tap(page)
    time.sleep(seconds)
    return float(summary(page)["rmsDb"])


def test_normalisation_turns_a_loud_track_down_by_its_replaygain(page: Page, site: dict) -> None:
    page.get_by_label("Loudness normalisation").select_option("off")
    _play(page, site, "Loud Tone")
    off = _level(page)
    page.get_by_label("Loudness normalisation").select_option("track")
    time.sleep(0.2)
    on = _level(page)
    track = _api(page, site, f"/api/tracks/{site['ids'][0]}")
    rg = track["loudness"]["replaygain_track_gain_db"]
    assert rg < -8  # the premise: a loud track
    print(f"normalisation: off {off:.2f} dB, track mode {on:.2f} dB, ReplayGain {rg:.2f} dB")
    assert abs((on - off) - rg) < 0.5
    # The choice is kept: a reload plays normalised again.
    page.reload()
    expect(page.get_by_label("Loudness normalisation")).to_have_value("track")


def _segment_levels(page: Page, since: int = 0) -> list[str]:
    urls = page.requests[since:]  # type: ignore[attr-defined]
    return [u.split("/hls/")[1].split("/")[0] for u in urls if u.split("?")[0].endswith(".m4s")]


def _click_past_the_buffer(page: Page, box: dict) -> None:
    """Click the waveform where nothing is buffered, so that the level asked for next is fetched (where
    audio is buffered, a seek plays what is there, at whatever level it was fetched). Which part is
    buffered depends on how fast the network filled it: the spot is read from the element, not assumed."""
    fraction = page.evaluate(
        """() => {
            const a = document.querySelector('audio');
            const d = Number(document.querySelector('.waveform').getAttribute('aria-valuemax'));
            const held = (t) => [...Array(a.buffered.length).keys()].some(
                (i) => a.buffered.start(i) - 1 <= t && t <= a.buffered.end(i) + 1);
            for (let t = 2; t < d - 4; t += 0.5) if (!held(t)) return t / d;
            return null;
        }"""
    )
    buffered = page.evaluate(
        "(() => { const b = document.querySelector('audio').buffered;"
        " return [...Array(b.length).keys()].map((i) => [b.start(i), b.end(i)]); })()"
    )
    assert fraction is not None, f"the whole track is buffered: {buffered}"
    page.mouse.click(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)


def _bandwidths(site: dict) -> dict[str, int]:
    master = next(Path(site["c"].settings.data_dir).glob(f"media/tracks/{site['ids'][1]}/*/hls/master.m3u8"))
    parsed = m3u8.load(str(master))
    return {p.uri.split("/")[0]: p.stream_info.bandwidth for p in parsed.playlists}


def test_abr_settles_on_128k_on_a_slow_network_and_climbs_to_320k_on_a_fast_one(
    page: Page, site: dict
) -> None:
    bw = _bandwidths(site)
    # Under what the 256k level needs (with the 70 % headroom asked to climb), well over the 128k level's.
    throughput = min(bw["aac_256"] / 0.7 * 0.85, bw["aac_128"] * 2.5)
    assert throughput > bw["aac_128"] * 1.2
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 40,
        "downloadThroughput": throughput / 8, "uploadThroughput": throughput / 8,
    })  # fmt: skip
    _play(page, site, "Long Tune")
    page.wait_for_function("document.querySelector('audio').currentTime > 6", timeout=30_000)
    fetched = _segment_levels(page)
    print(f"throttled to {throughput / 1000:.0f} kbit/s: {fetched}")
    assert len(fetched) >= 4 and set(fetched) == {"aac_128"}
    expect(page.locator(".quality")).to_have_text("aac_128")

    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1,
    })  # fmt: skip
    mark = len(page.requests)  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('audio').currentTime > 8", timeout=30_000)
    box = page.locator(".waveform").bounding_box()
    assert box is not None
    _click_past_the_buffer(page, box)
    expect(page.locator(".quality")).to_have_text("aac_320", timeout=20_000)
    assert "aac_320" in _segment_levels(page, mark)

    # Pinned, the level stays whatever the network does.
    page.get_by_label("Quality").select_option("aac_128")
    mark = len(page.requests)  # type: ignore[attr-defined]
    _click_past_the_buffer(page, box)
    expect(page.locator(".quality")).to_have_text("aac_128", timeout=20_000)
    assert set(_segment_levels(page, mark)) == {"aac_128"}
    page.get_by_label("Quality").select_option("auto")
    assert not page.errors  # type: ignore[attr-defined]


def _tokens(page: Page) -> list[str]:
    urls = page.requests  # type: ignore[attr-defined]
    return [u.split("/media/")[1].split("/")[0] for u in urls if u.split("?")[0].endswith(".m4s")]


def test_a_token_expiring_mid_track_is_renewed_with_no_gap(page: Page, site: dict) -> None:
    _play(page, site, "Renewal Tone")
    page.wait_for_function("document.querySelector('audio').currentTime > 2")
    page.get_by_role("button", name="Pause", exact=True).click()
    page.wait_for_function("document.querySelector('audio').paused")
    paused_at = float(page.evaluate("document.querySelector('audio').currentTime"))
    first = _tokens(page)[0]
    expires = int(first.split("~")[1])
    # Paused until the segments' token has under 10 s left (the engine renews ahead of that), then
    # listened through: the segments not yet fetched need a token that outlives the old one.
    time.sleep(max(0.0, expires - 9 - time.time()))
    start_tap(page)  # before Play: the capture holds all of the resumed run, however late the page is
    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function("document.querySelector('audio').currentTime > 17", timeout=30_000)
    until = float(page.evaluate("document.querySelector('audio').currentTime"))
    heard = summary(page)
    tokens = _tokens(page)
    print(f"renewal: {len(set(tokens))} tokens, capture {heard}")
    renewed = [t for t in tokens if int(t.split("~")[1]) > expires]
    assert renewed, tokens  # later segments came with a fresh token
    stream_route = f"/api/tracks/{site['ids'][2]}/stream"
    streams = [u for u in page.requests if u.split("?")[0].endswith(stream_route)]  # type: ignore[attr-defined]
    assert len(streams) >= 2  # the stream route gave the fresh master
    # and the audio never stopped: all that the media clock played from the pause on was heard, unbroken
    assert heard["seconds"] > until - paused_at - 0.5 and heard["gapMs"] < 5.0, (heard, paused_at, until)
    assert page.evaluate("document.querySelector('audio').error") is None
    assert not page.errors  # type: ignore[attr-defined]
