"""A Cadenza server with generated tracks and a signed-in Chromium page, for the playback-engine tests
(gapless joins, loudness, quality, token renewal): the same set-up as test_player.py, with the tracks and
settings each test module needs, and the in-page audio capture they measure with."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog.service import TrackMetadata
from cadenza.db.engine import make_engine, transaction
from cadenza.ingest.service import accept_upload
from cadenza.rights import service as rights
from cadenza.web import static
from cadenza.web.app import create_app
from conftest import InlineRunner, create_user, make_settings
from livesrv import serve

CHROMIUM = os.environ.get("CADENZA_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
EMAIL, PASSWORD = "engine@example.org", "correct horse battery"

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - setup.sh installs it
    pytest.skip("playwright is not installed (scripts/setup.sh installs it)", allow_module_level=True)
if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
if not (static.BUILT / "index.html").is_file():
    pytest.skip("the web player is not built (scripts/setup.sh builds player/)", allow_module_level=True)


@dataclass(frozen=True)
class Upload:
    """A generated file to ingest, with the metadata it is filed under."""

    path: Path
    title: str
    artist: str = "Test Tones"
    release: str | None = None
    track_number: int | None = None


def tone(path: Path, *, start_sample: int, samples: int, frequency: int = 441, volume_db: float = 0.0,
         rate: int = 44_100) -> Path:  # fmt: skip
    """`samples` samples of one continuous sine from sample `start_sample` on (stereo FLAC): cut from the
    same generator, consecutive cuts join into the uninterrupted tone, sample for sample."""
    end = start_sample + samples
    graph = (
        f"sine=frequency={frequency}:sample_rate={rate},"
        f"atrim=start_sample={start_sample}:end_sample={end},asetpts=N/SR/TB,"
        f"volume={volume_db}dB,aformat=sample_fmts=s16:channel_layouts=stereo"
    )
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", graph, "-c:a", "flac", str(path)], check=True
    )
    return path


@contextmanager
def cadenza_site(tmp: Path, uploads: list[Upload], **settings: Any) -> Iterator[dict]:
    """A live server (SQLite, inline ingest) holding `uploads`, each with a stream right everywhere."""
    url = f"sqlite:///{tmp / 'data' / 'cadenza.db'}"
    cfg = make_settings(tmp / "data", url, **settings)
    c = build_collaborators(cfg, engine=make_engine(url))
    runner = InlineRunner(c)
    ids = []
    for u in uploads:
        track = accept_upload(
            c, runner, path=u.path, filename=u.path.name,
            overrides=TrackMetadata(title=u.title, artists=[u.artist], release_title=u.release,
                                    track_number=u.track_number),
        )  # fmt: skip
        with transaction(c.sessions) as s:
            rights.grant(s, track_id=track.id, right_type="stream")
        ids.append(track.id)
    create_user(c.sessions, email=EMAIL)
    state = App(c=c, runner=runner)
    with serve(create_app(cfg, wired=state)) as base:
        yield {"base": base, "ids": ids, "sessions": c.sessions, "c": c, "state": state}


@contextmanager
def signed_in_page(base: str, *, on_tracks: bool = False) -> Iterator[Page]:
    """A Chromium page on the player, signed in (on the Tracks screen if `on_tracks`); page errors
    collected in `page.errors`."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        # No service worker: the engine tests measure the network (CDP throttling does not reach a
        # worker's fetches); the offline tests (test_player_offline.py) run with one.
        context = browser.new_context(viewport={"width": 1200, "height": 760}, service_workers="block")
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="New tracks")).to_be_visible()
        page.errors = errors  # type: ignore[attr-defined]
        if on_tracks:
            page.goto(base + "/#/tracks")
            expect(page.get_by_role("heading", name="Tracks", exact=True, level=1)).to_be_visible()
        try:
            yield page
        finally:
            context.close()
            browser.close()


# A sample-exact tap: an AudioWorklet on the player's output node keeps channel 0 of every render quantum
# the graph renders, on the audio thread, and posts them in chunks with the frame each starts at (a
# chunk cannot be lost or overwritten: messages queue until the page reads them). A ScriptProcessor (what
# the tests used before) hands its blocks to the main thread through two buffers the audio thread keeps
# rewriting: with the main thread late by more than a block (a loaded machine), whole or partial blocks go
# missing or repeat in the capture, which looks like a phase shift or a gap in audio that played perfectly.
TAP_PROCESSOR = """
class CadenzaTap extends AudioWorkletProcessor {
  constructor() {
    super();
    this.parts = []; this.frames = 0; this.from = -1;
    this.port.onmessage = () => this.flush(true);
  }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    const n = ch ? ch.length : 128;
    if (this.from < 0) this.from = currentFrame;
    this.parts.push(ch ? ch.slice() : new Float32Array(n));
    this.frames += n;
    if (this.frames >= 8192) this.flush();
    return true;
  }
  flush(flushed = false) {
    const data = new Float32Array(this.frames);
    let o = 0; for (const p of this.parts) { data.set(p, o); o += p.length; }
    this.port.postMessage({ from: this.from < 0 ? currentFrame : this.from, data, flushed }, [data.buffer]);
    this.parts = []; this.frames = 0; this.from = -1;
  }
}
registerProcessor('cadenza-tap', CadenzaTap);
"""

START_TAP = """async (source) => {
  const out = window.cadenza.player.output();
  if (!out) return false;
  const ctx = out.context;
  if (!ctx.__cadenzaTap) {  // a processor name registers once per context: a second tap reuses it
    const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    await ctx.audioWorklet.addModule(url);
    ctx.__cadenzaTap = true;
  }
  const node = new AudioWorkletNode(ctx, 'cadenza-tap', { numberOfOutputs: 1, outputChannelCount: [1] });
  const cap = { rate: ctx.sampleRate, chunks: [], marks: [], clock: [], node };
  node.port.onmessage = (e) => cap.chunks.push(e.data);
  // Where each track starts on the engine's timeline, read when the title changes to it; and pairs of
  // (context frame, media time) while playing, which map that timeline onto the tap's frames.
  const title = document.querySelector('.now-title');
  const audio = document.querySelector('audio');
  new MutationObserver(() => {
    const engine = window.cadenza.player.engine;
    const entry = engine && engine.entries.find(e => e.source.payload.track.title === title.textContent);
    cap.marks.push({ title: title.textContent, frame: Math.round(ctx.currentTime * ctx.sampleRate),
                     start: entry ? entry.placement.start : null });
  }).observe(title, { childList: true, characterData: true, subtree: true });
  audio.addEventListener('timeupdate', () => {
    if (audio.paused || audio.seeking) return;
    cap.clock.push([ctx.currentTime * ctx.sampleRate, audio.currentTime]);
  });
  // Everything heard so far, once the worklet has flushed: its chunks (each with the context frame it
  // starts at) and their samples end to end. The tap stops listening.
  cap.collect = async () => {
    node.port.postMessage('flush');
    const t0 = performance.now();
    while (!cap.chunks.some(c => c.flushed) && performance.now() - t0 < 5000) {
      await new Promise(r => setTimeout(r, 20));
    }
    node.disconnect();
    const chunks = cap.chunks.filter(c => c.data.length);
    const x = new Float32Array(chunks.reduce((s, c) => s + c.data.length, 0));
    let o = 0; for (const c of chunks) { x.set(c.data, o); o += c.data.length; }
    return { chunks, x };
  };
  out.connect(node);
  node.connect(ctx.destination);  // pulled by the graph (it writes silence)
  window.__tap = cap;
  return true;
}"""

# The join, measured on the tap: the span of audible sound and its longest near-silence; every 10 ms
# window's level against the median; and for a sine of `freq` Hz, its phase fitted on one second before and
# one second after the join (0.4 s clear of it on each side): a continuous tone keeps its phase, a dropped
# or repeated sample moves it by one sample (2π·f/rate radians); a constant latency moves both alike. The
# join is placed on the tap's frames by the media clock (the engine's timeline position of the second track,
# through the median offset between context frames and media time while playing), not by when the title
# changed, which a busy main thread makes late; the title's frame is reported beside it.
MEASURE_TAP = """async ([quiet, freq, joinTitle]) => {
  const cap = window.__tap;
  const { chunks, x } = await cap.collect();
  const n = x.length;
  // Context frames the graph did not render at all (the frame counter jumps; seen once, right after the
  // context starts, on a loaded machine): nothing was pulled from the media element then, so the tap
  // still holds every sample that played, in order. Reported, not a loss.
  let skipped = 0;
  for (let i = 1; i < chunks.length; i++) {
    skipped += Math.abs(chunks[i].from - (chunks[i - 1].from + chunks[i - 1].data.length));
  }
  const start = chunks[0].from;
  const mark = cap.marks.find(m => m.title === joinTitle);
  const offsets = cap.clock.map(([f, t]) => f - t * cap.rate).sort((a, b) => a - b);
  const offset = offsets[Math.floor(offsets.length / 2)];
  const join = mark && mark.start !== null && offsets.length
    ? Math.round(offset + mark.start * cap.rate) - start : mark ? mark.frame - start : -1;
  let first = 0; while (first < n && Math.abs(x[first]) < quiet) first++;
  let last = n - 1; while (last > first && Math.abs(x[last]) < quiet) last--;
  let run = 0, longest = 0;
  for (let i = first; i <= last; i++) {
    if (Math.abs(x[i]) < quiet) { run++; longest = Math.max(longest, run); } else run = 0;
  }
  const win = Math.round(cap.rate / 100);
  const levels = [];
  for (let i = first + win; i + win < last - win; i += win) {
    let s = 0; for (let j = i; j < i + win; j++) s += x[j] * x[j];
    levels.push(10 * Math.log10(s / win + 1e-20));
  }
  const ls = [...levels].sort((a, b) => a - b);
  const mid = ls[Math.floor(ls.length / 2)];
  const w = 2 * Math.PI * freq / cap.rate;
  const fit = (from, to) => {  // least squares a·sin(wn) + b·cos(wn)
    let ss = 0, cc = 0, sc = 0, xs = 0, xc = 0;
    for (let i = from; i < to; i++) {
      const s = Math.sin(w * i), c = Math.cos(w * i);
      ss += s * s; cc += c * c; sc += s * c; xs += x[i] * s; xc += x[i] * c;
    }
    const det = ss * cc - sc * sc;
    const a = (xs * cc - xc * sc) / det, b = (xc * ss - xs * sc) / det;
    return { a, b, phase: Math.atan2(b, a), amp: Math.hypot(a, b) };
  };
  const wrap = (d) => Math.atan2(Math.sin(d), Math.cos(d));
  const sec = cap.rate;
  const pre = fit(Math.max(first, join - Math.round(1.4 * sec)), join - Math.round(0.4 * sec));
  const post = fit(join + Math.round(0.4 * sec), Math.min(last, join + Math.round(1.4 * sec)));
  return {
    rate: cap.rate, contextFramesSkipped: skipped, seconds: (last - first) / cap.rate,
    gapMs: 1000 * longest / cap.rate,
    joinFound: join > first + sec && join < last - sec,
    phaseShiftSamples: wrap(post.phase - pre.phase) / w, ampBefore: pre.amp, ampAfter: post.amp,
    titleLateMs: mark ? 1000 * (mark.frame - start - join) / cap.rate : null,
    levelDb: mid, levelLowDb: ls[0] - mid, levelHighDb: ls[ls.length - 1] - mid,
  };
}"""


def start_tap(page: Page) -> None:
    """Tap the player's output sample-exactly (an AudioWorklet): see `TAP_PROCESSOR`."""
    page.wait_for_function("window.cadenza && window.cadenza.player.output() !== null")
    assert page.evaluate(START_TAP, TAP_PROCESSOR)


def measure_tap(page: Page, *, join_title: str, freq: float, quiet: float = 0.01) -> dict:
    return page.evaluate(MEASURE_TAP, [quiet, freq, join_title])


# Level and gaps of what the tap heard since `start_tap`: the span of audible sound, its longest
# near-silence and its mean level.
SUMMARY_TAP = """async (quiet) => {
  const cap = window.__tap;
  const { x } = await cap.collect();
  const n = x.length;
  let first = 0; while (first < n && Math.abs(x[first]) < quiet) first++;
  let last = n - 1; while (last > first && Math.abs(x[last]) < quiet) last--;
  let run = 0, longest = 0, sum = 0;
  for (let i = first; i <= last; i++) {
    sum += x[i] * x[i];
    if (Math.abs(x[i]) < quiet) { run++; longest = Math.max(longest, run); } else run = 0;
  }
  return { seconds: (last - first) / cap.rate, gapMs: 1000 * longest / cap.rate,
           rmsDb: 10 * Math.log10(sum / Math.max(1, last - first + 1)) };
}"""


def summary(page: Page, quiet: float = 0.01) -> dict:
    return page.evaluate(SUMMARY_TAP, quiet)
