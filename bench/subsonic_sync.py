"""Subsonic full-sync benchmark: a 100,000-track catalog on PostgreSQL behind one `cadenza serve`.

What a Subsonic app does on first sign-in (Symfonium, Feishin, Supersonic, Amperfy): page the whole
library with `search3` and an empty query, 500 artists, albums and songs per request, until each kind
runs out; then its home screen's album lists. Measured over HTTP against a real server, one request at
a time as an app sends them:

- baseline: `/rest/ping` (authentication, the envelope, the ASGI stack: what every call pays);
- cold full sync: every `search3` page in turn (JSON), total time, pages per second, page p50/p95/p99;
  run `--syncs` times (the first on a cold server process, then again);
- `getAlbumList2` p50/p95 per type (size 50, offsets spread over the catalog).

The catalog is bulk-loaded with COPY (psycopg): artists, releases, tracks, credits, MP3 variants and
stream rights, then VACUUM ANALYZE. Timings are wall time on a shared 2-core machine (server, database
and this client on the same cores): the ping baseline of the same run shows how busy it was.

Targets (issue 13): a full sync of 100k tracks in <= 10 s, p95 <= 20 ms per page.

With `--profile`, no server is started: the app is called in process (its worker-thread hop made inline,
so one thread does all the work) and the CPU of each page is read with `time.process_time`, for JSON and
XML, then one JSON sync runs under cProfile and the functions costing the most are listed.

Usage: .venv/bin/python bench/subsonic_sync.py [--tracks 100000] [--syncs 2] [--list-calls 40] [--profile]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cadenza.accounts import service as accounts  # noqa: E402
from cadenza.accounts.models import User  # noqa: E402
from cadenza.config import Accounts  # noqa: E402
from cadenza.db import migrate  # noqa: E402
from cadenza.db.engine import make_session_factory  # noqa: E402
from harness import pg_schema, schema_url, start_server, stop  # noqa: E402

PAGE = 500
GENRES = ["Ambient", "Jazz", "Rock", "Classical", "Techno", "Folk", "Hip-Hop", "Soul", "Metal", "Pop"]
LIST_TYPES = [
    "newest", "alphabeticalByName", "alphabeticalByArtist", "random", "frequent", "recent", "starred",
    "highest", "byYear", "byGenre",
]  # fmt: skip


def _copy(conn, table: str, columns: list[str], rows: list[tuple]) -> None:  # type: ignore[no-untyped-def]
    """COPY rows into `table` (tab-separated text: the fastest way into PostgreSQL)."""
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(buf.getvalue())


def seed(engine: Engine, n_tracks: int) -> tuple[str, float]:
    """The catalog and a listener in `engine`'s schema; returns the listener's bearer token and the
    seconds seeding took."""
    started = time.perf_counter()
    migrate.upgrade(engine)
    rnd = random.Random(13)
    now = datetime.now(UTC).isoformat()
    n_artists, n_releases = max(n_tracks // 50, 1), max(n_tracks // 10, 1)
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        _copy(conn, "artists", ["id", "name", "created_at"],
              [(i, f"Artist {i:06d}", now) for i in range(1, n_artists + 1)])  # fmt: skip
        _copy(
            conn,
            "releases",
            ["id", "title", "artist_id", "release_date", "created_at"],
            [
                (i, f"Album {rnd.randrange(10**6):06d}", 1 + i % n_artists,
                 date(1960 + i % 65, 1 + i % 12, 1).isoformat(), now)
                for i in range(1, n_releases + 1)
            ],
        )  # fmt: skip
        _copy(
            conn,
            "tracks",
            ["id", "title", "duration_sec", "status", "media_prefix", "release_id", "track_number", "genre",
             "play_count", "created_at", "updated_at"],
            [
                (i, f"Song {rnd.randrange(10**6):06d}", round(120 + rnd.random() * 240, 3), "ready",
                 f"tracks/{i}/v1", 1 + i % n_releases, 1 + i // n_releases, GENRES[i % len(GENRES)],
                 rnd.randrange(1000), now, now)
                for i in range(1, n_tracks + 1)
            ],
        )  # fmt: skip
        credits = [(i, 1 + (1 + i % n_releases) % n_artists, 0, "main") for i in range(1, n_tracks + 1)]
        _copy(conn, "track_artists", ["track_id", "artist_id", "position", "role"], credits)
        _copy(
            conn,
            "track_variants",
            ["track_id", "quality", "codec", "container", "bitrate_kbps", "storage_key", "size_bytes",
             "checksum"],
            [(i, "mp3_320", "mp3", "mp3", 320, f"tracks/{i}/v1/download/mp3_320.mp3", 9_000_000, "0" * 64)
             for i in range(1, n_tracks + 1)],
        )  # fmt: skip
        _copy(conn, "track_rights", ["track_id", "right_type", "territory", "share_pct", "created_at"],
              [(i, "stream", None, 100, now) for i in range(1, n_tracks + 1)])  # fmt: skip
        with conn.cursor() as cur:
            for table in ("artists", "releases", "tracks"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
        conn.commit()
    finally:
        raw.close()
    sessions = make_session_factory(engine)
    with sessions() as s, s.begin():
        user = accounts.register(
            s, email="bench@example.org", password="bench password", display_name=None, cfg=Accounts()
        )
        token = accounts.issue_token(s, user=s.get(User, user.id), ttl=timedelta(hours=2)).token  # type: ignore[arg-type]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        for table in ("artists", "releases", "tracks", "track_artists", "track_variants", "track_rights"):
            c.execute(text(f"VACUUM ANALYZE {table}"))
    return token, time.perf_counter() - started


def _cpu_of(group: int) -> float:
    """CPU seconds (user + system) used so far by the server's processes (its process group: granian
    and its worker): a measure the machine's other load barely moves, unlike wall time."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def full_sync(client: httpx.Client, key: str) -> tuple[float, list[float], dict[str, int]]:
    """One app's full sync: search3 pages of 500 of each kind until every kind is exhausted."""
    offsets, done, counts = {"artist": 0, "album": 0, "song": 0}, set(), {"artist": 0, "album": 0, "song": 0}
    times: list[float] = []
    begun = time.perf_counter()
    while len(done) < 3:
        params = {"apiKey": key, "f": "json", "query": ""}
        for kind in offsets:
            params[f"{kind}Count"] = "0" if kind in done else str(PAGE)
            params[f"{kind}Offset"] = str(offsets[kind])
        t0 = time.perf_counter()
        resp = client.get("/rest/search3", params=params)
        times.append((time.perf_counter() - t0) * 1000)
        body = resp.json()["subsonic-response"]
        assert body["status"] == "ok", body
        result = body["searchResult3"]
        for kind in list(offsets):
            if kind in done:
                continue
            got = len(result.get(kind, []))
            counts[kind] += got
            offsets[kind] += got
            if got < PAGE:
                done.add(kind)
    return time.perf_counter() - begun, times, counts


def _in_process_sync(client: httpx.AsyncClient, key: str, fmt: str) -> list[float]:
    """CPU seconds of each page of one full sync through the ASGI app in this process."""
    import asyncio

    async def run() -> list[float]:
        offsets, done, cpu = {"artist": 0, "album": 0, "song": 0}, set(), []
        while len(done) < 3:
            params = {"apiKey": key, "f": fmt, "query": ""}
            for kind in offsets:
                params[f"{kind}Count"] = "0" if kind in done else str(PAGE)
                params[f"{kind}Offset"] = str(offsets[kind])
            t0 = time.process_time()
            resp = await client.get("/rest/search3", params=params)
            cpu.append(time.process_time() - t0)
            got = _page_counts(resp, fmt)
            for kind in list(offsets):
                if kind not in done:
                    offsets[kind] += got[kind]
                    if got[kind] < PAGE:
                        done.add(kind)
        return cpu

    return asyncio.run(run())


def _page_counts(resp: httpx.Response, fmt: str) -> dict[str, int]:
    if fmt == "json":
        body = resp.json()["subsonic-response"]
        assert body["status"] == "ok", body
        return {k: len(body["searchResult3"].get(k, [])) for k in ("artist", "album", "song")}
    text_ = resp.text
    assert 'status="ok"' in text_, text_[:500]
    return {k: text_.count(f"<{k} ") for k in ("artist", "album", "song")}


def profile(schema: str, token: str, tmp: Path) -> None:
    """The app in process: CPU per page (JSON, XML) and a cProfile of one JSON sync."""
    import cProfile
    import pstats

    import cadenza.web.subsonic as subsonic
    from cadenza.bootstrap import bootstrap
    from cadenza.config import Settings
    from cadenza.web.app import create_app

    async def inline(fn, *args):  # type: ignore[no-untyped-def]
        return fn(*args)

    subsonic.run_in_threadpool = inline  # one thread does all the work: cProfile sees one thread only
    settings = Settings(data_dir=tmp, database_url=schema_url(schema))  # type: ignore[call-arg]
    state = bootstrap(settings, resume=False)
    app = create_app(settings, wired=state)
    import asyncio

    async def make_key() -> str:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as c:
            made = await c.post(
                "/api/me/subsonic-keys", headers={"Authorization": f"Bearer {token}"}, json={"label": "p"}
            )
            assert made.status_code == 201, made.text
            return str(made.json()["api_key"])

    key = asyncio.run(make_key())
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
    try:
        print(f"in process, load average {os.getloadavg()[0]:.1f}")
        for fmt in ("json", "json", "xml"):
            cpu = [c * 1000 for c in _in_process_sync(client, key, fmt)]
            print(
                f"  {fmt:4} sync: {len(cpu)} pages, CPU {sum(cpu) / 1000:.2f} s, per page p50 "
                f"{statistics.median(cpu):.1f} ms p95 {_pct(cpu, 95):.1f} ms (songs-only pages "
                f"{statistics.median(cpu[21:] or cpu):.1f} ms)"
            )
        prof = cProfile.Profile(time.process_time)  # CPU, not wall: the machine is shared
        prof.enable()
        _in_process_sync(client, key, "json")
        prof.disable()
        stats = pstats.Stats(prof).strip_dirs()
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)
        stats.print_callers(r"\(search\)|_dump_list|isoformat|fetchone")
    finally:
        asyncio.run(client.aclose())
        state.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=100_000)
    ap.add_argument("--syncs", type=int, default=2, help="full syncs (the first on a cold server)")
    ap.add_argument("--list-calls", type=int, default=40, help="getAlbumList2 calls per type")
    ap.add_argument("--port", type=int, default=8937)
    ap.add_argument("--profile", action="store_true", help="the app in process, CPU per page and cProfile")
    args = ap.parse_args()

    schema = f"bench_subsonic_{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="cadenza-bench-"))
    with pg_schema(schema) as engine:
        token, seeded = seed(engine, args.tracks)
        print(f"seeded {args.tracks:,} tracks (COPY) in {seeded:.1f} s")
        if args.profile:
            profile(schema, token, tmp)
            return
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "CADENZA_DATA_DIR": str(tmp),
            "CADENZA_DATABASE_URL": schema_url(schema),
            "CADENZA_PORT": str(args.port),
        }
        server = start_server([sys.executable, "-c", "from cadenza.cli import app; app()", "serve"],
                              env=env, port=args.port, tries=150)  # fmt: skip
        try:
            measure(args, server, token)
        finally:
            stop(server)


def measure(args: argparse.Namespace, server: subprocess.Popen[bytes], token: str) -> None:
    """The syncs, the ping baseline and the album lists against the running server."""
    base = f"http://127.0.0.1:{args.port}"
    made = httpx.post(
        f"{base}/api/me/subsonic-keys",
        headers={"Authorization": f"Bearer {token}"},
        json={"label": "bench"},
    )
    assert made.status_code == 201, made.text
    key = made.json()["api_key"]
    load = os.getloadavg()[0]
    print(f"PostgreSQL; {args.tracks:,} tracks; one client, one request at a time; load average {load:.1f}")
    with httpx.Client(base_url=base, timeout=60) as client:
        syncs = []
        for n in range(1, args.syncs + 1):
            cpu0, server0 = time.process_time(), _cpu_of(server.pid)
            total, times, counts = full_sync(client, key)
            server_cpu = _cpu_of(server.pid) - server0
            syncs.append((total, times))
            print(
                f"full sync {n}{' (cold server)' if n == 1 else ''}: {total:6.2f} s, {len(times)} pages, "
                f"{len(times) / total:5.1f} pages/s, page p50 {statistics.median(times):6.1f} ms "
                f"p95 {_pct(times, 95):6.1f} ms p99 {_pct(times, 99):6.1f} ms "
                f"({counts['artist']:,} artists, {counts['album']:,} albums, {counts['song']:,} songs; "
                f"client CPU {time.process_time() - cpu0:.1f} s)"
            )
            print(
                f"  server process CPU {server_cpu:.2f} s for the sync = "
                f"{server_cpu / len(times) * 1000:.1f} ms per page (PostgreSQL's own CPU not included)"
            )
            mixed, songs_only = (
                times[: -(-args.tracks // 10 // PAGE) + 1],
                times[-(-args.tracks // 10 // PAGE) + 1 :],
            )
            print(
                f"  pages with albums or artists ({len(mixed)}): p50 {statistics.median(mixed):.1f} ms "
                f"p95 {_pct(mixed, 95):.1f} ms; songs only ({len(songs_only)}): p50 "
                f"{statistics.median(songs_only):.1f} ms p95 {_pct(songs_only, 95):.1f} ms"
            )
            assert counts["song"] == args.tracks
        ping = []
        server0 = _cpu_of(server.pid)
        for _ in range(200):
            t0 = time.perf_counter()
            assert client.get("/rest/ping", params={"apiKey": key, "f": "json"}).status_code == 200
            ping.append((time.perf_counter() - t0) * 1000)
        base50, base95 = statistics.median(ping), _pct(ping, 95)
        ping_cpu = (_cpu_of(server.pid) - server0) / len(ping) * 1000
        print(
            f"baseline /rest/ping: p50 {base50:.2f} ms p95 {base95:.2f} ms; server CPU {ping_cpu:.2f} ms/call"
        )
        rnd = random.Random(5)
        # Offsets spread over each list's own length, as an app pages it (past its end a list is empty,
        # and finding that out walks all of it: not a page anyone asks for twice).
        n_releases = max(args.tracks // 10, 1)
        lengths = {
            "byGenre": len(range(GENRES.index("Jazz"), n_releases, len(GENRES))),
            "byYear": sum(1970 <= 1960 + i % 65 <= 1990 for i in range(1, n_releases + 1)),
            "recent": 0, "starred": 0, "highest": 0,
        }  # fmt: skip
        print(f"getAlbumList2 (size 50, {args.list_calls} calls per type, offsets spread over each list):")
        for kind in LIST_TYPES:
            extra = {"byYear": {"fromYear": "1970", "toYear": "1990"}, "byGenre": {"genre": "Jazz"}}.get(
                kind, {}
            )
            times = []
            server0 = _cpu_of(server.pid)
            for _ in range(args.list_calls):
                offset = (
                    rnd.randrange(0, max(lengths.get(kind, n_releases) - 50, 1)) if kind != "random" else 0
                )
                params = {"apiKey": key, "f": "json", "type": kind, "size": "50", "offset": str(offset),
                          **extra}  # fmt: skip
                t0 = time.perf_counter()
                body = client.get("/rest/getAlbumList2", params=params).json()["subsonic-response"]
                times.append((time.perf_counter() - t0) * 1000)
                assert body["status"] == "ok", body
            p95, cpu = _pct(times, 95), (_cpu_of(server.pid) - server0) / len(times) * 1000
            print(f"  {kind:22} p50 {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms  "
                  f"({p95 / base95:5.1f} x ping p95)  server CPU {cpu:5.1f} ms/call")  # fmt: skip
    last_total, first_total = syncs[-1][0], syncs[0][0]
    worst95 = max(_pct(t, 95) for _, t in syncs)
    verdict = "met" if max(first_total, last_total) <= 10 and worst95 <= 20 else "MISSED"
    print(
        f"targets (full sync <= 10 s, page p95 <= 20 ms): {verdict} (cold {first_total:.2f} s, "
        f"warm {last_total:.2f} s, worst page p95 {worst95:.1f} ms = {worst95 / base95:.1f} x ping p95); "
        f"load average after {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
