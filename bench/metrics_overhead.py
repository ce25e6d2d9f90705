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


async def _drive(app: object, ids: list[int], token: str, n: int) -> tuple[float, float]:
    """CPU seconds for `n` stream requests through `app` (raw ASGI): the whole process's, and the event
    loop thread's alone (where the layer runs; the playback-session writer's thread is not in it)."""
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"host", b"bench")]
    statuses: list[int] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(int(message["status"]))  # type: ignore[arg-type]

    t0, th0 = time.process_time(), time.thread_time()
    for i in range(n):
        path = f"/api/tracks/{ids[i % len(ids)]}/stream"
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": headers, "client": ("198.51.100.7", 40000), "server": ("bench", 80),
            "state": {},
        }  # fmt: skip
        await app(scope, receive, send)  # type: ignore[operator]
    spent, thread = time.process_time() - t0, time.thread_time() - th0
    assert statuses.count(200) == n, {s: statuses.count(s) for s in set(statuses)}
    return spent, thread


async def _layer_alone(n: int) -> tuple[float, float]:
    """Event-loop CPU microseconds per call of a no-op ASGI app, without and with the layer in front."""

    async def noop(scope: object, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(message: object) -> None:
        return None

    wrapped = Observability(noop, state=lambda: None, metrics_token=None)  # type: ignore[arg-type]
    scope = {"type": "http", "method": "GET", "path": "/api/tracks/1/stream", "headers": [], "client": None}
    out = []
    for app in (noop, wrapped):
        best = float("inf")
        for _ in range(3):
            t0 = time.thread_time()
            for _ in range(n):
                await app(dict(scope), receive, send)  # type: ignore[operator]
            best = min(best, time.thread_time() - t0)
        out.append(best / n * 1e6)
    return out[0], out[1]


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

    async def run() -> dict[str, list[tuple[float, float]]]:
        out: dict[str, list[tuple[float, float]]] = {"with": [], "without": []}
        for app in (with_layer, without):  # warm: caches filled, code paths compiled
            await _drive(app, ids, token, 500)
        pair = [("with", with_layer), ("without", without)]
        for r in range(args.rounds):  # the order flips each round: neither variant always goes first
            for name, app in pair if r % 2 == 0 else pair[::-1]:
                spent, thread = await _drive(app, ids, token, args.requests)
                out[name].append((spent / args.requests * 1e6, thread / args.requests * 1e6))
        return out

    result = asyncio.run(run())
    alone = asyncio.run(_layer_alone(20_000))
    state.close()
    mode = "multiprocess (mmap)" if args.multiprocess else "single process"
    print(f"prometheus-client mode: {mode}; {args.rounds} rounds x {args.requests} stream requests; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    for i, what in enumerate(("process CPU (all threads)", "event-loop thread CPU")):
        w = statistics.median(x[i] for x in result["with"])
        wo = statistics.median(x[i] for x in result["without"])
        print(f"{what}:")
        for name, median in (("without the layer", wo), ("with the layer", w)):
            rounds = ", ".join(f"{x[i]:.0f}" for x in result[name.split()[0]])
            print(f"  {name:18s} {median:7.1f} us per request (rounds: {rounds})")
        print(f"  overhead: {w - wo:+.1f} us per request, ratio with/without {w / wo:.3f}")
    print(f"the layer alone (a no-op app behind it, best of 3 x 20,000 calls): {alone[1] - alone[0]:.1f} us "
          f"per request ({alone[0]:.1f} -> {alone[1]:.1f})")  # fmt: skip


if __name__ == "__main__":
    main()
