"""CPU per request of stream-URL issuance, in process (no HTTP server, no wrk): what each thread of the
serving process spends, so the figure holds on a busy machine where wall-clock rates do not.

Seeds PostgreSQL as bench/stream_api.py does (1,000 tracks), builds the app, calls the ASGI app directly
for `GET /api/health` and `GET /api/tracks/{id}/stream` (random tracks), N of each, twice, interleaved,
after a warm-up that caches every track. Prints per request: the request thread's CPU (`thread_time`),
and per stream request the CPU of the background threads: the track cache's refreshes
(`tracks-refresh`: time-driven, so its share per request falls as the request rate rises; its CPU per
second of wall time is printed too) and the playback-session writer (`cadenza-sessions`).

    .venv/bin/python bench/stream_cpu.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from cadenza.bootstrap import bootstrap  # noqa: E402
from cadenza.config import Settings  # noqa: E402
from cadenza.web.app import create_app  # noqa: E402
from harness import pg_schema, schema_url  # noqa: E402
from stream_api import _seed  # noqa: E402


def _cpu_by_thread() -> dict[str, float]:
    out = {}
    for t in threading.enumerate():
        if t.ident is not None:
            with contextlib.suppress(OSError):
                out[t.name] = time.clock_gettime(time.pthread_getcpuclockid(t.ident))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=3000, help="of each kind, per round (two rounds)")
    n = ap.parse_args().requests
    schema = f"bench_cpu_{uuid.uuid4().hex[:8]}"
    tmp = tempfile.mkdtemp(prefix="cadenza-bench-")
    with pg_schema(schema) as engine:
        first, token = _seed(engine, 1000)
        os.environ["CADENZA_DATA_DIR"] = tmp
        os.environ["CADENZA_DATABASE_URL"] = schema_url(schema)
        state = bootstrap(Settings())
        app = create_app(state.c.settings, wired=state)
        loads: list[int] = []
        load = state.track_media._load

        def counted(keys: list[int]) -> object:
            loads.append(len(keys))
            return load(keys)

        state.track_media._load = counted  # type: ignore[assignment]
        headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]

        async def call(path: str) -> None:
            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
                "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000),
                "server": ("bench", 80), "state": {},
            }  # fmt: skip
            status: list[int] = []

            async def receive() -> dict[str, object]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, object]) -> None:
                if message["type"] == "http.response.start":
                    status.append(message["status"])  # type: ignore[arg-type]

            await app(scope, receive, send)
            assert status == [200], (path, status)

        rnd = random.Random(1)

        async def run() -> None:
            for i in range(1000):  # every track's facts cached, the token, the pool, the writer
                await call(f"/api/tracks/{first + i}/stream")
                await call("/api/health")
            state.recorder.flush()
            loads.clear()
            before, started = _cpu_by_thread(), time.monotonic()
            own: dict[str, list[float]] = collections.defaultdict(list)
            for kind in ("health", "stream", "health", "stream"):
                t0 = time.thread_time()
                for _ in range(n):
                    track = first + rnd.randrange(1000)
                    await call("/api/health" if kind == "health" else f"/api/tracks/{track}/stream")
                own[kind].append((time.thread_time() - t0) / n * 1e6)
            state.recorder.flush()
            await asyncio.sleep(0.2)
            wall = time.monotonic() - started
            after = _cpu_by_thread()
            print(f"{n:,} requests of each kind, twice; {wall:.1f} s; load average {os.getloadavg()[0]:.1f}")
            for kind, values in own.items():
                print(f"  {kind:7s} request thread {statistics.mean(values):7.1f} us CPU per request")
            for name in ("tracks-refresh", "cadenza-sessions", "tokens-refresh"):
                spent = after.get(name, 0.0) - before.get(name, 0.0)
                print(
                    f"  {name:17s} {spent / (2 * n) * 1e6:7.1f} us CPU per stream request "
                    f"({spent / wall * 1e3:5.1f} ms per second)"
                )
            if loads:
                mean = sum(loads) / len(loads)
                print(f"  track cache reads: {len(loads)}, {mean:.1f} tracks each on average")

        asyncio.run(run())
        state.close()


if __name__ == "__main__":
    main()
