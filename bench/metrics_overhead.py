"""What the observability layer (web/observability.py: request id, latency histogram per route template,
stream grants by territory) costs on the hot stream route: CPU time per request with and without it.

Two apps over the same SQLite catalog and the same process, differing only in that one ASGI layer; the
stream route is driven in-process (raw ASGI calls, no sockets, so the figure is the app's own CPU, not
the kernel's or a load generator's), in interleaved rounds (with, without; without, with; ...) so the
machine's noise falls on both; medians of per-round CPU microseconds per request (process time: every thread,
the playback-session writer's included, which both variants pay alike).

    PYTHONPATH=src .venv/bin/python bench/metrics_overhead.py [--requests 3000] [--rounds 5] [--multiprocess]

`--multiprocess` measures with PROMETHEUS_MULTIPROC_DIR set (values in mmap'd files, as in the cluster).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

if "--multiprocess" in sys.argv:  # must be decided before prometheus_client is imported
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cadenza-prom-")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cadenza.accounts import service as accounts  # noqa: E402
from cadenza.accounts.models import User  # noqa: E402
from cadenza.bootstrap import App, build_collaborators, make_runner  # noqa: E402
from cadenza.catalog.models import Track, TrackStatus  # noqa: E402
from cadenza.config import Accounts, Settings  # noqa: E402
from cadenza.rights.models import RightsHolder, RightType, TrackRight  # noqa: E402
from cadenza.web.app import create_app  # noqa: E402
from cadenza.web.observability import Observability  # noqa: E402


def _seed(state: App, n: int) -> tuple[list[int], str]:
    with state.c.sessions() as s, s.begin():
        holder = RightsHolder(name="Bench Label")
        s.add(holder)
        tracks = [Track(title=f"T{i}", status=TrackStatus.ready, duration_sec=200.0) for i in range(n)]
        s.add_all(tracks)
        s.flush()
        for t in tracks:
            t.media_prefix = f"tracks/{t.id}/abcdef0123456789"
            s.add(TrackRight(track_id=t.id, right_type=RightType.stream, holder_id=holder.id))
        user = accounts.register(
            s, email="bench@example.org", password="bench password", display_name=None, cfg=Accounts()
        )
        token = accounts.issue_token(s, user=s.get(User, user.id), ttl=timedelta(hours=2)).token  # type: ignore[arg-type]
        return [t.id for t in tracks], token


async def _drive(app: object, ids: list[int], token: str, n: int) -> float:
    """CPU seconds for `n` stream requests through `app` (raw ASGI)."""
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"host", b"bench")]
    statuses: list[int] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(int(message["status"]))  # type: ignore[arg-type]

    t0 = time.process_time()
    for i in range(n):
        path = f"/api/tracks/{ids[i % len(ids)]}/stream"
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": headers, "client": ("198.51.100.7", 40000), "server": ("bench", 80),
            "state": {},
        }  # fmt: skip
        await app(scope, receive, send)  # type: ignore[operator]
    spent = time.process_time() - t0
    assert statuses.count(200) == n, {s: statuses.count(s) for s in set(statuses)}
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--multiprocess", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cadenza-metrics-bench-"))
    settings = Settings(data_dir=tmp, env="test", delivery={"geo_overrides": {"198.51.100.0/24": "FR"}})  # type: ignore[arg-type]
    c = build_collaborators(settings)
    state = App(c=c, runner=make_runner(c))
    ids, token = _seed(state, 200)
    with_layer = create_app(settings, wired=state)
    without = create_app(settings, wired=state)
    without.user_middleware = [m for m in without.user_middleware if m.cls is not Observability]
    assert len(without.user_middleware) == len(with_layer.user_middleware) - 1

    async def run() -> dict[str, list[float]]:
        out: dict[str, list[float]] = {"with": [], "without": []}
        for app in (with_layer, without):  # warm: caches filled, code paths compiled
            await _drive(app, ids, token, 500)
        pair = [("with", with_layer), ("without", without)]
        for r in range(args.rounds):  # the order flips each round: neither variant always goes first
            for name, app in pair if r % 2 == 0 else pair[::-1]:
                out[name].append(await _drive(app, ids, token, args.requests) / args.requests * 1e6)
        return out

    result = asyncio.run(run())
    state.close()
    w, wo = statistics.median(result["with"]), statistics.median(result["without"])
    mode = "multiprocess (mmap)" if args.multiprocess else "single process"
    print(f"prometheus-client mode: {mode}; {args.rounds} rounds x {args.requests} stream requests")
    for name, median in (("without the layer", wo), ("with the layer", w)):
        rounds = ", ".join(f"{x:.0f}" for x in result[name.split()[0]])
        print(f"  {name:18s} {median:7.1f} us CPU per request (rounds: {rounds})")
    print(f"  overhead: {w - wo:+.1f} us per request, ratio with/without {w / wo:.3f}")


if __name__ == "__main__":
    main()
