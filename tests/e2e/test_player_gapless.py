"""Gapless playback, heard in the browser: two tracks cut at a sample-exact boundary from one continuous
tone are ingested like any upload (AAC 128/256/320 in fMP4 HLS, each with the encoder's priming frame and
tail padding), played one after the other from the queue, and the audio the page plays is captured with
Web Audio. Joined right, the capture is one uninterrupted sine: no silence, no level dip, and every period
the same length (a missing or extra sample at the join would lengthen or shorten one by a whole sample).

The capture is an AudioWorklet that keeps every frame the graph renders (player_world.TAP_PROCESSOR), so
a slow main thread on a loaded machine cannot drop or repeat captured audio: the ScriptProcessor used
before could, and once showed a 28-sample "phase shift" in audio that had played perfectly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from player_world import Upload, cadenza_site, measure_tap, signed_in_page, start_tap, tone
from playwright.sync_api import Page, expect

RATE = 44_100
# not a whole number of AAC frames, so the tail padding is partial; 5.5 s, so that a capture started
# late on a loaded machine (it needs the graph the click makes) still holds a second before the join
A_SAMPLES = 5 * RATE + RATE // 2 + 17
B_SAMPLES = 3 * RATE
FREQ = 441


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("gapless")
    a = tone(tmp / "a.flac", start_sample=0, samples=A_SAMPLES, frequency=FREQ)
    b = tone(tmp / "b.flac", start_sample=A_SAMPLES, samples=B_SAMPLES, frequency=FREQ)
    uploads = [
        Upload(a, "Tone A", release="Continuous", track_number=1),
        Upload(b, "Tone B", release="Continuous", track_number=2),
    ]
    # Short segments: the join, the level switches of ABR and several appends all fall inside 8.5 s.
    with cadenza_site(tmp, uploads, ingest={"hls_segment_sec": 1.5}) as world:
        yield world


@pytest.fixture(scope="module")
def page(site: dict) -> Iterator[Page]:
    with signed_in_page(site["base"]) as p:
        yield p


def test_two_tracks_cut_from_one_tone_play_as_one_uninterrupted_tone(page: Page, site: dict) -> None:
    page.goto(site["base"] + "/#/tracks")
    expect(page.get_by_role("heading", name="Tracks", exact=True, level=1)).to_be_visible()
    page.get_by_role("button", name="Play Tone A", exact=True).first.click()
    start_tap(page)
    tapped_at = float(page.evaluate("document.querySelector('audio').currentTime"))
    expect(page.locator(".now-title")).to_have_text("Tone A")
    # The queue moves on by itself at the join, and the run ends after B (nothing follows it).
    expect(page.locator(".now-title")).to_have_text("Tone B", timeout=15_000)
    page.wait_for_function("document.querySelector('audio').paused", timeout=15_000)
    m = measure_tap(page, join_title="Tone B", freq=FREQ)
    print(f"gapless capture: {m}")

    assert tapped_at < A_SAMPLES / RATE - 1.5, tapped_at  # the capture began well before the join
    assert m["joinFound"], m  # the capture spans the join, with a second on either side
    # all the media clock played from the capture's start on was heard: the rest of A and all of B
    assert m["seconds"] > (A_SAMPLES + B_SAMPLES) / RATE - tapped_at - 0.5, (m, tapped_at)
    assert m["gapMs"] < 5.0  # no silence longer than 5 ms anywhere, the join included
    # The tone after the join is in phase with the tone before it to well under a sample: the join
    # neither drops nor repeats a sample (priming and padding are trimmed exactly; untrimmed, the
    # padding alone shifted it by 257 samples).
    assert abs(m["phaseShiftSamples"]) < 0.5, m
    assert abs(m["ampAfter"] / m["ampBefore"] - 1) < 0.05, m
    # No fade, dip or dropout: every 10 ms window within 1 dB of the median level.
    assert m["levelLowDb"] > -1.0 and m["levelHighDb"] < 1.0, m
    assert not page.errors  # type: ignore[attr-defined]
