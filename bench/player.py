"""Benchmark (web player): click-to-first-audio and the app shell's first load, in Debian's chromium.

A Cadenza server on loopback (uvicorn, SQLite) with generated, ingested tracks; Playwright drives the
built player. Measured in the page with `performance.now()`:

- click-to-first-audio: from the click on a track's "Play" button to the audio element's `playing`
  event (the stream grant, the HLS master and level playlists, the init section and the first segment,
  MSE), 20 plays alternating between tracks with the browser's HTTP cache emptied before each (CDP), so
  each play fetches its media as a first play would; once with the pointer resting on the Play button
  for 300 ms before the click (prefetch.ts starts on hover), once clicked with no hover (a tap).
  Baseline in the same run, interleaved: a plain `<audio>`
  element playing a static AAC file (the same music, 128 kbps) served by the same server, from
  assigning `src` to `playing`. Both on loopback and with emulated 4G (CDP
  `Network.emulateNetworkConditions`: 40 ms latency, 10 Mbit/s each way). The service worker is blocked
  for these plays: CDP throttling applies to the page's requests, not to a worker's, so with the
  worker in the path the 4G figures would be flattered.
- the app shell's first load: bytes transferred (CDP `encodedDataLength`, headers included) and time to
  interactive (navigation start to the login form being in the page), cold (new browser context: no
  HTTP cache, no service worker) and warm (the same context again: HTTP cache and the worker's precache).

    .venv/bin/python bench/player.py [--plays 20] [--shell-runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from playwright.sync_api import Page, sync_playwright  # noqa: E402
from start_probe import CLICK_PROBE, FOUR_G  # noqa: E402

from audio import make_audio  # noqa: E402
from cadenza.bootstrap import App, build_collaborators  # noqa: E402
from cadenza.catalog.service import TrackMetadata  # noqa: E402
from cadenza.config import Settings  # noqa: E402
from cadenza.db.engine import transaction  # noqa: E402
from cadenza.ingest import pipeline  # noqa: E402
from cadenza.ingest.service import accept_upload  # noqa: E402
from cadenza.rights import service as rights  # noqa: E402
from cadenza.web import static  # noqa: E402
from cadenza.web.app import create_app  # noqa: E402
from conftest import create_user  # noqa: E402
from livesrv import serve  # noqa: E402

CHROMIUM = os.environ.get("CADENZA_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
EMAIL, PASSWORD = "listener@example.org", "correct horse battery"  # conftest.create_user's password
TITLES = ["Bench Track A", "Bench Track B", "Bench Track C", "Bench Track D"]
HOVER_MS = 300  # pointer resting on a button before the click: a typical, unhurried reach
BASELINE = "baseline-0000.m4a"  # an asset-shaped name: served by /assets/ like the player's own files

# Records the moment the login form exists (the app has booted and can take input).
INTERACTIVE = """
new MutationObserver((_, obs) => {
  if (document.querySelector('button[type=submit], .login button')) {
    window.__interactive = performance.now(); obs.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""
# What the page fetched for the play, relative to the click (negative: before it, i.e. on hover). An entry
# is written when the response's last byte is in: the first segment's, appended as it arrives, may come
# after the audio started, so the bench waits for it.
REQUESTS = """() => performance.getEntriesByType('resource').map((e) => ({
  name: e.name, start: e.startTime - window.__click, end: e.responseEnd - window.__click }))"""
SEGMENT_IN = "performance.getEntriesByType('resource').some((e) => e.name.endsWith('.m4s'))"
KINDS = {
    "/stream": "grant", "master.m3u8": "master", "index.m3u8": "level", ".mp4": "init", ".m4s": "segment"
}  # fmt: skip
BASELINE_PLAY = """async (url) => {
  const a = new Audio();
  document.body.append(a);
  const t0 = performance.now();
  const playing = new Promise((r) => a.addEventListener('playing', () => r(performance.now()), {once: true}));
  a.src = url; a.play();
  const t1 = await playing;
  a.pause(); a.removeAttribute('src'); a.load(); a.remove();  // its download stops with it
  return t1 - t0;
}"""


class _Later:
    def submit(self, track_id: int, *, start: str = "validate") -> None:
        return None


def build_site(tmp: Path, built: Path = static.BUILT) -> tuple[Settings, App, Path]:
    settings = Settings(data_dir=tmp / "data", database_url=f"sqlite:///{tmp / 'data' / 'c.db'}", env="test")
    c = build_collaborators(settings)
    for i, title in enumerate(TITLES):
        src = make_audio(tmp / f"{i}.flac", duration=30, seed=40 + i)
        meta = TrackMetadata(title=title, artists=["Bench Band"])
        track = accept_upload(c, _Later(), path=src, filename=src.name, overrides=meta)
        pipeline.run_all(c, track.id)
        with transaction(c.sessions) as s:
            rights.grant(s, track_id=track.id, right_type="stream")
    create_user(c.sessions, email=EMAIL)
    # The player's build plus the baseline file: the same music, AAC 128 kbps, progressive MP4.
    site = tmp / "static"
    shutil.copytree(built, site)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(tmp / "0.flac"), "-c:a", "aac", "-b:a", "128k",
         "-movflags", "+faststart", str(site / "assets" / BASELINE)],
        check=True,
    )  # fmt: skip

    class _Runner(_Later):
        def resume_interrupted(self) -> int:
            return 0

        def shutdown(self, *, wait: bool = True) -> None:
            return None

    return settings, App(c=c, runner=_Runner()), site


def _login(page: Page, base: str) -> None:
    page.goto(base + "/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="New tracks").wait_for()


def _kind(url: str) -> str | None:
    path = url.split("?", 1)[0]
    return next((kind for end, kind in KINDS.items() if path.endswith(end)), None)


def click_to_first_audio(page: Page, cdp, base: str, plays: int) -> dict[str, list]:  # type: ignore[no-untyped-def]
    """Milliseconds per play, interleaved: the player with the pointer resting on the button before the
    click (`hover`, prefetch.ts starts then), the player clicked with no hover (touch), the baseline.
    The browser's HTTP cache is emptied before each play, so every play fetches as a first play does.
    Per player play also (`<mode>_requests`): the requests the play made between the click and its audio,
    by kind, and when the first segment's last byte arrived, relative to the click."""
    page.goto(base + "/#/tracks")
    page.get_by_role("heading", name="Tracks", exact=True).wait_for()
    out: dict[str, list] = {k: [] for k in ("hover", "touch", "baseline", "hover_requests", "touch_requests")}
    for i in range(plays):
        for mode in ("hover", "touch"):
            page.mouse.move(0, 0)
            cdp.send("Network.clearBrowserCache")
            page.evaluate(CLICK_PROBE)
            button = page.get_by_role("button", name=f"Play {TITLES[i % len(TITLES)]}", exact=True)
            if mode == "hover":
                button.hover()
                page.wait_for_timeout(HOVER_MS)
                button.click()
            else:
                button.dispatch_event("click")  # no pointer over it first: what a tap gives
            page.wait_for_function("window.__playing !== null", timeout=30_000)
            out[mode].append(page.evaluate("window.__playing - window.__click"))
            audio_at = out[mode][-1]
            page.wait_for_function(SEGMENT_IN, timeout=10_000)
            after: dict[str, int] = {}
            segment_end = None
            for r in page.evaluate(REQUESTS):
                kind = _kind(r["name"])
                if kind and 0 <= r["start"] <= audio_at:
                    after[kind] = after.get(kind, 0) + 1
                if kind == "segment" and segment_end is None:
                    segment_end = r["end"]
            out[f"{mode}_requests"].append((after, segment_end))
            page.evaluate("window.cadenza.player.stop()")  # the next play starts on a quiet link
        cdp.send("Network.clearBrowserCache")
        out["baseline"].append(page.evaluate(BASELINE_PLAY, f"{base}/assets/{BASELINE}?play={i}"))
    return out


def sizes_of(sizes: list[float]):  # type: ignore[no-untyped-def]
    return lambda e: sizes.append(e["encodedDataLength"])


def shell_load(browser, base: str, runs: int) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    out: dict[str, list[float]] = {"cold_bytes": [], "cold_ms": [], "warm_bytes": [], "warm_ms": []}
    for _ in range(runs):
        context = browser.new_context()
        context.add_init_script(INTERACTIVE)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        sizes: list[float] = []
        cdp.on("Network.loadingFinished", sizes_of(sizes))
        for phase in ("cold", "warm"):
            sizes.clear()
            page.goto(base + "/")
            page.wait_for_function("window.__interactive !== undefined")
            page.wait_for_load_state("networkidle")
            out[f"{phase}_ms"].append(page.evaluate("window.__interactive"))
            out[f"{phase}_bytes"].append(sum(sizes))
            if phase == "cold":  # the worker installs and takes control before the warm visit
                page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=20_000)
        context.close()
    return out


def _requests(name: str, plays: list[tuple[dict[str, int], float | None]]) -> str:
    """Requests started between the click and the audio, summed over the plays, and the median time the
    first segment's last byte was in (relative to the click)."""
    total: dict[str, int] = {}
    for after, _ in plays:
        for kind, n in after.items():
            total[kind] = total.get(kind, 0) + n
    ends = [end for _, end in plays if end is not None]
    counts = ", ".join(f"{kind} {total.get(kind, 0)}" for kind in KINDS.values())
    end = f"{statistics.median(ends):.1f} ms" if ends else "-"
    return f"{name}requests between click and audio, {len(plays)} plays: {counts}; first segment's end {end}"


def _summary(name: str, values: list[float], unit: str = "ms") -> str:
    q = statistics.quantiles(values, n=10) if len(values) > 2 else values
    return (
        f"{name:34s} median {statistics.median(values):8.1f} {unit}  "
        f"p10 {q[0]:8.1f}  p90 {q[-1]:8.1f}  (n={len(values)})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plays", type=int, default=20)
    ap.add_argument("--shell-runs", type=int, default=5)
    ap.add_argument("--static", type=Path, default=static.BUILT, help="the player build to serve")
    args = ap.parse_args()
    if not (args.static / "index.html").is_file():
        sys.exit("the player is not built: run scripts/setup.sh (or cd player && npm run build)")
    tmp = Path(tempfile.mkdtemp(prefix="cadenza-bench-player-"))
    try:
        settings, wired, site = build_site(tmp, args.static)
        with serve(create_app(settings, wired=wired, static_dir=site)) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            context = browser.new_context(service_workers="block")
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            _login(page, base)
            click_to_first_audio(page, cdp, base, 2)  # warm-up: JIT, connections, the server's caches
            print(f"click-to-first-audio, {args.plays} plays each, HTTP cache emptied before each play:")
            for label, conditions in (("loopback", None), ("4G (40 ms, 10 Mbit/s)", FOUR_G)):
                if conditions:
                    cdp.send("Network.emulateNetworkConditions", conditions)
                r = click_to_first_audio(page, cdp, base, args.plays)
                print(f"  {label}:")
                print(_summary(f"    player, hover {HOVER_MS} ms then click", r["hover"]))
                print(_summary("    player, click with no hover (tap)", r["touch"]))
                print(_summary("    baseline <audio> on a static file", r["baseline"]))
                base_median = statistics.median(r["baseline"])
                print(f"    ratios to the baseline (medians): hover "
                      f"{statistics.median(r['hover']) / base_median:.2f}, tap "
                      f"{statistics.median(r['touch']) / base_median:.2f}")  # fmt: skip
                for mode in ("hover", "touch"):
                    print(_requests(f"    {mode}: ", r[f"{mode}_requests"]))
            context.close()

            shell = shell_load(browser, base, args.shell_runs)
            print(f"app shell first load (login screen), {args.shell_runs} runs, loopback:")
            for phase in ("cold", "warm"):
                print(_summary(f"  {phase}: transferred", [b / 1024 for b in shell[f"{phase}_bytes"]], "KiB"))
                print(_summary(f"  {phase}: time to interactive", shell[f"{phase}_ms"]))
            browser.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
