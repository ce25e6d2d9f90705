"""Benchmark (content protection): click-to-first-audio of a protected track against a clear one, dash.js
in Debian's chromium, on loopback.

A Cadenza server on loopback (uvicorn, SQLite) with four generated 30 s tracks ingested through the
pipeline: two clear, two protected (encrypted at their transcode stage, `cenc`, Clear Key). The page is
the DASH test page of the e2e suite (tests/e2e/dashpage.py: dash.js from tests/js). One play, timed in
the page with `performance.now()` (`window.timePlay`): from the request for the stream grant (what a
click on Play does first) to the audio element's first `playing` event. In between, for both: the grant,
the MPD, init segments and the first media segment, MSE; for a protected track also the EME set-up
(`requestMediaKeySystemAccess`, MediaKeys, a session) and the Clear Key licence request to Cadenza.

Each play starts from a freshly loaded page (a new dash.js, no MediaKeys or session left from the
previous play) with the browser's HTTP cache emptied (CDP `Network.clearBrowserCache`); plays are
interleaved (clear, protected, then protected, clear, ...) so load on this shared machine falls on both
alike. Prints medians, p10-p90, the ratio of medians (target: protected <= 1.3x clear) and the load
average.

    .venv/bin/python bench/protected_start.py [--plays 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from audio import make_audio  # noqa: E402
from cadenza.bootstrap import App, build_collaborators  # noqa: E402
from cadenza.config import Settings  # noqa: E402
from cadenza.db.engine import transaction  # noqa: E402
from cadenza.ingest import pipeline  # noqa: E402
from cadenza.ingest.service import accept_upload  # noqa: E402
from cadenza.protection import service as protection  # noqa: E402
from cadenza.rights import service as rights  # noqa: E402
from cadenza.web.app import create_app  # noqa: E402
from conftest import create_user  # noqa: E402
from e2e import dashpage  # noqa: E402
from livesrv import serve  # noqa: E402


class _Later:
    def submit(self, track_id: int, *, start: str = "validate") -> None:
        return None

    def resume_interrupted(self) -> int:
        return 0

    def shutdown(self, *, wait: bool = True) -> None:
        return None


def build_site(tmp: Path) -> tuple[Settings, App, dict[str, list[int]], str]:
    """Two clear and two protected tracks, each ingested whole (the protected ones encrypted at their
    transcode stage); a listener's bearer token."""
    settings = Settings(data_dir=tmp / "data", database_url=f"sqlite:///{tmp / 'data' / 'c.db'}", env="test")
    c = build_collaborators(settings)
    tracks: dict[str, list[int]] = {"clear": [], "protected": []}
    for i, kind in enumerate(["clear", "protected", "clear", "protected"]):
        src = make_audio(tmp / f"{i}.flac", duration=30, seed=140 + i)
        track = accept_upload(c, _Later(), path=src, filename=src.name)
        with transaction(c.sessions) as s:
            rights.grant(s, track_id=track.id, right_type="stream")
            if kind == "protected":
                protection.set_policy(s, track_id=track.id, protected=True, by_user=None)
        pipeline.run_all(c, track.id)
        tracks[kind].append(track.id)
    bearer = create_user(c.sessions, email="listener@example.org")
    return settings, App(c=c, runner=_Later()), tracks, bearer


def one_play(page: Page, cdp, base: str, track_id: int, bearer: str) -> float:  # type: ignore[no-untyped-def]
    page.goto(base + dashpage.PAGE_PATH)  # a fresh page: a new dash.js, no MediaKeys or session kept
    cdp.send("Network.clearBrowserCache")
    ms = float(page.evaluate("([b, t, k]) => window.timePlay(b, t, k)", [base, track_id, bearer]))
    page.evaluate("window.player.reset()")
    return ms


def plays(
    page: Page, cdp, base: str, tracks: dict[str, list[int]], bearer: str, n: int
) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    out: dict[str, list[float]] = {"clear": [], "protected": []}
    for i in range(n):
        order = ("clear", "protected") if i % 2 == 0 else ("protected", "clear")
        for kind in order:
            track_id = tracks[kind][i % len(tracks[kind])]
            out[kind].append(one_play(page, cdp, base, track_id, bearer))
    return out


def _summary(name: str, values: list[float]) -> str:
    q = statistics.quantiles(values, n=10)
    median = statistics.median(values)
    return f"  {name:10s} median {median:7.1f} ms  p10 {q[0]:7.1f}  p90 {q[-1]:7.1f}  (n={len(values)})"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min; {os.cpu_count()} cores)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plays", type=int, default=20, help="plays of each kind (interleaved)")
    args = ap.parse_args()
    if reason := dashpage.missing():
        sys.exit(reason)
    tmp = Path(tempfile.mkdtemp(prefix="cadenza-bench-protected-"))
    try:
        settings, wired, tracks, bearer = build_site(tmp)
        with serve(create_app(settings, wired=wired)) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=dashpage.CHROMIUM, headless=True, args=dashpage.ARGS)
            context = browser.new_context()
            page = dashpage.open_page(context, base)
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            plays(page, cdp, base, tracks, bearer, 2)  # warm-up: JIT, connections, the server's caches
            print(f"start: {_load()}")
            r = plays(page, cdp, base, tracks, bearer, args.plays)
            print(f"click-to-first-audio, dash.js, loopback, {args.plays} plays each, interleaved, "
                  "fresh page and empty HTTP cache before each:")  # fmt: skip
            print(_summary("clear", r["clear"]))
            print(_summary("protected", r["protected"]))
            ratio = statistics.median(r["protected"]) / statistics.median(r["clear"])
            print(f"  ratio protected / clear (medians): {ratio:.2f}  (target <= 1.3)")
            print(f"end: {_load()}")
            browser.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
