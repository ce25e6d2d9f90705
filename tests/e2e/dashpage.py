"""A bare page on the server's own origin (a secure context on 127.0.0.1, as EME needs) that plays a DASH
URL with dash.js (installed by scripts/setup.sh into tests/js/node_modules) or an HLS URL with hls.js (the
web player's copy in player/node_modules). Playwright serves the page and the scripts by routing made-up
paths; everything else goes to the real server."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CADENZA_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
DASHJS = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "dashjs" / "dist" / "dash.all.min.js"
HLSJS = Path(__file__).resolve().parents[2] / "player" / "node_modules" / "hls.js" / "dist" / "hls.min.js"
PAGE_PATH = "/__test__/dash.html"
SCRIPT_PATH = "/__test__/dash.all.min.js"
HLS_SCRIPT_PATH = "/__test__/hls.min.js"

_PAGE = """<!doctype html><html><body><audio id="a" controls></audio>
<script src="%s"></script>
<script src="%s"></script>
<script>
window.failures = [];
window.licence = [];
// What dash.js did about protection, in order (for a failing test's message).
window.trace = [];
document.getElementById('a').addEventListener(
  'encrypted', (e) => window.trace.push('encrypted:' + e.initDataType));
const PROTECTION_EVENTS = ['public_protectioncreated', 'public_keySystemAccessComplete',
  'public_keySystemSelected', 'public_keySessionCreated', 'public_keyMessage', 'public_licenseRequestSending',
  'public_licenseRequestComplete', 'public_keyAdded', 'public_keyError', 'public_keyStatusesChanged'];
window.play = (url, protection) => {
  const player = dashjs.MediaPlayer().create();
  player.updateSettings({debug: {logLevel: 0}});
  player.on(dashjs.MediaPlayer.events.ERROR, (e) => window.failures.push(JSON.stringify(e.error || e)));
  for (const name of PROTECTION_EVENTS) {
    player.on(name, (e) => window.trace.push(
      name.replace('public_', '') + (e && e.error ? ':' + (e.error.message || e.error) : '')));
  }
  if (protection) player.setProtectionData(protection);
  player.initialize(document.getElementById('a'), url, true);
  window.player = player;
};
// Click-to-first-audio as the web player would spend it: the stream grant, then dash.js on its MPD (with
// the Clear Key licence URL when the grant names one), until the element's first `playing`; in ms.
window.timePlay = async (base, trackId, bearer) => {
  const audio = document.getElementById('a');
  const t0 = performance.now();
  const playing = new Promise((resolve) =>
    audio.addEventListener('playing', () => resolve(performance.now()), {once: true}));
  const answer = await fetch(`${base}/api/tracks/${trackId}/stream`,
                             {headers: {Authorization: 'Bearer ' + bearer}});
  const grant = await answer.json();
  if (!answer.ok || !grant.dash_url) {
    throw new Error(`no DASH grant (${answer.status}): ${JSON.stringify(grant)}`);
  }
  const protection = grant.licence_url ? {'org.w3.clearkey': {
    serverURL: base + grant.licence_url, httpRequestHeaders: {Authorization: 'Bearer ' + bearer}}} : null;
  window.play(base + grant.dash_url, protection);
  const timeout = new Promise((_, reject) => setTimeout(
    () => reject(new Error('no playing event in 30 s: ' + window.failures.join('; '))), 30000));
  return (await Promise.race([playing, timeout])) - t0;
};
window.playHls = (url, licence, bearer) => {
  const config = licence ? {
    emeEnabled: true,
    drmSystems: {'org.w3.clearkey': {licenseUrl: licence}},
    licenseXhrSetup: (xhr) => { xhr.setRequestHeader('Authorization', 'Bearer ' + bearer); },
  } : {};
  const hls = new Hls(config);
  hls.on(Hls.Events.ERROR, (e, d) => { if (d.fatal) window.failures.push(d.details); });
  hls.loadSource(url);
  hls.attachMedia(document.getElementById('a'));
  document.getElementById('a').play().catch(() => {});
  window.hls = hls;
};
</script></body></html>"""


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (scripts/setup.sh installs it)"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no chromium at {CHROMIUM} (apt-get install chromium)"
    if not DASHJS.is_file():
        return "dash.js is not installed (scripts/setup.sh runs npm install in tests/js)"
    return None


def open_page(context, base: str):  # type: ignore[no-untyped-def]
    """A page at `base` + PAGE_PATH with dash.js loaded and `window.play(url, protection)`,
    `window.playHls(url, licence, bearer)` and `window.timePlay(base, track_id, bearer)` (bench/
    protected_start.py) defined."""
    page = context.new_page()
    page.route(
        base + PAGE_PATH,
        lambda route: route.fulfill(
            status=200, content_type="text/html", body=_PAGE % (SCRIPT_PATH, HLS_SCRIPT_PATH)
        ),
    )
    page.route(
        base + HLS_SCRIPT_PATH,
        lambda route: route.fulfill(
            status=200,
            content_type="text/javascript",
            body=HLSJS.read_text() if HLSJS.is_file() else "window.Hls = null;",
        ),
    )
    page.route(
        base + SCRIPT_PATH,
        lambda route: route.fulfill(status=200, content_type="text/javascript", body=DASHJS.read_text()),
    )
    page.goto(base + PAGE_PATH)
    return page


def play(page, url: str, protection: dict | None = None) -> None:  # type: ignore[no-untyped-def]
    page.evaluate(f"window.play({json.dumps(url)}, {json.dumps(protection)})")


def skip_unless_ready() -> None:
    if reason := missing():
        pytest.skip(reason, allow_module_level=True)
